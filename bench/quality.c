/* quality.c — what the learned prior buys, measured: three inverse problems on the first Fashion-MNIST test
 * images, each reconstructed by four methods, scored against the ground truth.
 *
 *   build/bench_quality [--images N] [--chains S] [--steps K] [--sampler auto|pc] [--snr R] [--model NAME] [--models DIR]
 *                       [--problems fourier,blur,inpaint] [--figures DIR] [--json FILE] [--tv-weights LIST]
 *
 * Problems (images in [0, 1] = pixel/255; observation noise from a fixed Philox stream per image; set up in
 * bench/problems.c, which bench/samplers.c shares):
 *   fourier  Cartesian k-space rows, 4× with 8% centre rows (mask seed = image index), σ_y = 0.01
 *   blur     Gaussian kernel σ 1.5, 9×9, circular, σ_y = 0.02
 *   inpaint  60% of the pixels missing at random (mask seed = image index), σ_y = 0.01
 * Methods:
 *   zero-filled   Aᵀy (blur: the observation itself, which is the better of the two)
 *   gaussian      the exact posterior mean under the isotropic Gaussian prior N(μ, s²) with μ, s the pixel mean
 *                 and std of the training split; conjugate gradients on (AᵀA/σ_y² + I/s²) x = Aᵀy/σ_y² + μ/s²;
 *                 its exact posterior std (diagonal of the covariance) gives its coverage
 *   tv            posterior mean under exp(−w Σ √(|∇x|² + ε²)), ε = 0.01, sampled by MALA (adaptive step);
 *                 w chosen per problem from --tv-weights by mean PSNR on the first 8 TRAINING images
 *   learned       the score_model prior with what {"type": "auto"} runs (server/models.c): ddrm, or diffpir for
 *                 blur, K steps (default 100) on the model's VE SDE, S samples (default 8): 800 network evaluations
 *                 per image, about 1.5 s on 2 cores. --sampler pc runs the earlier configuration instead (pc with
 *                 one corrector step, snr R; it was measured with --chains 4 --steps 200, see docs/quality.md)
 * Coverage: the fraction of pixels whose truth lies in the 95% interval. For S sampled chains the interval is
 * the predictive one, mean ± t₀.₉₇₅(S−1)·√(1 + 1/S)·std, so that a calibrated sampler scores 95% for any S.
 * Figures (--figures DIR): DIR/quality-PROBLEM.png, four images per row group: truth | zero-filled or
 * observation | TV mean | learned mean | learned std (std panels scaled so the figure's largest std is white). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "png.h"
#include "problems.h"

enum { M_ZERO, M_GAUSS, M_TV, M_LEARNED, NM };
static const char *method_name[NM] = {"zero-filled / observation", "Gaussian (exact mean)", "TV (MALA)",
                                      "learned"};

/* Gaussian prior N(mu, s²): posterior mean by CG on (AᵀA/σ² + I/s²) x = Aᵀy/σ² + μ/s², in double sums */
static void gauss_mean(const sr_op *op, const float *y, double sy, double mu, double s, float *x, float *ws) {
  size_t n = op->n_in;
  double a = 1.0 / (sy * sy), c = 1.0 / (s * s);
  float *b = sr_alloc(n), *r = sr_alloc(n), *p = sr_alloc(n), *q = sr_alloc(n);
  op->adjoint(op, y, b, ws);
  for (size_t i = 0; i < n; i++) {
    b[i] = (float)(a * b[i] + c * mu);
    x[i] = (float)mu;
  }
  sr_op_normal(op, x, q, ws);
  double rr = 0, bb = 0;
  for (size_t i = 0; i < n; i++) {
    r[i] = b[i] - (float)(a * q[i] + c * x[i]);
    p[i] = r[i];
    rr += (double)r[i] * r[i];
    bb += (double)b[i] * b[i];
  }
  for (int it = 0; it < 1000 && rr > 1e-14 * bb; it++) {
    sr_op_normal(op, p, q, ws);
    double pq = 0;
    for (size_t i = 0; i < n; i++) {
      q[i] = (float)(a * q[i] + c * p[i]);
      pq += (double)p[i] * q[i];
    }
    double al = rr / pq, rn = 0;
    for (size_t i = 0; i < n; i++) {
      x[i] += (float)(al * p[i]);
      r[i] -= (float)(al * q[i]);
      rn += (double)r[i] * r[i];
    }
    for (size_t i = 0; i < n; i++) p[i] = r[i] + (float)(rn / rr) * p[i];
    rr = rn;
  }
  sr_free(b); sr_free(r); sr_free(p); sr_free(q);
}

