/* step.c — what one Langevin (ULA) chain-step costs, against the FFTW transforms it cannot avoid.
 *
 * For 256x256 and 512x512, with a blur operator (Gaussian kernel sigma 1.5, 9x9) and a Fourier operator
 * (Cartesian mask, acceleration 3, centre fraction 0.08), prints:
 *   - the FFT pair (one r2c + one c2r, fftwf_execute_dft_r2c/c2r on 64-byte aligned arrays) planned with
 *     FFTW_ESTIMATE (what the operators use) and, for reference, FFTW_MEASURE; also the ESTIMATE pair run on
 *     both cores at once (the reference for threads = 2);
 *   - the pieces of a step, timed one by one the way the sampler runs them per chain (prior score, forward,
 *     residual, adjoint, g += w Aᵀr, normals, update, Welford keep);
 *   - sr_run (gaussian prior, langevin sampler, C chains, S steps) with threads = 1 and 2: seconds per
 *     chain-step (per core: wall x threads / (C S)), and overhead = step / FFT pair − 1;
 *   - tuned plans (docs/performance.md "Tuned plans") beside ESTIMATE: the FFT pair planned from the wisdom file
 *     (FFTW_MEASURE | FFTW_WISDOM_ONLY, as the planner does) and sr_run's chain-step with the operator re-planned
 *     by an SR_FFT_TUNED planner, the two modes' repetitions interleaved (the machine is shared).
 * All times are medians of repetitions (CLOCK_MONOTONIC). Usage: bench_step [quick] [size=N] [wisdom=FILE] (N x N
 * instead of 256 and 512; FILE: the wisdom to use and extend, default a fresh temporary file, so sizes are
 * measured on each run). */
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "scorerecon.h"

#define REPS 11

static double rep_s = 0.05;

/* ---------------------------------------------------------------- FFT pair */

typedef struct {
  fftwf_plan r2c, c2r;
  float *x, *y;        /* input image, output image (as the operators: x is a chain's state, kept) */
  fftwf_complex *X;
  long iters;
} fft_ctx;

static void fft_pair(void *p) {
  fft_ctx *c = p;
  fftwf_execute_dft_r2c(c->r2c, c->x, c->X);
  fftwf_execute_dft_c2r(c->c2r, c->X, c->y);
}

static int fft_ctx_make(fft_ctx *c, size_t h, size_t w, unsigned flags) {
  size_t wh = w / 2 + 1;
  c->x = sr_alloc(h * w);
  c->y = sr_alloc(h * w);
  c->X = (fftwf_complex *)sr_alloc(2 * h * wh);
  if (!c->x || !c->y || !c->X) return -1;
  c->r2c = fftwf_plan_dft_r2c_2d((int)h, (int)w, c->x, c->X, flags);
  c->c2r = fftwf_plan_dft_c2r_2d((int)h, (int)w, c->X, c->y, flags);
  /* MEASURE overwrites the arrays while planning: fill afterwards. */
  for (size_t i = 0; i < h * w; i++) c->x[i] = (float)((i * 2654435761u) % 1000) * 1e-3f;
  return c->r2c && c->c2r ? 0 : -1;
}

/* The pair a tuned operator runs: planned from the wisdom file alone, then the wisdom forgotten again (ESTIMATE
 * planning would reuse it), as solver/fft_plan.c does. */
static int fft_ctx_make_tuned(fft_ctx *c, size_t h, size_t w, const char *wisdom) {
  fftwf_forget_wisdom();
  if (!fftwf_import_wisdom_from_filename(wisdom)) return -1;
  int rc = fft_ctx_make(c, h, w, FFTW_MEASURE | FFTW_WISDOM_ONLY);
  fftwf_forget_wisdom();
  return rc;
}

static void fft_ctx_free(fft_ctx *c) {
  fftwf_destroy_plan(c->r2c);
  fftwf_destroy_plan(c->c2r);
  sr_free(c->x);
  sr_free(c->y);
  sr_free(c->X);
}

