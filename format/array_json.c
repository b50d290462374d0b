/* array_json.c — decoding and encoding of ARRAY values (nested lists or base64 objects), with every check
 * (shape, rectangularity, finiteness, size limit) done before or while filling, never after a crash; and the
 * ARRAY of a .npy or PNG file. */
#include "array_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfl.h"
#include "npy.h"
#include "png.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *sr_base64_encode(const unsigned char *in, size_t n) {
  size_t outlen = 4 * ((n + 2) / 3);
  char *out = malloc(outlen + 1);
  if (!out) return NULL;
  size_t o = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = B64[v >> 18]; out[o++] = B64[(v >> 12) & 63]; out[o++] = B64[(v >> 6) & 63]; out[o++] = B64[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = B64[v >> 18];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = 0;
  return out;
}

static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

size_t sr_base64_decoded_len(const char *in, size_t len) {
  if (len % 4) return 0;
  size_t n = len / 4 * 3;
  if (len && in[len - 1] == '=') n--;
  if (len > 1 && in[len - 2] == '=') n--;
  return n;
}

long sr_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap) {
  if (len % 4) return -1;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      unsigned char c = (unsigned char)in[i + k];
      if (c == '=' && i + 4 == len && k >= 2) {
        v[k] = 0;
        pad++;
      } else {
        if (pad) return -1; /* data after padding */
        v[k] = b64val(c);
        if (v[k] < 0) return -1;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    unsigned char b[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w};
    for (int k = 0; k < 3 - pad; k++) {
      if (o >= cap) return -1;
      out[o++] = b[k];
    }
  }
  return (long)o;
}

const char *sr_shape_str(int rank, const size_t *shape, char *buf, size_t cap) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, cap - o, "[");
  for (int i = 0; i < rank && o < cap; i++) o += (size_t)snprintf(buf + o, cap - o, i ? ",%zu" : "%zu", shape[i]);
  if (o < cap) snprintf(buf + o, cap - o, "]");
  return buf;
}

/* ---------------------------------------------------------------- nested lists */

static int is_pair(const cJSON *v) {
  return cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && cJSON_IsNumber(v->child) && cJSON_IsNumber(v->child->next);
}

/* Walks first elements to find the shape. */
static sr_status list_shape(const cJSON *v, const char *field, int want_complex, sr_jarray *a, sr_error *err) {
  const cJSON *cur = v;
  a->rank = 0;
  for (;;) {
    if (want_complex ? is_pair(cur) : cJSON_IsNumber(cur)) break;
    if (!cJSON_IsArray(cur))
      return sr_fail(err, SR_EINVAL, field, "must be %s", want_complex ? "nested lists of [re, im] pairs"
                                                                         : "nested lists of numbers");
    if (a->rank == 4) return sr_fail(err, SR_EINVAL, field, "has more than 4 dimensions");
    int len = cJSON_GetArraySize(cur);
    if (len == 0) return sr_fail(err, SR_EINVAL, field, "has an empty dimension");
    a->shape[a->rank++] = (size_t)len;
    cur = cur->child;
  }
  if (a->rank == 0) return sr_fail(err, SR_EINVAL, field, "must be an array, not a single number");
  return SR_OK;
}

typedef struct {
  const char *field;
  sr_jarray *a;
  size_t pos;
  sr_error *err;
  int want_complex;
} fill_ctx;

static sr_status fill(fill_ctx *f, const cJSON *v, int depth) {
  sr_jarray *a = f->a;
  if (depth == a->rank) {
    double re, im = 0.0;
    if (f->want_complex) {
      if (!is_pair(v)) return sr_fail(f->err, SR_EINVAL, f->field, "element %zu must be a [re, im] pair", f->pos);
      re = v->child->valuedouble;
      im = v->child->next->valuedouble;
    } else {
      if (!cJSON_IsNumber(v)) return sr_fail(f->err, SR_EINVAL, f->field, "element %zu must be a number", f->pos);
      re = v->valuedouble;
    }
    float fr = (float)re, fi = (float)im;
    if (!isfinite(fr) || !isfinite(fi))
      return sr_fail(f->err, SR_EINVAL, f->field, "element %zu is not a finite float32 (NaN, Inf or out of range)",
                     f->pos);
    if (f->want_complex) {
      a->data[2 * f->pos] = fr;
      a->data[2 * f->pos + 1] = fi;
    } else {
      a->data[f->pos] = fr;
    }
    f->pos++;
    return SR_OK;
  }
  if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) != a->shape[depth]) {
    char sb[64];
    return sr_fail(f->err, SR_EINVAL, f->field, "is not rectangular: expected shape %s",
                   sr_shape_str(a->rank, a->shape, sb, sizeof sb));
  }
  for (const cJSON *c = v->child; c; c = c->next) {
    sr_status st = fill(f, c, depth + 1);
    if (st) return st;
  }
  return SR_OK;
}

/* ---------------------------------------------------------------- base64 object */