/* Exact posterior std under N(mu, s²). Mask: 1/√(m_i/σ² + 1/s²) per pixel. Blur and Fourier: AᵀA is circulant
 * with eigenvalues λ_k = DFT(AᵀA δ₀)_k, so every diagonal entry of the covariance is (1/n) Σ_k 1/(λ_k/σ² + 1/s²). */
static void gauss_std(const sr_op *op, const char *prob, double sy, double s, float *sd, float *ws) {
  double a = 1.0 / (sy * sy), c = 1.0 / (s * s);
  if (!strcmp(prob, "inpaint")) {
    for (size_t i = 0; i < NPIX; i++) sd[i] = (float)(1.0 / sqrt(a * op->obs_mask[i] + c));
    return;
  }
  float d[NPIX] = {0}, r[NPIX];
  d[0] = 1.0f;
  sr_op_normal(op, d, r, ws);
  double acc = 0;
  for (int ky = 0; ky < H; ky++)
    for (int kx = 0; kx < W; kx++) {
      double lam = 0;
      for (int j = 0; j < H; j++)
        for (int i = 0; i < W; i++) lam += r[j * W + i] * cos(2 * M_PI * ((double)ky * j / H + (double)kx * i / W));
      acc += 1.0 / (a * lam + c);
    }
  for (size_t i = 0; i < NPIX; i++) sd[i] = (float)sqrt(acc / NPIX);
}

typedef struct {
  double psnr, ssim, cover, secs;
  int cover_n, n;
} acc_t;

typedef struct {
  int images, chains, steps, threads;
  int pc;                /* --sampler pc: the earlier pc run; else what {"type": "auto"} picks */
  double snr;
  const char *model, *models, *figures, *json;
  double tvw[16];
  int ntvw;
  double mu, s;
  sr_safetensors file;
  sr_unet *net;
} cfg;

/* one sampled reconstruction; returns 0 on success, fills mean/std and the seconds */
static int run_sampled(const cfg *c, sr_op *op, const float *y, double sy, int learned,
                       double tvw, int image, float *mean, float *sd, double *secs) {
  sr_problem pb;
  sr_error err;
  bench_problem_setup(&pb, op, y, sy, image, c->threads);
  if (learned) {
    pb.prior = bench_score_prior(&c->file, &err); /* a network per run: see problems.h */
    pb.num_samples = c->chains;
    pb.sampler.sde = bench_model_sde(c->net);
    pb.sampler.steps = c->steps;
    if (c->pc) {
      pb.sampler.kind = SR_SAMPLER_PC;
      pb.sampler.snr = c->snr;
      pb.sampler.corrector_steps = 1;
      pb.sampler.denoise = 1;
    } else { /* auto's table (server/models.c): diffpir for a blur, ddrm otherwise, with their defaults */
      pb.sampler.kind = !strcmp(op->kind, "blur") ? SR_SAMPLER_DIFFPIR : SR_SAMPLER_DDRM;
    }
  } else {
    pb.prior = sr_prior_tv(H, W, tvw, 0.01, &err);
    pb.num_samples = 4;
    pb.sampler.kind = SR_SAMPLER_MALA;
    pb.sampler.steps = 6000; /* burn-in included */
    pb.sampler.burn_in = 3000;
    pb.sampler.thinning = 1;
    pb.sampler.adapt = 1;
    pb.sampler.target_accept = 0.574;
  }
  int ok = pb.prior && sr_problem_validate(&pb, &err) == SR_OK;
  sr_result res;
  memset(&res, 0, sizeof res);
  if (ok) ok = sr_run(&pb, &res, NULL, NULL, &err) == SR_OK;
  if (ok) {
    memcpy(mean, res.mean, NPIX * sizeof(float));
    memcpy(sd, res.std, NPIX * sizeof(float));
    *secs = res.seconds;
  } else {
    fprintf(stderr, "bench_quality: image %d (%s): %s\n", image, learned ? "learned" : "tv", err.msg);
  }
  sr_result_clear(&res);
  pb.op = NULL; /* the caller owns the operator */
  sr_problem_clear(&pb);
  return ok ? 0 : -1;
}

