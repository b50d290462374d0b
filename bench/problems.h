/* problems.h — the inverse problems bench/quality.c and bench/samplers.c share, set up once (bench/problems.c):
 * the first Fashion-MNIST images, the three operators with their per-image masks, the observation noise streams,
 * the learned prior from the mapped model file, and the common fields of a sampled run. Both benches link
 * build/bench/problems.o (see the Makefile's bench section), so their images, masks, kernels, noise and seeds are
 * the same bit for bit.
 *
 * Problems (images in [0, 1] = pixel/255; observation noise from a fixed Philox stream per image):
 *   fourier  Cartesian k-space rows, 4× with 8% centre rows (mask seed = image index), σ_y = 0.01
 *   blur     Gaussian kernel σ 1.5, 9×9, circular, σ_y = 0.02
 *   inpaint  60% of the pixels missing at random (mask seed = image index), σ_y = 0.01 */
#ifndef SR_BENCH_PROBLEMS_H
#define SR_BENCH_PROBLEMS_H
#include "safetensors.h"
#include "scorerecon.h"

#define H 28
#define W 28
#define NPIX (H * W)
#define DATA "/usr/share/datasets/fashion-mnist"

typedef struct {
  const char *name;
  double sigma_y;
} problem;

#define NPROBLEMS 3
extern const problem problems[NPROBLEMS]; /* fourier, blur, inpaint, in that order */

/* images [count][784] as floats in [0, 1] from an IDX file (gzip) in DATA, the first `count` of them (fewer if
 * the file has fewer); NULL when it cannot be read */
float *bench_load_images(const char *file, int count);

/* The operator of problem `prob` for image index `image` (the mask seed); NULL and err on failure. */
sr_op *bench_make_op(const char *prob, int image, sr_error *err);

/* y = A x + σ_y z on the observed entries, 0 elsewhere; z from Philox stream (20261123, image). ws: 1 << 16
 * floats are plenty for these operators. */
void bench_observe(const sr_op *op, const float *x, double sy, int image, float *y, float *ws);

/* t quantile 0.975 with v degrees of freedom (table to 20, then 1.95996 + 2.4/v; INFINITY for v < 1) */
double bench_t975(int v);

/* The z of the predictive 95% interval of S sampled chains, mean ± t₀.₉₇₅(S−1)·√(1 + 1/S)·std, so that a
 * calibrated sampler covers 95% of the truths for any S. */
double bench_z_predictive(int S);

/* A learned prior from the mapped model file: the prior owns (and frees) its network, so each run makes one from
 * the mapping (pointers into it plus the Winograd weight transform: milliseconds against seconds of sampling). */
sr_prior *bench_score_prior(const sr_safetensors *file, sr_error *err);

/* The fields of a sampled run both benches fill the same way: a 28×28 image, the operator `op` (borrowed: set
 * pb->op = NULL before sr_problem_clear), a copy of y, noise σ_y, seed 1000 + image, `threads`, mean and std
 * wanted. Calls sr_problem_init first; the caller sets the prior, num_samples and the sampler. 0, or −1 when out
 * of memory. */
int bench_problem_setup(sr_problem *pb, sr_op *op, const float *y, double sy, int image, int threads);

/* The VE SDE over the network's trained noise range (sr_unet_info), T = 1. */
sr_sde bench_model_sde(const sr_unet *net);
#endif
