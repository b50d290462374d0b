/* test_rng.c — Philox4x32-10 known answers (Random123's test vectors), normal moments and quantiles within
 * Monte-Carlo error, and reproducibility of the counter layout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "scorerecon.h"
#include "test.h"

#define GOLDEN_NORMALS_DIGEST 0x7e8489758fcf25f0ULL

TEST(rng_philox_known_answers) {
  const uint32_t key[3][2] = {{0, 0}, {0xffffffff, 0xffffffff}, {0xa4093822, 0x299f31d0}};
  const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                              {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                              {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}};
  const uint32_t want[3][4] = {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                               {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                               {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    sr_philox4x32(key[t], ctr[t], out);
    for (int i = 0; i < 4; i++) CHECK(out[i] == want[t][i], "vector %d word %d: %08x want %08x", t, i, out[i], want[t][i]);
  }
}

TEST(rng_normals_moments_and_quantiles) {
  const size_t n = 1 << 22;
  float *z = sr_alloc(n);
  sr_rng r = sr_rng_make(42, 3);
  for (size_t off = 0; off < n; off += 1 << 16) sr_rng_normals(&r, off >> 16, z + off, 1 << 16);
  double s1 = 0, s2 = 0, s4 = 0;
  const double q[] = {-2.5, -1.5, -0.5, 0, 0.7, 1.9, 3.0};
  double cnt[7] = {0};
  for (size_t i = 0; i < n; i++) {
    double v = z[i];
    s1 += v; s2 += v * v; s4 += v * v * v * v;
    for (int k = 0; k < 7; k++) cnt[k] += v <= q[k];
  }
  double N = (double)n, mean = s1 / N, var = s2 / N - mean * mean, kurt = s4 / N;
  CHECK_NEAR(mean, 0.0, 4 / sqrt(N), "mean");
  CHECK_NEAR(var, 1.0, 4 * sqrt(2 / N), "variance");
  CHECK_NEAR(kurt, 3.0, 4 * sqrt(96 / N), "fourth moment");
  for (int k = 0; k < 7; k++) {
    double p = 0.5 * erfc(-q[k] / sqrt(2.0));
    CHECK_NEAR(cnt[k] / N, p, 4 * sqrt(p * (1 - p) / N) + 1e-7, "CDF");
  }
  sr_free(z);
}

TEST(rng_reproducible_layout) {
  float a[1000], b[10], c[1000];
  sr_rng r = sr_rng_make(7, 11);
  sr_rng_normals(&r, 5, a, 1000);
  sr_rng_normals(&r, 5, b, 10);
  CHECK(memcmp(a, b, sizeof b) == 0, "a prefix of the same counter must give the same numbers");
  sr_rng_normals(&r, 6, c, 1000);
  CHECK(memcmp(a, c, sizeof a) != 0, "another step must give other numbers");
  sr_rng r2 = sr_rng_make(7, 12);
  sr_rng_normals(&r2, 5, c, 1000);
  CHECK(memcmp(a, c, sizeof a) != 0, "another stream must give other numbers");
  /* uniforms in (0,1), and independent of normals' words */
  double u[1001];
  sr_rng_uniforms(&r, 5, u, 1001);
  double s = 0;
  for (int i = 0; i < 1001; i++) {
    CHECK(u[i] > 0 && u[i] < 1, "uniform %d out of (0,1): %g", i, u[i]);
    s += u[i];
  }
  CHECK_NEAR(s / 1001, 0.5, 4 * sqrt(1.0 / 12 / 1001), "uniform mean");
}

/* A digest of the normals over several lengths (vector bodies and scalar tails): the same bits on every code path
 * (tests/run_all.sh also runs this with SR_RNG_PATH=scalar and =avx2) and on every run. Changing the generator
 * changes every sample scorerecon has produced: that must be a deliberate act, updating this constant. */
TEST(rng_normals_golden_digest) {
  const size_t lens[] = {1, 3, 17, 64, 1000, 100003};
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  float *z = sr_alloc(100003);
  for (int k = 0; k < 6; k++) {
    sr_rng r = sr_rng_make(20261123, (uint64_t)k);
    sr_rng_normals(&r, (uint64_t)k * 7 + 1, z, lens[k]);
    const unsigned char *b = (const unsigned char *)z;
    for (size_t i = 0; i < lens[k] * sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ULL;
  }
  sr_free(z);
  CHECK(h == GOLDEN_NORMALS_DIGEST, "normals digest %016llx, want %016llx", (unsigned long long)h,
        (unsigned long long)GOLDEN_NORMALS_DIGEST);
}

/* sr__rng_normals_at (the fused ULA step's pieces): any piece of a draw is that slice of the whole draw. */
TEST(rng_normals_pieces_match_whole_draw) {
  sr_rng r = sr_rng_make(77, 5);
  size_t n = 10007;
  float *all = malloc(n * sizeof(float)), *piece = malloc(n * sizeof(float));
  sr_rng_normals(&r, 42, all, n);
  size_t sizes[] = {1, 3, 4, 60, 64, 100, 2048, 5000};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (size_t i0 = 0; i0 < n; i0 += sizes[s] + (4 - sizes[s] % 4) % 4) {
      size_t len = n - i0 < sizes[s] ? n - i0 : sizes[s];
      sr__rng_normals_at(&r, 42, i0, piece + i0, len);
      CHECK(!memcmp(piece + i0, all + i0, len * sizeof(float)), "piece %zu at %zu", len, i0);
    }
  }
  free(all);
  free(piece);
}