static void *fft_thread(void *p) {
  fft_ctx *c = p;
  for (long i = 0; i < c->iters; i++) fft_pair(c);
  return NULL;
}

/* Wall seconds per pair while both cores run pairs at once (each its own plan arrays). */
static double fft_pair_2threads(size_t h, size_t w, double per1) {
  fft_ctx c[2];
  if (fft_ctx_make(&c[0], h, w, FFTW_ESTIMATE) || fft_ctx_make(&c[1], h, w, FFTW_ESTIMATE)) return NAN;
  long iters = (long)(rep_s / per1) + 1;
  double v[REPS];
  for (int r = 0; r < REPS; r++) {
    pthread_t t;
    c[0].iters = c[1].iters = iters;
    double t0 = bench_now();
    pthread_create(&t, NULL, fft_thread, &c[1]);
    fft_thread(&c[0]);
    pthread_join(t, NULL);
    v[r] = (bench_now() - t0) / (double)iters;
  }
  fft_ctx_free(&c[0]);
  fft_ctx_free(&c[1]);
  return bench_median(v, REPS);
}

/* ---------------------------------------------------------------- problems */

static void test_image(size_t h, size_t w, float *x) {
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) {
      double u = (double)i / (double)h - 0.5, v = (double)j / (double)w - 0.5;
      x[i * w + j] = (float)((u * u + v * v < 0.1 ? 1.0 : 0.2) + 0.3 * sin(12.0 * u) * cos(7.0 * v));
    }
}

static sr_op *make_op(int fourier, size_t h, size_t w) {
  sr_error err;
  sr_op *op;
  if (fourier) {
    float *mask = sr_alloc(h * w);
    sr_mask_cartesian(h, w, 3.0, 0.08, 7, mask);
    op = sr_op_fourier(h, w, mask, &err);
    sr_free(mask);
  } else {
    float k[81];
    sr_gaussian_kernel(1.5, 9, k);
    op = sr_op_blur(h, w, k, 9, 9, &err);
  }
  if (!op) {
    fprintf(stderr, "bench_step: %s\n", err.msg);
    exit(1);
  }
  return op;
}

/* Fills a problem: gaussian prior N(0, 1), noise 0.05, y = A x_true + noise (unobserved entries zero). */
static void make_problem(sr_problem *pb, int fourier, size_t h, size_t w) {
  sr_error err;
  sr_problem_init(pb);
  pb->rank = 2;
  pb->shape[0] = h;
  pb->shape[1] = w;
  pb->n = h * w;
  pb->op = make_op(fourier, h, w);
  pb->noise_sigma = 0.05;
  pb->prior = sr_prior_gaussian(0.0, 1.0, &err);
  pb->y = sr_alloc(pb->op->n_out);
  float *x = sr_alloc(pb->n), *ws = sr_alloc(pb->op->ws_floats), *z = sr_alloc(pb->op->n_out);
  test_image(h, w, x);
  pb->op->forward(pb->op, x, pb->y, ws);
  sr_rng r = sr_rng_make(99, 0);
  sr_rng_normals(&r, 0, z, pb->op->n_out);
  for (size_t i = 0; i < pb->op->n_out; i++)
    pb->y[i] += (pb->op->obs_mask ? pb->op->obs_mask[i] : 1.0f) * 0.05f * z[i];
  sr_free(x); sr_free(ws); sr_free(z);
  pb->sampler.kind = SR_SAMPLER_LANGEVIN;
  pb->sampler.burn_in = -1; /* sampler default: steps / 5 */
  pb->seed = 1;
  pb->want_mean = pb->want_std = 1;
}

/* ---------------------------------------------------------------- pieces of a step */

typedef struct {
  sr_problem *pb;
  size_t n;
  float *x, *g, *z, *r, *xs, *opws, *aty;
  double *mean, *m2;
  long kept;
  sr_rng rng;
  uint64_t draw;
} step_ctx;

