/* test_npy_png.c — the .npy codec (server/npy.c) and the grayscale PNG encoder (server/png.c).
 * npy: round trips for ranks 1 to 4, the exact header of known cases, 64-byte alignment, version 2.0 headers,
 * and a table of malformed files that must be refused. png: our output decoded by libpng's own reader
 * (the simplified png_image API), checked for size and for the linear scaling of values. */
#include <libpng16/png.h> /* not <png.h>: -Iserver makes that name server/png.h */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "png.h"
#include "test.h"

/* ---------------------------------------------------------------- npy */

static size_t header_len(const unsigned char *b) { return (size_t)b[8] | (size_t)b[9] << 8; }

TEST(npy_header_known) {
  float d[6] = {0, 1, 2, 3, 4, 5};
  size_t shape[2] = {2, 3}, len = 0;
  unsigned char *b = sr_npy_encode(d, 2, shape, &len);
  CHECK(b != NULL, "encode failed");
  if (!b) return;
  CHECK(!memcmp(b, "\x93NUMPY\x01\x00", 8), "magic and version 1.0");
  size_t hl = header_len(b);
  CHECK((10 + hl) % 64 == 0, "header end %zu not a multiple of 64", 10 + hl);
  CHECK(len == 10 + hl + 6 * 4, "len %zu", len);
  const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  size_t wl = strlen(want);
  CHECK(hl > wl && !memcmp(b + 10, want, wl), "header text: %.*s", (int)hl, (const char *)b + 10);
  for (size_t i = wl; i + 1 < hl; i++) CHECK(b[10 + i] == ' ', "padding byte %zu is %#x", i, b[10 + i]);
  CHECK(b[10 + hl - 1] == '\n', "header must end in a newline");
  /* the data: little-endian float32, row-major */
  float back[6];
  memcpy(back, b + 10 + hl, sizeof back);
  CHECK(!memcmp(back, d, sizeof d), "data bytes");
  free(b);
}

TEST(npy_header_rank1_trailing_comma) {
  float d[5] = {1, 2, 3, 4, 5};
  size_t shape[1] = {5}, len;
  unsigned char *b = sr_npy_encode(d, 1, shape, &len);
  CHECK(b != NULL, "encode");
  if (!b) return;
  const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }";
  CHECK(!memcmp(b + 10, want, strlen(want)), "header text: %.*s", (int)header_len(b), (const char *)b + 10);
  CHECK((10 + header_len(b)) % 64 == 0, "alignment");
  free(b);
}

TEST(npy_header_alignment_all_widths) {
  /* shapes whose dict lengths cover many residues mod 64 */
  size_t dims[] = {1, 9, 10, 99, 100, 12345, 1234567};
  for (size_t a = 0; a < sizeof dims / sizeof *dims; a++)
    for (int rank = 1; rank <= 4; rank++) {
      size_t shape[4] = {dims[a], 1, 1, 1}, len;
      float *d = calloc(dims[a], sizeof(float));
      unsigned char *b = sr_npy_encode(d, rank, shape, &len);
      CHECK(b != NULL, "encode rank %d dim %zu", rank, dims[a]);
      if (b) {
        size_t hl = header_len(b);
        CHECK((10 + hl) % 64 == 0, "rank %d dim %zu: header end %zu", rank, dims[a], 10 + hl);
        CHECK(b[10 + hl - 1] == '\n', "newline");
        CHECK(len == 10 + hl + 4 * dims[a], "len");
      }
      free(b);
      free(d);
    }
}

TEST(npy_round_trip_ranks) {
  static const size_t shapes[4][4] = {{7, 0, 0, 0}, {3, 5, 0, 0}, {2, 3, 4, 0}, {2, 1, 3, 5}};
  for (int rank = 1; rank <= 4; rank++) {
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= shapes[rank - 1][i];
    float *d = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) d[i] = (float)i * 0.37f - 1.5f + (i == 3 ? -0.0f : 0.0f);
    if (n > 2) {
      d[1] = 3.4028235e38f;
      d[2] = 1e-45f; /* a denormal */
    }
    size_t len;
    unsigned char *b = sr_npy_encode(d, rank, shapes[rank - 1], &len);
    CHECK(b != NULL, "encode rank %d", rank);
    float *back = NULL;
    int r = -1;
    size_t sh[4] = {9, 9, 9, 9};
    CHECK(b && sr_npy_decode(b, len, &back, &r, sh) == 0, "decode rank %d", rank);
    CHECK(r == rank, "rank %d vs %d", r, rank);
    for (int i = 0; i < 4; i++)
      CHECK(sh[i] == (i < rank ? shapes[rank - 1][i] : 0), "rank %d shape[%d] = %zu", rank, i, sh[i]);
    CHECK(back && !memcmp(back, d, n * sizeof(float)), "rank %d data differs", rank);
    free(back);
    free(b);
    free(d);
  }
}

