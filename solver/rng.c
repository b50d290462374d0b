/* rng.c — the counter-based generator: Philox4x32-10 and bulk normals/uniforms built on it.
 *
 * Key = the job seed; counter = (block, stream | kind, step lo, step hi). A chain is a stream, so a chain's
 * numbers are a pure function of (seed, chain, step, index): threads never change them.
 * Normals use Box–Muller with branch-free float polynomials, fused with Philox in one pass: explicit AVX-512F
 * and AVX2 kernels (16 / 8 Philox blocks per iteration) chosen at run time, and a scalar reference. All three
 * evaluate the same IEEE operations (no FMA), so they give the same bits (see sr_rng_normals below). */
#include "machine.h"
#include "scorerecon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* The path of the bulk draws: 0 scalar, 1 AVX2, 2 AVX-512F (every path gives the same bits). */
static uint32_t rng_path(void) {
  unsigned f = sr_cpu_path();
  return f & SR_CPU_AVX512F ? 2 : f & SR_CPU_AVX2 ? 1 : 0;
}

sr_rng sr_rng_make(uint64_t seed, uint64_t stream) {
  /* The stream lives in the counter (word 1, 31 bits), the seed in the key: streams never overlap. */
  sr_rng r;
  r.key[0] = (uint32_t)seed;
  r.key[1] = (uint32_t)(seed >> 32);
  r.stream = (uint32_t)(stream & 0x7fffffffu);
  r.path = rng_path();
  return r;
}

/* ---------------------------------------------------------------- normals
 *
 * Layout (fixed, the reproducibility contract): normal i of sr_rng_normals(r, step, ., n) comes from Philox block
 * b = i / 4 at counter (b, stream | KIND_NORMAL, step lo, step hi); words (w0, w1) give normals 4b, 4b+1 and
 * (w2, w3) give 4b+2, 4b+3 by the Box–Muller map below. Every code path (scalar, AVX2, AVX-512) evaluates the
 * same IEEE single-precision operations in the same order (no FMA; division and sqrt are correctly rounded), so
 * the numbers are bit-identical whichever path a machine takes. The vector paths run Philox in 64-bit lanes
 * (a 32-bit word in the low half; the high half is don't-care because vpmuludq reads only the low halves) and
 * assign blocks to lanes so that the final 4-way interleave is two rounds of unpacks. */

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

/* Box–Muller on a word pair: u1 in (0,1) from 24 bits, angle 2 pi v with v in (-1/2, 1/2) from the second word,
 * computed as a double angle of sincos(pi v). */
static inline void box_muller1(uint32_t w0, uint32_t w1, float *o0, float *o1) {
  float u1 = ((float)(w0 >> 8) + 0.5f) * (1.0f / 16777216.0f);
  float v = ((float)(w1 >> 8) + 0.5f) * (1.0f / 16777216.0f) - 0.5f;
  float r = sqrtf(-2.0f * fast_logf(u1));
  float s, c;
  fast_sincos_half(3.14159265358979f * v, &s, &c);
  *o0 = r * (c * c - s * s);
  *o1 = r * (2.0f * s * c);
}

typedef struct {
  uint32_t k0, k1, c1, s0, s1;
} normal_ctr;

/* The reference path: blocks [b0, b0 + nb) into out[0 .. 4 nb). */
static void normals_scalar(const normal_ctr *q, uint32_t b0, size_t nb, float *out) {
  for (size_t b = 0; b < nb; b++) {
    uint32_t c[4] = {b0 + (uint32_t)b, q->c1, q->s0, q->s1};
    philox10(q->k0, q->k1, c);
    box_muller1(c[0], c[1], out + 4 * b, out + 4 * b + 1);
    box_muller1(c[2], c[3], out + 4 * b + 2, out + 4 * b + 3);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SR_HAVE_X86_PATHS 1

/* ---- AVX-512F: 16 blocks (64 normals) per group; 32-bit lane j of the packed words holds block L[j] with
 * L[4l + i] = 4i + l, so that unpacklo/hi_ps then unpacklo/hi_pd leave blocks 4i..4i+3 in vector i. */
#define P512_ROUND(a0, a1, a2, a3, K0, K1)                                     \
  do {                                                                         \
    __m512i p0_ = _mm512_mul_epu32(a0, m0), p1_ = _mm512_mul_epu32(a2, m1);    \
    a0 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1_, 32), a1, K0, 0x96);  \
    a2 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0_, 32), a3, K1, 0x96);  \
    a1 = p1_;                                                                  \
    a3 = p0_;                                                                  \
  } while (0)

