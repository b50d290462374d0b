/* nn_gemm.h — the score network's matrix products (solver/nn_gemm.c). Private to solver/ (and its tests). */
#ifndef SR_NN_GEMM_H
#define SR_NN_GEMM_H

#include <stddef.h>

/* The path of sr__gemm: 0 portable (fmaf), 1 AVX2 + FMA, 2 AVX-512F; all three give the same bits. */
int sr__gemm_path(void);

/* Floats of A (M x K) packed for sr__gemm: ⌈M/8⌉·8·K. */
size_t sr__gemm_packed_floats(int M, int K);

/* Packs A (M x K, row-major with row stride lda) into Ap (sr__gemm_packed_floats(M, K) floats, owned by the caller):
 * Ap[mb][k][r] = A[8 mb + r][k], rows past M zero. Done once per weight matrix. */
void sr__gemm_pack(int M, int K, const float *A, size_t lda, float *Ap);

/* The same packing of A given transposed: At (K x M, row stride lda), A[m][k] = At[k·lda + m]. */
void sr__gemm_pack_t(int M, int K, const float *At, size_t lda, float *Ap);

/* C[m][n] = Σ_k A[m][k] B[k][n] (+ bias[m] when bias is not NULL), m < M, n < N; B row-major with stride ldb, C
 * with ldc; C must not overlap B. Each output is one chain c ← fma(A[m][k], B[k][n], c) over k = 0 … K−1 from 0,
 * then + bias[m]: the same bits on every path and machine. */
void sr__gemm(int path, int M, int N, int K, const float *Ap, const float *B, size_t ldb, float *C, size_t ldc,
              const float *bias);

#endif
