/* machine.h — what the solver asks of the machine beyond the public API (solver/core.c): the CPU's vector paths;
 * and the generator's normals a piece at a time (solver/rng.c), for loops that fuse them into their update.
 * Private to solver/ (and its tests). */
#ifndef SR_MACHINE_H
#define SR_MACHINE_H

#include "scorerecon.h" /* sr_clock_seconds, the one monotonic clock, is public */

/* Vector paths (flags) for the hand-written kernels: the generator's normals and bits (solver/rng.c), the mh
 * checkerboard rows (solver/sampler_mh.c) and the network (solver/nn_unet.c, solver/nn_gemm.c). */
enum {
  SR_CPU_AVX2 = 1,
  SR_CPU_AVX512F = 2,
  SR_CPU_AVX512BW_VL = 4,  /* AVX-512 F, BW and VL together */
  SR_CPU_FMA = 8           /* FMA3 (the network's AVX2 products, solver/nn_gemm.c) */
};
/* The paths this CPU offers, capped by SR_RNG_PATH in the environment: "scalar" none, "avx2" no AVX-512 (the tests
 * force the narrower paths so; every path gives the same bits). Computed afresh on each call (CPUID and one
 * getenv): callers ask once per object (sr_rng_make, the mh sampler's per-run preparation, sr_unet_create) and
 * keep the answer there. */
unsigned sr_cpu_path(void);


/* Normals first .. first+n−1 of the draw sr_rng_normals(r, step, ., N) for any N > first+n−1 (first a multiple
 * of 4): the same bits, a piece at a time (solver/rng.c). */
void sr__rng_normals_at(const sr_rng *r, uint64_t step, size_t first, float *out, size_t n);
#endif
