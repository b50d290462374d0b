/* nn_gemm.c — the score network's matrix products: C = A B (+ a bias per row), A a weight matrix packed once when
 * the model is loaded, B an activation (Winograd-transformed or im2col) read where it lies.
 *
 * Why not sgemm: the network's products are small (M, K = 32 … 576, N = 16 … 3136) and the Winograd ones' weights
 * are cold (each weight matrix is used once per call, from L3). On those shapes OpenBLAS's sgemm ran 102–133
 * GFLOP/s and this code 131–158 (build/bench_speed's last table, docs/performance.md). A block of 8 rows of A is
 * read once per column chunk (while the chunk of B, ≤ 384 KiB, stays in L2) and the 8 × 32 outputs of a block stay
 * in registers over the whole of K.
 *
 * Bits: every output is one chain c ← fma(a_k, b_k, c) over k = 0 … K−1 from c = 0, then c + bias. The vector paths
 * only run many such chains side by side, so AVX-512F (8 x 32 a block), AVX2 + FMA (8 x 16) and the portable fmaf
 * loop give identical results — on every machine, which OpenBLAS (kernels chosen per CPU) did not. */
#include "nn_gemm.h"

#include "machine.h"

#include <math.h>

#define MR 8 /* rows a block (and the packing's width) */

int sr__gemm_path(void) {
  unsigned f = sr_cpu_path();
  if (f & SR_CPU_AVX512F) return 2;
  if ((f & SR_CPU_AVX2) && (f & SR_CPU_FMA)) return 1;
  return 0;
}

size_t sr__gemm_packed_floats(int M, int K) { return (size_t)((M + MR - 1) / MR) * MR * (size_t)K; }

void sr__gemm_pack(int M, int K, const float *A, size_t lda, float *Ap) {
  for (int mb = 0; mb < M; mb += MR)
    for (int k = 0; k < K; k++)
      for (int r = 0; r < MR; r++) *Ap++ = mb + r < M ? A[(size_t)(mb + r) * lda + (size_t)k] : 0.0f;
}

void sr__gemm_pack_t(int M, int K, const float *At, size_t lda, float *Ap) {
  for (int mb = 0; mb < M; mb += MR)
    for (int k = 0; k < K; k++)
      for (int r = 0; r < MR; r++) *Ap++ = mb + r < M ? At[(size_t)k * lda + (size_t)(mb + r)] : 0.0f;
}

/* One block: rows < MR of the packed a (a[k][r]) times columns n < cols (≤ NR of the path) of b. */
typedef void kernel_fn(int K, const float *a, const float *b, size_t ldb, float *c, size_t ldc, int rows, int cols,
                       const float *bias);

