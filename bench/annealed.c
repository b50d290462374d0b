/* annealed.c — annealed Langevin on an MRI-like problem with a known exact posterior: accuracy per evaluation and
 * speed, per step rule, against BART's measured time.
 *
 * Problem: real h x w image, Gaussian prior N(0, 1) per pixel, subsampled orthonormal DFT with a Cartesian mask
 * keeping one third of the k-space rows (sr_mask_cartesian(h, w, 3.0, 0.08, seed)), noise sigma 0.05 per real
 * and per imaginary part. Sampler: SR_SAMPLER_ANNEALED, sigma 10 -> 0.01 (the defaults), 100 levels, 16 samples;
 * per step rule (song, lipschitz, spectral; spectral also without its final stage) and steps per level 1, 3, 10,
 * epsilon and final_steps at their defaults unless given.
 *
 * Exact posterior (centred k-space, mirror index −k, M̃(k) = M(k) + M(−k)):
 *   d(k) = 1/s² + M̃(k)/(2σ²),  Var X(k) = 1/d(k),  every pixel's variance = (1/N) Σ_k 1/d(k),
 *   X̂(k) = (M̂(k)/s² + (M(k) y(k) + M(−k) conj y(−k))/(2σ²)) / d(k)   (M̂ the DFT of the constant image m).
 * The exact mean is computed as x̂ = F⁻¹[F(m/s² + Aᵀy/σ²) / d] (Aᵀy = Re Fᴴ(M y) is the operator's adjoint).
 * Reported per run: evaluations per level ((levels × spl + final_steps)/levels), wall and CPU seconds with 1 thread
 * (medians of repetitions) and the ratio of BART's time to ours (CPU seconds: on a shared machine they stand for
 * what a quiet machine's wall clock shows), the mean sampled per-pixel variance against the exact one, the
 * variance of the samples' k-space coefficients against 1/d(k) on sampled (M(k) = 1) and unsampled (M(k) = 0)
 * frequencies, and the NRMSE of the sampled mean against x̂ (Monte-Carlo floor sqrt(tr C / S) / |x̂| for S exact
 * samples). Accuracy does not depend on the machine or its load; times do.
 * Usage: bench_annealed [quick] [size=N] [spl=S] [rule=song|lipschitz|spectral] [eps=E] [final=F] [threads=T]
 *   (spl, rule, eps, final given: that one configuration; otherwise the table) */
#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "scorerecon.h"

#define SIGMA_Y 0.05
#define PRIOR_M 0.0
#define PRIOR_S 1.0
#define LEVELS 100
#define SAMPLES 16

static void test_image(size_t h, size_t w, float *x) {
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) {
      double u = (double)i / (double)h - 0.5, v = (double)j / (double)w - 0.5;
      x[i * w + j] = (float)((u * u + v * v < 0.1 ? 1.0 : 0.2) + 0.3 * sin(12.0 * u) * cos(7.0 * v));
    }
}

/* Mask value at the uncentred frequency (ku, kv) (FFT order), from the centred mask. */
static float mask_at(const float *mask, size_t h, size_t w, size_t ku, size_t kv) {
  return mask[((ku + h / 2) % h) * w + (kv + w / 2) % w];
}

/* BART's posterior sampling on this problem, measured constants (seconds per level x sample, 1 thread, 100 levels,
 * 16 samples): 64² and 256², measured 2026-11-23 with the first version of this benchmark (docs/performance.md,
 * "Annealed Langevin"; BART's `sample` command, which the Debian bookworm package bart 0.8.00 does not have — it
 * came with BART 0.9 — so it could not be re-measured on the 2026-12-05 machine). Issue 17 measured BART at 24.7 s
 * for the 256² job against scorerecon's 9.2 s with song at 10 steps per level on one machine: a ratio of 2.68, used
 * below to scale BART to this machine from the measured song spl=10 time. */
static const double BART_S[2] = {8.3e-4, 1.09e-2};
#define BART_OVER_SONG10 (24.7 / 9.2)

