/* mh_kernels.c — the rows of the mh checkerboard sweep (solver/sampler_mh.c), the loops that take its time: each as
 * a portable C loop (compiled for AVX2 and the baseline by target_clones) and an AVX-512 (F, BW, VL) twin. Every
 * path evaluates p = EJ[s nb + 4] · F and u + ½ < p 2^31 with the same IEEE double operations, so the decisions
 * are the same bits on every machine and path. */
#include "mh_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MH_X86 1
#endif

/* One row of one colour class: decisions from the unchanged neighbours, written to out. */
__attribute__((target_clones("avx2", "default")))
static long cb_row_c(const signed char *restrict row, const signed char *restrict up, const signed char *restrict dn,
                   const unsigned char *restrict col, int c, const double *restrict Fp, const double *restrict Fm,
                   const double *restrict EJ, const uint32_t *restrict u, size_t w, signed char *restrict out) {
  long acc = 0;
  for (size_t j = 0; j < w; j++) {
    int s = row[j];
    int nb = row[j - 1] + row[j + 1] + up[j] + dn[j];
    double p = EJ[s * nb + 4] * (s > 0 ? Fp[j] : Fm[j]);
    int fl = (col[j] == c) & ((double)(u[j] >> 1) + 0.5 < p * 2147483648.0);
    out[j] = (signed char)(fl ? -s : s);
    acc += fl;
  }
  return acc;
}

#ifdef MH_X86
/* AVX-512 (F, BW, VL): eight sites per step, spins widened to 32-bit lanes, p in eight doubles, EJ by a
 * two-register permute, the flips applied to the eight spin bytes under a mask. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static long cb_row_512(const signed char *restrict row, const signed char *restrict up, const signed char *restrict dn,
                       const unsigned char *restrict col, int c, const double *restrict Fp, const double *restrict Fm,
                       const double *restrict EJ, const uint32_t *restrict u, size_t w, signed char *restrict out) {
  const __m512d ej0 = _mm512_loadu_pd(EJ), ej1 = _mm512_set1_pd(EJ[8]);
  const __m512d scale = _mm512_set1_pd(2147483648.0), half = _mm512_set1_pd(0.5);
  const __m128i cc = _mm_set1_epi8((char)c);
  long acc = 0;
  size_t j = 0;
  for (; j + 8 <= w; j += 8) {
    __m128i s8 = _mm_loadl_epi64((const __m128i *)(row + j));
    __m256i s = _mm256_cvtepi8_epi32(s8);
    __m256i nb = _mm256_add_epi32(
        _mm256_add_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(row + j - 1))),
                         _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(row + j + 1)))),
        _mm256_add_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(up + j))),
                         _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(dn + j)))));
    __m256i m = _mm256_add_epi32(_mm256_sign_epi32(nb, s), _mm256_set1_epi32(4));
    __m512d ej = _mm512_permutex2var_pd(ej0, _mm512_cvtepi32_epi64(m), ej1);
    __mmask8 pos = _mm256_cmpgt_epi32_mask(s, _mm256_setzero_si256());
    __m512d f = _mm512_mask_blend_pd(pos, _mm512_loadu_pd(Fm + j), _mm512_loadu_pd(Fp + j));
    __m512d p = _mm512_mul_pd(ej, f);
    __m256i uw = _mm256_srli_epi32(_mm256_loadu_si256((const __m256i *)(u + j)), 1);
    __m512d uu = _mm512_add_pd(_mm512_cvtepi32_pd(uw), half);
    __mmask8 take8 = _mm512_cmp_pd_mask(uu, _mm512_mul_pd(p, scale), _CMP_LT_OQ);
    __mmask16 same = _mm_cmpeq_epi8_mask(_mm_loadl_epi64((const __m128i *)(col + j)), cc);
    __mmask16 fl = (__mmask16)(take8 & (__mmask8)same);
    _mm_storel_epi64((__m128i *)(out + j), _mm_mask_sub_epi8(s8, fl, _mm_setzero_si128(), s8));
    acc += __builtin_popcount((unsigned)fl);
  }
  if (j < w)
    acc += cb_row_c(row + j, up + j, dn + j, col + j, c, Fp + j, Fm + j, EJ, u + j, w - j, out + j);
  return acc;
}
#endif

/* One compact row: self[t] against the other colour's rows above and below (same t) and its own row at t + lo,
 * t + lo + 1 (lo = −1 when j0 = 0, else 0), all with the halo offset already applied by the caller. */