static void kernel_base(int K, const float *a, const float *b, size_t ldb, float *c, size_t ldc, int rows, int cols,
                        const float *bias) {
  float acc[MR][16];
  for (int n0 = 0; n0 < cols; n0 += 16) {
    int nw = cols - n0 < 16 ? cols - n0 : 16;
    for (int r = 0; r < MR; r++)
      for (int n = 0; n < 16; n++) acc[r][n] = 0.0f;
    for (int k = 0; k < K; k++) {
      const float *bk = b + (size_t)k * ldb + n0;
      for (int r = 0; r < MR; r++)
        for (int n = 0; n < nw; n++) acc[r][n] = fmaf(a[k * MR + r], bk[n], acc[r][n]);
    }
    for (int r = 0; r < rows; r++)
      for (int n = 0; n < nw; n++) c[(size_t)r * ldc + n0 + n] = bias ? acc[r][n] + bias[r] : acc[r][n];
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* AVX-512F: 8 rows x 32 columns in 16 zmm accumulators (nn_gemm_block.inc). */
#define GB_T __attribute__((target("avx512f"), always_inline)) static inline
#define GB_NAME block_avx512
#define GB_VT __m512
#define GB_MT __mmask16
#define GB_VW 16
#define GB_MASK(n) ((n) >= 16 ? (__mmask16)0xffff : (n) > 0 ? (__mmask16)((1u << (n)) - 1) : (__mmask16)0)
#define GB_LOAD(m, p) _mm512_maskz_loadu_ps(m, p)
#define GB_LOADU(p) _mm512_loadu_ps(p)
#define GB_SET1(p) _mm512_set1_ps(*(p))
#define GB_ZERO() _mm512_setzero_ps()
#define GB_FMA(x, y, z) _mm512_fmadd_ps(x, y, z)
#define GB_ADD(x, y) _mm512_add_ps(x, y)
#define GB_STORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define GB_KERNEL __attribute__((target("avx512f"))) static void kernel_avx512
#include "nn_gemm_block.inc"

/* 16 rows (two packed blocks, a0 and a1 = a0 + 8 K) x 16 columns in 16 zmm accumulators: the products' shape when a
 * block of images has only 16 columns (F(4x4) at 7 x 7 and 14 x 14), or a tail of 8 … 16 columns. */
__attribute__((target("avx512f"), always_inline)) static inline void block16_avx512(int K, const float *a0,
                                                                                   const float *a1, const float *b,
                                                                                   size_t ldb, float *c, size_t ldc,
                                                                                   int rows, int cols,
                                                                                   const float *bias, const int full) {
  __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m512 d0 = c0, d1 = c0, d2 = c0, d3 = c0, d4 = c0, d5 = c0, d6 = c0, d7 = c0;
  for (int k = 0; k < K; k++, a0 += MR, a1 += MR, b += ldb) {
    __m512 bk = full ? _mm512_loadu_ps(b) : _mm512_maskz_loadu_ps(m0, b);
#define ROW(r)                                                  \
  do {                                                          \
    c##r = _mm512_fmadd_ps(_mm512_set1_ps(a0[r]), bk, c##r);    \
    d##r = _mm512_fmadd_ps(_mm512_set1_ps(a1[r]), bk, d##r);    \
  } while (0)
    ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5); ROW(6); ROW(7);
#undef ROW
  }
  __m512 acc[2 * MR] = {c0, c1, c2, c3, c4, c5, c6, c7, d0, d1, d2, d3, d4, d5, d6, d7};
  for (int r = 0; r < rows; r++) {
    __m512 v = acc[r];
    if (bias) v = _mm512_add_ps(v, _mm512_set1_ps(bias[r]));
    _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, v);
  }
}
__attribute__((target("avx512f"))) static void kernel16_avx512(int K, const float *a0, const float *a1,
                                                               const float *b, size_t ldb, float *c, size_t ldc,
                                                               int rows, int cols, const float *bias) {
  if (cols == 16) block16_avx512(K, a0, a1, b, ldb, c, ldc, rows, cols, bias, 1);
  else block16_avx512(K, a0, a1, b, ldb, c, ldc, rows, cols, bias, 0);
}

/* The last t < 8 columns of 16 rows (two packed blocks, a0 and a1 = a0 + 8 K), vectorised along the rows: per k one
 * 16-row column of a and t broadcasts of b. The same chains as kernel_avx512's, so the same bits. */
__attribute__((target("avx512f"), always_inline)) static inline void columns_avx512(int K, const float *a0,
                                                                                   const float *a1, const float *b,
                                                                                   size_t ldb, float *c, size_t ldc,
                                                                                   int rows, const int t,
                                                                                   const float *bias) {
  __m512 acc[8];
  for (int j = 0; j < t; j++) acc[j] = _mm512_setzero_ps();
  for (int k = 0; k < K; k++, b += ldb) {
    __m512 ak = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(a0 + 8 * k))),
                                                    _mm256_castps_pd(_mm256_loadu_ps(a1 + 8 * k)), 1));
    for (int j = 0; j < t; j++) acc[j] = _mm512_fmadd_ps(ak, _mm512_set1_ps(b[j]), acc[j]);
  }
  float col[16];
  for (int j = 0; j < t; j++) {
    _mm512_storeu_ps(col, acc[j]);
    for (int r = 0; r < rows; r++) c[(size_t)r * ldc + j] = bias ? col[r] + bias[r] : col[r];
  }
}
__attribute__((target("avx512f"))) static void columns_avx512_t(int K, const float *a0, const float *a1,
                                                                const float *b, size_t ldb, float *c, size_t ldc,
                                                                int rows, int t, const float *bias) {
  switch (t) {
#define T(n) case n: columns_avx512(K, a0, a1, b, ldb, c, ldc, rows, n, bias); break;
    T(1) T(2) T(3) T(4) T(5) T(6) T(7)
#undef T
  }
}