__attribute__((target("avx512f"))) static inline __m512 bm_log512(__m512 u) {
  __m512i bits = _mm512_castps_si512(u);
  __m512i e = _mm512_sub_epi32(_mm512_and_si512(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(0xff)),
                               _mm512_set1_epi32(127));
  __m512 m = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)),
                                                 _mm512_set1_epi32(0x3f800000)));
  __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
  __m512 ef = _mm512_cvtepi32_ps(e);
  ef = _mm512_mask_add_ps(ef, big, ef, _mm512_set1_ps(1.0f));
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 s = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
  __m512 s2 = _mm512_mul_ps(s, s);
  __m512 p = _mm512_mul_ps(s2, _mm512_set1_ps(0.2222222222f));
  p = _mm512_mul_ps(s2, _mm512_add_ps(_mm512_set1_ps(0.2857142857f), p));
  p = _mm512_mul_ps(s2, _mm512_add_ps(_mm512_set1_ps(0.4f), p));
  p = _mm512_mul_ps(s2, _mm512_add_ps(_mm512_set1_ps(0.6666666667f), p));
  p = _mm512_add_ps(_mm512_set1_ps(2.0f), p);
  return _mm512_add_ps(_mm512_mul_ps(ef, _mm512_set1_ps(0.69314718056f)), _mm512_mul_ps(s, p));
}

__attribute__((target("avx512f"))) static inline void bm512(__m512i w0, __m512i w1, __m512 *o0, __m512 *o1) {
  const __m512 half = _mm512_set1_ps(0.5f), inv = _mm512_set1_ps(1.0f / 16777216.0f);
  __m512 u1 = _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w0, 8)), half), inv);
  __m512 v = _mm512_sub_ps(_mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w1, 8)), half), inv),
                           half);
  __m512 r = _mm512_sqrt_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f), bm_log512(u1)));
  __m512 x = _mm512_mul_ps(_mm512_set1_ps(3.14159265358979f), v);
  __m512 x2 = _mm512_mul_ps(x, x);
  __m512 s = _mm512_mul_ps(x2, _mm512_set1_ps(-2.5052108e-8f));
  s = _mm512_mul_ps(x2, _mm512_add_ps(_mm512_set1_ps(2.7557319e-6f), s));
  s = _mm512_mul_ps(x2, _mm512_add_ps(_mm512_set1_ps(-1.9841270e-4f), s));
  s = _mm512_mul_ps(x2, _mm512_add_ps(_mm512_set1_ps(8.3333333e-3f), s));
  s = _mm512_mul_ps(x2, _mm512_add_ps(_mm512_set1_ps(-1.6666667e-1f), s));
  s = _mm512_mul_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), s));
  __m512 c = _mm512_mul_ps(x2, _mm512_set1_ps(2.0876757e-9f));
  c = _mm512_mul_ps(x2, _mm512_add_ps(_mm512_set1_ps(-2.7557319e-7f), c));
  c = _mm512_mul_ps(x2, _mm512_add_ps(_mm512_set1_ps(2.4801587e-5f), c));
  c = _mm512_mul_ps(x2, _mm512_add_ps(_mm512_set1_ps(-1.3888889e-3f), c));
  c = _mm512_mul_ps(x2, _mm512_add_ps(_mm512_set1_ps(4.1666667e-2f), c));
  c = _mm512_mul_ps(x2, _mm512_add_ps(_mm512_set1_ps(-0.5f), c));
  c = _mm512_add_ps(_mm512_set1_ps(1.0f), c);
  *o0 = _mm512_mul_ps(r, _mm512_sub_ps(_mm512_mul_ps(c, c), _mm512_mul_ps(s, s)));
  *o1 = _mm512_mul_ps(r, _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(2.0f), s), c));
}

