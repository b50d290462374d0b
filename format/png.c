/* png.c — 8-bit grayscale PNG in memory through libpng's write API, with png_set_write_fn appending to a
 * growing buffer. libpng reports errors by longjmp to the setjmp below: every object that the error path
 * uses is allocated before setjmp and never reassigned after it, and the pointers themselves are volatile. */
#include "png.h"

#include <math.h>
#include <libpng16/png.h> /* not <png.h>: -Iserver makes that name this directory's png.h */
#include <stdint.h>
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

/* libpng's default handlers print to stderr; these stay silent (the caller gets NULL). */
static void error_cb(png_structp png, png_const_charp msg) {
  (void)msg;
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
