/* cfl.c — BART's .cfl/.hdr pairs: a strict reader of the header text and the raw little-endian complex64 data that
 * says why it refuses a pair, and the writer of both (cfl.h has the dimension mapping). */
#include "cfl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* The sizes of the one line after "# Dimensions": line[0..n). */
static sr_status parse_sizes(const char *line, size_t n, size_t max_values, int *ndims, size_t *dims, char *why,
                             size_t cap) {
  int k = 0;
  size_t prod = 1, i = 0;
  for (;;) {
    while (i < n && is_blank(line[i])) i++;
    if (i == n) break;
    if (line[i] < '0' || line[i] > '9') {
      snprintf(why, cap, ".hdr: the dimensions line holds '%c', where only sizes (digits) and spaces belong",
               line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?');
      return SR_EINVAL;
    }
    if (k == SR_CFL_MAX_DIMS) {
      snprintf(why, cap, ".hdr: more than %d dimensions", SR_CFL_MAX_DIMS);
      return SR_EINVAL;
    }
    size_t v = 0;
    for (; i < n && line[i] >= '0' && line[i] <= '9'; i++) {
      if (v > (SIZE_MAX - 9) / 10) {
        snprintf(why, cap, ".hdr: dimension %d is too large", k);
        return SR_ELIMIT;
      }
      v = 10 * v + (size_t)(line[i] - '0');
    }
    if (i < n && !is_blank(line[i])) {
      snprintf(why, cap, ".hdr: dimension %d is not a whole number", k);
      return SR_EINVAL;
    }
    if (v == 0) {
      snprintf(why, cap, ".hdr: dimension %d is 0: the array holds no values", k);
      return SR_EINVAL;
    }
    if (v > max_values || prod > max_values / v) { /* checked as the product forms: no overflow */
      snprintf(why, cap, ".hdr: the dimensions hold more than the limit of %zu values", max_values);
      return SR_ELIMIT;
    }
    prod *= v;
    dims[k++] = v;
  }
  if (k == 0) {
    snprintf(why, cap, ".hdr: the line after \"# Dimensions\" holds no sizes");
    return SR_EINVAL;
  }
  *ndims = k;
  return SR_OK;
}

sr_status sr_cfl_hdr_parse(const char *text, size_t len, size_t max_values, int *ndims, size_t dims[SR_CFL_MAX_DIMS],
                           char *why, size_t cap) {
  *ndims = 0;
  for (int i = 0; i < SR_CFL_MAX_DIMS; i++) dims[i] = 1;
  if (memchr(text, 0, len)) {
    snprintf(why, cap, ".hdr: holds a NUL byte: not a BART header (text)");
    return SR_EINVAL;
  }
  int in_dims = 0, found = 0;
  for (size_t pos = 0; pos < len;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    const char *line = text + pos;
    size_t n = end - pos;
    pos = end + 1;
    if (n && line[0] == '#') { /* a section: only "# Dimensions" matters */
      size_t i = 1;
      while (i < n && is_blank(line[i])) i++;
      size_t e = n;
      while (e > i && is_blank(line[e - 1])) e--;
      in_dims = e - i == 10 && !memcmp(line + i, "Dimensions", 10);
      if (in_dims && found) {
        snprintf(why, cap, ".hdr: two \"# Dimensions\" sections");
        return SR_EINVAL;
      }
      continue;
    }
    if (!in_dims) continue; /* another section's lines */
    in_dims = 0;
    found = 1;
    sr_status st = parse_sizes(line, n, max_values, ndims, dims, why, cap);
    if (st) return st;
  }
  if (!found) {
    snprintf(why, cap, ".hdr: no \"# Dimensions\" line followed by the sizes: not a BART header");
    return SR_EINVAL;
  }
  return SR_OK;
}

sr_status sr_cfl_read(const char *hdr, size_t hlen, const unsigned char *cfl, size_t clen, size_t max_values,
                      sr_cfl_array *out, char *why, size_t cap) {
  memset(out, 0, sizeof *out);
  sr_status st = sr_cfl_hdr_parse(hdr, hlen, max_values, &out->ndims, out->dims, why, cap);
  if (st) return st;
  size_t count = 1;
  for (int i = 0; i < out->ndims; i++) count *= out->dims[i]; /* <= max_values: checked by the parse */
  if (count > SIZE_MAX / 8) {
    snprintf(why, cap, ".hdr: the dimensions hold more values than memory can");
    return SR_ELIMIT;
  }
  if (clen != 8 * count) {
    snprintf(why, cap, ".cfl: %zu bytes, where the header's %zu complex64 values take %zu%s", clen, count, 8 * count,
             clen < 8 * count ? " (truncated)" : " (bytes the header does not account for)");
    return SR_EINVAL;
  }
  float *d = malloc(8 * count);
  if (!d) {
    snprintf(why, cap, "out of memory");
    return SR_ENOMEM;
  }
  for (size_t i = 0; i < 2 * count; i++) d[i] = sr_get_f32le(cfl + 4 * i);
  out->count = count;
  out->data = d;
  return SR_OK;
}

int sr_cfl_shape(int ndims, const size_t *dims, int max_rank, size_t *shape) {
  int n = ndims;
  while (n > 1 && dims[n - 1] == 1) n--;
  /* the image's two dimensions stay; a 1 after them is a dimension BART has and we do not (Z of a 2-D image, one
   * map set): [X, Y, 1, C] is our [C, Y, X] */
  size_t keep[SR_CFL_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < n; i++)
    if (i < 2 || dims[i] != 1) keep[k++] = dims[i];
  if (k > max_rank) return -1;
  for (int i = 0; i < k; i++) shape[i] = keep[k - 1 - i];
  return k;
}

void sr_cfl_dims(int rank, const size_t *shape, size_t dims[SR_CFL_MAX_DIMS]) {
  for (int i = 0; i < SR_CFL_MAX_DIMS; i++) dims[i] = i < rank ? shape[rank - 1 - i] : 1;
}

char *sr_cfl_hdr_encode(const size_t dims[SR_CFL_MAX_DIMS], size_t *len) {
  size_t cap = 16 + SR_CFL_MAX_DIMS * 21 + 2;
  char *s = malloc(cap);
  if (!s) return NULL;
  size_t n = (size_t)snprintf(s, cap, "# Dimensions\n");
  for (int i = 0; i < SR_CFL_MAX_DIMS; i++) n += (size_t)snprintf(s + n, cap - n, "%zu ", dims[i]);
  n += (size_t)snprintf(s + n, cap - n, "\n");
  *len = n;
  return s;
}

unsigned char *sr_cfl_encode(const float *data, size_t count, int is_complex, size_t *len) {
  *len = 0;
  if (count > SIZE_MAX / 8) return NULL;
  unsigned char *b = malloc(count ? 8 * count : 1);
  if (!b) return NULL;
  for (size_t i = 0; i < count; i++) {
    sr_put_f32le(b + 8 * i, is_complex ? data[2 * i] : data[i]);
    sr_put_f32le(b + 8 * i + 4, is_complex ? data[2 * i + 1] : 0.0f);
  }
  *len = 8 * count;
  return b;
}

int sr_cfl_base(const char *path, char *base, size_t cap) {
  size_t n = strlen(path);
  if (n > 4 && (!strcmp(path + n - 4, ".cfl") || !strcmp(path + n - 4, ".hdr"))) n -= 4;
  if (n >= cap) return -1;
  memcpy(base, path, n);
  base[n] = 0;
  return 0;
}