/* 64 normals of blocks [b0, b0 + 16) into out. */
__attribute__((target("avx512f"))) static inline void group512(const normal_ctr *q, uint32_t b0, float *out) {
  const __m512i m0 = _mm512_set1_epi64(PHILOX_M0), m1 = _mm512_set1_epi64(PHILOX_M1);
  const __m512i base = _mm512_set1_epi64(b0);
  __m512i a0 = _mm512_add_epi64(base, _mm512_set_epi64(13, 9, 5, 1, 12, 8, 4, 0));
  __m512i b0v = _mm512_add_epi64(base, _mm512_set_epi64(15, 11, 7, 3, 14, 10, 6, 2));
  __m512i a1 = _mm512_set1_epi64(q->c1), a2 = _mm512_set1_epi64(q->s0), a3 = _mm512_set1_epi64(q->s1);
  __m512i b1 = a1, b2 = a2, b3 = a3;
  uint32_t k0 = q->k0, k1 = q->k1;
  for (int r = 0; r < 10; r++) {
    const __m512i K0 = _mm512_set1_epi64(k0), K1 = _mm512_set1_epi64(k1);
    P512_ROUND(a0, a1, a2, a3, K0, K1);
    P512_ROUND(b0v, b1, b2, b3, K0, K1);
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
#define PACK512(x, y) \
  _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(x)), _mm512_cvtepi64_epi32(y), 1)
  __m512i w0 = PACK512(a0, b0v), w1 = PACK512(a1, b1), w2 = PACK512(a2, b2), w3 = PACK512(a3, b3);
#undef PACK512
  __m512 n0, n1, n2, n3;
  bm512(w0, w1, &n0, &n1);
  bm512(w2, w3, &n2, &n3);
  __m512 ablo = _mm512_unpacklo_ps(n0, n1), abhi = _mm512_unpackhi_ps(n0, n1);
  __m512 cdlo = _mm512_unpacklo_ps(n2, n3), cdhi = _mm512_unpackhi_ps(n2, n3);
  _mm512_storeu_ps(out, _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ablo), _mm512_castps_pd(cdlo))));
  _mm512_storeu_ps(out + 16, _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ablo), _mm512_castps_pd(cdlo))));
  _mm512_storeu_ps(out + 32, _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(abhi), _mm512_castps_pd(cdhi))));
  _mm512_storeu_ps(out + 48, _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(abhi), _mm512_castps_pd(cdhi))));
}

__attribute__((target("avx512f"))) static void normals_avx512(const normal_ctr *q, uint32_t b0, size_t nb,
                                                              float *out) {
  size_t g = 0;
  for (; g + 16 <= nb; g += 16) group512(q, b0 + (uint32_t)g, out + 4 * g);
  if (g < nb) {
    float tmp[64];
    group512(q, b0 + (uint32_t)g, tmp);
    for (size_t i = 0; i < 4 * (nb - g); i++) out[4 * g + i] = tmp[i];
  }
}

/* ---- AVX2: 8 blocks (32 normals) per group; lanes after _mm256_shuffle_ps(a, b, 2020) hold blocks
 * L = [0,2,4,6,1,3,5,7] (L[4l + i] = 2i + l), so the unpacks leave blocks 2i, 2i+1 in vector i. */
#define P256_ROUND(a0, a1, a2, a3, K0, K1)                                                    \
  do {                                                                                        \
    __m256i p0_ = _mm256_mul_epu32(a0, m0), p1_ = _mm256_mul_epu32(a2, m1);                   \
    a0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1_, 32), a1), K0);              \
    a2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0_, 32), a3), K1);              \
    a1 = p1_;                                                                                 \
    a3 = p0_;                                                                                 \
  } while (0)

__attribute__((target("avx2"))) static inline __m256 bm_log256(__m256 u) {
  __m256i bits = _mm256_castps_si256(u);
  __m256i e = _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(0xff)),
                               _mm256_set1_epi32(127));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                 _mm256_set1_epi32(0x3f800000)));
  __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  __m256 ef = _mm256_cvtepi32_ps(e);
  ef = _mm256_blendv_ps(ef, _mm256_add_ps(ef, _mm256_set1_ps(1.0f)), big);
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 s = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  __m256 s2 = _mm256_mul_ps(s, s);
  __m256 p = _mm256_mul_ps(s2, _mm256_set1_ps(0.2222222222f));
  p = _mm256_mul_ps(s2, _mm256_add_ps(_mm256_set1_ps(0.2857142857f), p));
  p = _mm256_mul_ps(s2, _mm256_add_ps(_mm256_set1_ps(0.4f), p));
  p = _mm256_mul_ps(s2, _mm256_add_ps(_mm256_set1_ps(0.6666666667f), p));
  p = _mm256_add_ps(_mm256_set1_ps(2.0f), p);
  return _mm256_add_ps(_mm256_mul_ps(ef, _mm256_set1_ps(0.69314718056f)), _mm256_mul_ps(s, p));
}

