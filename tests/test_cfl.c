/* test_cfl.c — BART .cfl/.hdr pairs: the header parser (BART's own header, edge cases, refusals), the dimension
 * mapping (column-major [X, Y] is row-major [Y, X]), bounded and exact reads, round trips and the ARRAY of a pair. */
#include <stdlib.h>
#include <string.h>

#include "array_json.h"
#include "cfl.h"
#include "test.h"

/* the header `bart phantom -x 8 p` writes (BART 0.8) */
static const char BART_HDR[] = "# Dimensions\n8 8 1 1 1 1 1 1 1 1 1 1 1 1 1 1 \n# Command\nphantom -x 8 p \n"
                               "# Files\n >p\n# Creator\nBART v0.8.00\n";

TEST(cfl_hdr_bart_and_variants) {
  char why[256];
  size_t d[SR_CFL_MAX_DIMS];
  int n;
  CHECK(sr_cfl_hdr_parse(BART_HDR, strlen(BART_HDR), 1 << 20, &n, d, why, sizeof why) == SR_OK, "%s", why);
  CHECK(n == 16 && d[0] == 8 && d[1] == 8 && d[2] == 1 && d[15] == 1, "n %d", n);
  const char *ok[] = {"# Dimensions\n3 2\n", "# Dimensions\r\n3\t2\r\n", "#Dimensions\n3 2",
                      "# Creator\nx y\n# Dimensions\n3 2\n# Command\n1 2 3\n"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    CHECK(sr_cfl_hdr_parse(ok[i], strlen(ok[i]), 100, &n, d, why, sizeof why) == SR_OK, "%zu: %s", i, why);
    CHECK(n == 2 && d[0] == 3 && d[1] == 2 && d[2] == 1, "%zu: n %d", i, n);
  }
  struct {
    const char *text;
    sr_status st;
    const char *says;
  } bad[] = {{"", SR_EINVAL, "no \"# Dimensions\""},
             {"8 8\n", SR_EINVAL, "no \"# Dimensions\""},
             {"# Dimensions\n", SR_EINVAL, "no \"# Dimensions\""},
             {"# Dimensions\n\n8 8\n", SR_EINVAL, "no sizes"},
             {"# Dimensions\n8 0 1\n", SR_EINVAL, "dimension 1 is 0"},
             {"# Dimensions\n8 -8\n", SR_EINVAL, "'-'"},
             {"# Dimensions\n8 8x\n", SR_EINVAL, "not a whole number"},
             {"# Dimensions\n1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n", SR_EINVAL, "more than 16"},
             {"# Dimensions\n99999999999999999999999 1\n", SR_ELIMIT, "too large"},
             {"# Dimensions\n11 10\n", SR_ELIMIT, "limit of 100"},
             {"# Dimensions\n4294967296 4294967296 4294967296\n", SR_ELIMIT, "limit of 100"},
             {"# Dimensions\n2 2\n# Dimensions\n2 2\n", SR_EINVAL, "two"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    why[0] = 0;
    sr_status st = sr_cfl_hdr_parse(bad[i].text, strlen(bad[i].text), 100, &n, d, why, sizeof why);
    CHECK(st == bad[i].st && strstr(why, bad[i].says), "%zu: status %d, why '%s'", i, st, why);
  }
  CHECK(sr_cfl_hdr_parse("# Dimensions\n2\0 2\n", 17, 100, &n, d, why, sizeof why) == SR_EINVAL &&
        strstr(why, "NUL"), "NUL: %s", why);
}

/* BART stores [X, Y] column-major: value (x, y) at x + X*y. Read as row-major, that is [Y, X]: our [h, w]. */
TEST(cfl_column_major_is_reversed_row_major) {
  const size_t X = 3, Y = 2;
  unsigned char cfl[8 * 6];
  float v[12];
  for (size_t y = 0; y < Y; y++)
    for (size_t x = 0; x < X; x++) {
      v[2 * (x + X * y)] = (float)(10 * y + x); /* re: row y, column x */
      v[2 * (x + X * y) + 1] = (float)x - 0.5f;
    }
  size_t len;
  unsigned char *b = sr_cfl_encode(v, 6, 1, &len);
  CHECK(b && len == sizeof cfl, "encode");
  memcpy(cfl, b, sizeof cfl);
  free(b);
  const char *hdr = "# Dimensions\n3 2 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n";
  sr_cfl_array a;
  char why[256];
  CHECK(sr_cfl_read(hdr, strlen(hdr), cfl, sizeof cfl, 100, &a, why, sizeof why) == SR_OK, "%s", why);
  size_t shape[4];
  int rank = sr_cfl_shape(a.ndims, a.dims, 4, shape);
  CHECK(rank == 2 && shape[0] == Y && shape[1] == X, "rank %d shape %zu %zu", rank, shape[0], shape[1]);
  for (size_t h = 0; h < Y; h++)
    for (size_t w = 0; w < X; w++) {
      CHECK(a.data[2 * (h * X + w)] == (float)(10 * h + w), "re at [%zu,%zu]", h, w);
      CHECK(a.data[2 * (h * X + w) + 1] == (float)w - 0.5f, "im at [%zu,%zu]", h, w);
    }
  free(a.data);
  /* and back: our [2, 3] writes BART's [3, 2, 1, ...] */
  size_t dims[SR_CFL_MAX_DIMS], sh[2] = {Y, X};
  sr_cfl_dims(2, sh, dims);
  CHECK(dims[0] == 3 && dims[1] == 2 && dims[2] == 1 && dims[15] == 1, "dims %zu %zu", dims[0], dims[1]);
  char *text = sr_cfl_hdr_encode(dims, &len);
  CHECK(text && !strncmp(text, "# Dimensions\n3 2 1 ", 19), "%s", text);
  free(text);
}

TEST(cfl_round_trip_and_shapes) {
  size_t shapes[][4] = {{5, 0, 0, 0}, {4, 7, 0, 0}, {1, 6, 0, 0}, {2, 3, 4, 0}, {2, 1, 3, 2}};
  int ranks[] = {1, 2, 2, 3, 4};
  for (int t = 0; t < 5; t++) {
    size_t count = 1, dims[SR_CFL_MAX_DIMS], len, hlen;
    for (int i = 0; i < ranks[t]; i++) count *= shapes[t][i];
    float *v = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++) v[i] = (float)i * 0.25f - 1.0f;
    sr_cfl_dims(ranks[t], shapes[t], dims);
    char *hdr = sr_cfl_hdr_encode(dims, &hlen);
    unsigned char *cfl = sr_cfl_encode(v, count, 0, &len);
    sr_cfl_array a;
    char why[256];
    CHECK(sr_cfl_read(hdr, hlen, cfl, len, 1000, &a, why, sizeof why) == SR_OK, "%d: %s", t, why);
    size_t shape[4];
    int rank = sr_cfl_shape(a.ndims, a.dims, 4, shape);
    /* a leading 1 ([1, 6]) is a trailing 1 in BART's order, dropped: [6]; a 1 before the last two dimensions is a
     * 1 after BART's first two, dropped as well: [2, 1, 3, 2] is [2, 3, 2] */
    static const size_t kept[][4] = {{5}, {4, 7}, {6}, {2, 3, 4}, {2, 3, 2}};
    static const int kranks[] = {1, 2, 1, 3, 3};
    CHECK(rank == kranks[t], "%d: rank %d", t, rank);
    for (int i = 0; i < rank && i < kranks[t]; i++) CHECK(shape[i] == kept[t][i], "%d: shape[%d]", t, i);
    for (size_t i = 0; i < count; i++) CHECK(a.data[2 * i] == v[i] && a.data[2 * i + 1] == 0.0f, "%d: %zu", t, i);
    free(a.data);
    free(hdr);
    free(cfl);
    free(v);
  }
  /* more than 4 dimensions left has no row-major shape here; BART's sensitivities [X, Y, 1, C] are [C, Y, X];
   * 16 sizes of 1 is [1] */
  size_t d5[SR_CFL_MAX_DIMS] = {2, 2, 1, 2, 2, 2, 1}, shape[4];
  CHECK(sr_cfl_shape(7, d5, 4, shape) == -1, "5 dims");
  size_t sens[SR_CFL_MAX_DIMS] = {8, 6, 1, 4};
  CHECK(sr_cfl_shape(4, sens, 4, shape) == 3 && shape[0] == 4 && shape[1] == 6 && shape[2] == 8, "sensitivities");
  size_t ones[SR_CFL_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  CHECK(sr_cfl_shape(16, ones, 4, shape) == 1 && shape[0] == 1, "ones");
}

TEST(cfl_exact_size_and_limits) {
  const char *hdr = "# Dimensions\n2 2\n";
  unsigned char cfl[40] = {0};
  sr_cfl_array a;
  char why[256];
  CHECK(sr_cfl_read(hdr, strlen(hdr), cfl, 32, 4, &a, why, sizeof why) == SR_OK, "%s", why);
  free(a.data);
  CHECK(sr_cfl_read(hdr, strlen(hdr), cfl, 31, 4, &a, why, sizeof why) == SR_EINVAL && strstr(why, "truncated") &&
        !a.data, "%s", why);
  CHECK(sr_cfl_read(hdr, strlen(hdr), cfl, 40, 4, &a, why, sizeof why) == SR_EINVAL && strstr(why, "account"),
        "%s", why);
  CHECK(sr_cfl_read(hdr, strlen(hdr), cfl, 0, 4, &a, why, sizeof why) == SR_EINVAL, "empty");
  /* the limit is met before the data is looked at: a huge header with no data */
  const char *big = "# Dimensions\n65536 65536 65536\n";
  CHECK(sr_cfl_read(big, strlen(big), cfl, 32, 1u << 24, &a, why, sizeof why) == SR_ELIMIT && !a.data, "%s", why);
  CHECK(sr_cfl_read(hdr, strlen(hdr), cfl, 32, 3, &a, why, sizeof why) == SR_ELIMIT, "limit 3");
}

/* the ARRAY of a pair: float32 when every imaginary part is exactly 0, complex64 otherwise or when asked */
TEST(cfl_jarray) {
  const char *hdr = "# Dimensions\n3 2\n";
  float v[12] = {0, 0, 1, 0, 2, -0.0f, 3, 0, 4, 0, 5, 0};
  size_t len;
  unsigned char *cfl = sr_cfl_encode(v, 6, 1, &len);
  char why[256];
  cJSON *o;
  for (int pass = 0; pass < 3; pass++) {
    if (pass == 2) v[5] = 1e-30f; /* not exactly 0 */
    free(cfl);
    cfl = sr_cfl_encode(v, 6, 1, &len);
    CHECK(sr_jarray_from_cfl(hdr, strlen(hdr), cfl, len, pass == 1, 100, &o, why, sizeof why) == SR_OK, "%s", why);
    sr_jarray a;
    sr_error err;
    int cplx = pass > 0;
    CHECK(sr_jarray_decode(o, "x", cplx, 100, &a, &err) == SR_OK, "%d: %s", pass, err.msg);
    CHECK(a.rank == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.is_complex == cplx, "%d: rank %d", pass, a.rank);
    for (size_t i = 0; i < 6; i++) CHECK(a.data[cplx ? 2 * i : i] == (float)i, "%d: %zu", pass, i);
    sr_free(a.data);
    cJSON_Delete(o);
  }
  CHECK(sr_jarray_from_cfl(hdr, strlen(hdr), cfl, len - 1, 0, 100, &o, why, sizeof why) == SR_EINVAL && !o, "trunc");
  const char *h5 = "# Dimensions\n1 2 1 1 1\n"; /* [1, 2]: a 1 among BART's first two stays */
  CHECK(sr_jarray_from_cfl(h5, strlen(h5), cfl, 16, 0, 100, &o, why, sizeof why) == SR_OK && o, "%s", why);
  cJSON_Delete(o);
  o = NULL;
  float v32[64] = {0};
  unsigned char *c32 = sr_cfl_encode(v32, 32, 1, &len);
  const char *h6 = "# Dimensions\n2 2 2 2 2\n";
  CHECK(sr_jarray_from_cfl(h6, strlen(h6), c32, len, 0, 100, &o, why, sizeof why) == SR_EINVAL &&
        strstr(why, "more than 4"), "%s", why);
  free(c32);
  free(cfl);
}

TEST(cfl_base) {
  char b[16];
  CHECK(!sr_cfl_base("dir/x.cfl", b, sizeof b) && !strcmp(b, "dir/x"), "%s", b);
  CHECK(!sr_cfl_base("dir/x.hdr", b, sizeof b) && !strcmp(b, "dir/x"), "%s", b);
  CHECK(!sr_cfl_base("dir/x", b, sizeof b) && !strcmp(b, "dir/x"), "%s", b);
  CHECK(!sr_cfl_base(".cfl", b, sizeof b) && !strcmp(b, ".cfl"), "%s", b);
  CHECK(sr_cfl_base("a-very-long-name.cfl", b, sizeof b) == -1, "too long");
}
