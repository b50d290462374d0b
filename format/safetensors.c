/* safetensors.c — see safetensors.h. Format: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}, then the data. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void sr_safetensors_close(sr_safetensors *st) {
  for (size_t i = 0; i < st->n; i++) free(st->names[i]);
  for (size_t i = 0; i < st->nmeta; i++) {
    free(st->keys[i]);
    free(st->vals[i]);
  }
  free(st->names);
  free(st->tensors);
  free(st->keys);
  free(st->vals);
  if (st->map) munmap(st->map, st->size);
  memset(st, 0, sizeof *st);
}

static int cmp_begin(const void *a, const void *b) {
  const sr_tensor *x = a, *y = b;
  return x->data < y->data ? -1 : x->data > y->data;
}

sr_status sr_safetensors_open(const char *path, sr_safetensors *st, sr_error *err) {
  memset(st, 0, sizeof *st);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return sr_fail(err, SR_EINVAL, "model", "cannot open %s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) || sb.st_size < 8) {
    close(fd);
    return sr_fail(err, SR_EINVAL, "model", "%s is not a safetensors file (too short)", path);
  }
  st->size = (size_t)sb.st_size;
  st->map = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (st->map == MAP_FAILED) {
    st->map = NULL;
    return sr_fail(err, SR_EINVAL, "model", "cannot map %s: %s", path, strerror(errno));
  }
  const unsigned char *base = st->map;
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | base[i];
  if (hl == 0 || hl > st->size - 8 || hl > ((uint64_t)100 << 20)) {
    sr_safetensors_close(st);
    return sr_fail(err, SR_EINVAL, "model", "%s: header length %llu does not fit the file (truncated?)", path,
                   (unsigned long long)hl);
  }
  const unsigned char *data = base + 8 + hl;
  size_t data_size = st->size - 8 - (size_t)hl;
  cJSON *h = cJSON_ParseWithLength((const char *)base + 8, (size_t)hl);
  if (!cJSON_IsObject(h)) {
    cJSON_Delete(h);
    sr_safetensors_close(st);
    return sr_fail(err, SR_EINVAL, "model", "%s: the header is not a JSON object", path);
  }
  size_t n = 0;
  for (cJSON *e = h->child; e; e = e->next) n += strcmp(e->string, "__metadata__") != 0;
  st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
  st->names = calloc(n ? n : 1, sizeof *st->names);
  sr_status rc = SR_OK;
  if (!st->tensors || !st->names) rc = sr_fail(err, SR_ENOMEM, "model", "out of memory");
  for (cJSON *e = h->child; e && !rc; e = e->next) {
    if (!strcmp(e->string, "__metadata__")) {
      size_t m = (size_t)cJSON_GetArraySize(e);
      st->keys = calloc(m ? m : 1, sizeof(char *));
      st->vals = calloc(m ? m : 1, sizeof(char *));
      if (!cJSON_IsObject(e) || !st->keys || !st->vals) {
        rc = sr_fail(err, SR_EINVAL, "model", "%s: __metadata__ must be an object of strings", path);
        break;
      }
      for (cJSON *kv = e->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv)) {
          rc = sr_fail(err, SR_EINVAL, "model", "%s: metadata %s is not a string", path, kv->string);
          break;
        }
        st->keys[st->nmeta] = strdup(kv->string);
        st->vals[st->nmeta] = strdup(kv->valuestring);
        st->nmeta++;
      }
      continue;
    }
    sr_tensor *t = &st->tensors[st->n];
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "F32")) {
      rc = sr_fail(err, SR_EINVAL, "model", "%s: tensor %s must have dtype F32", path, e->string);
      break;
    }
    if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > 4 || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
      rc = sr_fail(err, SR_EINVAL, "model", "%s: tensor %s needs a shape of at most 4 dimensions and 2 offsets",
                   path, e->string);
      break;
    }
    size_t count = 1;
    t->rank = 0;
    for (cJSON *d = sh->child; d; d = d->next) {
      if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e9) {
        rc = sr_fail(err, SR_EINVAL, "model", "%s: tensor %s has a bad shape", path, e->string);
        break;
      }
      t->shape[t->rank++] = (size_t)d->valuedouble;
      count *= (size_t)d->valuedouble;
    }
    if (rc) break;
    double b = off->child->valuedouble, en = off->child->next->valuedouble;
    if (!cJSON_IsNumber(off->child) || !cJSON_IsNumber(off->child->next) || b < 0 || en < b ||
        en > (double)data_size || (size_t)(en - b) != count * 4 || ((size_t)b % 4) != 0 ||
        ((uintptr_t)(data + (size_t)b) % 4) != 0) {
      rc = sr_fail(err, SR_EINVAL, "model", "%s: tensor %s has offsets outside the file or not matching its shape "
                   "(truncated file?)", path, e->string);
      break;
    }
    st->names[st->n] = strdup(e->string);
    t->name = st->names[st->n];
    t->data = (const float *)(data + (size_t)b);
    t->nbytes = count * 4;
    st->n++;
  }
  cJSON_Delete(h);
  if (!rc && st->n > 1) { /* no two tensors may share bytes */
    sr_tensor *sorted = malloc(st->n * sizeof *sorted);
    if (sorted) {
      memcpy(sorted, st->tensors, st->n * sizeof *sorted);
      qsort(sorted, st->n, sizeof *sorted, cmp_begin);
      for (size_t i = 1; i < st->n && !rc; i++)
        if ((const unsigned char *)sorted[i - 1].data + sorted[i - 1].nbytes > (const unsigned char *)sorted[i].data)
          rc = sr_fail(err, SR_EINVAL, "model", "%s: tensors %s and %s overlap", path, sorted[i - 1].name,
                       sorted[i].name);
      free(sorted);
    }
  }
  if (rc) {
    sr_safetensors_close(st);
    return rc;
  }
  st->set.n = st->n;
  st->set.t = st->tensors;
  st->set.nmeta = st->nmeta;
  st->set.meta_keys = (const char *const *)st->keys;
  st->set.meta_vals = (const char *const *)st->vals;
  return SR_OK;
}