__attribute__((target("avx2"))) static inline void bm256(__m256i w0, __m256i w1, __m256 *o0, __m256 *o1) {
  const __m256 half = _mm256_set1_ps(0.5f), inv = _mm256_set1_ps(1.0f / 16777216.0f);
  __m256 u1 = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w0, 8)), half), inv);
  __m256 v = _mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w1, 8)), half), inv),
                           half);
  __m256 r = _mm256_sqrt_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f), bm_log256(u1)));
  __m256 x = _mm256_mul_ps(_mm256_set1_ps(3.14159265358979f), v);
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 s = _mm256_mul_ps(x2, _mm256_set1_ps(-2.5052108e-8f));
  s = _mm256_mul_ps(x2, _mm256_add_ps(_mm256_set1_ps(2.7557319e-6f), s));
  s = _mm256_mul_ps(x2, _mm256_add_ps(_mm256_set1_ps(-1.9841270e-4f), s));
  s = _mm256_mul_ps(x2, _mm256_add_ps(_mm256_set1_ps(8.3333333e-3f), s));
  s = _mm256_mul_ps(x2, _mm256_add_ps(_mm256_set1_ps(-1.6666667e-1f), s));
  s = _mm256_mul_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), s));
  __m256 c = _mm256_mul_ps(x2, _mm256_set1_ps(2.0876757e-9f));
  c = _mm256_mul_ps(x2, _mm256_add_ps(_mm256_set1_ps(-2.7557319e-7f), c));
  c = _mm256_mul_ps(x2, _mm256_add_ps(_mm256_set1_ps(2.4801587e-5f), c));
  c = _mm256_mul_ps(x2, _mm256_add_ps(_mm256_set1_ps(-1.3888889e-3f), c));
  c = _mm256_mul_ps(x2, _mm256_add_ps(_mm256_set1_ps(4.1666667e-2f), c));
  c = _mm256_mul_ps(x2, _mm256_add_ps(_mm256_set1_ps(-0.5f), c));
  c = _mm256_add_ps(_mm256_set1_ps(1.0f), c);
  *o0 = _mm256_mul_ps(r, _mm256_sub_ps(_mm256_mul_ps(c, c), _mm256_mul_ps(s, s)));
  *o1 = _mm256_mul_ps(r, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), s), c));
}

/* 32 normals of blocks [b0, b0 + 8) into out. */
__attribute__((target("avx2"))) static inline void group256(const normal_ctr *q, uint32_t b0, float *out) {
  const __m256i m0 = _mm256_set1_epi64x(PHILOX_M0), m1 = _mm256_set1_epi64x(PHILOX_M1);
  const __m256i base = _mm256_set1_epi64x(b0);
  __m256i a0 = _mm256_add_epi64(base, _mm256_set_epi64x(3, 1, 2, 0));
  __m256i b0v = _mm256_add_epi64(base, _mm256_set_epi64x(7, 5, 6, 4));
  __m256i a1 = _mm256_set1_epi64x(q->c1), a2 = _mm256_set1_epi64x(q->s0), a3 = _mm256_set1_epi64x(q->s1);
  __m256i b1 = a1, b2 = a2, b3 = a3;
  uint32_t k0 = q->k0, k1 = q->k1;
  for (int r = 0; r < 10; r++) {
    const __m256i K0 = _mm256_set1_epi64x(k0), K1 = _mm256_set1_epi64x(k1);
    P256_ROUND(a0, a1, a2, a3, K0, K1);
    P256_ROUND(b0v, b1, b2, b3, K0, K1);
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
#define PACK256(x, y) \
  _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(x), _mm256_castsi256_ps(y), _MM_SHUFFLE(2, 0, 2, 0)))
  __m256i w0 = PACK256(a0, b0v), w1 = PACK256(a1, b1), w2 = PACK256(a2, b2), w3 = PACK256(a3, b3);
