/* rng.c — the counter-based generator: Philox4x32-10 and bulk normals/uniforms built on it.
 *
 * Key = the job seed; counter = (block, stream | kind, step lo, step hi). A chain is a stream, so a chain's
 * numbers are a pure function of (seed, chain, step, index): threads never change them.
 * Normals use Box–Muller with branch-free float polynomials so the loops vectorise; both passes are cloned
 * for AVX2 (integer work and exact float ops only, no FMA contraction: bit-identical across clones). */
#include "scorerecon.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

#define KIND_NORMAL 0x00000000u
#define KIND_UNIFORM 0x80000000u

static inline void philox_round(uint32_t c[4], uint32_t k0, uint32_t k1) {
  uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
  uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
  uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
  uint32_t n1 = (uint32_t)p1;
  uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
  uint32_t n3 = (uint32_t)p0;
  c[0] = n0; c[1] = n1; c[2] = n2; c[3] = n3;
}

static inline void philox10(uint32_t k0, uint32_t k1, uint32_t c[4]) {
  for (int r = 0; r < 10; r++) {
    philox_round(c, k0, k1);
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
}

void sr_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]) {
  uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
  philox10(key[0], key[1], c);
  for (int i = 0; i < 4; i++) out[i] = c[i];
}

sr_rng sr_rng_make(uint64_t seed, uint64_t stream) {
  /* The stream lives in the counter (word 1, 31 bits), the seed in the key: streams never overlap. */
  sr_rng r;
  r.key[0] = (uint32_t)seed;
  r.key[1] = (uint32_t)(seed >> 32);
  r.stream = (uint32_t)(stream & 0x7fffffffu);
  return r;
}

#define CHUNK_BLOCKS 64 /* 256 words per pass */

__attribute__((target_clones("avx2", "default")))
static void philox_blocks(uint32_t k0, uint32_t k1, uint32_t c1, uint64_t step, uint32_t block0, int nb,
                          uint32_t *out) {
  uint32_t s0 = (uint32_t)step, s1 = (uint32_t)(step >> 32);
  for (int b = 0; b < nb; b++) {
    uint32_t c[4] = {block0 + (uint32_t)b, c1, s0, s1};
    philox10(k0, k1, c);
    out[4 * b + 0] = c[0];
    out[4 * b + 1] = c[1];
    out[4 * b + 2] = c[2];
    out[4 * b + 3] = c[3];
  }
}

/* ln(u) for u in (0, 1]: u = m 2^e, m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s), s = (m-1)/(m+1). |err| < 1e-7. */
static inline float fast_logf(float u) {
  union { float f; uint32_t i; } v = {u};
  int e = (int)((v.i >> 23) & 0xff) - 127;
  v.i = (v.i & 0x007fffffu) | 0x3f800000u; /* m in [1, 2) */
  float m = v.f;
  float big = m > 1.41421356f ? 1.0f : 0.0f;
  m = m * (1.0f - 0.5f * big);
  float ef = (float)e + big;
  float s = (m - 1.0f) / (m + 1.0f);
  float s2 = s * s;
  float p = 2.0f + s2 * (0.6666666667f + s2 * (0.4f + s2 * (0.2857142857f + s2 * 0.2222222222f)));
  return ef * 0.69314718056f + s * p;
}

/* sin and cos of x in [-pi/2, pi/2] by Taylor polynomials to x^11 / x^12 (error < 1e-7). */
static inline void fast_sincos_half(float x, float *s, float *c) {
  float x2 = x * x;
  *s = x * (1.0f + x2 * (-1.6666667e-1f + x2 * (8.3333333e-3f + x2 * (-1.9841270e-4f +
                                                 x2 * (2.7557319e-6f + x2 * -2.5052108e-8f)))));
  *c = 1.0f + x2 * (-0.5f + x2 * (4.1666667e-2f + x2 * (-1.3888889e-3f + x2 * (2.4801587e-5f +
                                                  x2 * (-2.7557319e-7f + x2 * 2.0876757e-9f)))));
}

/* Box–Muller on word pairs: u1 in (0,1) from 24 bits, angle 2 pi v with v in (-1/2, 1/2) from the second word,
 * computed as a double angle of sincos(pi v). */
__attribute__((target_clones("avx2", "default")))
static void box_muller(const uint32_t *w, int npairs, float *out) {
  for (int i = 0; i < npairs; i++) {
    float u1 = ((float)(w[2 * i] >> 8) + 0.5f) * (1.0f / 16777216.0f);
    float v = ((float)(w[2 * i + 1] >> 8) + 0.5f) * (1.0f / 16777216.0f) - 0.5f;
    float r = sqrtf(-2.0f * fast_logf(u1));
    float s, c;
    fast_sincos_half(3.14159265358979f * v, &s, &c);
    out[2 * i] = r * (c * c - s * s);
    out[2 * i + 1] = r * (2.0f * s * c);
  }
}

void sr_rng_normals(const sr_rng *r, uint64_t step, float *out, size_t n) {
  uint32_t words[4 * CHUNK_BLOCKS];
  float tmp[4 * CHUNK_BLOCKS];
  uint32_t block = 0;
  size_t done = 0;
  while (done < n) {
    size_t want = n - done;
    int nb = want >= 4 * CHUNK_BLOCKS ? CHUNK_BLOCKS : (int)((want + 3) / 4);
    philox_blocks(r->key[0], r->key[1], r->stream | KIND_NORMAL, step, block, nb, words);
    block += (uint32_t)nb;
    if (want >= 4 * (size_t)nb) {
      box_muller(words, 2 * nb, out + done);
      done += 4 * (size_t)nb;
    } else {
      box_muller(words, 2 * nb, tmp);
      for (size_t i = 0; i < want; i++) out[done + i] = tmp[i];
      done = n;
    }
  }
}

void sr_rng_uniforms(const sr_rng *r, uint64_t step, double *out, size_t n) {
  uint32_t c[4];
  for (size_t i = 0; i < n; i += 2) {
    c[0] = (uint32_t)(i / 2);
    c[1] = r->stream | KIND_UNIFORM;
    c[2] = (uint32_t)step;
    c[3] = (uint32_t)(step >> 32);
    philox10(r->key[0], r->key[1], c);
    for (int j = 0; j < 2 && i + j < n; j++) {
      uint64_t bits = ((uint64_t)c[2 * j] << 21) ^ (uint64_t)(c[2 * j + 1] >> 11); /* 53 bits */
      out[i + j] = ((double)bits + 0.5) * (1.0 / 9007199254740992.0);
    }
  }
}