__attribute__((target_clones("avx2", "default")))
static long cb_crow_c(signed char *restrict self, const signed char *restrict up, const signed char *restrict dn,
                      const signed char *restrict mid, const double *restrict Fp, const double *restrict Fm,
                      const double *restrict EJ, const uint32_t *restrict u, size_t cnt) {
  long acc = 0;
  for (size_t t = 0; t < cnt; t++) {
    int s = self[t];
    int nb = up[t] + dn[t] + mid[t] + mid[t + 1];
    double p = EJ[s * nb + 4] * (s > 0 ? Fp[t] : Fm[t]);
    int fl = (double)(u[t] >> 1) + 0.5 < p * 2147483648.0;
    self[t] = (signed char)(fl ? -s : s);
    acc += fl;
  }
  return acc;
}

#ifdef MH_X86
__attribute__((target("avx512f,avx512bw,avx512vl")))
static long cb_crow_512(signed char *restrict self, const signed char *restrict up, const signed char *restrict dn,
                        const signed char *restrict mid, const double *restrict Fp, const double *restrict Fm,
                        const double *restrict EJ, const uint32_t *restrict u, size_t cnt) {
  const __m512d ej0 = _mm512_loadu_pd(EJ), ej1 = _mm512_set1_pd(EJ[8]);
  const __m512d scale = _mm512_set1_pd(2147483648.0), half = _mm512_set1_pd(0.5);
  const __m512i four = _mm512_set1_epi32(4);
  long acc = 0;
  size_t t = 0;
  for (; t + 16 <= cnt; t += 16) {
    __m128i s8 = _mm_loadu_si128((const __m128i *)(self + t));
    __m512i s = _mm512_cvtepi8_epi32(s8);
    __m512i nb = _mm512_add_epi32(
        _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(up + t))),
                         _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(dn + t)))),
        _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(mid + t))),
                         _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(mid + t + 1)))));
    __mmask16 pos = _mm512_cmpgt_epi32_mask(s, _mm512_setzero_si512());
    __m512i m = _mm512_add_epi32(_mm512_mask_sub_epi32(nb, (__mmask16)~pos, _mm512_setzero_si512(), nb), four);
    __m512d ejl = _mm512_permutex2var_pd(ej0, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(m)), ej1);
    __m512d ejh = _mm512_permutex2var_pd(ej0, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(m, 1)), ej1);
    __m512d fl_ = _mm512_mask_blend_pd((__mmask8)pos, _mm512_loadu_pd(Fm + t), _mm512_loadu_pd(Fp + t));
    __m512d fh = _mm512_mask_blend_pd((__mmask8)(pos >> 8), _mm512_loadu_pd(Fm + t + 8), _mm512_loadu_pd(Fp + t + 8));
    __m512i uw = _mm512_srli_epi32(_mm512_loadu_si512((const void *)(u + t)), 1);
    __m512d ul = _mm512_add_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(uw)), half);
    __m512d uh = _mm512_add_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(uw, 1)), half);
    __mmask8 kl = _mm512_cmp_pd_mask(ul, _mm512_mul_pd(_mm512_mul_pd(ejl, fl_), scale), _CMP_LT_OQ);
    __mmask8 kh = _mm512_cmp_pd_mask(uh, _mm512_mul_pd(_mm512_mul_pd(ejh, fh), scale), _CMP_LT_OQ);
    __mmask16 fl = (__mmask16)(kl | ((unsigned)kh << 8));
    _mm_storeu_si128((__m128i *)(self + t), _mm_mask_sub_epi8(s8, fl, _mm_setzero_si128(), s8));
    acc += __builtin_popcount((unsigned)fl);
  }
  if (t < cnt) acc += cb_crow_c(self + t, up + t, dn + t, mid + t, Fp + t, Fm + t, EJ, u + t, cnt - t);
  return acc;
}
#endif

long sr__mh_row(int v512, const signed char *row, const signed char *up, const signed char *dn,
                const unsigned char *col, int c, const double *Fp, const double *Fm, const double *EJ,
                const uint32_t *u, size_t w, signed char *out) {
#ifdef MH_X86
  if (v512) return cb_row_512(row, up, dn, col, c, Fp, Fm, EJ, u, w, out);
#else
  (void)v512;
#endif
  return cb_row_c(row, up, dn, col, c, Fp, Fm, EJ, u, w, out);
}

long sr__mh_crow(int v512, signed char *self, const signed char *up, const signed char *dn, const signed char *mid,
                 const double *Fp, const double *Fm, const double *EJ, const uint32_t *u, size_t cnt) {
#ifdef MH_X86
  if (v512) return cb_crow_512(self, up, dn, mid, Fp, Fm, EJ, u, cnt);
#else
  (void)v512;
#endif
  return cb_crow_c(self, up, dn, mid, Fp, Fm, EJ, u, cnt);
}