static sr_status decode_object(const cJSON *v, const char *field, int want_complex, size_t max_count,
                               sr_jarray *a, sr_error *err) {
  char f[160];
  for (const cJSON *c = v->child; c; c = c->next)
    if (strcmp(c->string, "dtype") && strcmp(c->string, "shape") && strcmp(c->string, "data")) {
      snprintf(f, sizeof f, "%s.%s", field, c->string);
      return sr_fail(err, SR_EINVAL, f, "is not a field of an ARRAY (dtype, shape, data)");
    }
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(v, "shape");
  const cJSON *da = cJSON_GetObjectItemCaseSensitive(v, "data");
  snprintf(f, sizeof f, "%s.dtype", field);
  if (!cJSON_IsString(dt)) return sr_fail(err, SR_EINVAL, f, "must be \"float32\" or \"complex64\"");
  int cplx;
  if (!strcmp(dt->valuestring, "float32")) cplx = 0;
  else if (!strcmp(dt->valuestring, "complex64")) cplx = 1;
  else return sr_fail(err, SR_EINVAL, f, "must be \"float32\" or \"complex64\", not \"%.40s\"", dt->valuestring);
  if (cplx != want_complex)
    return sr_fail(err, SR_EINVAL, f, "must be %s here", want_complex ? "complex64" : "float32");
  snprintf(f, sizeof f, "%s.shape", field);
  if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) < 1 || cJSON_GetArraySize(sh) > 4)
    return sr_fail(err, SR_EINVAL, f, "must be a list of 1 to 4 positive integers");
  a->rank = 0;
  size_t count = 1;
  for (const cJSON *c = sh->child; c; c = c->next) {
    double d = c->valuedouble;
    if (!cJSON_IsNumber(c) || d < 1 || d != floor(d) || d > 1e9)
      return sr_fail(err, SR_EINVAL, f, "must be a list of 1 to 4 positive integers");
    a->shape[a->rank++] = (size_t)d;
    if (count > max_count / (size_t)d + 1) count = max_count + 1;
    else count *= (size_t)d;
  }
  if (count > max_count)
    return sr_fail(err, SR_ELIMIT, f, "has more than the limit of %zu values", max_count);
  snprintf(f, sizeof f, "%s.data", field);
  if (!cJSON_IsString(da)) return sr_fail(err, SR_EINVAL, f, "must be a base64 string");
  size_t slen = strlen(da->valuestring), vbytes = cplx ? 8 : 4;
  size_t need = count * vbytes;
  if (slen % 4 || sr_base64_decoded_len(da->valuestring, slen) != need)
    return sr_fail(err, SR_EINVAL, f, "must be base64 of %zu bytes (%zu %s values, shape %s)", need, count,
                   cplx ? "complex64" : "float32", sr_shape_str(a->rank, a->shape, (char[64]){0}, 64));
  a->is_complex = cplx;
  a->count = count;
  a->data = sr_alloc(cplx ? 2 * count : count);
  if (!a->data) return sr_fail(err, SR_ENOMEM, field, "out of memory");
  if (sr_base64_decode(da->valuestring, slen, (unsigned char *)a->data, need) != (long)need) {
    sr_free(a->data);
    a->data = NULL;
    return sr_fail(err, SR_EINVAL, f, "is not valid base64");
  }
  /* little-endian on disk; this code runs on little-endian machines only (checked at build) */
  size_t nf = cplx ? 2 * count : count;
  for (size_t i = 0; i < nf; i++)
    if (!isfinite(a->data[i])) {
      sr_free(a->data);
      a->data = NULL;
      return sr_fail(err, SR_EINVAL, field, "element %zu is not finite (NaN or Inf)", cplx ? i / 2 : i);
    }
  return SR_OK;
}

sr_status sr_jarray_decode(const cJSON *v, const char *field, int want_complex, size_t max_count, sr_jarray *a,
                           sr_error *err) {
  memset(a, 0, sizeof *a);
  if (cJSON_IsObject(v)) return decode_object(v, field, want_complex, max_count, a, err);
  sr_status st = list_shape(v, field, want_complex, a, err);
  if (st) return st;
  size_t count = 1;
  for (int i = 0; i < a->rank; i++) {
    if (count > max_count / a->shape[i] + 1) count = max_count + 1;
    else count *= a->shape[i];
  }
  if (count > max_count) return sr_fail(err, SR_ELIMIT, field, "has more than the limit of %zu values", max_count);
  a->is_complex = want_complex;
  a->count = count;
  a->data = sr_alloc(want_complex ? 2 * count : count);
  if (!a->data) return sr_fail(err, SR_ENOMEM, field, "out of memory");
  fill_ctx f = {field, a, 0, err, want_complex};
  st = fill(&f, v, 0);
  if (st) {
    sr_free(a->data);
    a->data = NULL;
  }
  return st;
}

/* ---------------------------------------------------------------- encoding */