TEST(npy_empty_and_invalid_args) {
  size_t shape[2] = {0, 4}, len = 99;
  unsigned char *b = sr_npy_encode(NULL, 2, shape, &len);
  CHECK(b != NULL, "an empty array encodes");
  float *back = NULL;
  int r;
  size_t sh[4];
  CHECK(b && sr_npy_decode(b, len, &back, &r, sh) == 0 && r == 2 && sh[0] == 0 && sh[1] == 4 && back,
        "an empty array decodes");
  free(back);
  free(b);
  float d[1] = {0};
  size_t s1[5] = {1, 1, 1, 1, 1};
  CHECK(sr_npy_encode(d, 0, s1, &len) == NULL && len == 0, "rank 0 refused");
  CHECK(sr_npy_encode(d, 5, s1, &len) == NULL, "rank 5 refused");
  size_t huge[2] = {SIZE_MAX / 2, 3};
  CHECK(sr_npy_encode(d, 2, huge, &len) == NULL, "overflowing size refused");
}

/* A v1.0 file with header text `dict` (padded to 64 with spaces and '\n' unless raw) and nbytes of data. */
static unsigned char *make_npy(const char *dict, int raw, size_t nbytes, size_t *len) {
  size_t dl = strlen(dict), pad = raw ? 0 : (64 - (10 + dl + 1) % 64) % 64;
  size_t hl = raw ? dl : dl + pad + 1;
  *len = 10 + hl + nbytes;
  unsigned char *b = calloc(1, *len);
  memcpy(b, "\x93NUMPY\x01\x00", 8);
  b[8] = (unsigned char)hl;
  b[9] = (unsigned char)(hl >> 8);
  memcpy(b + 10, dict, dl);
  if (!raw) {
    memset(b + 10 + dl, ' ', pad);
    b[10 + dl + pad] = '\n';
  }
  return b;
}

static int decodes(const unsigned char *b, size_t len) {
  float *d = (float *)1;
  int r;
  size_t sh[4];
  int st = sr_npy_decode(b, len, &d, &r, sh);
  if (st) {
    CHECK(d == NULL, "data must be NULL after a refusal");
  } else {
    free(d);
  }
  return st == 0;
}

TEST(npy_accepts_numpy_variants) {
  size_t len;
  static const char *ok[] = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",   /* no trailing comma in the dict */
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",   /* another key order */
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,3,)}",
      "{'descr':'<f4','fortran_order':False,'shape':(6,),}",
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    unsigned char *b = make_npy(ok[i], 0, 24, &len);
    CHECK(decodes(b, len), "refused: %s", ok[i]);
    free(b);
  }
  /* version 2.0: a 4-byte header length */
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  size_t dl = strlen(dict), pad = (64 - (12 + dl + 1) % 64) % 64, hl = dl + pad + 1;
  len = 12 + hl + 12;
  unsigned char *b = calloc(1, len);
  memcpy(b, "\x93NUMPY\x02\x00", 8);
  b[8] = (unsigned char)hl;
  memcpy(b + 12, dict, dl);
  memset(b + 12 + dl, ' ', pad);
  b[12 + dl + pad] = '\n';
  float v[3] = {1.5f, -2, 3};
  memcpy(b + 12 + hl, v, sizeof v);
  float *d = NULL;
  int r;
  size_t sh[4];
  CHECK(sr_npy_decode(b, len, &d, &r, sh) == 0 && r == 1 && sh[0] == 3 && d && !memcmp(d, v, sizeof v),
        "version 2.0 header");
  free(d);
  free(b);
}

