/* sense.c — what one multi-coil (SENSE) Langevin chain-step costs against its FFT floor.
 *
 * A complex image of N x N under C coils: y_c = M ⊙ F(S_c x). Each chain-step of the ULA sampler applies the normal
 * operator once (forward and adjoint: per coil one c2c FFT each way), so its floor is C c2c FFT pairs. Prints, for
 * N = 128 and 256 and C = 4 and 8: the c2c pair (FFTW_ESTIMATE, in place, as the operator plans it), the floor
 * C x pair, the operator's normal, sr_run's seconds per chain-step (gaussian prior, langevin, 4 chains, 1 thread)
 * and the overhead step / floor − 1. Medians of repetitions. Usage: bench_sense [quick]. */
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "scorerecon.h"

#define REPS 7

typedef struct {
  fftwf_plan fwd, bwd;
  fftwf_complex *x;
} pair_ctx;

static void c2c_pair(void *p) {
  pair_ctx *c = p;
  fftwf_execute(c->fwd);
  fftwf_execute(c->bwd);
}

typedef struct {
  const sr_op *op;
  float *x, *y, *ws;
} normal_ctx;

static void normal(void *p) {
  normal_ctx *c = p;
  c->op->normal(c->op, c->x, c->y, c->ws);
}

/* Smooth coil maps: coil c a Gaussian bump centred on a circle, with a linear phase; Σ_c |S_c|² = 1 per pixel. */
static float *coil_maps(size_t C, size_t N) {
  float *s = sr_alloc(2 * C * N * N);
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < N; j++) {
      double u = (double)i / N - 0.5, v = (double)j / N - 0.5, tot = 0;
      for (size_t c = 0; c < C; c++) {
        double a = 2 * M_PI * (double)c / (double)C, cu = 0.5 * cos(a), cv = 0.5 * sin(a);
        double m = exp(-((u - cu) * (u - cu) + (v - cv) * (v - cv)) / 0.15), ph = 3 * (u * cos(a) + v * sin(a));
        s[2 * ((c * N + i) * N + j)] = (float)(m * cos(ph));
        s[2 * ((c * N + i) * N + j) + 1] = (float)(m * sin(ph));
        tot += m * m;
      }
      for (size_t c = 0; c < C; c++) {
        s[2 * ((c * N + i) * N + j)] /= (float)sqrt(tot);
        s[2 * ((c * N + i) * N + j) + 1] /= (float)sqrt(tot);
      }
    }
  return s;
}

int main(int argc, char **argv) {
  int quick = argc > 1 && !strcmp(argv[1], "quick");
  double rep_s = quick ? 0.02 : 0.1;
  long steps = quick ? 50 : 200;
  printf("bench_sense: one ULA chain-step with a SENSE operator vs its floor, C c2c FFT pairs (FFTW_ESTIMATE, in "
         "place); sr_run: gaussian prior, langevin, 4 chains, %ld steps, 1 thread; medians of %d\n", steps, REPS);
  printf("%6s %6s %12s %12s %12s %14s %9s\n", "N", "coils", "c2c pair us", "floor us", "normal us", "chain-step us",
         "overhead");
  const size_t Ns[2] = {128, 256}, Cs[2] = {4, 8};
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) {
      size_t N = Ns[a], C = Cs[b], P = N * N;
      pair_ctx pc;
      pc.x = fftwf_alloc_complex(P);
      pc.fwd = fftwf_plan_dft_2d((int)N, (int)N, pc.x, pc.x, FFTW_FORWARD, FFTW_ESTIMATE);
      pc.bwd = fftwf_plan_dft_2d((int)N, (int)N, pc.x, pc.x, FFTW_BACKWARD, FFTW_ESTIMATE);
      for (size_t i = 0; i < P; i++) pc.x[i][0] = pc.x[i][1] = 1e-3f * (float)(i % 97);
      double pair = bench_time(c2c_pair, &pc, REPS, rep_s);
      fftwf_destroy_plan(pc.fwd);
      fftwf_destroy_plan(pc.bwd);
      fftwf_free(pc.x);

      sr_error err;
      float *sens = coil_maps(C, N), *mask = sr_alloc(P);
      sr_mask_cartesian(N, N, 3.0, 0.08, 7, mask);
      sr_op *op = sr_op_sense(C, N, N, sens, mask, &err);
      sr_free(sens);
      sr_free(mask);
      if (!op) {
        fprintf(stderr, "bench_sense: %s\n", err.msg);
        return 1;
      }
      normal_ctx nc = {op, sr_alloc(2 * P), sr_alloc(2 * P), sr_alloc(op->ws_floats + 64)};
      for (size_t i = 0; i < 2 * P; i++) nc.x[i] = 1e-3f * (float)(i % 89);
      double tn = bench_time(normal, &nc, REPS, rep_s);

      sr_problem pb;
      sr_problem_init(&pb);
      pb.rank = 2;
      pb.shape[0] = pb.shape[1] = N;
      pb.complex_image = 1;
      pb.n = 2 * P;
      pb.op = op;
      pb.noise_sigma = 0.05;
      pb.prior = sr_prior_gaussian(0.0, 1.0, &err);
      pb.y = sr_alloc(op->n_out);
      op->forward(op, nc.x, pb.y, nc.ws);
      pb.sampler.kind = SR_SAMPLER_LANGEVIN;
      pb.sampler.steps = steps;
      pb.sampler.burn_in = -1;
      pb.num_samples = 4;
      pb.threads = 1;
      pb.seed = 1;
      pb.want_mean = pb.want_std = 1;
      double v[REPS];
      int ok = sr_problem_validate(&pb, &err) == SR_OK;
      for (int r = 0; ok && r < 3; r++) {
        sr_result res;
        double t0 = bench_now();
        ok = sr_run(&pb, &res, NULL, NULL, &err) == SR_OK;
        v[r] = (bench_now() - t0) / (double)(steps * 4);
        if (ok) sr_result_clear(&res);
      }
      if (!ok) {
        fprintf(stderr, "bench_sense: %s\n", err.msg);
        return 1;
      }
      double step = bench_median(v, 3), floor_s = (double)C * pair;
      printf("%6zu %6zu %12.1f %12.1f %12.1f %14.1f %8.0f%%\n", N, C, 1e6 * pair, 1e6 * floor_s, 1e6 * tn, 1e6 * step,
             100 * (step / floor_s - 1));
      sr_free(nc.x);
      sr_free(nc.y);
      sr_free(nc.ws);
      sr_problem_clear(&pb);
    }
  return 0;
}
