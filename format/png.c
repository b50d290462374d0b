/* png.c — grayscale PNG in memory through libpng: the encoder (8-bit, png_set_write_fn appending to a growing
 * buffer) and the decoder (8- or 16-bit, png_set_read_fn reading from the caller's bytes). libpng reports errors
 * by longjmp to the setjmp in each: every object that the error path uses is allocated before setjmp and never
 * reassigned after it (what is allocated later hangs off such a heap object), and the pointers themselves are
 * volatile. Each call has its own libpng structs: no global state. */
#include "png.h"

#include <math.h>
#include <libpng16/png.h> /* not <png.h>: -Iserver makes that name this directory's png.h */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  unsigned char *buf;
  size_t len, cap;
  int done; /* set once the PNG is complete */
} membuf;

static void write_cb(png_structp png, png_bytep bytes, png_size_t n) {
  membuf *m = png_get_io_ptr(png);
  if (n > SIZE_MAX - m->len) png_error(png, "output too large");
  if (m->len + n > m->cap) {
    size_t cap = m->cap ? m->cap : 4096;
    while (cap < m->len + n) {
      if (cap > SIZE_MAX / 2) {
        cap = m->len + n;
        break;
      }
      cap *= 2;
    }
    unsigned char *nb = realloc(m->buf, cap);
    if (!nb) png_error(png, "out of memory");
    m->buf = nb;
    m->cap = cap;
  }
  memcpy(m->buf + m->len, bytes, n);
  m->len += n;
}

static void flush_cb(png_structp png) { (void)png; }

/* Where the decoder wants libpng's error message (the encoder passes no error pointer). */
typedef struct {
  char *buf;
  size_t cap;
} errmsg;

/* libpng's default handlers print to stderr; these stay silent (the caller gets NULL, or the message). */
static void error_cb(png_structp png, png_const_charp msg) {
  errmsg *e = png_get_error_ptr(png);
  if (e && e->buf && e->cap) snprintf(e->buf, e->cap, "invalid PNG: %s", msg);
  png_longjmp(png, 1);
}