TEST(npy_rejects_malformed) {
  static const struct {
    const char *dict;
    size_t nbytes;
    int raw;
  } bad[] = {
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 0},   /* big-endian */
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48, 0},   /* float64 */
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", 24, 0},
      {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", 6, 0},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, 0},   /* short data */
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, 0},   /* trailing data */
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 25, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", 24, 0},      /* (6) is not a tuple */
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, 0},        /* rank 0 */
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 6), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 03), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3.0), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 3), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (281474976710655, 281474976710655), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, }", 24, 0},                     /* no shape */
      {"{'fortran_order': False, 'shape': (2, 3), }", 24, 0},                    /* no descr */
      {"{'descr': '<f4', 'shape': (2, 3), }", 24, 0},                            /* no fortran_order */
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }x", 24, 0},  /* text after the dict */
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", 24, 0},    /* unclosed */
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 1},   /* no final newline */
      {"{'descr': '<f4\\'', 'fortran_order': False, 'shape': (2, 3), }", 24, 0},
      {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3), }", 24, 0},
      {"{'descr': \"<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 0},  /* mismatched quotes */
      {"", 24, 0},
  };
  size_t len;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    unsigned char *b = make_npy(bad[i].dict, bad[i].raw, bad[i].nbytes, &len);
    CHECK(!decodes(b, len), "accepted bad case %zu: %s", i, bad[i].dict);
    free(b);
  }
  /* damage to a good file */
  float d[6] = {0};
  size_t shape[2] = {2, 3};
  unsigned char *g = sr_npy_encode(d, 2, shape, &len);
  CHECK(decodes(g, len), "the good file");
  for (size_t cut = 0; cut < len; cut++) CHECK(!decodes(g, cut), "accepted a file cut at %zu of %zu", cut, len);
  unsigned char *m = malloc(len);
  memcpy(m, g, len);
  m[0] = 0x92;
  CHECK(!decodes(m, len), "bad magic");
  memcpy(m, g, len);
  m[6] = 3;
  CHECK(!decodes(m, len), "version 3.0");
  memcpy(m, g, len);
  m[7] = 1;
  CHECK(!decodes(m, len), "version 1.1");
  memcpy(m, g, len);
  m[8] = 0xff;
  m[9] = 0xff;
  CHECK(!decodes(m, len), "header length past the end");
  memcpy(m, g, len);
  m[8] = 0;
  m[9] = 0;
  CHECK(!decodes(m, len), "header length 0");
  memcpy(m, g, len);
  m[20] = 0x01;
  CHECK(!decodes(m, len), "control byte in the header");
  memcpy(m, g, len);
  m[20] = 0xc3;
  CHECK(!decodes(m, len), "non-ASCII byte in the header");
  free(m);
  free(g);
  float *out = (float *)1;
  int r;
  size_t sh[4];
  CHECK(sr_npy_decode(NULL, 0, &out, &r, sh) == -1 && out == NULL, "NULL buffer");
}

/* ---------------------------------------------------------------- png */

/* Decodes with libpng's simplified API into *px (malloc'd gray bytes); 0 on success. */
static int png_read_gray(const unsigned char *b, size_t len, unsigned *w, unsigned *h, unsigned char **px) {
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  *px = NULL;
  if (!png_image_begin_read_from_memory(&img, b, len)) return -1;
  if (img.format != PNG_FORMAT_GRAY) { /* the file itself is 8-bit gray */
    png_image_free(&img);
    return -1;
  }
  *px = malloc(PNG_IMAGE_SIZE(img));
  if (!*px || !png_image_finish_read(&img, NULL, *px, 0, NULL)) {
    free(*px);
    *px = NULL;
    png_image_free(&img);
    return -1;
  }
  *w = img.width;
  *h = img.height;
  return 0;
}

TEST(png_scaling) {
  /* 3 x 4, values from -2 to 6: min -> 0, max -> 255, the mid value 2 -> 127.5 rounded up to 128 */
  float d[12] = {-2, 2, 6, 0, 1, -2, 6, 4, 2, 2, -1, 5};
  size_t len = 0;
  unsigned char *b = sr_png_encode_gray(d, 3, 4, &len);
  CHECK(b != NULL && len > 8, "encode");
  CHECK(b && !memcmp(b, "\x89PNG\r\n\x1a\n", 8), "PNG signature");
  unsigned w = 0, h = 0;
  unsigned char *px = NULL;
  CHECK(b && png_read_gray(b, len, &w, &h, &px) == 0, "libpng reads it back");
  CHECK(w == 4 && h == 3, "size %ux%u", w, h);
  if (px) {
    for (int i = 0; i < 12; i++) {
      int want = (int)floor((d[i] + 2.0) * 255.0 / 8.0 + 0.5);
      CHECK(px[i] == want, "pixel %d: value %g -> %d, want %d", i, d[i], px[i], want);
    }
    CHECK(px[0] == 0 && px[2] == 255 && px[1] == 128, "min 0, max 255, mid 128: %d %d %d", px[0], px[2], px[1]);
  }
  free(px);
  free(b);
}