static void st_normals(void *p) {
  step_ctx *c = p;
  sr_rng_normals(&c->rng, c->draw++, c->z, c->n);
}

static void st_fwdadj(void *p) {
  step_ctx *c = p;
  const sr_op *op = c->pb->op;
  op->forward(op, c->x, c->r, c->opws);
  op->adjoint(op, c->r, c->xs, c->opws);
}

static void st_fwd(void *p) {
  step_ctx *c = p;
  c->pb->op->forward(c->pb->op, c->x, c->r, c->opws);
}

static void st_adj(void *p) {
  step_ctx *c = p;
  c->pb->op->adjoint(c->pb->op, c->r, c->xs, c->opws);
}

static void st_score(void *p) {
  step_ctx *c = p;
  c->pb->prior->score(c->pb->prior, c->x, 1, c->n, sr_noise_none(), c->g, NULL);
}

/* residual r = y − r with its squared norm, then g += w xs, then x += eta g + sq z: the sampler's plain loops. */
static volatile double sink;
static void st_residual(void *p) {
  step_ctx *c = p;
  const float *y = c->pb->y;
  double s2 = 0.0;
  for (size_t i = 0; i < c->pb->op->n_out; i++) {
    float d = y[i] - c->r[i];
    c->r[i] = d;
    s2 += (double)d * d;
  }
  sink = s2;
}

static void st_axpy_update(void *p) {
  step_ctx *c = p;
  const float ws = 1e-3f, eta = 1e-4f, sq = 1e-2f;
  for (size_t i = 0; i < c->n; i++) c->g[i] += ws * c->xs[i];
  for (size_t i = 0; i < c->n; i++) c->x[i] += eta * c->g[i] + sq * c->z[i];
  for (size_t i = 0; i < c->n; i++) c->x[i] *= 0.5f; /* keeps x bounded over millions of calls */
}

static void st_keep(void *p) {
  step_ctx *c = p;
  double k = (double)++c->kept, ik = 1.0 / k;
  for (size_t i = 0; i < c->n; i++) {
    double d = c->x[i] - c->mean[i];
    c->mean[i] += d * ik;
    c->m2[i] += d * (c->x[i] - c->mean[i]);
  }
}

/* The loop the report proposes for the sampler (rr not wanted, op->normal present): Aᵀy once per run, then per
 * step one normal application (one FFT pair for blur and fourier), no residual vector and no |r|², one fused
 * g/update pass, then the Welford keep as now. Same arithmetic as ULA: x += eta (s(x) + w (Aᵀy − AᵀA x)) + sq z. */
static void st_proposed(void *p) {
  step_ctx *c = p;
  const sr_op *op = c->pb->op;
  const float w = 1.0f / (0.05f * 0.05f), eta = 1e-4f, sq = 1e-2f;
  c->pb->prior->score(c->pb->prior, c->x, 1, c->n, sr_noise_none(), c->g, NULL);
  op->normal(op, c->x, c->xs, c->opws);
  sr_rng_normals(&c->rng, c->draw++, c->z, c->n);
  for (size_t i = 0; i < c->n; i++) c->x[i] += eta * (c->g[i] + w * (c->aty[i] - c->xs[i])) + sq * c->z[i];
  st_keep(c);
}

/* ---------------------------------------------------------------- sr_run */

