/* test_npy_png.c — the .npy codec (format/npy.c), the grayscale PNG encoder and decoder (format/png.c) and the
 * ARRAY of a file (format/array_json.c).
 * npy: round trips for ranks 1 to 4, the exact header of known cases, 64-byte alignment, version 2.0 headers,
 * a table of malformed files that must be refused; the reader's dtypes ('<f4', '<f8', '<c8') and the reason it
 * gives for each refusal. png: our output decoded by libpng's own reader (the simplified png_image API), checked
 * for size and for the linear scaling of values; our decoder on 8- and 16-bit, interlaced and refused files
 * written by libpng's writer. */
#include <libpng16/png.h> /* not <png.h>: -Iserver makes that name server/png.h */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array_json.h"
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

/* ---------------------------------------------------------------- npy reading: dtypes and reasons */

/* A v1.0 .npy file of header dict `dict` followed by the nbytes of `data`. */
static unsigned char *npy_with(const char *dict, const void *data, size_t nbytes, size_t *len) {
  unsigned char *b = make_npy(dict, 0, nbytes, len);
  memcpy(b + *len - nbytes, data, nbytes);
  return b;
}

/* sr_npy_read's status, with its reason in why */
static sr_status npy_read_why(const unsigned char *b, size_t len, size_t max, char *why, size_t cap) {
  sr_npy_array a;
  sr_status st = sr_npy_read(b, len, max, &a, why, cap);
  if (st) CHECK(a.data == NULL, "data must be NULL after a refusal");
  free(a.data);
  return st;
}

TEST(npy_read_dtypes) {
  /* '<f4': what sr_npy_encode writes */
  float f[6] = {0, -1.5f, 2.25f, 3.4028235e38f, 1e-45f, 7};
  size_t shape[2] = {2, 3}, len;
  unsigned char *b = sr_npy_encode(f, 2, shape, &len);
  sr_npy_array a;
  CHECK(b && sr_npy_read(b, len, 6, &a, NULL, 0) == SR_OK, "'<f4' read");
  CHECK(a.rank == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 0 && a.count == 6 && !a.is_complex &&
            !strcmp(a.descr, "<f4"), "'<f4' header");
  CHECK(a.data && !memcmp(a.data, f, sizeof f), "'<f4' values");
  free(a.data);
  free(b);
  /* '<f8': rounded to float32 */
  double d[4] = {0.1, -2.5, 1e-300, 3.4028234663852886e38};
  b = npy_with("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", d, sizeof d, &len);
  CHECK(sr_npy_read(b, len, 4, &a, NULL, 0) == SR_OK, "'<f8' read");
  CHECK(a.rank == 1 && a.shape[0] == 4 && a.count == 4 && !a.is_complex && !strcmp(a.descr, "<f8"), "'<f8' header");
  for (int i = 0; a.data && i < 4; i++) CHECK(a.data[i] == (float)d[i], "'<f8' value %d: %g", i, a.data[i]);
  free(a.data);
  free(b);
  /* '<c8': interleaved (re, im) float32 pairs */
  float c[8] = {1, 0, 0, 1, -1, 0.5f, 0.25f, -3};
  b = npy_with("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }", c, sizeof c, &len);
  CHECK(sr_npy_read(b, len, 4, &a, NULL, 0) == SR_OK, "'<c8' read");
  CHECK(a.rank == 2 && a.count == 4 && a.is_complex && !strcmp(a.descr, "<c8"), "'<c8' header");
  CHECK(a.data && !memcmp(a.data, c, sizeof c), "'<c8' values");
  free(a.data);
  /* the strict '<f4' decoder takes neither of the other two */
  float *x = NULL;
  int r;
  size_t sh[4];
  CHECK(sr_npy_decode(b, len, &x, &r, sh) == -1 && x == NULL, "sr_npy_decode refuses '<c8'");
  free(b);
}