TEST(png_constant_nan_inf) {
  float c[6] = {0.7f, 0.7f, 0.7f, 0.7f, 0.7f, 0.7f};
  size_t len;
  unsigned w, h;
  unsigned char *px = NULL, *b = sr_png_encode_gray(c, 2, 3, &len);
  CHECK(b && png_read_gray(b, len, &w, &h, &px) == 0 && w == 3 && h == 2, "constant image decodes");
  for (int i = 0; px && i < 6; i++) CHECK(px[i] == 0, "constant pixel %d = %d", i, px[i]);
  free(px);
  free(b);
  /* NaN -> 0; infinities at the ends; the range comes from the finite values */
  float d[6] = {NAN, 1, 3, INFINITY, -INFINITY, 2};
  b = sr_png_encode_gray(d, 1, 6, &len);
  CHECK(b && png_read_gray(b, len, &w, &h, &px) == 0 && w == 6 && h == 1, "NaN image decodes");
  if (px) {
    static const unsigned char want[6] = {0, 0, 255, 255, 0, 128};
    for (int i = 0; i < 6; i++) CHECK(px[i] == want[i], "pixel %d = %d, want %d", i, px[i], want[i]);
  }
  free(px);
  free(b);
  /* nothing finite: all 0 */
  float z[2] = {NAN, NAN};
  b = sr_png_encode_gray(z, 2, 1, &len);
  CHECK(b && png_read_gray(b, len, &w, &h, &px) == 0 && px && px[0] == 0 && px[1] == 0, "all-NaN image");
  free(px);
  free(b);
}

TEST(png_one_row_and_column) {
  enum { N = 1000 };
  float *d = malloc(N * sizeof(float));
  for (int i = 0; i < N; i++) d[i] = (float)i;
  for (int col = 0; col < 2; col++) {
    size_t len;
    unsigned w, h;
    unsigned char *px = NULL;
    unsigned char *b = col ? sr_png_encode_gray(d, N, 1, &len) : sr_png_encode_gray(d, 1, N, &len);
    CHECK(b && png_read_gray(b, len, &w, &h, &px) == 0, "1xN decodes");
    CHECK(col ? (w == 1 && h == N) : (w == N && h == 1), "size %ux%u", w, h);
    if (px) {
      CHECK(px[0] == 0 && px[N - 1] == 255, "ends %d %d", px[0], px[N - 1]);
      int mono = 1;
      for (int i = 1; i < N; i++) mono &= px[i] >= px[i - 1];
      CHECK(mono, "a ramp stays monotone");
      for (int i = 0; i < N; i++) {
        int want = (int)floor(i * 255.0 / (N - 1) + 0.5);
        if (px[i] != want) {
          CHECK(0, "pixel %d = %d, want %d", i, px[i], want);
          break;
        }
      }
    }
    free(px);
    free(b);
  }
  free(d);
  /* 1 x 1 */
  float one = 3;
  size_t len;
  unsigned w, h;
  unsigned char *px = NULL, *b = sr_png_encode_gray(&one, 1, 1, &len);
  CHECK(b && png_read_gray(b, len, &w, &h, &px) == 0 && w == 1 && h == 1 && px && px[0] == 0, "1x1");
  free(px);
  free(b);
}

TEST(png_wide_and_invalid) {
  /* wider than libpng's default user limit of 10^6 columns */
  size_t n = 1100000;
  float *d = calloc(n, sizeof(float));
  d[n - 1] = 1;
  size_t len;
  unsigned char *b = sr_png_encode_gray(d, 1, n, &len);
  CHECK(b != NULL, "1 x %zu encodes", n);
  free(b);
  free(d);
  float x = 1;
  CHECK(sr_png_encode_gray(&x, 0, 1, &len) == NULL && len == 0, "h = 0 refused");
  CHECK(sr_png_encode_gray(&x, 1, 0, &len) == NULL, "w = 0 refused");
  CHECK(sr_png_encode_gray(NULL, 1, 1, &len) == NULL, "NULL data refused");
  CHECK(sr_png_encode_gray(&x, (size_t)1 << 31, 1, &len) == NULL, "h >= 2^31 refused");
}