static double run_per_chain_step(sr_problem *pb, long steps, long chains, int threads) {
  pb->sampler.steps = steps;
  pb->sampler.burn_in = -1;
  pb->sampler.step_size = 0;
  pb->num_samples = chains;
  pb->threads = threads;
  sr_error err;
  if (sr_problem_validate(pb, &err) != SR_OK) {
    fprintf(stderr, "bench_step: %s\n", err.msg);
    exit(1);
  }
  double v[REPS];
  int reps = 5;
  for (int r = 0; r < reps; r++) {
    sr_result res;
    double t0 = bench_now();
    sr_status st = sr_run(pb, &res, NULL, NULL, &err);
    double dt = bench_now() - t0;
    if (st != SR_OK) {
      fprintf(stderr, "bench_step: sr_run: %s\n", err.msg);
      exit(1);
    }
    sr_result_clear(&res);
    v[r] = dt * threads / ((double)steps * (double)chains); /* per core */
  }
  return bench_median(v, reps);
}

/* sr_run's per-core chain-step for two problems (ESTIMATE and tuned plans), their repetitions interleaved. */
static void run_interleaved(sr_problem *pa, sr_problem *pb, long steps, long chains, double *ta, double *tb) {
  sr_problem *p[2] = {pa, pb};
  double v[2][REPS];
  for (int k = 0; k < 2; k++) {
    p[k]->sampler.steps = steps;
    p[k]->sampler.burn_in = -1;
    p[k]->sampler.step_size = 0;
    p[k]->num_samples = chains;
    p[k]->threads = 1;
    sr_error err;
    if (sr_problem_validate(p[k], &err) != SR_OK) {
      fprintf(stderr, "bench_step: %s\n", err.msg);
      exit(1);
    }
  }
  int reps = 5;
  for (int r = 0; r < reps; r++)
    for (int k = 0; k < 2; k++) {
      sr_result res;
      sr_error err;
      double t0 = bench_now();
      if (sr_run(p[k], &res, NULL, NULL, &err) != SR_OK) {
        fprintf(stderr, "bench_step: sr_run: %s\n", err.msg);
        exit(1);
      }
      v[k][r] = (bench_now() - t0) / ((double)steps * (double)chains);
      sr_result_clear(&res);
    }
  *ta = bench_median(v[0], reps);
  *tb = bench_median(v[1], reps);
}

typedef struct {
  size_t h;
  const char *op;
  int pairs;                         /* FFT pairs this sampler loop needs per chain-step (forward + adjoint) */
  double fft_est, fft_est2, fft_meas, fwdadj, normals_ns, run1, run2, prop;
  double fft_tuned, step_est, step_tuned;  /* interleaved: pair and sr_run chain-step, ESTIMATE vs tuned */
} summary_row;

