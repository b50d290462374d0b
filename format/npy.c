/* npy.c — NumPy .npy encoding (version 1.0, '<f4', C order) and a strict decoder for the same subset. */
#include "npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_ALIGN 64
#define NPY_MAX_HEADER (1u << 16) /* far above any header of this subset; numpy itself caps at 10000 */

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* float32 <-> 4 little-endian bytes, whatever the host order */
static void put_f32le(unsigned char *p, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  p[0] = (unsigned char)u;
  p[1] = (unsigned char)(u >> 8);
  p[2] = (unsigned char)(u >> 16);
  p[3] = (unsigned char)(u >> 24);
}

static float get_f32le(const unsigned char *p) {
  uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

unsigned char *sr_npy_encode(const float *data, int rank, const size_t *shape, size_t *len) {
  if (len) *len = 0;
  if (rank < 1 || rank > 4 || !shape || !len) return NULL;
  size_t count = 1;
  for (int i = 0; i < rank; i++) {
    if (shape[i] && count > SIZE_MAX / shape[i]) return NULL;
    count *= shape[i];
  }
  if (count && !data) return NULL;
  /* the dict, then the padding */
  char dict[256];
  int o = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  for (int i = 0; i < rank; i++) o += snprintf(dict + o, sizeof dict - (size_t)o, i ? ", %zu" : "%zu", shape[i]);
  o += snprintf(dict + o, sizeof dict - (size_t)o, "%s), }", rank == 1 ? "," : "");
  size_t dlen = (size_t)o;                                   /* < 256: 4 numbers of at most 20 digits */
  size_t pad = (NPY_ALIGN - (10 + dlen + 1) % NPY_ALIGN) % NPY_ALIGN;
  size_t hlen = dlen + pad + 1;                              /* dict, spaces, '\n' */
  if (count > (SIZE_MAX - 10 - hlen) / 4) return NULL;
  size_t total = 10 + hlen + 4 * count;
  unsigned char *out = malloc(total);
  if (!out) return NULL;
  memcpy(out, MAGIC, 6);
  out[6] = 1;
  out[7] = 0;
  out[8] = (unsigned char)(hlen & 0xff);
  out[9] = (unsigned char)(hlen >> 8);
  memcpy(out + 10, dict, dlen);
  memset(out + 10 + dlen, ' ', pad);
  out[10 + dlen + pad] = '\n';
  unsigned char *p = out + 10 + hlen;
  for (size_t i = 0; i < count; i++) put_f32le(p + 4 * i, data[i]);
  *len = total;
  return out;
}

/* ---------------------------------------------------------------- decoding: a tiny parser for the dict */

typedef struct {
  const char *s, *end;
} cur;

static void skip_ws(cur *c) {
  while (c->s < c->end && (*c->s == ' ' || *c->s == '\t')) c->s++;
}

static int eat(cur *c, char ch) {
  skip_ws(c);
  if (c->s < c->end && *c->s == ch) {
    c->s++;
    return 1;
  }
  return 0;
}

/* A Python string literal in ' or " quotes without escapes; its text is [*p, *p + *n). */
static int str_lit(cur *c, const char **p, size_t *n) {
  skip_ws(c);
  if (c->s >= c->end || (*c->s != '\'' && *c->s != '"')) return -1;
  char q = *c->s++;
  const char *start = c->s;
  while (c->s < c->end && *c->s != q) {
    if (*c->s == '\\' || *c->s == '\n') return -1;
    c->s++;
  }
  if (c->s >= c->end) return -1;
  *p = start;
  *n = (size_t)(c->s - start);
  c->s++;
  return 0;
}

static int is_word(const char *p, size_t n, const char *w) { return n == strlen(w) && !memcmp(p, w, n); }

/* A non-negative Python int literal: "0" or digits without a leading zero, below 2^48. */
static int int_lit(cur *c, size_t *v) {
  skip_ws(c);
  const char *st = c->s;
  uint64_t x = 0;
  while (c->s < c->end && *c->s >= '0' && *c->s <= '9') {
    x = x * 10 + (uint64_t)(*c->s - '0');
    if (x >= (uint64_t)1 << 48) return -1;
    c->s++;
  }
  size_t nd = (size_t)(c->s - st);
  if (nd == 0 || (nd > 1 && st[0] == '0')) return -1;
  *v = (size_t)x;
  return 0;
}

/* "(a, b, c)" with an optional trailing comma, which rank 1 requires: "(5,)". "()" (rank 0) is refused. */
static int shape_lit(cur *c, int *rank, size_t shape[4]) {
  if (!eat(c, '(')) return -1;
  int r = 0, trailing = 0;
  for (;;) {
    if (eat(c, ')')) break;
    if (r == 4) return -1;
    if (int_lit(c, &shape[r])) return -1;
    r++;
    trailing = 0;
    if (eat(c, ',')) {
      trailing = 1;
      continue;
    }
    if (!eat(c, ')')) return -1;
    break;
  }
  if (r < 1 || (r == 1 && !trailing)) return -1;
  *rank = r;
  return 0;
}

static int parse_dict(const char *h, size_t n, int *rank, size_t shape[4]) {
  cur c = {h, h + n};
  int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
  if (!eat(&c, '{')) return -1;
  for (;;) {
    if (eat(&c, '}')) break;
    const char *k;
    size_t kn;
    if (str_lit(&c, &k, &kn) || !eat(&c, ':')) return -1;
    if (is_word(k, kn, "descr")) {
      const char *v;
      size_t vn;
      if (seen_descr++ || str_lit(&c, &v, &vn) || !is_word(v, vn, "<f4")) return -1;
    } else if (is_word(k, kn, "fortran_order")) {
      skip_ws(&c);
      if (seen_fortran++ || (size_t)(c.end - c.s) < 5 || memcmp(c.s, "False", 5)) return -1;
      c.s += 5;
    } else if (is_word(k, kn, "shape")) {
      if (seen_shape++ || shape_lit(&c, rank, shape)) return -1;
    } else {
      return -1;
    }
    if (eat(&c, ',')) continue;
    if (!eat(&c, '}')) return -1;
    break;
  }
  if (!seen_descr || !seen_fortran || !seen_shape) return -1;
  /* what follows the dict: padding spaces and the final newline, nothing else */
  while (c.s < c.end && *c.s == ' ') c.s++;
  if (c.end - c.s != 1 || *c.s != '\n') return -1;
  return 0;
}

int sr_npy_decode(const unsigned char *buf, size_t len, float **data, int *rank, size_t shape[4]) {
  if (!data || !rank || !shape) return -1;
  *data = NULL;
  if (!buf || len < 10 || memcmp(buf, MAGIC, 6)) return -1;
  size_t hlen, pre;
  if (buf[6] == 1 && buf[7] == 0) {
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    pre = 10;
  } else if (buf[6] == 2 && buf[7] == 0) {
    if (len < 12) return -1;
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    pre = 12;
  } else {
    return -1;
  }
  if (hlen < 1 || hlen > NPY_MAX_HEADER || hlen > len - pre) return -1;
  const char *h = (const char *)buf + pre;
  for (size_t i = 0; i < hlen; i++) { /* printable ASCII, tabs and the final newline only */
    unsigned char ch = (unsigned char)h[i];
    if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch > 0x7e) return -1;
  }
  int r = 0;
  size_t sh[4] = {0, 0, 0, 0};
  if (parse_dict(h, hlen, &r, sh)) return -1;
  size_t count = 1;
  for (int i = 0; i < r; i++) {
    if (sh[i] && count > SIZE_MAX / 4 / sh[i]) return -1;
    count *= sh[i];
  }
  size_t body = len - pre - hlen;
  if (body / 4 != count || body % 4) return -1;
  float *out = malloc(count ? count * sizeof(float) : sizeof(float));
  if (!out) return -1;
  const unsigned char *p = buf + pre + hlen;
  for (size_t i = 0; i < count; i++) out[i] = get_f32le(p + 4 * i);
  *data = out;
  *rank = r;
  for (int i = 0; i < 4; i++) shape[i] = i < r ? sh[i] : 0;
  return 0;
}