static void add(acc_t *a, const float *x, const float *sd, const float *truth, double z, double secs) {
  a->psnr += sr_psnr(x, truth, NPIX);
  a->ssim += sr_ssim(x, truth, H, W);
  if (sd) {
    a->cover += sr_coverage(x, sd, truth, NPIX, z);
    a->cover_n++;
  }
  a->secs += secs;
  a->n++;
}

/* figure: rows of [truth | zf | tv | learned | std] panels, ×3 nearest, 2-pixel white gaps */
#define SC 3
#define PW (W * SC)
#define GAP 2
static void figure(const char *dir, const char *prob, int rows, float *const panels[][5]) {
  size_t fw = 5 * PW + 6 * GAP, fh = (size_t)rows * (H * SC) + (size_t)(rows + 1) * GAP;
  float *img = malloc(fw * fh * sizeof(float));
  for (size_t i = 0; i < fw * fh; i++) img[i] = 1.0f;
  double smax = 1e-12;
  for (int r = 0; r < rows; r++)
    for (int p = 0; p < NPIX; p++) smax = fmax(smax, panels[r][4][p]);
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < 5; k++)
      for (int y = 0; y < H * SC; y++)
        for (int x = 0; x < PW; x++) {
          float v = panels[r][k][(y / SC) * W + x / SC];
          v = k == 4 ? (float)(v / smax) : v;
          v = v < 0 ? 0 : (v > 1 ? 1 : v);
          img[((size_t)GAP + (size_t)r * (H * SC + GAP) + (size_t)y) * fw + GAP + (size_t)k * (PW + GAP) + (size_t)x] = v;
        }
  img[fw * fh - 1] = 0.0f; /* pin the grey scale to [0, 1] */
  size_t len;
  unsigned char *png = sr_png_encode_gray(img, fh, fw, &len);
  char path[512];
  snprintf(path, sizeof path, "%s/quality-%s.png", dir, prob);
  FILE *f = fopen(path, "wb");
  if (f && png) {
    fwrite(png, 1, len, f);
    printf("wrote %s (%zu bytes)\n", path, len);
  }
  if (f) fclose(f);
  free(png);
  free(img);
}