TEST(npy_read_refusals_say_why) {
  char why[256];
  float f[6] = {0};
  double big[2] = {1, -1e300};
  size_t len;
  static const struct {
    const char *dict;
    size_t nbytes;
    sr_status st;
    const char *why;
  } bad[] = {
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, SR_EINVAL,
       "dtype '>f4' is big-endian: save it little-endian (x.astype('<f4'))"},
      {"{'descr': '>c8', 'fortran_order': False, 'shape': (3,), }", 24, SR_EINVAL, "dtype '>c8' is big-endian"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", 24, SR_EINVAL,
       "dtype '<i4' is not read (float32 '<f4', float64 '<f8' or complex64 '<c8' are)"},
      {"{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }", 48, SR_EINVAL, "dtype '<c16' is not read"},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, SR_EINVAL,
       "fortran_order is True: save the array in C order"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, SR_EINVAL,
       "truncated: shape (2, 3) of '<f4' needs 24 bytes of data, the file has 20"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 16, SR_EINVAL,
       "truncated: shape (3,) of '<f8' needs 24 bytes of data, the file has 16"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, SR_EINVAL,
       "data after the array: shape (2, 3) of '<f4' needs 24 bytes of data, the file has 28"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96, SR_ELIMIT,
       "shape (2, 3, 4) has more than the limit of 10 values"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) }x", 24, SR_EINVAL, "malformed header"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    unsigned char *b = make_npy(bad[i].dict, 0, bad[i].nbytes, &len);
    sr_status st = npy_read_why(b, len, 10, why, sizeof why);
    CHECK(st == bad[i].st, "case %zu: status %d, want %d (%s)", i, st, bad[i].st, why);
    CHECK(!strncmp(why, bad[i].why, strlen(bad[i].why)), "case %zu: reason '%s', want '%s'", i, why, bad[i].why);
    free(b);
  }
  /* a float64 beyond float32's range has no float32 value */
  unsigned char *b = npy_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", big, sizeof big, &len);
  CHECK(npy_read_why(b, len, 10, why, sizeof why) == SR_EINVAL && !strcmp(why, "element 1 (-1e+300) is beyond "
        "float32's range"), "f8 out of range: %s", why);
  free(b);
  /* a good file cut anywhere: refused, and "truncated" once the magic and version are there */
  size_t shape[2] = {2, 3};
  b = sr_npy_encode(f, 2, shape, &len);
  for (size_t cut = 0; cut < len; cut++) {
    sr_status st = npy_read_why(b, cut, 10, why, sizeof why);
    CHECK(st == SR_EINVAL, "cut at %zu accepted", cut);
    if (cut >= 8) CHECK(!strncmp(why, "truncated", 9), "cut at %zu: %s", cut, why);
  }
  CHECK(npy_read_why((const unsigned char *)"\x89PNG\r\n\x1a\n", 8, 10, why, sizeof why) == SR_EINVAL &&
        strstr(why, "not a .npy file"), "a PNG is not a .npy file: %s", why);
  b[6] = 3;
  CHECK(npy_read_why(b, len, 10, why, sizeof why) == SR_EINVAL && strstr(why, "version 3.0 is not read"), "%s", why);
  free(b);
}

/* ---------------------------------------------------------------- png decoding */

/* A PNG written by libpng's own writer: w x h samples of `depth` bits (16: big-endian byte pairs) and colour type
 * ctype (a palette of 2 entries), interlaced or not. Caller frees; *len its size. */
static unsigned char *make_png(const unsigned char *samples, unsigned w, unsigned h, int depth, int ctype,
                               int interlace, size_t *len) {
  char *mem = NULL; /* set by the stream at fclose */
  size_t mlen = 0;
  FILE *f = open_memstream(&mem, &mlen);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  size_t channels = ctype == PNG_COLOR_TYPE_RGB ? 3 : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
  size_t rowbytes = (w * channels * (size_t)depth + 7) / 8;
  png_bytep *rows = malloc(h * sizeof(png_bytep));
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(mem);
    free(rows);
    return NULL;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, w, h, depth, ctype, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_color pal[2] = {{0, 0, 0}, {255, 255, 255}};
  if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(png, info, pal, 2);
  for (unsigned y = 0; y < h; y++) rows[y] = (png_bytep)samples + y * rowbytes;
  png_write_info(png, info);
  png_write_image(png, rows); /* every pass when interlaced */
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  free(rows);
  fclose(f);
  *len = mlen;
  return (unsigned char *)mem;
}

/* Decodes the PNG b and checks it is h x w with the samples v[i] / full. */
static void check_decoded(const unsigned char *b, size_t len, size_t h, size_t w, const unsigned *v, double full,
                          const char *what) {
  size_t dh = 0, dw = 0;
  float *x = NULL;
  char why[256] = "";
  CHECK(b && sr_png_decode_gray(b, len, 1000, &x, &dh, &dw, why, sizeof why) == SR_OK, "%s: %s", what, why);
  CHECK(dh == h && dw == w, "%s: size %zux%zu", what, dh, dw);
  for (size_t i = 0; x && i < h * w; i++) CHECK(x[i] == (float)(v[i] / full), "%s: pixel %zu: %g", what, i, x[i]);
  free(x);
}