int main(int argc, char **argv) {
  int quick = 0, nsizes = 2;
  size_t sizes[2] = {256, 512};
  char wisdom[512] = "";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "quick") == 0) quick = 1;
    else if (strncmp(argv[i], "size=", 5) == 0) {
      sizes[0] = (size_t)atol(argv[i] + 5);
      nsizes = 1;
    } else if (strncmp(argv[i], "wisdom=", 7) == 0) {
      snprintf(wisdom, sizeof wisdom, "%s", argv[i] + 7);
    } else {
      fprintf(stderr, "usage: bench_step [quick] [size=N] [wisdom=FILE]\n");
      return 2;
    }
  }
  if (quick) rep_s = 0.03;
  sr_init();
  int own_wisdom = !wisdom[0];
  if (own_wisdom) snprintf(wisdom, sizeof wisdom, "/tmp/bench_step_wisdom.%ld", (long)getpid());
  sr_error perr;
  sr_fft_planner *planner = sr_fft_planner_create(SR_FFT_TUNED, wisdom, &perr);
  if (!planner) {
    fprintf(stderr, "bench_step: %s\n", perr.msg);
    return 1;
  }
  summary_row rows[4];
  int nrows = 0;
  printf("bench_step: one ULA chain-step vs its FFT pair (r2c + c2r); medians of %d repetitions (sr_run: 5), "
         "microseconds\n", REPS);
  printf("sr_run: gaussian prior N(0,1), noise 0.05, langevin, 4 chains, burn-in steps/5, mean+std kept; per-core "
         "time = wall x threads / (chains x steps)\n\n");
  for (int si = 0; si < nsizes; si++) {
    size_t h = sizes[si], w = sizes[si], n = h * w;
    int row0 = nrows;
    int measured = 0;
    double tp0 = bench_now();
    if (sr_fft_planner_prepare(planner, h, w, 0, &measured, &perr)) {
      fprintf(stderr, "bench_step: %s\n", perr.msg);
      return 1;
    }
    if (measured) printf("(%zux%zu: tuned plans measured into %s in %.2f s)\n", h, w, wisdom, bench_now() - tp0);
    for (int fourier = 0; fourier < 2; fourier++) {
      /* the reference, measured next to each operator's figures (the machine is shared: nearer in time is fairer) */
      fft_ctx fe;
      if (fft_ctx_make(&fe, h, w, FFTW_ESTIMATE)) return 1;
      double fft_est = bench_time(fft_pair, &fe, REPS, rep_s);
      fft_ctx_free(&fe);
      double fft_est2 = fft_pair_2threads(h, w, fft_est);
      sr_problem pb;
      make_problem(&pb, fourier, h, w);
      step_ctx c = {.pb = &pb, .n = n};
      c.x = sr_alloc(n); c.g = sr_alloc(n); c.z = sr_alloc(n); c.xs = sr_alloc(n);
      c.r = sr_alloc(pb.op->n_out); c.opws = sr_alloc(pb.op->ws_floats);
      c.mean = calloc(n, sizeof(double)); c.m2 = calloc(n, sizeof(double));
      c.rng = sr_rng_make(5, 3);
      c.aty = sr_alloc(n);
      pb.op->adjoint(pb.op, pb.y, c.aty, c.opws);
      test_image(h, w, c.x);
      double t_norm = bench_time(st_normals, &c, REPS, rep_s);
      double t_fwd = bench_time(st_fwd, &c, REPS, rep_s);
      double t_adj = bench_time(st_adj, &c, REPS, rep_s);
      double t_fa = bench_time(st_fwdadj, &c, REPS, rep_s);
      double t_score = bench_time(st_score, &c, REPS, rep_s);
      double t_res = bench_time(st_residual, &c, REPS, rep_s);
      double t_upd = bench_time(st_axpy_update, &c, REPS, rep_s);
      double t_keep = bench_time(st_keep, &c, REPS, rep_s);
      test_image(h, w, c.x);
      double t_prop = bench_time(st_proposed, &c, REPS, rep_s);
      long steps = (long)(quick ? 1e7 : 5e7) / (long)n, chains = 4;
      if (steps < 20) steps = 20;
      double t_run1 = run_per_chain_step(&pb, steps, chains, 1);
      double t_run2 = run_per_chain_step(&pb, steps, chains, 2);
      /* ESTIMATE vs tuned, interleaved: the pair, then sr_run with the operator re-planned */
      fft_ctx ft;
      if (fft_ctx_make_tuned(&ft, h, w, wisdom) || fft_ctx_make(&fe, h, w, FFTW_ESTIMATE)) {
        fprintf(stderr, "bench_step: no tuned plan for %zux%zu in %s\n", h, w, wisdom);
        return 1;
      }
      double pe[3], pt[3];
      for (int r = 0; r < 3; r++) {
        pe[r] = bench_time(fft_pair, &fe, REPS, rep_s);
        pt[r] = bench_time(fft_pair, &ft, REPS, rep_s);
      }
      double fft_e = bench_median(pe, 3), fft_t = bench_median(pt, 3);
      fft_ctx_free(&fe);
      fft_ctx_free(&ft);
      sr_problem pbt;
      make_problem(&pbt, fourier, h, w);
      if (sr_op_plan_fft(pbt.op, planner, &perr)) {
        fprintf(stderr, "bench_step: %s\n", perr.msg);
        return 1;
      }
      double step_e, step_t;
      run_interleaved(&pb, &pbt, steps, chains, &step_e, &step_t);
      sr_problem_clear(&pbt);
      double sum = t_fa + t_score + t_res + t_upd + t_keep + t_norm;
      int pairs = 1; /* ULA, annealed, PC and ODE apply AᵀA: one FFT pair for blur and Fourier alike */
      const char *name = fourier ? "fourier (cartesian R=3, centre 0.08): forward = r2c, adjoint = c2r, normal = r2c + c2r"
                                 : "blur (gaussian sigma 1.5, 9x9): forward, adjoint and normal are one FFT pair each";
      printf("== %zux%zu %s\n", h, w, name);
      printf("  FFT pair, FFTW_ESTIMATE            %9.1f us\n", 1e6 * fft_est);
      printf("  FFT pair, ESTIMATE, 2 cores busy   %9.1f us (per core)\n", 1e6 * fft_est2);
      printf("  pieces of one MALA chain-step (forward, residual, adjoint: MALA needs |y - Ax|^2), 1 thread:\n");
      printf("    prior score                      %9.1f us\n", 1e6 * t_score);
      printf("    forward                          %9.1f us\n", 1e6 * t_fwd);
      printf("    residual y - Ax, |r|^2 (double)  %9.1f us  (%zu floats)\n", 1e6 * t_res, pb.op->n_out);
      printf("    adjoint                          %9.1f us\n", 1e6 * t_adj);
      printf("    (forward + adjoint together      %9.1f us  = %.2f FFT pairs)\n", 1e6 * t_fa, t_fa / fft_est);
      printf("    g += w A^T r; x += eta g + sq z  %9.1f us\n", 1e6 * t_upd);
      printf("    sr_rng_normals(n)                %9.1f us  (%.2f ns/normal)\n", 1e6 * t_norm,
             1e9 * t_norm / (double)n);
      printf("    Welford keep (double)            %9.1f us\n", 1e6 * t_keep);
      printf("    sum of pieces                    %9.1f us  (%+.0f%% over one FFT pair, %+.0f%% over the %d this "
             "loop needs)\n", 1e6 * sum, 100.0 * (sum / fft_est - 1.0), 100.0 * (sum / (pairs * fft_est) - 1.0),
             pairs);
      printf("  hand-written ULA loop (normal op, A^T y precomputed; keep included): %.1f us  "
             "overhead %+.0f%%\n", 1e6 * t_prop, 100.0 * (t_prop / fft_est - 1.0));
      printf("  sr_run, threads=1, %ld chains x %ld steps: %9.1f us/chain-step  overhead %+.0f%%\n", chains, steps,
             1e6 * t_run1, 100.0 * (t_run1 / fft_est - 1.0));
      printf("  sr_run, threads=2, %ld chains x %ld steps: %9.1f us/chain-step per core (%.1f us wall)  "
             "overhead %+.0f%% vs the 2-core FFT pair\n\n",
             chains, steps, 1e6 * t_run2, 1e6 * t_run2 / 2, 100.0 * (t_run2 / fft_est2 - 1.0));
      printf("  interleaved, 1 thread: FFT pair ESTIMATE %.1f us, tuned %.1f us (%.2fx); chain-step ESTIMATE %.1f us "
             "(%.2f pairs), tuned %.1f us (%.2f tuned pairs)\n\n", 1e6 * fft_e, 1e6 * fft_t, fft_e / fft_t,
             1e6 * step_e, step_e / fft_e, 1e6 * step_t, step_t / fft_t);
      fflush(stdout);
      summary_row r = {h, fourier ? "fourier" : "blur", pairs, fft_est, fft_est2, 0, t_fa, 1e9 * t_norm / (double)n,
                       t_run1, t_run2, t_prop, fft_t, step_e, step_t};
      r.fft_est = fft_e; /* the interleaved figure, beside the tuned one */
      rows[nrows++] = r;
      sr_free(c.x); sr_free(c.g); sr_free(c.z); sr_free(c.xs); sr_free(c.r); sr_free(c.opws); sr_free(c.aty);
      free(c.mean); free(c.m2);
      sr_problem_clear(&pb);
    }
    /* FFTW_MEASURE last, then forget its wisdom: ESTIMATE planning reuses wisdom, and the operators above must
     * get the plans they get in production. */
    fft_ctx fm;
    double t0 = bench_now();
    if (fft_ctx_make(&fm, h, w, FFTW_MEASURE)) return 1;
    double plan_s = bench_now() - t0;
    double fft_meas = bench_time(fft_pair, &fm, REPS, rep_s);
    fft_ctx_free(&fm);
    fftwf_forget_wisdom();
    double fft_est = rows[row0].fft_est;
    for (int i = row0; i < nrows; i++) {
      rows[i].fft_meas = fft_meas;
      if (rows[i].fft_est < fft_est) fft_est = rows[i].fft_est;
    }
    printf("== %zux%zu FFT pair, FFTW_MEASURE (reference): %.1f us (ESTIMATE %.1f us, %.2fx; planning %.2f s)\n\n",
           h, w, 1e6 * fft_meas, 1e6 * fft_est, fft_est / fft_meas, plan_s);
  }
  printf("summary (us; overhead = chain-step / FFT pair - 1; threads=2: per-core step vs the 2-core FFT pair)\n");
  printf("%-5s %-8s %9s %9s %9s %7s %10s %9s %8s %10s %9s %9s %8s\n", "size", "operator", "pair_est", "pair_meas",
         "fwd+adj", "ns/norm", "step_t1", "ovh_t1", "ovh_t1/k", "step_t2", "ovh_t2", "handloop", "ovh_hand");
  for (int i = 0; i < nrows; i++) {
    summary_row *r = &rows[i];
    printf("%-5zu %-8s %9.1f %9.1f %9.1f %7.2f %10.1f %8.0f%% %7.0f%% %10.1f %8.0f%% %9.1f %7.0f%%\n", r->h, r->op,
           1e6 * r->fft_est, 1e6 * r->fft_meas, 1e6 * r->fwdadj, r->normals_ns, 1e6 * r->run1,
           100.0 * (r->run1 / r->fft_est - 1.0), 100.0 * (r->run1 / (r->pairs * r->fft_est) - 1.0), 1e6 * r->run2,
           100.0 * (r->run2 / r->fft_est2 - 1.0), 1e6 * r->prop, 100.0 * (r->prop / r->fft_est - 1.0));
  }
  printf("(step_t1/t2: sr_run's ULA chain-step with 1/2 threads; ovh_t1/k: against the k = 1 FFT pair a step needs;\n"
         " handloop: the same step written out by hand in this program, the floor sr_run should reach)\n\n");
  printf("ESTIMATE vs tuned plans, 1 thread, repetitions interleaved (us; x pair = chain-step / that mode's FFT pair)\n");
  printf("%-5s %-8s %10s %10s %8s %10s %8s %10s %8s\n", "size", "operator", "pair_est", "pair_tuned", "speedup",
         "step_est", "x pair", "step_tuned", "x pair");
  for (int i = 0; i < nrows; i++) {
    summary_row *r = &rows[i];
    printf("%-5zu %-8s %10.1f %10.1f %7.2fx %10.1f %7.2fx %10.1f %7.2fx\n", r->h, r->op, 1e6 * r->fft_est,
           1e6 * r->fft_tuned, r->fft_est / r->fft_tuned, 1e6 * r->step_est, r->step_est / r->fft_est,
           1e6 * r->step_tuned, r->step_tuned / r->fft_tuned);
  }
  sr_fft_planner_free(planner);
  if (own_wisdom) {
    char lk[560];
    snprintf(lk, sizeof lk, "%s.lock", wisdom);
    unlink(wisdom);
    unlink(lk);
  }
  return 0;
}
