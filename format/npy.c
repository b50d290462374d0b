/* npy.c — NumPy .npy encoding (version 1.0, '<f4' or '<c8', C order) and a strict decoder of little-endian, C-ordered
 * '<f4', '<f8' and '<c8' files that says why it refuses one. */
#include "npy.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"

#define NPY_ALIGN 64
#define NPY_MAX_HEADER (1u << 16) /* far above any header of this subset; numpy itself caps at 10000 */

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* per: floats per value (1 '<f4', 2 '<c8') */
static unsigned char *encode(const float *data, int rank, const size_t *shape, size_t *len, int per) {
  if (len) *len = 0;
  if (rank < 1 || rank > 4 || !shape || !len) return NULL;
  size_t count = 1;
  for (int i = 0; i < rank; i++) {
    if (shape[i] && count > SIZE_MAX / shape[i]) return NULL;
    count *= shape[i];
  }
  if (count && !data) return NULL;
  if (count > SIZE_MAX / 2) return NULL;
  count *= (size_t)per; /* floats */
  /* the dict, then the padding */
  char dict[256];
  int o = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", per == 2 ? "<c8" : "<f4");
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
  for (size_t i = 0; i < count; i++) sr_put_f32le(p + 4 * i, data[i]);
  *len = total;
  return out;
}

unsigned char *sr_npy_encode(const float *data, int rank, const size_t *shape, size_t *len) {
  return encode(data, rank, shape, len, 1);
}