typedef struct {
  size_t h, w, n, nc;
  sr_problem pb;
  float *mask, *xhat;
  double *dk;          /* half spectrum: d(k) */
  float *mk, *mkn;     /* half spectrum: M(k), M(−k) */
  double var_exact, trC, xn;
} bench_problem;

typedef struct {
  double sec, cpu, evals_per_level;
  double var_err, kobs, kunobs, kmirror, nrmse, nrmse_mc, epsilon;
  long final_steps;
} ann_result;

/* CPU seconds of the whole process: with 1 thread the time a quiet machine's wall clock would show, and far less
 * sensitive than wall time to other jobs on a shared machine. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void setup(bench_problem *bp, size_t h, size_t w) {
  memset(bp, 0, sizeof *bp);
  size_t n = h * w, wh = w / 2 + 1, nc = h * wh;
  bp->h = h; bp->w = w; bp->n = n; bp->nc = nc;
  sr_error err;
  bp->mask = sr_alloc(n);
  sr_mask_cartesian(h, w, 3.0, 0.08, 2024, bp->mask);
  float *xt = sr_alloc(n);
  test_image(h, w, xt);
  sr_problem *pb = &bp->pb;
  sr_problem_init(pb);
  pb->rank = 2;
  pb->shape[0] = h;
  pb->shape[1] = w;
  pb->n = n;
  pb->op = sr_op_fourier(h, w, bp->mask, &err);
  pb->prior = sr_prior_gaussian(PRIOR_M, PRIOR_S, &err);
  if (!pb->op || !pb->prior) {
    fprintf(stderr, "bench_annealed: %s\n", err.msg);
    exit(1);
  }
  pb->noise_sigma = SIGMA_Y;
  pb->y = sr_alloc(pb->op->n_out);
  float *ws = sr_alloc(pb->op->ws_floats), *z = sr_alloc(pb->op->n_out);
  pb->op->forward(pb->op, xt, pb->y, ws);
  sr_rng r = sr_rng_make(4242, 0);
  sr_rng_normals(&r, 0, z, pb->op->n_out);
  for (size_t i = 0; i < pb->op->n_out; i++) pb->y[i] = pb->op->obs_mask[i] * (pb->y[i] + (float)SIGMA_Y * z[i]);
  pb->num_samples = SAMPLES;
  pb->seed = 17;
  pb->want_mean = pb->want_std = 1;
  pb->want_samples = 1;

  /* exact posterior */
  float *X = sr_alloc(2 * nc), *xr = sr_alloc(n);
  bp->xhat = sr_alloc(n);
  fftwf_plan p_r2c = fftwf_plan_dft_r2c_2d((int)h, (int)w, xr, (fftwf_complex *)X, FFTW_ESTIMATE);
  fftwf_plan p_c2r = fftwf_plan_dft_c2r_2d((int)h, (int)w, (fftwf_complex *)X, bp->xhat, FFTW_ESTIMATE);
  bp->dk = malloc(nc * sizeof(double));
  bp->mk = malloc(nc * sizeof(float));
  bp->mkn = malloc(nc * sizeof(float));
  double trC = 0.0; /* Σ over all k of 1/d(k) (full spectrum) */
  for (size_t ku = 0; ku < h; ku++)
    for (size_t kv = 0; kv < w; kv++) {
      float m1 = mask_at(bp->mask, h, w, ku, kv), m2 = mask_at(bp->mask, h, w, (h - ku) % h, (w - kv) % w);
      double d = 1.0 / (PRIOR_S * PRIOR_S) + (m1 + m2) / (2.0 * SIGMA_Y * SIGMA_Y);
      trC += 1.0 / d;
      if (kv < wh) {
        bp->dk[ku * wh + kv] = d;
        bp->mk[ku * wh + kv] = m1;
        bp->mkn[ku * wh + kv] = m2;
      }
    }
  bp->trC = trC;
  bp->var_exact = trC / (double)n;
  pb->op->adjoint(pb->op, pb->y, xr, ws);
  for (size_t i = 0; i < n; i++)
    xr[i] = (float)(PRIOR_M / (PRIOR_S * PRIOR_S) + xr[i] / (SIGMA_Y * SIGMA_Y));
  fftwf_execute(p_r2c);
  for (size_t k = 0; k < nc; k++) {
    X[2 * k] = (float)(X[2 * k] / bp->dk[k] / (double)n);
    X[2 * k + 1] = (float)(X[2 * k + 1] / bp->dk[k] / (double)n);
  }
  fftwf_execute(p_c2r); /* xhat */
  bp->xn = 0.0;
  for (size_t i = 0; i < n; i++) bp->xn += (double)bp->xhat[i] * bp->xhat[i];
  fftwf_destroy_plan(p_r2c);
  fftwf_destroy_plan(p_c2r);
  sr_free(X); sr_free(xr); sr_free(ws); sr_free(z); sr_free(xt);
}

