/* annealed.c — annealed Langevin on an MRI-like problem with a known exact posterior: speed and accuracy.
 *
 * Problem: real h x w image, Gaussian prior N(0, 1) per pixel, subsampled orthonormal DFT with a Cartesian mask
 * keeping one third of the k-space rows (sr_mask_cartesian(h, w, 3.0, 0.08, seed)), noise sigma 0.05 per real
 * and per imaginary part. Sampler: SR_SAMPLER_ANNEALED with its defaults (sigma_max 10, sigma_min 0.01,
 * epsilon from the operator norm) but levels = 100, steps_per_level = 10 (the default), 16 samples.
 *
 * Exact posterior (centred k-space, mirror index −k, M̃(k) = M(k) + M(−k)):
 *   d(k) = 1/s² + M̃(k)/(2σ²),  Var X(k) = 1/d(k),  every pixel's variance = (1/N) Σ_k 1/d(k),
 *   X̂(k) = (M̂(k)/s² + (M(k) y(k) + M(−k) conj y(−k))/(2σ²)) / d(k)   (M̂ the DFT of the constant image m).
 * The exact mean is computed as x̂ = F⁻¹[F(m/s² + Aᵀy/σ²) / d] (Aᵀy = Re Fᴴ(M y) is the operator's adjoint).
 * Reported: seconds per (noise level x sample) with threads = 1 and 2, the mean sampled per-pixel variance
 * against the exact one, the NRMSE of the sampled mean against x̂ (with the Monte-Carlo floor
 * sqrt(tr C / S) / |x̂| that S exact samples would give), and the variance of the k-space coefficients of the
 * samples against 1/d(k), split into sampled (M(k) = 1) and unsampled (M(k) = 0) frequencies.
 * Usage: bench_annealed [quick] [spl=STEPS_PER_LEVEL] [eps=EPSILON] [size=N] */
#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct {
  double sec_per_lvl_sample[2]; /* threads 1, 2 */
  double var_exact, var_sampled, nrmse, nrmse_mc;
  double kvar_ratio_obs, kvar_ratio_unobs, kvar_ratio_mirror, kvar_ratio_all;
  double frac_obs, epsilon;
} ann_result;

static long opt_spl = 0;     /* 0: the sampler's default (10) */
static double opt_eps = 0.0; /* 0: the sampler's default */
static int opt_rule = SR_STEP_SONG;