/* AVX2 + FMA: 8 rows x 16 columns in 16 ymm accumulators (nn_gemm_block.inc). */
#define GB_T __attribute__((target("avx2,fma"), always_inline)) static inline
#define GB_NAME block_avx2
#define GB_VT __m256
#define GB_MT __m256i
#define GB_VW 8
#define GB_MASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define GB_LOAD(m, p) _mm256_maskload_ps(p, m)
#define GB_LOADU(p) _mm256_loadu_ps(p)
#define GB_SET1(p) _mm256_broadcast_ss(p)
#define GB_ZERO() _mm256_setzero_ps()
#define GB_FMA(x, y, z) _mm256_fmadd_ps(x, y, z)
#define GB_ADD(x, y) _mm256_add_ps(x, y)
#define GB_STORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#define GB_KERNEL __attribute__((target("avx2,fma"))) static void kernel_avx2
#include "nn_gemm_block.inc"
#endif

void sr__gemm(int path, int M, int N, int K, const float *Ap, const float *B, size_t ldb, float *C, size_t ldc,
              const float *bias) {
  kernel_fn *kern = kernel_base;
  int nr = 16;
#if defined(__x86_64__) && defined(__GNUC__)
  if (path == 2) kern = kernel_avx512, nr = 32;
  else if (path == 1) kern = kernel_avx2;
#endif
  /* columns in chunks whose K rows of B (≤ 384 KiB) stay in L2 while every row block passes over them */
  int nc = (int)((384u << 10) / (4u * (unsigned)(K > 0 ? K : 1))) / nr * nr;
  if (nc < nr) nc = nr;
  for (int n0 = 0; n0 < N; n0 += nc) {
    int n1 = N - n0 < nc ? N : n0 + nc, nv = n1;
#if defined(__x86_64__) && defined(__GNUC__)
    /* AVX-512: a tail of (n1 − n0) mod 32 < 24 columns goes 16 rows at a time, by 16 x 16 blocks (kernel16_avx512)
     * and its last < 8 columns by rows (columns_avx512), rather than as a mostly masked 8 x 32 block */
    if (path == 2 && (n1 - n0) % 32 < 24) nv = n1 - (n1 - n0) % 32;
#endif
    for (int mb = 0; mb < M; mb += MR) {
      const float *a = Ap + (size_t)mb * (size_t)K;
      int rows = M - mb < MR ? M - mb : MR;
      for (int n = n0; n < nv; n += nr)
        kern(K, a, B + n, ldb, C + (size_t)mb * ldc + (size_t)n, ldc, rows, nv - n < nr ? nv - n : nr,
             bias ? bias + mb : NULL);
    }
#if defined(__x86_64__) && defined(__GNUC__)
    for (int mb = 0; nv < n1 && mb < M; mb += 2 * MR) {
      const float *a = Ap + (size_t)mb * (size_t)K, *a1 = M - mb > MR ? a + (size_t)MR * (size_t)K : a;
      int rows = M - mb < 2 * MR ? M - mb : 2 * MR, n = nv;
      float *c = C + (size_t)mb * ldc;
      const float *bb = bias ? bias + mb : NULL;
      for (; n1 - n >= 8; n += 16)
        kernel16_avx512(K, a, a1, B + n, ldb, c + n, ldc, rows, n1 - n < 16 ? n1 - n : 16, bb);
      if (n < n1) columns_avx512_t(K, a, a1, B + n, ldb, c + n, ldc, rows, n1 - n, bb);
    }
#endif
  }
}