static void teardown(bench_problem *bp) {
  free(bp->dk); free(bp->mk); free(bp->mkn);
  sr_free(bp->mask); sr_free(bp->xhat);
  sr_problem_clear(&bp->pb);
}

/* Runs one configuration (reps timed runs with `threads` threads) and measures the last run's samples. */
static void run_cfg(bench_problem *bp, int rule, long spl, double eps, long final, int threads, int reps,
                    ann_result *out) {
  sr_problem *pb = &bp->pb;
  const size_t h = bp->h, w = bp->w, n = bp->n, wh = w / 2 + 1, nc = bp->nc;
  sr_error err;
  memset(&pb->sampler, 0, sizeof pb->sampler);
  pb->sampler.kind = SR_SAMPLER_ANNEALED;
  pb->sampler.levels = LEVELS;
  pb->sampler.steps_per_level = spl;
  pb->sampler.epsilon = eps;      /* 0: the rule's default */
  pb->sampler.step_rule = rule;
  pb->sampler.final_steps = final; /* negative: the rule's default */
  pb->threads = threads;
  if (sr_problem_validate(pb, &err) != SR_OK) {
    fprintf(stderr, "bench_annealed: %s\n", err.msg);
    exit(1);
  }
  out->epsilon = pb->sampler.epsilon;
  out->final_steps = pb->sampler.final_steps;
  out->evals_per_level = (double)(LEVELS * pb->sampler.steps_per_level + pb->sampler.final_steps) / LEVELS;
  sr_result res;
  memset(&res, 0, sizeof res);
  double v[9], vc[9];
  if (reps > 9) reps = 9;
  for (int k = 0; k < reps; k++) {
    sr_result_clear(&res);
    double t0 = bench_now(), c0 = cpu_now();
    if (sr_run(pb, &res, NULL, NULL, &err) != SR_OK) {
      fprintf(stderr, "bench_annealed: sr_run: %s\n", err.msg);
      exit(1);
    }
    v[k] = bench_now() - t0;
    vc[k] = cpu_now() - c0;
  }
  out->sec = bench_median(v, reps);
  out->cpu = bench_median(vc, reps);

  /* sampled moments (from the samples: the unbiased per-pixel variance) */
  const float *S = res.samples;
  double vs = 0.0, e2 = 0.0;
  for (size_t i = 0; i < n; i++) {
    double m = 0.0;
    for (int s = 0; s < SAMPLES; s++) m += S[(size_t)s * n + i];
    m /= SAMPLES;
    double vv = 0.0;
    for (int s = 0; s < SAMPLES; s++) {
      double d = S[(size_t)s * n + i] - m;
      vv += d * d;
    }
    vs += vv / (SAMPLES - 1);
    e2 += (m - bp->xhat[i]) * (m - bp->xhat[i]);
  }
  out->var_err = vs / (double)n / bp->var_exact - 1.0;
  out->nrmse = sqrt(e2 / bp->xn);
  out->nrmse_mc = sqrt(bp->trC / SAMPLES / bp->xn);

  /* k-space: per-frequency sample variance of the orthonormal coefficients vs 1/d(k), over the half spectrum with
   * weight 2 where the mirror frequency is not itself stored (Hermitian symmetry) */
  float *X = sr_alloc(2 * nc), *xr = sr_alloc(n);
  fftwf_plan p_r2c = fftwf_plan_dft_r2c_2d((int)h, (int)w, xr, (fftwf_complex *)X, FFTW_ESTIMATE);
  double *ksum = calloc(2 * nc, sizeof(double)), *ksq = calloc(nc, sizeof(double));
  const double on = 1.0 / sqrt((double)n);
  for (int s = 0; s < SAMPLES; s++) {
    memcpy(xr, S + (size_t)s * n, n * sizeof(float));
    fftwf_execute(p_r2c);
    for (size_t k = 0; k < nc; k++) {
      double re = X[2 * k] * on, im = X[2 * k + 1] * on;
      ksum[2 * k] += re;
      ksum[2 * k + 1] += im;
      ksq[k] += re * re + im * im;
    }
  }
  double so = 0, eo = 0, su = 0, eu = 0, smr = 0, emr = 0;
  for (size_t ku = 0; ku < h; ku++)
    for (size_t kv = 0; kv < wh; kv++) {
      size_t k = ku * wh + kv;
      int self = kv == 0 || (w % 2 == 0 && kv == w / 2);
      double wgt = self ? 1.0 : 2.0;
      double mr = ksum[2 * k] / SAMPLES, mi = ksum[2 * k + 1] / SAMPLES;
      double var = (ksq[k] - SAMPLES * (mr * mr + mi * mi)) / (SAMPLES - 1);
      double ex = 1.0 / bp->dk[k];
      if (bp->mk[k] != 0.0f) {
        so += wgt * var; eo += wgt * ex;
      } else {
        su += wgt * var; eu += wgt * ex;
        if (bp->mkn[k] != 0.0f) { smr += wgt * var; emr += wgt * ex; }
      }
    }
  out->kobs = so / eo - 1.0;
  out->kunobs = su / eu - 1.0;
  out->kmirror = emr > 0 ? smr / emr - 1.0 : NAN;
  free(ksum); free(ksq);
  fftwf_destroy_plan(p_r2c);
  sr_free(X); sr_free(xr);
  sr_result_clear(&res);
}

