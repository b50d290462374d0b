/* test_nn_gemm.c — the network's matrix products (solver/nn_gemm.c): on every path this CPU has, each output must
 * be bit for bit the chain c ← fmaf(A[m][k], B[k][n], c) from 0 over k, then + bias, for shapes that take every
 * block kind (8 x 32 and 16 x 16 blocks, masked edges, row-wise tails, odd row counts, column chunks, K of 0), with
 * strided B and C whose other elements stay untouched; and that chain must be the product (against double sums, within the bound of K roundings). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "nn_gemm.h"
#include "scorerecon.h"
#include "test.h"

static float frand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) * (1.0 / 16777216.0)) - 0.5f;
}

TEST(nn_gemm_gives_one_fma_chain_per_output_on_every_path) {
  unsigned f = sr_cpu_path();
  int paths[3], np = 0;
  paths[np++] = 0;
  if ((f & SR_CPU_AVX2) && (f & SR_CPU_FMA)) paths[np++] = 1;
  if (f & SR_CPU_AVX512F) paths[np++] = 2;
  static const int Ms[] = {1, 7, 8, 9, 16, 24, 33, 128};
  static const int Ns[] = {1, 5, 8, 15, 16, 17, 24, 31, 32, 33, 48, 49, 64, 98, 196, 3136};
  static const int Ks[] = {0, 1, 3, 64, 300};
  unsigned seed = 12345;
  int cases = 0, bad = 0, far = 0;
  for (size_t im = 0; im < sizeof Ms / sizeof *Ms; im++)
    for (size_t in = 0; in < sizeof Ns / sizeof *Ns; in++)
      for (size_t ik = 0; ik < sizeof Ks / sizeof *Ks; ik++) {
        int M = Ms[im], N = Ns[in], K = Ks[ik];
        if ((size_t)M * (size_t)N * (size_t)(K + 1) > 3000000) continue;
        size_t ldb = (size_t)N + 3, ldc = (size_t)N + 5;
        float *A = malloc(sizeof(float) * (size_t)(M * K + 1)), *Bm = malloc(sizeof(float) * (ldb * (size_t)K + 1));
        float *C = malloc(sizeof(float) * ldc * (size_t)M), *Ap = malloc(sizeof(float) * (sr__gemm_packed_floats(M, K) + 1));
        float *bias = malloc(sizeof(float) * (size_t)M), *ref = malloc(sizeof(float) * (size_t)M * (size_t)N);
        for (int i = 0; i < M * K; i++) A[i] = frand(&seed);
        for (size_t i = 0; i < ldb * (size_t)K; i++) Bm[i] = frand(&seed);
        for (int i = 0; i < M; i++) bias[i] = frand(&seed);
        sr__gemm_pack(M, K, A, (size_t)K, Ap);
        { /* the transposed packing gives the same panel */
          float *At = malloc(sizeof(float) * (size_t)(M * K + 1)), *Apt = malloc(sizeof(float) * (sr__gemm_packed_floats(M, K) + 1));
          for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) At[(size_t)k * (size_t)M + (size_t)m] = A[m * K + k];
          sr__gemm_pack_t(M, K, At, (size_t)M, Apt);
          if (memcmp(Ap, Apt, sizeof(float) * sr__gemm_packed_floats(M, K)) && bad++ < 5)
            fprintf(stderr, "    M %d K %d: sr__gemm_pack_t differs from sr__gemm_pack\n", M, K);
          free(At);
          free(Apt);
        }
        int wb = (int)(ik + in) % 2; /* with and without a bias */
        for (int m = 0; m < M; m++)
          for (int n = 0; n < N; n++) {
            float c = 0.0f;
            double d = 0, s = 0;
            for (int k = 0; k < K; k++) {
              c = fmaf(A[m * K + k], Bm[(size_t)k * ldb + (size_t)n], c);
              d += (double)A[m * K + k] * Bm[(size_t)k * ldb + (size_t)n];
              s += fabs((double)A[m * K + k] * Bm[(size_t)k * ldb + (size_t)n]);
            }
            ref[(size_t)m * (size_t)N + (size_t)n] = wb ? c + bias[m] : c;
            /* a chain of K roundings: |c − Σ a b| ≤ γ_K Σ |a b|, γ_K = K u / (1 − K u), u = 2⁻²⁴ */
            double u = ldexp(1.0, -24), gk = K * u / (1 - K * u);
            if (fabs((double)c - d) > gk * s) far++;
          }
        for (int p = 0; p < np; p++) {
          for (size_t i = 0; i < ldc * (size_t)M; i++) C[i] = NAN;
          sr__gemm(paths[p], M, N, K, Ap, Bm, ldb, C, ldc, wb ? bias : NULL);
          for (int m = 0; m < M; m++) {
            for (int n = 0; n < N; n++) {
              float got = C[(size_t)m * ldc + (size_t)n], want = ref[(size_t)m * (size_t)N + (size_t)n];
              if (memcmp(&got, &want, sizeof got)) {
                if (bad++ < 5) fprintf(stderr, "    path %d, M %d N %d K %d: C[%d][%d] = %.9g, chain %.9g\n",
                                       paths[p], M, N, K, m, n, got, want);
              }
            }
            for (size_t n = (size_t)N; n < ldc; n++)
              if (!isnan(C[(size_t)m * ldc + n]) && bad++ < 5)
                fprintf(stderr, "    path %d, M %d N %d K %d: wrote C[%d][%zu] past N\n", paths[p], M, N, K, m, n);
          }
          cases++;
        }
        free(A); free(Bm); free(C); free(Ap); free(bias); free(ref);
      }
  printf("    %d shape x path cases on %d paths\n", cases, np);
  CHECK(bad == 0, "%d outputs differ from the fma chain", bad);
  CHECK(far == 0, "%d fma chains differ from the double sum by more than the rounding bound", far);
}