unsigned char *sr_npy_encode_complex(const float *data, int rank, const size_t *shape, size_t *len) {
  return encode(data, rank, shape, len, 2);
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

/* The header dict: its dtype string (descr, at most 15 characters), fortran_order and shape. */
typedef struct {
  char descr[16];
  int fortran;
  int rank;
  size_t shape[4];
} npy_header;

/* Reads the dict of exactly the keys descr, fortran_order and shape (any order, each once), then the padding
 * and final newline. Any dtype and either order are returned: the caller says which it takes, and why not. */
static int parse_dict(const char *h, size_t n, npy_header *hd) {
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
      if (seen_descr++ || str_lit(&c, &v, &vn) || vn >= sizeof hd->descr) return -1;
      memcpy(hd->descr, v, vn);
      hd->descr[vn] = 0;
    } else if (is_word(k, kn, "fortran_order")) {
      skip_ws(&c);
      if (seen_fortran++) return -1;
      if ((size_t)(c.end - c.s) >= 5 && !memcmp(c.s, "False", 5)) c.s += 5, hd->fortran = 0;
      else if ((size_t)(c.end - c.s) >= 4 && !memcmp(c.s, "True", 4)) c.s += 4, hd->fortran = 1;
      else return -1;
    } else if (is_word(k, kn, "shape")) {
      if (seen_shape++ || shape_lit(&c, &hd->rank, hd->shape)) return -1;
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

static double get_f64le(const unsigned char *p) {
  uint64_t u = 0;
  for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
  double d;
  memcpy(&d, &u, 8);
  return d;
}

static sr_status why_fail(char *why, size_t cap, sr_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static sr_status why_fail(char *why, size_t cap, sr_status st, const char *fmt, ...) {
  if (why && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
  }
  return st;
}

static const char *shape_text(const npy_header *hd, char *buf, size_t cap) {
  size_t o = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < hd->rank && o < cap; i++) o += (size_t)snprintf(buf + o, cap - o, i ? ", %zu" : "%zu", hd->shape[i]);
  if (o < cap) snprintf(buf + o, cap - o, "%s)", hd->rank == 1 ? "," : "");
  return buf;
}

sr_status sr_npy_read(const unsigned char *buf, size_t len, size_t max_values, sr_npy_array *out, char *why,
                      size_t cap) {
  if (why && cap) why[0] = 0;
  if (!out) return why_fail(why, cap, SR_EINVAL, "no output");
  memset(out, 0, sizeof *out);
  if (!buf || len < 8 || memcmp(buf, MAGIC, 6))
    return why_fail(why, cap, SR_EINVAL, "not a .npy file (it does not start with \\x93NUMPY)");
  size_t hlen, pre;
  if (buf[6] == 1 && buf[7] == 0 && len >= 10) {
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    pre = 10;
  } else if (buf[6] == 2 && buf[7] == 0 && len >= 12) {
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    pre = 12;
  } else if ((buf[6] == 1 || buf[6] == 2) && buf[7] == 0) {
    return why_fail(why, cap, SR_EINVAL, "truncated: the file ends inside the header");
  } else {
    return why_fail(why, cap, SR_EINVAL, ".npy format version %d.%d is not read (1.0 and 2.0 are)", buf[6], buf[7]);
  }
  if (hlen > len - pre) return why_fail(why, cap, SR_EINVAL, "truncated: the file ends inside the header");
  if (hlen < 1 || hlen > NPY_MAX_HEADER) return why_fail(why, cap, SR_EINVAL, "malformed header (length %zu)", hlen);
  const char *h = (const char *)buf + pre;
  npy_header hd;
  memset(&hd, 0, sizeof hd);
  int ok = 1;
  for (size_t i = 0; i < hlen; i++) { /* printable ASCII, tabs and the final newline only */
    unsigned char ch = (unsigned char)h[i];
    if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch > 0x7e) ok = 0;
  }
  if (!ok || parse_dict(h, hlen, &hd))
    return why_fail(why, cap, SR_EINVAL, "malformed header (want {'descr': ..., 'fortran_order': ..., 'shape': "
                    "(...)} with 1 to 4 dimensions)");
  /* the dtypes read: little-endian float32, float64 (rounded to float32) and complex64 */
  size_t item = !strcmp(hd.descr, "<f4") ? 4 : !strcmp(hd.descr, "<f8") || !strcmp(hd.descr, "<c8") ? 8 : 0;
  if (!item && hd.descr[0] == '>')
    return why_fail(why, cap, SR_EINVAL, "dtype '%s' is big-endian: save it little-endian (x.astype('<%s'))",
                    hd.descr, hd.descr + 1);
  if (!item)
    return why_fail(why, cap, SR_EINVAL, "dtype '%s' is not read (float32 '<f4', float64 '<f8' or complex64 "
                    "'<c8' are)", hd.descr);
  if (hd.fortran)
    return why_fail(why, cap, SR_EINVAL, "fortran_order is True: save the array in C order "
                    "(np.ascontiguousarray(x))");
  char st[128];
  size_t count = 1;
  for (int i = 0; i < hd.rank; i++) {
    if (hd.shape[i] && count > SIZE_MAX / 8 / hd.shape[i]) count = SIZE_MAX / 8;
    else count *= hd.shape[i];
  }
  if (count > max_values)
    return why_fail(why, cap, SR_ELIMIT, "shape %s has more than the limit of %zu values", shape_text(&hd, st, 128),
                    max_values);
  size_t body = len - pre - hlen;
  if (body != count * item)
    return why_fail(why, cap, SR_EINVAL, "%s: shape %s of '%s' needs %zu bytes of data, the file has %zu",
                    body < count * item ? "truncated" : "data after the array", shape_text(&hd, st, 128), hd.descr,
                    count * item, body);
  int is_complex = hd.descr[1] == 'c';
  size_t nfloat = is_complex ? 2 * count : count;
  float *d = malloc(nfloat ? nfloat * sizeof(float) : sizeof(float));
  if (!d) return why_fail(why, cap, SR_ENOMEM, "out of memory");
  const unsigned char *p = buf + pre + hlen;
  if (item == 4 || is_complex) {
    for (size_t i = 0; i < nfloat; i++) d[i] = sr_get_f32le(p + 4 * i);
  } else {
    for (size_t i = 0; i < count; i++) {
      double v = get_f64le(p + 8 * i);
      /* a double beyond float's range has no float32 value (converting it is undefined behaviour in C); NaN and
       * Inf pass, for the job's own finiteness check to name */
      if (isfinite(v) && fabs(v) > FLT_MAX) {
        free(d);
        return why_fail(why, cap, SR_EINVAL, "element %zu (%g) is beyond float32's range", i, v);
      }
      d[i] = (float)v;
    }
  }
  out->data = d;
  out->rank = hd.rank;
  out->is_complex = is_complex;
  out->count = count;
  memcpy(out->descr, hd.descr, sizeof out->descr);
  memcpy(out->shape, hd.shape, sizeof out->shape);
  return SR_OK;
}

int sr_npy_decode(const unsigned char *buf, size_t len, float **data, int *rank, size_t shape[4]) {
  if (!data || !rank || !shape) return -1;
  *data = NULL;
  sr_npy_array a;
  if (sr_npy_read(buf, len, SIZE_MAX, &a, NULL, 0)) return -1;
  if (strcmp(a.descr, "<f4")) {
    free(a.data);
    return -1;
  }
  *data = a.data;
  *rank = a.rank;
  for (int i = 0; i < 4; i++) shape[i] = i < a.rank ? a.shape[i] : 0;
  return 0;
}