static const char *const RULE_NAME[3] = {"song", "lipschitz", "spectral"};

int main(int argc, char **argv) {
  int quick = 0, threads = 1, rule = -1;
  size_t only = 0;
  long spl = 0, final = -1;
  double eps = 0.0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "quick") == 0) quick = 1;
    else if (strncmp(argv[i], "spl=", 4) == 0) spl = atol(argv[i] + 4);
    else if (strncmp(argv[i], "eps=", 4) == 0) eps = atof(argv[i] + 4);
    else if (strncmp(argv[i], "final=", 6) == 0) final = atol(argv[i] + 6);
    else if (strncmp(argv[i], "threads=", 8) == 0) threads = atoi(argv[i] + 8);
    else if (strncmp(argv[i], "size=", 5) == 0) only = (size_t)atol(argv[i] + 5);
    else if (strcmp(argv[i], "rule=song") == 0) rule = SR_STEP_SONG;
    else if (strcmp(argv[i], "rule=lipschitz") == 0) rule = SR_STEP_LIPSCHITZ;
    else if (strcmp(argv[i], "rule=spectral") == 0) rule = SR_STEP_SPECTRAL;
    else {
      fprintf(stderr, "usage: bench_annealed [quick] [size=N] [spl=S] [rule=song|lipschitz|spectral] [eps=E] "
              "[final=F] [threads=T]\n");
      return 2;
    }
  }
  if (threads < 1) threads = 1;
  sr_init();
  /* the table: every rule at spl 1, 3, 10 with its defaults, and spectral without its final stage; or the one
   * configuration the arguments name */
  typedef struct {
    int rule;
    long spl, final;
    double eps;
  } cfg;
  cfg table[24];
  int nt = 0;
  const long spls[3] = {1, 3, 10};
  if (rule >= 0 || spl > 0 || final >= 0 || eps > 0) {
    table[nt++] = (cfg){rule >= 0 ? rule : SR_STEP_SONG, spl > 0 ? spl : 10, final, eps};
  } else {
    for (int r = 0; r < 4; r++)
      for (int k = 0; k < 3; k++) table[nt++] = (cfg){r < 3 ? r : SR_STEP_SPECTRAL, spls[k], r < 3 ? -1 : 0, 0.0};
  }
  printf("bench_annealed: annealed Langevin, gaussian prior N(%g, %g^2), fourier op, cartesian mask keeping 1/3 of "
         "the rows (centre 0.08), noise sigma %g,\n  %d levels (sigma 10 -> 0.01), %d samples, %d thread(s); time = "
         "median wall seconds of the whole job; evals/level = (levels x spl + final_steps) / levels\n"
         "  BART (measured constants, 1 thread, 2026-11-23): 64^2 %.3g s, 256^2 %.3g s; x BART = BART's time / ours (ours:\n"
         "  CPU seconds with 1 thread, wall seconds with more); x BART* = BART scaled to this machine by issue 17's ratio\n"
         "  BART / (song, spl 10) = %.2f\n\n",
         PRIOR_M, PRIOR_S, SIGMA_Y, LEVELS, SAMPLES, threads, BART_S[0] * LEVELS * SAMPLES,
         BART_S[1] * LEVELS * SAMPLES, BART_OVER_SONG10);
  size_t sizes[2] = {64, 256};
  for (int si = 0; si < 2; si++) {
    if (only && sizes[si] != only) continue;
    bench_problem bp;
    setup(&bp, sizes[si], sizes[si]);
    int reps = quick ? 1 : (sizes[si] <= 64 ? 5 : 3);
    double bart = BART_S[si] * LEVELS * SAMPLES, song10 = NAN;
    printf("== %zux%zu: exact per-pixel variance %.5f; NRMSE floor of the mean for %d exact samples %.4f\n", sizes[si],
           sizes[si], bp.var_exact, SAMPLES, sqrt(bp.trC / SAMPLES / bp.xn));
    printf("  %-9s %4s %5s %8s %6s | %9s %9s %9s %9s | %7s | %8s %8s %7s %7s\n", "rule", "spl", "final", "epsilon",
           "ev/lvl", "pixel var", "sampled k", "unsamp. k", "mirror k", "NRMSE", "wall s", "cpu s", "x BART",
           "x BART*");
    for (int c = 0; c < nt; c++) {
      ann_result a;
      run_cfg(&bp, table[c].rule, table[c].spl, table[c].eps, table[c].final, threads, reps, &a);
      double t = threads == 1 ? a.cpu : a.sec; /* 1 thread: CPU seconds stand for a quiet machine's wall time */
      if (table[c].rule == SR_STEP_SONG && table[c].spl == 10 && table[c].eps == 0.0) song10 = t;
      printf("  %-9s %4ld %5ld %8.3g %6.2f | %+8.1f%% %+8.1f%% %+8.1f%% %+8.1f%% | %7.4f | %8.3f %8.3f %7.1f ",
             RULE_NAME[table[c].rule], table[c].spl, a.final_steps, a.epsilon, a.evals_per_level, 100 * a.var_err,
             100 * a.kobs, 100 * a.kunobs, 100 * a.kmirror, a.nrmse, a.sec, a.cpu, bart / t);
      if (isfinite(song10)) printf("%7.1f\n", BART_OVER_SONG10 * song10 / t);
      else printf("%7s\n", "-");
      fflush(stdout);
    }
    printf("\n");
    teardown(&bp);
  }
  return 0;
}