#undef PACK256
  __m256 n0, n1, n2, n3;
  bm256(w0, w1, &n0, &n1);
  bm256(w2, w3, &n2, &n3);
  __m256 ablo = _mm256_unpacklo_ps(n0, n1), abhi = _mm256_unpackhi_ps(n0, n1);
  __m256 cdlo = _mm256_unpacklo_ps(n2, n3), cdhi = _mm256_unpackhi_ps(n2, n3);
  __m256 p0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(ablo), _mm256_castps_pd(cdlo)));
  __m256 p1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(ablo), _mm256_castps_pd(cdlo)));
  __m256 p2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(abhi), _mm256_castps_pd(cdhi)));
  __m256 p3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(abhi), _mm256_castps_pd(cdhi)));
  _mm256_storeu_ps(out, p0);
  _mm256_storeu_ps(out + 8, p1);
  _mm256_storeu_ps(out + 16, p2);
  _mm256_storeu_ps(out + 24, p3);
}

__attribute__((target("avx2"))) static void normals_avx2(const normal_ctr *q, uint32_t b0, size_t nb, float *out) {
  size_t g = 0;
  for (; g + 8 <= nb; g += 8) group256(q, b0 + (uint32_t)g, out + 4 * g);
  if (g < nb) {
    float tmp[32];
    group256(q, b0 + (uint32_t)g, tmp);
    for (size_t i = 0; i < 4 * (nb - g); i++) out[4 * g + i] = tmp[i];
  }
}
#endif

/* path: the generator's (rng_path at sr_rng_make). */
static void normals_blocks(uint32_t path, const normal_ctr *q, uint32_t b0, size_t nb, float *out) {
  switch (path) {
#ifdef SR_HAVE_X86_PATHS
  case 2: normals_avx512(q, b0, nb, out); return;
  case 1: normals_avx2(q, b0, nb, out); return;
#endif
  default: normals_scalar(q, b0, nb, out); return;
  }
}

/* Normal i of a draw depends on i alone (block i/4), never on the draw's length: so a draw can be made in pieces
 * (first a multiple of 4), e.g. a cache-sized piece at a time right before the update that reads it. */
void sr__rng_normals_at(const sr_rng *r, uint64_t step, size_t first, float *out, size_t n) {
  normal_ctr q = {r->key[0], r->key[1], r->stream | KIND_NORMAL, (uint32_t)step, (uint32_t)(step >> 32)};
  uint32_t b0 = (uint32_t)(first / 4);
  size_t nb = n / 4, rest = n % 4;
  normals_blocks(r->path, &q, b0, nb, out);
  if (rest) {
    float tmp[4];
    normals_scalar(&q, b0 + (uint32_t)nb, 1, tmp);
    for (size_t i = 0; i < rest; i++) out[4 * nb + i] = tmp[i];
  }
}

void sr_rng_normals(const sr_rng *r, uint64_t step, float *out, size_t n) { sr__rng_normals_at(r, step, 0, out, n); }

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

/* ---------------------------------------------------------------- raw bits
 *
 * Layout (fixed): word i of sr_rng_bits(r, step, ., n) is word j = (i mod 64) / 16 of Philox block
 * b = 16 (i / 64) + i mod 16 at counter (b, stream | KIND_UNIFORM, step lo, step hi | 2^31). Uniforms use the
 * same kind with steps below 2^63, so the two never share a counter. Sixteen blocks side by side in
 * structure-of-arrays form let the compiler vectorise the rounds (integer arithmetic: every clone gives the same
 * bits). */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void bits_groups(uint32_t k0, uint32_t k1, uint32_t c1, uint32_t s0, uint32_t s1, uint32_t g0, size_t ng,
                        uint32_t *restrict out) {
  for (size_t g = 0; g < ng; g++) {
    uint32_t a0[16], a1[16], a2[16], a3[16];
    for (uint32_t l = 0; l < 16; l++) {
      a0[l] = 16u * (g0 + (uint32_t)g) + l;
      a1[l] = c1;
      a2[l] = s0;
      a3[l] = s1;
    }
    uint32_t kk0 = k0, kk1 = k1;
    for (int r = 0; r < 10; r++) {
      for (int l = 0; l < 16; l++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * a0[l];
        uint64_t p1 = (uint64_t)PHILOX_M1 * a2[l];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ a1[l] ^ kk0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ a3[l] ^ kk1;
        a1[l] = (uint32_t)p1;
        a3[l] = (uint32_t)p0;
        a0[l] = n0;
        a2[l] = n2;
      }
      kk0 += PHILOX_W0;
      kk1 += PHILOX_W1;
    }
    uint32_t *o = out + 64 * g;
    for (int l = 0; l < 16; l++) {
      o[l] = a0[l];
      o[16 + l] = a1[l];
      o[32 + l] = a2[l];
      o[48 + l] = a3[l];
    }
  }
}