static cJSON *lists(const float *data, int rank, const size_t *shape, int cplx, size_t *pos) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr) return NULL;
  for (size_t i = 0; i < shape[0]; i++) {
    cJSON *item;
    if (rank == 1) {
      if (cplx) {
        item = cJSON_CreateArray();
        if (item) {
          cJSON_AddItemToArray(item, cJSON_CreateNumber(data[2 * *pos]));
          cJSON_AddItemToArray(item, cJSON_CreateNumber(data[2 * *pos + 1]));
        }
      } else {
        item = cJSON_CreateNumber(data[*pos]);
      }
      (*pos)++;
    } else {
      item = lists(data, rank - 1, shape + 1, cplx, pos);
    }
    if (!item) {
      cJSON_Delete(arr);
      return NULL;
    }
    cJSON_AddItemToArray(arr, item);
  }
  return arr;
}

cJSON *sr_jarray_encode(const float *data, int rank, const size_t *shape, int is_complex, int as_lists) {
  if (as_lists) {
    size_t pos = 0;
    return lists(data, rank, shape, is_complex, &pos);
  }
  size_t count = 1;
  for (int i = 0; i < rank; i++) count *= shape[i];
  char *b64 = sr_base64_encode((const unsigned char *)data, count * (is_complex ? 8 : 4));
  cJSON *o = cJSON_CreateObject();
  cJSON *sh = cJSON_CreateArray();
  if (!b64 || !o || !sh) {
    free(b64); cJSON_Delete(o); cJSON_Delete(sh);
    return NULL;
  }
  for (int i = 0; i < rank; i++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)shape[i]));
  cJSON_AddStringToObject(o, "dtype", is_complex ? "complex64" : "float32");
  cJSON_AddItemToObject(o, "shape", sh);
  cJSON_AddStringToObject(o, "data", b64);
  free(b64);
  return o;
}

/* ---------------------------------------------------------------- files */

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && !strcasecmp(s + n - t, tail);
}

sr_status sr_jarray_from_file(const unsigned char *buf, size_t len, const char *name, size_t max_values, cJSON **out,
                              char *why, size_t cap) {
  *out = NULL;
  float *data = NULL;
  int rank = 2, is_complex = 0;
  size_t shape[4] = {0, 0, 0, 0};
  sr_status st;
  /* by the first bytes; else the name says which of the two the file was meant to be (its reader says why not) */
  int npy = len >= 6 && !memcmp(buf, "\x93NUMPY", 6), png = len >= 8 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8);
  if (npy || (!png && ends_with(name, ".npy"))) {
    sr_npy_array a;
    st = sr_npy_read(buf, len, max_values, &a, why, cap);
    data = a.data;
    rank = a.rank;
    is_complex = a.is_complex;
    memcpy(shape, a.shape, sizeof shape);
  } else if (png || ends_with(name, ".png")) {
    st = sr_png_decode_gray(buf, len, max_values, &data, &shape[0], &shape[1], why, cap);
  } else {
    snprintf(why, cap, "neither a .npy file nor a PNG (by its first bytes)");
    return SR_EINVAL;
  }
  if (st) return st;
  size_t count = 1;
  for (int i = 0; i < rank; i++) count *= shape[i];
  char sb[96];
  if (count == 0) {
    snprintf(why, cap, "holds no values (shape %s)", sr_shape_str(rank, shape, sb, sizeof sb));
    st = SR_EINVAL;
  } else {
    *out = sr_jarray_encode(data, rank, shape, is_complex, 0);
    if (!*out) {
      snprintf(why, cap, "out of memory");
      st = SR_ENOMEM;
    }
  }
  free(data);
  return st;
}

sr_status sr_jarray_from_cfl(const char *hdr, size_t hlen, const unsigned char *cfl, size_t clen, int want_complex,
                             size_t max_values, cJSON **out, char *why, size_t cap) {
  *out = NULL;
  sr_cfl_array a;
  sr_status st = sr_cfl_read(hdr, hlen, cfl, clen, max_values, &a, why, cap);
  if (st) return st;
  size_t shape[4];
  int rank = sr_cfl_shape(a.ndims, a.dims, 4, shape);
  if (rank < 0) {
    snprintf(why, cap, ".hdr: more than 4 dimensions before the trailing 1s; arrays here have 1 to 4");
    free(a.data);
    return SR_EINVAL;
  }
  int cplx = want_complex;
  for (size_t i = 0; i < a.count && !cplx; i++) cplx = a.data[2 * i + 1] != 0.0f; /* exactly 0, -0 included */
  if (!cplx) /* the real parts, in place */
    for (size_t i = 0; i < a.count; i++) a.data[i] = a.data[2 * i];
  *out = sr_jarray_encode(a.data, rank, shape, cplx, 0);
  free(a.data);
  if (!*out) {
    snprintf(why, cap, "out of memory");
    return SR_ENOMEM;
  }
  return SR_OK;
}