TEST(png_decode_8bit_round_trip) {
  /* values 0..255 encode to exactly those bytes (min 0, max 255: scale 1) and read back as v / 255 */
  float d[256];
  unsigned v[256];
  for (int i = 0; i < 256; i++) d[i] = (float)(v[i] = (unsigned)(i * 37) % 256);
  size_t len, h, w;
  unsigned char *b = sr_png_encode_gray(d, 8, 32, &len);
  check_decoded(b, len, 8, 32, v, 255, "8-bit");
  /* the pixel limit, before the image is allocated */
  float *x = NULL;
  char why[256];
  CHECK(sr_png_decode_gray(b, len, 255, &x, &h, &w, why, sizeof why) == SR_ELIMIT && !x &&
        !strcmp(why, "32 x 8 pixels is more than the limit of 255"), "limit: %s", why);
  free(b);
}

TEST(png_decode_16bit_and_interlaced) {
  static const unsigned v[6] = {0, 1, 256, 12345, 32768, 65535};
  unsigned char s[12];
  for (int i = 0; i < 6; i++) {
    s[2 * i] = (unsigned char)(v[i] >> 8);
    s[2 * i + 1] = (unsigned char)v[i];
  }
  size_t len;
  unsigned char *b = make_png(s, 3, 2, 16, PNG_COLOR_TYPE_GRAY, 0, &len);
  check_decoded(b, len, 2, 3, v, 65535, "16-bit");
  free(b);
  /* Adam7: the same values as the plain file */
  unsigned char p[9 * 11];
  unsigned pv[9 * 11];
  for (int i = 0; i < 99; i++) p[i] = (unsigned char)(pv[i] = (unsigned)(i * 7 + 3) % 256);
  b = make_png(p, 11, 9, 8, PNG_COLOR_TYPE_GRAY, 1, &len);
  check_decoded(b, len, 9, 11, pv, 255, "interlaced");
  free(b);
}

TEST(png_decode_refusals_say_why) {
  unsigned char s[64] = {0};
  static const struct {
    int depth, ctype;
    const char *why;
  } kinds[] = {
      {8, PNG_COLOR_TYPE_RGB, "not an 8- or 16-bit grayscale PNG (it is 8-bit RGB)"},
      {8, PNG_COLOR_TYPE_PALETTE, "not an 8- or 16-bit grayscale PNG (it is 8-bit palette)"},
      {8, PNG_COLOR_TYPE_GRAY_ALPHA, "not an 8- or 16-bit grayscale PNG (it is 8-bit grayscale with alpha)"},
      {4, PNG_COLOR_TYPE_GRAY, "not an 8- or 16-bit grayscale PNG (it is 4-bit grayscale)"},
      {1, PNG_COLOR_TYPE_GRAY, "not an 8- or 16-bit grayscale PNG (it is 1-bit grayscale)"},
  };
  size_t len, h, w;
  float *x = (float *)1;
  char why[256];
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
    unsigned char *b = make_png(s, 4, 3, kinds[i].depth, kinds[i].ctype, 0, &len);
    CHECK(b != NULL, "case %zu written", i);
    CHECK(b && sr_png_decode_gray(b, len, 100, &x, &h, &w, why, sizeof why) == SR_EINVAL && !x &&
          !strcmp(why, kinds[i].why), "case %zu: %s", i, why);
    free(b);
  }
  /* a good file cut anywhere, or with a byte of its image data changed */
  float d[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  unsigned char *b = sr_png_encode_gray(d, 3, 4, &len);
  for (size_t cut = 0; b && cut < len; cut++) {
    sr_status st = sr_png_decode_gray(b, cut, 100, &x, &h, &w, why, sizeof why);
    CHECK(st == SR_EINVAL && !x, "cut at %zu of %zu accepted", cut, len);
    if (cut >= 8 && cut < len - 12) CHECK(!strcmp(why, "truncated: the file ends inside the image"), "cut at %zu: %s",
                                          cut, why);
  }
  b[len - 20] ^= 0x40; /* inside the IDAT chunk: its CRC no longer matches */
  CHECK(sr_png_decode_gray(b, len, 100, &x, &h, &w, why, sizeof why) == SR_EINVAL && !strncmp(why, "invalid PNG: ", 13),
        "corrupt data: %s", why);
  free(b);
  CHECK(sr_png_decode_gray((const unsigned char *)"GIF89a..", 8, 100, &x, &h, &w, why, sizeof why) == SR_EINVAL &&
        !strcmp(why, "not a PNG file (no PNG signature)"), "not a PNG: %s", why);
}