#ifdef SR_HAVE_X86_PATHS
/* AVX-512F: each word array of a group as two vectors of eight 64-bit lanes (blocks 16g + 0..7 and 16g + 8..15),
 * packed back to 32 bits in block order; two groups per iteration for instruction-level parallelism. */
#define PACK512(x, y) \
  _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(x)), _mm512_cvtepi64_epi32(y), 1)
__attribute__((target("avx512f"))) static void bits_avx512(uint32_t k0, uint32_t k1, uint32_t c1, uint32_t s0,
                                                           uint32_t s1, size_t g0, size_t ng, uint32_t *out) {
  const __m512i m0 = _mm512_set1_epi64(PHILOX_M0), m1 = _mm512_set1_epi64(PHILOX_M1);
  const __m512i lo = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), hi = _mm512_set_epi64(15, 14, 13, 12, 11, 10, 9, 8);
  const __m512i C1 = _mm512_set1_epi64(c1), S0 = _mm512_set1_epi64(s0), S1 = _mm512_set1_epi64(s1);
  for (size_t g = 0; g < ng; g += 2) {
    __m512i b0 = _mm512_set1_epi64((long long)(16 * (g0 + g))), b1 = _mm512_set1_epi64((long long)(16 * (g0 + g) + 16));
    __m512i a0 = _mm512_add_epi64(b0, lo), a1 = C1, a2 = S0, a3 = S1;
    __m512i e0 = _mm512_add_epi64(b0, hi), e1 = C1, e2 = S0, e3 = S1;
    __m512i f0 = _mm512_add_epi64(b1, lo), f1 = C1, f2 = S0, f3 = S1;
    __m512i h0 = _mm512_add_epi64(b1, hi), h1 = C1, h2 = S0, h3 = S1;
    uint32_t kk0 = k0, kk1 = k1;
    for (int r = 0; r < 10; r++) {
      const __m512i K0 = _mm512_set1_epi64(kk0), K1 = _mm512_set1_epi64(kk1);
      P512_ROUND(a0, a1, a2, a3, K0, K1);
      P512_ROUND(e0, e1, e2, e3, K0, K1);
      P512_ROUND(f0, f1, f2, f3, K0, K1);
      P512_ROUND(h0, h1, h2, h3, K0, K1);
      kk0 += PHILOX_W0;
      kk1 += PHILOX_W1;
    }
    uint32_t *o = out + 64 * g;
    _mm512_storeu_si512(o, PACK512(a0, e0));
    _mm512_storeu_si512(o + 16, PACK512(a1, e1));
    _mm512_storeu_si512(o + 32, PACK512(a2, e2));
    _mm512_storeu_si512(o + 48, PACK512(a3, e3));
    if (g + 1 == ng) break; /* odd count: the second group was computed but has no room */
    _mm512_storeu_si512(o + 64, PACK512(f0, h0));
    _mm512_storeu_si512(o + 80, PACK512(f1, h1));
    _mm512_storeu_si512(o + 96, PACK512(f2, h2));
    _mm512_storeu_si512(o + 112, PACK512(f3, h3));
  }
}
#undef PACK512
#endif

void sr_rng_bits(const sr_rng *r, uint64_t step, uint32_t *out, size_t n) {
  uint32_t c1 = r->stream | KIND_UNIFORM, s0 = (uint32_t)step, s1 = (uint32_t)(step >> 32) | 0x80000000u;
  size_t ng = n / 64, rest = n % 64;
  uint32_t tmp[64];
#ifdef SR_HAVE_X86_PATHS
  if (r->path == 2) {
    bits_avx512(r->key[0], r->key[1], c1, s0, s1, 0, ng, out);
    if (rest) {
      bits_avx512(r->key[0], r->key[1], c1, s0, s1, ng, 1, tmp);
      memcpy(out + 64 * ng, tmp, rest * sizeof(uint32_t));
    }
    return;
  }
#endif
  bits_groups(r->key[0], r->key[1], c1, s0, s1, 0, ng, out);
  if (rest) {
    bits_groups(r->key[0], r->key[1], c1, s0, s1, (uint32_t)ng, 1, tmp);
    memcpy(out + 64 * ng, tmp, rest * sizeof(uint32_t));
  }
}