static void warning_cb(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

unsigned char *sr_png_encode_gray(const float *data, size_t h, size_t w, size_t *len) {
  if (len) *len = 0;
  if (!data || !len || h < 1 || w < 1 || h > PNG_UINT_31_MAX || w > PNG_UINT_31_MAX) return NULL;
  /* range of the finite values */
  size_t n = h * w;
  if (n / w != h) return NULL;
  volatile double lo = INFINITY, hi = -INFINITY; /* read after setjmp */
  for (size_t i = 0; i < n; i++) {
    double v = data[i];
    if (isfinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  double scale = hi > lo ? 255.0 / (hi - lo) : 0.0; /* 0: constant, or nothing finite */

  membuf *volatile m = calloc(1, sizeof(membuf));
  png_bytep volatile row = malloc(w);
  png_structp volatile png = NULL;
  png_infop volatile info = NULL;
  if (!m || !row) goto done;
  png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, error_cb, warning_cb);
  if (!png) goto done;
  info = png_create_info_struct(png);
  if (!info) goto done;
  if (setjmp(png_jmpbuf(png))) goto done;

  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX); /* the default caps width and height at 10^6 */
  png_set_write_fn(png, m, write_cb, flush_cb);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (size_t y = 0; y < h; y++) {
    const float *src = data + y * w;
    for (size_t x = 0; x < w; x++) {
      double v = src[x];
      unsigned char b;
      if (scale == 0.0 || isnan(v)) b = 0;
      else if (v >= hi) b = 255; /* +Inf included */
      else if (v <= lo) b = 0;   /* -Inf included */
      else {
        double s = floor((v - lo) * scale + 0.5);
        b = (unsigned char)(s < 0 ? 0 : s > 255 ? 255 : s);
      }
      row[x] = b;
    }
    png_write_row(png, row);
  }
  png_write_end(png, info);
  m->done = 1;

done:; /* reached normally or by longjmp: only heap state (m) and pointers fixed before setjmp are read */
  unsigned char *out = NULL;
  if (png) {
    png_structp p = png;
    png_infop i = info;
    png_destroy_write_struct(&p, i ? &i : NULL);
  }
  free(row);
  if (m && m->done) {
    out = m->buf;
    *len = m->len;
  } else if (m) {
    free(m->buf);
  }
  free(m);
  return out;
}

/* ---------------------------------------------------------------- decoding */

typedef struct {
  const unsigned char *buf;
  size_t len, pos;
  int truncated;      /* the read callback ran past the end of the bytes */
  unsigned char *raw; /* the image as stored: h rows of w samples of 1 or 2 bytes (big-endian) */
  png_bytep *rows;    /* h pointers into raw */
  float *out;         /* h * w values in [0, 1], handed to the caller on success */
  int done;
} reader;

static void read_cb(png_structp png, png_bytep out, png_size_t n) {
  reader *r = png_get_io_ptr(png);
  if (n > r->len - r->pos) {
    r->truncated = 1;
    png_error(png, "truncated");
  }
  memcpy(out, r->buf + r->pos, n);
  r->pos += n;
}

static const char *color_name(int ctype) {
  switch (ctype) {
  case PNG_COLOR_TYPE_GRAY: return "grayscale";
  case PNG_COLOR_TYPE_GRAY_ALPHA: return "grayscale with alpha";
  case PNG_COLOR_TYPE_PALETTE: return "palette";
  case PNG_COLOR_TYPE_RGB: return "RGB";
  case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
  }
  return "unknown colour type";
}

sr_status sr_png_decode_gray(const unsigned char *buf, size_t len, size_t max_pixels, float **data, size_t *h,
                             size_t *w, char *why, size_t cap) {
  errmsg em = {why, why ? cap : 0};
  if (em.cap) why[0] = 0;
  if (!data || !h || !w) return SR_EINVAL;
  *data = NULL;
  *h = *w = 0;
  if (!buf || len < 8 || png_sig_cmp(buf, 0, 8)) {
    if (em.cap) snprintf(why, cap, "not a PNG file (no PNG signature)");
    return SR_EINVAL;
  }
  volatile sr_status st = SR_EINVAL; /* set after setjmp, read after a longjmp */
  reader *volatile r = calloc(1, sizeof(reader));
  png_structp volatile png = NULL;
  png_infop volatile info = NULL;
  if (!r) {
    st = SR_ENOMEM;
    goto done;
  }
  r->buf = buf;
  r->len = len;
  png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &em, error_cb, warning_cb);
  if (png) info = png_create_info_struct(png);
  if (!png || !info) {
    st = SR_ENOMEM;
    goto done;
  }
  if (setjmp(png_jmpbuf(png))) goto done;

  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX); /* the pixel limit below is the one that counts */
  png_set_read_fn(png, r, read_cb);
  png_read_info(png, info);
  png_uint_32 pw, ph;
  int depth, ctype, interlace;
  png_get_IHDR(png, info, &pw, &ph, &depth, &ctype, &interlace, NULL, NULL);
  if (ctype != PNG_COLOR_TYPE_GRAY || (depth != 8 && depth != 16)) {
    if (em.cap) snprintf(why, cap, "not an 8- or 16-bit grayscale PNG (it is %d-bit %s)", depth, color_name(ctype));
    goto done;
  }
  if ((double)pw * (double)ph > (double)max_pixels) { /* before the image is allocated */
    if (em.cap) snprintf(why, cap, "%u x %u pixels is more than the limit of %zu", (unsigned)pw, (unsigned)ph,
                         max_pixels);
    st = SR_ELIMIT;
    goto done;
  }
  png_set_interlace_handling(png); /* Adam7 is undone by libpng: rows come out whole */
  png_read_update_info(png, info);
  size_t rowbytes = png_get_rowbytes(png, info), n = (size_t)pw * ph;
  r->raw = malloc(rowbytes * ph);
  r->rows = malloc(ph * sizeof(png_bytep));
  r->out = malloc(n * sizeof(float));
  if (!r->raw || !r->rows || !r->out) {
    st = SR_ENOMEM;
    goto done;
  }
  for (size_t y = 0; y < ph; y++) r->rows[y] = r->raw + y * rowbytes;
  png_read_image(png, r->rows);
  png_read_end(png, NULL); /* the chunks after the image, up to IEND, with their CRCs */
  /* v / (2^depth - 1): 0 -> 0, the largest sample -> 1 */
  if (depth == 8) {
    for (size_t i = 0; i < n; i++) r->out[i] = (float)(r->raw[i] / 255.0);
  } else {
    for (size_t i = 0; i < n; i++) r->out[i] = (float)((r->raw[2 * i] << 8 | r->raw[2 * i + 1]) / 65535.0);
  }
  *h = ph;
  *w = pw;
  r->done = 1;
  st = SR_OK;

done:; /* reached normally or by longjmp: only heap state (r) and pointers fixed before setjmp are read */
  if (png) {
    png_structp p = png;
    png_infop i = info;
    png_destroy_read_struct(&p, i ? &i : NULL, NULL);
  }
  if (r && r->done) {
    *data = r->out;
  } else {
    if (r && r->truncated && em.cap) snprintf(why, cap, "truncated: the file ends inside the image");
    if (st == SR_ENOMEM && em.cap) snprintf(why, cap, "out of memory");
    if (r) free(r->out);
  }
  if (r) {
    free(r->raw);
    free(r->rows);
  }
  free(r);
  return st;
}