static void run_case(size_t h, size_t w, int quick, ann_result *out) {
  size_t n = h * w, wh = w / 2 + 1, nc = h * wh;
  sr_error err;
  float *mask = sr_alloc(n);
  sr_mask_cartesian(h, w, 3.0, 0.08, 2024, mask);
  float *xt = sr_alloc(n);
  test_image(h, w, xt);

  sr_problem pb;
  sr_problem_init(&pb);
  pb.rank = 2;
  pb.shape[0] = h;
  pb.shape[1] = w;
  pb.n = n;
  pb.op = sr_op_fourier(h, w, mask, &err);
  pb.prior = sr_prior_gaussian(PRIOR_M, PRIOR_S, &err);
  if (!pb.op || !pb.prior) {
    fprintf(stderr, "bench_annealed: %s\n", err.msg);
    exit(1);
  }
  pb.noise_sigma = SIGMA_Y;
  pb.y = sr_alloc(pb.op->n_out);
  float *ws = sr_alloc(pb.op->ws_floats), *z = sr_alloc(pb.op->n_out);
  pb.op->forward(pb.op, xt, pb.y, ws);
  sr_rng r = sr_rng_make(4242, 0);
  sr_rng_normals(&r, 0, z, pb.op->n_out);
  for (size_t i = 0; i < pb.op->n_out; i++) pb.y[i] = pb.op->obs_mask[i] * (pb.y[i] + (float)SIGMA_Y * z[i]);
  pb.sampler.kind = SR_SAMPLER_ANNEALED;
  pb.sampler.levels = LEVELS;
  pb.sampler.steps_per_level = opt_spl; /* 0: default (10) */
  pb.sampler.epsilon = opt_eps;
  pb.sampler.step_rule = opt_rule;
  pb.num_samples = SAMPLES;
  pb.seed = 17;
  pb.want_mean = pb.want_std = 1;
  pb.want_samples = 1;
  if (sr_problem_validate(&pb, &err) != SR_OK) {
    fprintf(stderr, "bench_annealed: %s\n", err.msg);
    exit(1);
  }

  out->epsilon = pb.sampler.epsilon;
  /* timings: median of repetitions, threads 1 and 2 */
  sr_result res;
  memset(&res, 0, sizeof res);
  for (int ti = 0; ti < 2; ti++) {
    pb.threads = ti + 1;
    int reps = quick ? 1 : (n <= 4096 ? 7 : 3);
    double v[7];
    for (int k = 0; k < reps; k++) {
      sr_result_clear(&res);
      double t0 = bench_now();
      if (sr_run(&pb, &res, NULL, NULL, &err) != SR_OK) {
        fprintf(stderr, "bench_annealed: sr_run: %s\n", err.msg);
        exit(1);
      }
      v[k] = bench_now() - t0;
    }
    out->sec_per_lvl_sample[ti] = bench_median(v, reps) / ((double)LEVELS * SAMPLES);
  }

  /* exact posterior */
  float *X = sr_alloc(2 * nc), *xr = sr_alloc(n), *xhat = sr_alloc(n);
  fftwf_plan p_r2c = fftwf_plan_dft_r2c_2d((int)h, (int)w, xr, (fftwf_complex *)X, FFTW_ESTIMATE);
  fftwf_plan p_c2r = fftwf_plan_dft_c2r_2d((int)h, (int)w, (fftwf_complex *)X, xhat, FFTW_ESTIMATE);
  double *dk = malloc(nc * sizeof(double));
  float *mk = malloc(nc * sizeof(float)), *mkn = malloc(nc * sizeof(float));
  double trC = 0.0; /* Σ over all k of 1/d(k) (full spectrum) */
  for (size_t ku = 0; ku < h; ku++)
    for (size_t kv = 0; kv < w; kv++) {
      float m1 = mask_at(mask, h, w, ku, kv), m2 = mask_at(mask, h, w, (h - ku) % h, (w - kv) % w);
      double d = 1.0 / (PRIOR_S * PRIOR_S) + (m1 + m2) / (2.0 * SIGMA_Y * SIGMA_Y);
      trC += 1.0 / d;
      if (kv < wh) {
        dk[ku * wh + kv] = d;
        mk[ku * wh + kv] = m1;
        mkn[ku * wh + kv] = m2;
      }
    }
  double var_exact = trC / (double)n;
  pb.op->adjoint(pb.op, pb.y, xr, ws);
  for (size_t i = 0; i < n; i++)
    xr[i] = (float)(PRIOR_M / (PRIOR_S * PRIOR_S) + xr[i] / (SIGMA_Y * SIGMA_Y));
  fftwf_execute(p_r2c);
  for (size_t k = 0; k < nc; k++) {
    X[2 * k] = (float)(X[2 * k] / dk[k] / (double)n);
    X[2 * k + 1] = (float)(X[2 * k + 1] / dk[k] / (double)n);
  }
  fftwf_execute(p_c2r); /* xhat */

  /* sampled moments (from the samples: the unbiased per-pixel variance) */
  const float *S = res.samples;
  double vs = 0.0, e2 = 0.0, xn = 0.0;
  for (size_t i = 0; i < n; i++) {
    double m = 0.0;
    for (int s = 0; s < SAMPLES; s++) m += S[(size_t)s * n + i];
    m /= SAMPLES;
    double v = 0.0;
    for (int s = 0; s < SAMPLES; s++) {
      double d = S[(size_t)s * n + i] - m;
      v += d * d;
    }
    vs += v / (SAMPLES - 1);
    e2 += (m - xhat[i]) * (m - xhat[i]);
    xn += (double)xhat[i] * xhat[i];
  }
  out->var_exact = var_exact;
  out->var_sampled = vs / (double)n;
  out->nrmse = sqrt(e2 / xn);
  out->nrmse_mc = sqrt(trC / SAMPLES / xn);

  /* k-space: per-frequency sample variance of the orthonormal coefficients vs 1/d(k). Half spectrum with
   * weights (columns 1 .. w−wh+... counted twice for the full spectrum by Hermitian symmetry). */
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
  double so = 0, eo = 0, su = 0, eu = 0, smr = 0, emr = 0, nobs = 0, ntot = 0;
  for (size_t ku = 0; ku < h; ku++)
    for (size_t kv = 0; kv < wh; kv++) {
      size_t k = ku * wh + kv;
      /* weight 2 where the mirror frequency is not itself in the half spectrum */
      int self = kv == 0 || (w % 2 == 0 && kv == w / 2);
      double wgt = self ? 1.0 : 2.0;
      double mr = ksum[2 * k] / SAMPLES, mi = ksum[2 * k + 1] / SAMPLES;
      double var = (ksq[k] - SAMPLES * (mr * mr + mi * mi)) / (SAMPLES - 1);
      double ex = 1.0 / dk[k];
      ntot += wgt;
      if (mk[k] != 0.0f) {
        so += wgt * var; eo += wgt * ex; nobs += wgt;
      } else {
        su += wgt * var; eu += wgt * ex;
        if (mkn[k] != 0.0f) { smr += wgt * var; emr += wgt * ex; }
      }
    }
  out->kvar_ratio_obs = so / eo - 1.0;
  out->kvar_ratio_unobs = su / eu - 1.0;
  out->kvar_ratio_mirror = emr > 0 ? smr / emr - 1.0 : NAN;
  out->kvar_ratio_all = (so + su) / (eo + eu) - 1.0;
  out->frac_obs = nobs / ntot;

  free(ksum); free(ksq); free(dk); free(mk); free(mkn);
  fftwf_destroy_plan(p_r2c);
  fftwf_destroy_plan(p_c2r);
  sr_free(X); sr_free(xr); sr_free(xhat); sr_free(ws); sr_free(z); sr_free(mask); sr_free(xt);
  sr_result_clear(&res);
  sr_problem_clear(&pb);
}