/* ---------------------------------------------------------------- a file's ARRAY */

TEST(jarray_from_file) {
  char why[256];
  cJSON *o = NULL;
  /* complex64 .npy -> a complex64 ARRAY of its shape */
  float c[4] = {1, 2, 3, 4};
  size_t len;
  unsigned char *b = npy_with("{'descr': '<c8', 'fortran_order': False, 'shape': (1, 2), }", c, sizeof c, &len);
  CHECK(sr_jarray_from_file(b, len, "y.npy", 10, &o, why, sizeof why) == SR_OK && o, "c8: %s", why);
  char *t = o ? cJSON_PrintUnformatted(o) : NULL;
  CHECK(t && !strcmp(t, "{\"dtype\":\"complex64\",\"shape\":[1,2],\"data\":\"AACAPwAAAEAAAEBAAACAQA==\"}"), "c8: %s", t);
  free(t);
  cJSON_Delete(o);
  sr_jarray back;
  sr_error err;
  /* an 8-bit PNG -> float32 [h, w] in [0, 1], as the job parser reads it */
  float d[6] = {0, 51, 102, 153, 204, 255};
  free(b);
  b = sr_png_encode_gray(d, 2, 3, &len);
  CHECK(sr_jarray_from_file(b, len, "anything", 10, &o, why, sizeof why) == SR_OK && o, "png: %s", why);
  CHECK(o && sr_jarray_decode(o, "f", 0, 10, &back, &err) == SR_OK && back.rank == 2 && back.shape[0] == 2 &&
        back.shape[1] == 3, "png ARRAY: %s", err.msg);
  for (int i = 0; o && i < 6; i++) CHECK(back.data[i] == (float)(d[i] / 255.0), "png value %d: %g", i, back.data[i]);
  if (o) sr_free(back.data);
  cJSON_Delete(o);
  free(b);
  /* refusals: the name picks the message for bytes that are neither */
  const unsigned char junk[] = "hello, world";
  CHECK(sr_jarray_from_file(junk, 12, "m.png", 10, &o, why, sizeof why) == SR_EINVAL && !o &&
        !strcmp(why, "not a PNG file (no PNG signature)"), "%s", why);
  CHECK(sr_jarray_from_file(junk, 12, "y.NPY", 10, &o, why, sizeof why) == SR_EINVAL &&
        strstr(why, "not a .npy file"), "%s", why);
  CHECK(sr_jarray_from_file(junk, 12, "y.dat", 10, &o, why, sizeof why) == SR_EINVAL &&
        !strcmp(why, "neither a .npy file nor a PNG (by its first bytes)"), "%s", why);
  CHECK(sr_jarray_from_file(junk, 0, "y.dat", 10, &o, why, sizeof why) == SR_EINVAL, "an empty file");
  b = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 0, 0, &len);
  CHECK(sr_jarray_from_file(b, len, "y.npy", 10, &o, why, sizeof why) == SR_EINVAL && !o &&
        !strcmp(why, "holds no values (shape [0,3])"), "%s", why);
  free(b);
}

/* complex64 ('<c8'): the encoder's header names the dtype and the reader gives back the interleaved pairs. */
TEST(npy_complex_round_trip) {
  float v[12];
  for (int i = 0; i < 12; i++) v[i] = (float)i * 0.5f - 2.0f;
  size_t shape[2] = {2, 3}, len = 0;
  unsigned char *b = sr_npy_encode_complex(v, 2, shape, &len);
  char head[64] = "";
  if (b && len > 63 + 48) memcpy(head, b + 10, 63);
  CHECK(b && len > 48 && (len - 48) % 64 == 0 && strstr(head, "'descr': '<c8'"), "complex header: %s", head);
  sr_npy_array a;
  CHECK(b && sr_npy_read(b, len, 6, &a, NULL, 0) == SR_OK, "'<c8' read");
  if (b && a.data) {
    CHECK(a.is_complex && a.rank == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.count == 6 &&
              !memcmp(a.data, v, sizeof v), "complex round trip");
    free(a.data);
  }
  free(b);
}