int main(int argc, char **argv) {
  cfg c = {100, 8, 100, 0, 0, 0.16, "fashion-mnist", "models", NULL, NULL, {3, 10, 30, 100, 300}, 5, 0, 0, {0}, NULL};
  char probs[64] = "fourier,blur,inpaint";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) goto usage;
    if (!strcmp(a, "--images")) c.images = atoi(v);
    else if (!strcmp(a, "--chains")) c.chains = atoi(v);
    else if (!strcmp(a, "--steps")) c.steps = atoi(v);
    else if (!strcmp(a, "--sampler")) {
      if (strcmp(v, "auto") && strcmp(v, "pc")) goto usage;
      c.pc = !strcmp(v, "pc");
    }
    else if (!strcmp(a, "--snr")) c.snr = atof(v);
    else if (!strcmp(a, "--threads")) c.threads = atoi(v);
    else if (!strcmp(a, "--model")) c.model = v;
    else if (!strcmp(a, "--models")) c.models = v;
    else if (!strcmp(a, "--figures")) c.figures = v;
    else if (!strcmp(a, "--json")) c.json = v;
    else if (!strcmp(a, "--problems")) snprintf(probs, sizeof probs, "%s", v);
    else if (!strcmp(a, "--tv-weights")) {
      c.ntvw = 0;
      for (char *s = (char *)v, *e; *s && c.ntvw < 16; s = *e ? e + 1 : e) {
        c.tvw[c.ntvw++] = strtod(s, &e);
        if (e == s) goto usage;
      }
    } else goto usage;
    i++;
  }
  if (c.images < 1 || c.chains < 2 || c.steps < 1) goto usage;
  sr_init();
  sr_error err;
  char path[512];
  snprintf(path, sizeof path, "%s/%s.safetensors", c.models, c.model);
  if (sr_safetensors_open(path, &c.file, &err) != SR_OK || !(c.net = sr_unet_create(&c.file.set, &err))) {
    fprintf(stderr, "bench_quality: %s: %s\n", path, err.msg);
    return 1;
  }
  float *test = bench_load_images("t10k-images-idx3-ubyte.gz", c.images);
  float *train = bench_load_images("train-images-idx3-ubyte.gz", 60000);
  if (!test || !train) {
    fprintf(stderr, "bench_quality: cannot read %s (Debian package dataset-fashion-mnist)\n", DATA);
    return 1;
  }
  double s1 = 0, s2 = 0;
  for (size_t i = 0; i < (size_t)60000 * NPIX; i++) {
    s1 += train[i];
    s2 += (double)train[i] * train[i];
  }
  c.mu = s1 / (60000.0 * NPIX);
  c.s = sqrt(s2 / (60000.0 * NPIX) - c.mu * c.mu);
  if (c.pc)
    printf("bench_quality: %d test images, model %s (%ld parameters), pc %d steps + 1 corrector, snr %g, %d chains; "
           "Gaussian prior N(%.4f, %.4f^2) from the training split\n",
           c.images, path, sr_unet_params(c.net), c.steps, c.snr, c.chains, c.mu, c.s);
  else
    printf("bench_quality: %d test images, model %s (%ld parameters), auto's sampler (ddrm; diffpir for blur) %d steps, "
           "%d chains; Gaussian prior N(%.4f, %.4f^2) from the training split\n",
           c.images, path, sr_unet_params(c.net), c.steps, c.chains, c.mu, c.s);
  FILE *js = c.json ? fopen(c.json, "w") : NULL;
  if (js)
    fprintf(js, "{\"images\": %d, \"chains\": %d, \"steps\": %d, \"sampler\": \"%s\", \"problems\": {", c.images,
            c.chains, c.steps, c.pc ? "pc" : "auto (ddrm; diffpir for blur)");
  float *ws = sr_alloc(1 << 16);
  int firstp = 1;
  for (size_t pi = 0; pi < sizeof problems / sizeof *problems; pi++) {
    const problem *P = &problems[pi];
    if (!strstr(probs, P->name)) continue;
    float y[2 * NPIX], mean[NPIX], sd[NPIX];
    /* TV weight: best mean PSNR on the first 8 training images */
    double ps[16] = {0};
    for (int i = 0; i < 8; i++) { /* each training image is observed once and tried with every weight */
      sr_op *op = bench_make_op(P->name, 100000 + i, &err);
      const float *x = train + (size_t)i * NPIX;
      bench_observe(op, x, P->sigma_y, 100000 + i, y, ws);
      double secs;
      for (int k = 0; k < c.ntvw; k++)
        if (run_sampled(&c, op, y, P->sigma_y, 0, c.tvw[k], 100000 + i, mean, sd, &secs) == 0)
          ps[k] += sr_psnr(mean, x, NPIX);
      sr_op_free(op);
    }
    int kb = 0; /* the first weight with the highest summed PSNR */
    for (int k = 1; k < c.ntvw; k++)
      if (ps[k] > ps[kb]) kb = k;
    double best_w = c.tvw[kb];
    printf("\n%s (sigma_y %g): TV weight %g (best of %d by PSNR on 8 training images)\n", P->name, P->sigma_y, best_w,
           c.ntvw);
    acc_t acc[NM];
    memset(acc, 0, sizeof acc);
    double zS = bench_z_predictive(c.chains), z4 = bench_z_predictive(4);
    float *fig[4][5];
    int rows = c.images < 4 ? c.images : 4;
    for (int r = 0; r < rows; r++)
      for (int k = 0; k < 5; k++) fig[r][k] = malloc(NPIX * sizeof(float));
    for (int i = 0; i < c.images; i++) {
      const float *x = test + (size_t)i * NPIX;
      sr_op *op = bench_make_op(P->name, i, &err);
      bench_observe(op, x, P->sigma_y, i, y, ws);
      float zf[NPIX], gm[NPIX], gs[NPIX];
      double t0 = bench_now();
      if (!strcmp(P->name, "blur")) memcpy(zf, y, sizeof zf);
      else op->adjoint(op, y, zf, ws);
      add(&acc[M_ZERO], zf, NULL, x, 0, bench_now() - t0);
      t0 = bench_now();
      gauss_mean(op, y, P->sigma_y, c.mu, c.s, gm, ws);
      double tg = bench_now() - t0;
      gauss_std(op, P->name, P->sigma_y, c.s, gs, ws);
      add(&acc[M_GAUSS], gm, gs, x, 1.95996, tg);
      double secs = 0;
      if (run_sampled(&c, op, y, P->sigma_y, 0, best_w, i, mean, sd, &secs) == 0)
        add(&acc[M_TV], mean, sd, x, z4, secs);
      if (i < rows) {
        memcpy(fig[i][0], x, sizeof zf);
        memcpy(fig[i][1], zf, sizeof zf);
        memcpy(fig[i][2], mean, sizeof zf);
      }
      if (run_sampled(&c, op, y, P->sigma_y, 1, 0, i, mean, sd, &secs) == 0)
        add(&acc[M_LEARNED], mean, sd, x, zS, secs);
      if (i < rows) {
        memcpy(fig[i][3], mean, sizeof zf);
        memcpy(fig[i][4], sd, sizeof zf);
      }
      sr_op_free(op);
      fprintf(stderr, "\r%s: %d/%d images", P->name, i + 1, c.images);
    }
    fprintf(stderr, "\n");
    printf("| method | PSNR dB | SSIM | 95%% coverage | seconds / image |\n|---|---|---|---|---|\n");
    for (int m = 0; m < NM; m++) {
      double n = acc[m].n > 0 ? acc[m].n : 1;
      char cov[32] = "—";
      if (acc[m].cover_n) snprintf(cov, sizeof cov, "%.1f%%", 100.0 * acc[m].cover / acc[m].cover_n);
      printf("| %s | %.2f | %.3f | %s | %.3g |%s\n", method_name[m], acc[m].psnr / n, acc[m].ssim / n, cov,
             acc[m].secs / n, acc[m].n == c.images ? "" : " (some images failed)");
    }
    if (js) {
      fprintf(js, "%s\"%s\": {\"sigma_y\": %g, \"tv_weight\": %g", firstp ? "" : ", ", P->name, P->sigma_y, best_w);
      static const char *key[NM] = {"zero_filled", "gaussian", "tv", "learned"};
      for (int m = 0; m < NM; m++)
        fprintf(js, ", \"%s\": {\"psnr\": %.4f, \"ssim\": %.4f, \"coverage95\": %.4f, \"seconds\": %.5f}", key[m],
                acc[m].psnr / (acc[m].n ? acc[m].n : 1), acc[m].ssim / (acc[m].n ? acc[m].n : 1),
                acc[m].cover_n ? acc[m].cover / acc[m].cover_n : -1.0, acc[m].secs / (acc[m].n ? acc[m].n : 1));
      fprintf(js, "}");
      firstp = 0;
    }
    if (c.figures) figure(c.figures, P->name, rows, (float *const(*)[5])fig);
    for (int r = 0; r < rows; r++)
      for (int k = 0; k < 5; k++) free(fig[r][k]);
    fflush(stdout);
  }
  if (js) {
    fprintf(js, "}}\n");
    fclose(js);
  }
  sr_free(ws);
  free(test);
  free(train);
  sr_unet_free(c.net);
  sr_safetensors_close(&c.file);
  return 0;
usage:
  fprintf(stderr,
          "usage: %s [--images N] [--chains S>=2] [--steps K] [--sampler auto|pc] [--snr R] [--threads T] [--model NAME] [--models DIR]\n"
          "          [--problems fourier,blur,inpaint] [--figures DIR] [--json FILE] [--tv-weights W1,W2,...]\n",
          argv[0]);
  return 2;
}