int main(int argc, char **argv) {
  int quick = 0;
  size_t only = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "quick") == 0) quick = 1;
    else if (strncmp(argv[i], "spl=", 4) == 0) opt_spl = atol(argv[i] + 4);
    else if (strncmp(argv[i], "eps=", 4) == 0) opt_eps = atof(argv[i] + 4);
    else if (strncmp(argv[i], "size=", 5) == 0) only = (size_t)atol(argv[i] + 5);
    else if (strcmp(argv[i], "rule=lipschitz") == 0) opt_rule = SR_STEP_LIPSCHITZ;
    else if (strcmp(argv[i], "rule=song") == 0) opt_rule = SR_STEP_SONG;
    else if (strcmp(argv[i], "rule=spectral") == 0) opt_rule = SR_STEP_SPECTRAL;
    else {
      fprintf(stderr, "usage: bench_annealed [quick] [spl=STEPS_PER_LEVEL] [eps=EPSILON] [size=N] [rule=song|lipschitz]\n");
      return 2;
    }
  }
  sr_init();
  printf("bench_annealed: annealed Langevin, gaussian prior N(%g, %g^2), fourier op, cartesian mask keeping 1/3 of "
         "the rows (centre 0.08), noise sigma %g,\n  %d levels x %ld steps (sigma 10 -> 0.01, step rule %s, epsilon %s), %d "
         "samples; times are medians, seconds per (level x sample) = wall / (levels x samples)\n\n",
         PRIOR_M, PRIOR_S, SIGMA_Y, LEVELS, opt_spl ? opt_spl : 10L, opt_rule ? "lipschitz" : "song", opt_eps > 0 ? "given" : "default", SAMPLES);
  size_t sizes[2] = {64, 256};
  const double bart[2] = {8.3e-4, 1.09e-2};
  for (int si = 0; si < 2; si++) {
    if (only && sizes[si] != only) continue;
    ann_result a;
    run_case(sizes[si], sizes[si], quick, &a);
    size_t h = sizes[si];
    printf("== %zux%zu (epsilon %.3g)\n", h, h, a.epsilon);
    printf("  s per level x sample: threads=1 %.3g, threads=2 %.3g  (BART: %.3g; total %.3f s / %.3f s)\n",
           a.sec_per_lvl_sample[0], a.sec_per_lvl_sample[1], bart[si], a.sec_per_lvl_sample[0] * LEVELS * SAMPLES,
           a.sec_per_lvl_sample[1] * LEVELS * SAMPLES);
    printf("  per-pixel variance: sampled %.5f, exact %.5f, relative error %+.1f%%\n", a.var_sampled, a.var_exact,
           100.0 * (a.var_sampled / a.var_exact - 1.0));
    printf("  NRMSE of the sampled mean vs the exact mean: %.4f (Monte-Carlo floor for %d exact samples: %.4f)\n",
           a.nrmse, SAMPLES, a.nrmse_mc);
    printf("  k-space variance vs 1/d(k): sampled frequencies (%.0f%%) %+.1f%%, unsampled %+.1f%% "
           "(of which mirror-observed %+.1f%%), all %+.1f%%  (BART: +33%% sampled, +14%% unsampled)\n\n",
           100.0 * a.frac_obs, 100.0 * a.kvar_ratio_obs, 100.0 * a.kvar_ratio_unobs, 100.0 * a.kvar_ratio_mirror,
           100.0 * a.kvar_ratio_all);
    fflush(stdout);
  }
  return 0;
}
