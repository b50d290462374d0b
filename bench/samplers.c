/* samplers.c — quality against cost for the learned prior: the three inverse problems of bench/quality.c (the same
 * images, masks, kernels, noise streams and seeds, from bench/problems.c), each solved by five samplers of the
 * score_model prior at a range of budgets, counted in network evaluations per returned sample.
 *
 *   build/bench_samplers [--images N] [--chains S] [--budgets E1,E2,...] [--problems fourier,blur,inpaint]
 *                        [--methods pc,annealed,ddrm,diffpir,smc] [--smc-particles P] [--threads T]
 *                        [--model NAME] [--models DIR] [--json FILE] [--svg-dir DIR]
 *
 * Defaults: 100 images, S = 8 samples, budgets 20,50,100,200,500, every problem and method, T = 0 (all cores),
 * --json bench/samplers-results.json, --svg-dir docs/img. `make bench-samplers` runs exactly that: 100 images ×
 * 3 problems × 5 methods × 8 samples × (20 + 50 + 100 + 200 + 500) = 10.4 M network evaluations, about 2 ms each
 * with 8 chains on 2 cores, so some 6 hours there. A quick look (about 40 s on 2 cores):
 *   build/bench_samplers --images 2 --budgets 20,50 --chains 4 --json /tmp/s.json --svg-dir /tmp
 *
 * Problems (bench/problems.h):
 *   fourier  Cartesian k-space rows, 4× with 8% centre rows (mask seed = image index), σ_y = 0.01
 *   blur     Gaussian kernel σ 1.5, 9×9, circular, σ_y = 0.02
 *   inpaint  60% of the pixels missing at random (mask seed = image index), σ_y = 0.01
 * Samplers, for a budget of E network evaluations per returned sample, S samples per image, all on the model's VE
 * SDE over its trained noise range (sr_unet_info: σ 0.01 .. 25 for fashion-mnist), run seed 1000 + image:
 *   pc        predictor–corrector, E/2 steps with 1 Langevin corrector step each (2 evaluations per step),
 *             snr 0.16, final step without noise (denoise)
 *   annealed  annealed Langevin, E levels from σ_max down to σ_min, 1 step per level, song step rule with
 *             ε = min(0.01/E, 1e-4) (the default ε is tuned for ~1000 evaluations; this keeps the total Langevin time)
 *   ddrm      DDIM grid of E steps with the exact spectral data step (η 0.85, η_b 1: the library's defaults)
 *   diffpir   DDIM grid of E steps with the half-quadratic-splitting data step (λ 1, ζ 0.3: the defaults)
 *   smc       sequential Monte Carlo with P = 2·S particles (--smc-particles), max(2, round(E·S/P)) steps: one
 *             evaluation per particle and step, so E per returned sample; the mean and std are the weighted
 *             particle moments
 * Each (problem, method, E) row gives the mean over images of: PSNR dB and SSIM of the posterior mean; the 95%
 * coverage, the fraction of pixels whose truth lies in the predictive interval mean ± t₀.₉₇₅(S−1)·√(1 + 1/S)·std
 * (as bench/quality.c: a calibrated sampler scores 95% for any S); seconds per image (sr_result.seconds); and the
 * network evaluations per image counted by the library (sr_result.score_evals, all chains or particles), divided
 * by S in the "evals / sample" column to check the budget. A row whose runs fail prints the library's message.
 * smc rows in the JSON also give the distinct samples among the S returned (1: every particle descends from one
 * ancestor, and the std is 0) and the resampling count (means over images).
 *
 * Outputs: the table on stdout, one row as each finishes (progress on stderr); --json FILE with every row, the
 * machine (/proc/cpuinfo model name), the date and the settings (rewritten after every row, "complete": true at
 * the end); DIR/samplers-psnr.svg and DIR/samplers-coverage.svg, one panel per problem, x = evaluations per
 * sample (log scale), one line per method (coverage with the 93–97% band), also rewritten after every row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "problems.h"

enum { S_PC, S_ANNEALED, S_DDRM, S_DIFFPIR, S_SMC, NMETHODS };
static const char *const method_name[NMETHODS] = {"pc", "annealed", "ddrm", "diffpir", "smc"};
/* Okabe–Ito colours, distinguishable with the common colour-vision deficiencies */
static const char *const method_color[NMETHODS] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00"};
/* SVG panel titles (σ_y with a subscript) */
#define SIGMA_Y(v) "σ<tspan dy=\"3\" font-size=\"9\">y</tspan><tspan dy=\"-3\" dx=\"4\">" v "</tspan>"
static const char *const problem_title[NPROBLEMS] = {"Fourier 4× Cartesian, " SIGMA_Y("0.01"),
                                                     "blur σ 1.5 (9×9), " SIGMA_Y("0.02"),
                                                     "inpaint 60% missing, " SIGMA_Y("0.01")};

#define MAXB 32

typedef struct {
  int problem, method, budget;
  long steps, particles;       /* pc steps, annealed levels, grid steps; smc particles (else 0) */
  double psnr, ssim, cover, secs, evals; /* sums over the images that ran; evals = score_evals per image */
  double distinct, resamples;  /* smc: sums of the distinct returned samples and of the resampling count */
  int ok, failed;
  char error[320];             /* the first failure's message */
} row;

typedef struct {
  int images, chains, threads, smc_particles;
  int budgets[MAXB], nb;
  int use_problem[NPROBLEMS], use_method[NMETHODS];
  const char *model, *models, *json, *svg_dir;
  char path[512], machine[256], date[64];
  sr_safetensors file;
  sr_unet *net;
  double smin, smax, z;
  row *rows;
  int nrows;
} cfg;

/* ---------------------------------------------------------------- one run */

static long smc_particles(const cfg *c) { return c->smc_particles > 0 ? c->smc_particles : 2L * c->chains; }

/* The sampler of `method` at budget E (evaluations per returned sample); *steps and *particles for the record. */
static void configure(const cfg *c, sr_problem *pb, int method, int E, long *steps, long *particles) {
  sr_sampler_cfg *s = &pb->sampler;
  const long S = c->chains;
  pb->num_samples = S;
  *particles = 0;
  switch (method) {
  case S_PC:
    s->kind = SR_SAMPLER_PC;
    s->sde = bench_model_sde(c->net);
    s->steps = E / 2 > 0 ? E / 2 : 1;
    s->corrector_steps = 1;
    s->snr = 0.16;
    s->denoise = 1;
    *steps = s->steps;
    break;
  case S_ANNEALED:
    s->kind = SR_SAMPLER_ANNEALED;
    s->sigma_max = c->smax;
    s->sigma_min = c->smin;
    s->levels = E;
    s->steps_per_level = 1;
    /* the default ε (σ_min²·0.2) is tuned for ~1000 evaluations; with fewer levels the same total Langevin time
     * needs a larger ε: ε = 0.01/E, capped at 1e-4 (at σ_min the step times the likelihood's stiffness
     * 1/(σ_y² + σ_min²) = 5000 must stay well under 2) */
    s->epsilon = fmin(0.01 / (double)E, 1e-4);
    *steps = s->levels;
    break;
  case S_DDRM:
  case S_DIFFPIR:
    s->kind = method == S_DDRM ? SR_SAMPLER_DDRM : SR_SAMPLER_DIFFPIR;
    s->sde = bench_model_sde(c->net);
    s->steps = E;
    *steps = s->steps;
    break;
  default: {
    const long P = smc_particles(c), K = ((long)E * S + P / 2) / P;
    s->kind = SR_SAMPLER_SMC;
    s->sde = bench_model_sde(c->net);
    s->particles = P;
    s->steps = K > 2 ? K : 2;
    *steps = s->steps;
    *particles = P;
  }
  }
}

/* One image: 0 and the row's sums updated; else the message in r->error (first failure only) and −2 when the
 * settings were refused (sr_problem_validate: the same for every image), −1 when the run failed. */
static int run_one(const cfg *c, row *r, sr_op *op, const float *y, double sy, int image, const float *truth) {
  sr_problem pb;
  sr_error err;
  memset(&err, 0, sizeof err);
  int ok = bench_problem_setup(&pb, op, y, sy, image, c->threads) == 0, refused = 0;
  if (!ok) snprintf(err.msg, sizeof err.msg, "out of memory");
  if (ok) {
    pb.prior = bench_score_prior(&c->file, &err);
    configure(c, &pb, r->method, r->budget, &r->steps, &r->particles);
    pb.want_samples = r->method == S_SMC;
    ok = pb.prior && sr_problem_validate(&pb, &err) == SR_OK;
    refused = pb.prior && !ok;
  }
  sr_result res;
  memset(&res, 0, sizeof res);
  if (ok) ok = sr_run(&pb, &res, NULL, NULL, &err) == SR_OK;
  if (ok) {
    r->psnr += sr_psnr(res.mean, truth, NPIX);
    r->ssim += sr_ssim(res.mean, truth, H, W);
    r->cover += sr_coverage(res.mean, res.std, truth, NPIX, c->z);
    r->secs += res.seconds;
    r->evals += (double)res.score_evals;
    if (res.samples) { /* smc: returned samples that differ from every earlier one (collapse to one ancestor: 1) */
      for (long a = 0; a < pb.num_samples; a++) {
        long b = 0;
        while (b < a && memcmp(res.samples + a * NPIX, res.samples + b * NPIX, NPIX * sizeof(float))) b++;
        r->distinct += b == a;
      }
    }
    r->resamples += (double)res.resamples;
    r->ok++;
  } else {
    if (!r->failed) snprintf(r->error, sizeof r->error, "%s", err.msg[0] ? err.msg : "failed (no message)");
    r->failed++;
    fprintf(stderr, "\nbench_samplers: %s %s E=%d image %d: %s\n", problems[r->problem].name,
            method_name[r->method], r->budget, image, err.msg);
  }
  sr_result_clear(&res);
  pb.op = NULL; /* the caller owns the operator */
  sr_problem_clear(&pb);
  return ok ? 0 : refused ? -2 : -1;
}

/* ---------------------------------------------------------------- JSON */

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

static void json_num(FILE *f, double v, int ok) {
  if (ok && isfinite(v)) fprintf(f, "%.6g", v);
  else fputs("null", f);
}

static void write_json(const cfg *c, int complete) {
  if (!c->json) return;
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", c->json);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "bench_samplers: cannot write %s\n", tmp);
    return;
  }
  fprintf(f, "{\"bench\": \"samplers\", \"complete\": %s, \"machine\": ", complete ? "true" : "false");
  json_string(f, c->machine);
  fprintf(f, ", \"date\": ");
  json_string(f, c->date);
  fprintf(f, ",\n \"settings\": {\"images\": %d, \"chains\": %d, \"threads\": %d, \"budgets\": [", c->images,
          c->chains, c->threads > 0 ? c->threads : sr_cpu_count());
  for (int b = 0; b < c->nb; b++) fprintf(f, "%s%d", b ? ", " : "", c->budgets[b]);
  fprintf(f, "], \"problems\": [");
  for (int p = 0, k = 0; p < NPROBLEMS; p++)
    if (c->use_problem[p]) fprintf(f, "%s{\"name\": \"%s\", \"sigma_y\": %g}", k++ ? ", " : "", problems[p].name,
                                   problems[p].sigma_y);
  fprintf(f, "], \"methods\": [");
  for (int m = 0, k = 0; m < NMETHODS; m++)
    if (c->use_method[m]) fprintf(f, "%s\"%s\"", k++ ? ", " : "", method_name[m]);
  fprintf(f, "], \"model\": ");
  json_string(f, c->path);
  fprintf(f, ", \"parameters\": %ld, \"sde\": \"ve\", \"sigma_min\": %g, \"sigma_max\": %g, "
             "\"pc\": {\"steps\": \"E/2\", \"corrector_steps\": 1, \"snr\": 0.16, \"denoise\": true}, "
             "\"annealed\": {\"levels\": \"E\", \"steps_per_level\": 1}, \"ddrm\": {\"steps\": \"E\", \"eta\": 0.85, "
             "\"eta_b\": 1}, \"diffpir\": {\"steps\": \"E\", \"lambda\": 1, \"zeta\": 0.3}, "
             "\"smc\": {\"particles\": %ld, \"steps\": \"max(2, round(E*S/particles))\"}, "
             "\"coverage\": \"mean +- t_0.975(S-1) sqrt(1+1/S) std\", \"coverage_z\": %.6f, \"seed\": \"1000 + image\"},\n"
             " \"rows\": [",
          sr_unet_params(c->net), c->smin, c->smax, smc_particles(c), c->z);
  for (int i = 0; i < c->nrows; i++) {
    const row *r = &c->rows[i];
    double n = r->ok > 0 ? r->ok : 1;
    fprintf(f, "%s\n  {\"problem\": \"%s\", \"method\": \"%s\", \"budget\": %d, \"steps\": %ld, \"particles\": ",
            i ? "," : "", problems[r->problem].name, method_name[r->method], r->budget, r->steps);
    if (r->particles) fprintf(f, "%ld", r->particles);
    else fputs("null", f);
    fprintf(f, ", \"evals_per_image\": ");
    json_num(f, r->evals / n, r->ok);
    fprintf(f, ", \"evals_per_sample\": ");
    json_num(f, r->evals / n / c->chains, r->ok);
    fprintf(f, ", \"psnr\": ");
    json_num(f, r->psnr / n, r->ok);
    fprintf(f, ", \"ssim\": ");
    json_num(f, r->ssim / n, r->ok);
    fprintf(f, ", \"coverage95\": ");
    json_num(f, r->cover / n, r->ok);
    fprintf(f, ", \"seconds\": ");
    json_num(f, r->secs / n, r->ok);
    if (r->method == S_SMC) {
      fprintf(f, ", \"smc_distinct_samples\": ");
      json_num(f, r->distinct / n, r->ok);
      fprintf(f, ", \"smc_resamples\": ");
      json_num(f, r->resamples / n, r->ok);
    }
    fprintf(f, ", \"images\": %d, \"failed\": %d", r->ok, r->failed);
    if (r->failed) {
      fprintf(f, ", \"error\": ");
      json_string(f, r->error);
    }
    fputc('}', f);
  }
  fprintf(f, "\n ]}\n");
  int bad = ferror(f);
  if (fclose(f) || bad || rename(tmp, c->json)) fprintf(stderr, "bench_samplers: cannot write %s\n", c->json);
}

/* ---------------------------------------------------------------- SVG line charts */

static double nice_step(double span, int target) {
  double raw = span / target, p = pow(10, floor(log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void svg_text(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '&') fputs("&amp;", f);
    else if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else fputc(*s, f);
  }
}

#define PANEL_W 340
#define PANEL_H 290
#define HEAD 44
#define LEGEND 34
#define ML 58 /* plot margins inside a panel */
#define MR 14
#define MT 30
#define MB 48

/* metric 0: PSNR dB; 1: coverage in % (with the 93–97% band) */
static double metric_of(const cfg *c, const row *r, int metric) {
  return metric == 0 ? r->psnr / r->ok : 100.0 * r->cover / r->ok;
}

static void write_svg(const cfg *c, int metric) {
  if (!c->svg_dir) return;
  char path[600], tmp[640];
  snprintf(path, sizeof path, "%s/samplers-%s.svg", c->svg_dir, metric == 0 ? "psnr" : "coverage");
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "bench_samplers: cannot write %s\n", tmp);
    return;
  }
  int np = 0;
  for (int p = 0; p < NPROBLEMS; p++) np += c->use_problem[p];
  const int width = np * PANEL_W + 10, height = HEAD + PANEL_H + LEGEND;
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
          width, height, width, height);
  fprintf(f, "<title>%s against network evaluations per sample</title>\n",
          metric == 0 ? "PSNR of the posterior mean" : "95% predictive-interval coverage");
  fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", width, height);
  fprintf(f, "<text x=\"10\" y=\"18\" font-size=\"14\" font-weight=\"bold\">%s against network evaluations "
             "per sample</text>\n",
          metric == 0 ? "PSNR of the posterior mean" : "Coverage of the 95% predictive interval");
  fprintf(f, "<text x=\"10\" y=\"36\" fill=\"#555\">first %d Fashion-MNIST test images, %d samples each; ",
          c->images, c->chains);
  svg_text(f, c->machine);
  fprintf(f, ", %.10s</text>\n", c->date);
  /* x range: log10 of the budgets and of the measured evaluations, padded */
  double lx0 = INFINITY, lx1 = -INFINITY;
  for (int b = 0; b < c->nb; b++) {
    lx0 = fmin(lx0, log10(c->budgets[b]));
    lx1 = fmax(lx1, log10(c->budgets[b]));
  }
  for (int i = 0; i < c->nrows; i++)
    if (c->rows[i].ok) {
      double e = log10(c->rows[i].evals / c->rows[i].ok / c->chains);
      if (isfinite(e)) {
        lx0 = fmin(lx0, e);
        lx1 = fmax(lx1, e);
      }
    }
  double pad = lx1 > lx0 ? 0.06 * (lx1 - lx0) : 0.15;
  lx0 -= pad;
  lx1 += pad;
  int clipped_any = 0, k = 0;
  for (int p = 0; p < NPROBLEMS; p++) {
    if (!c->use_problem[p]) continue;
    const double px = 5 + k * PANEL_W, x0 = px + ML, x1 = px + PANEL_W - MR, y0 = HEAD + MT, y1 = HEAD + PANEL_H - MB;
    k++;
    /* y range: the data (PSNR floored at 5 dB: points below sit on the axis as ▼), coverage with the band */
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < c->nrows; i++) {
      const row *r = &c->rows[i];
      if (r->problem != p || !r->ok) continue;
      double v = metric_of(c, r, metric);
      if (!isfinite(v)) continue;
      lo = fmin(lo, v);
      hi = fmax(hi, v);
    }
    if (metric == 1) {
      lo = fmin(isfinite(lo) ? lo : 93.0, 93.0);
      hi = fmax(isfinite(hi) ? hi : 97.0, 97.0);
      lo = fmax(lo, 0.0);
      hi = fmin(hi, 100.0);
    } else {
      if (!isfinite(lo)) lo = 10, hi = 30;
      lo = fmax(lo, 5.0);
      if (hi < lo) hi = lo;
    }
    if (hi - lo < 1e-9) lo -= 1, hi += 1;
    double step = nice_step(hi - lo, 5);
    double ymin = floor(lo / step) * step, ymax = ceil(hi / step) * step;
    if (metric == 1 && ymax > 100) ymax = 100;
#define XS(l) (x0 + ((l) - lx0) / (lx1 - lx0) * (x1 - x0))
#define YS(v) (y1 - ((v) - ymin) / (ymax - ymin) * (y1 - y0))
    fprintf(f, "<g>\n<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s (%s)</text>\n",
            (x0 + x1) / 2, HEAD + MT - 10, problem_title[p], problems[p].name);
    fprintf(f, "<clipPath id=\"clip%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath>\n", p,
            x0, y0, x1 - x0, y1 - y0);
    if (metric == 1)
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#bfe3bf\" opacity=\"0.6\"/>\n", x0,
              YS(fmin(97.0, ymax)), x1 - x0, YS(fmax(93.0, ymin)) - YS(fmin(97.0, ymax)));
    for (long j = 0, nt = lround((ymax - ymin) / step); j <= nt; j++) {
      double v = ymin + (double)j * step, y = YS(v);
      fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", x0, y, x1, y);
      fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", x0 - 5, y + 4,
              fabs(v) < 1e-9 * step ? 0.0 : v);
    }
    for (int b = 0; b < c->nb; b++) {
      double x = XS(log10(c->budgets[b]));
      fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", x, y0, x, y1);
      fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", x, y1, x, y1 + 4);
      fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", x, y1 + 16, c->budgets[b]);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", x0, y0,
            x1 - x0, y1 - y0);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">network evaluations per sample (log scale)</text>\n",
            (x0 + x1) / 2, y1 + 34);
    fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n", px + 16,
            (y0 + y1) / 2, metric == 0 ? "PSNR of the posterior mean (dB)" : "pixels in the 95% interval (%)");
    for (int m = 0; m < NMETHODS; m++) {
      if (!c->use_method[m]) continue;
      double xs[MAXB], ys[MAXB];
      int n = 0;
      for (int b = 0; b < c->nb; b++)
        for (int i = 0; i < c->nrows; i++) {
          const row *r = &c->rows[i];
          if (r->problem != p || r->method != m || r->budget != c->budgets[b] || !r->ok) continue;
          double v = metric_of(c, r, metric);
          if (!isfinite(v)) continue;
          xs[n] = XS(log10(r->evals / r->ok / c->chains));
          ys[n++] = v;
        }
      if (!n) continue;
      fprintf(f, "<polyline clip-path=\"url(#clip%d)\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", p,
              method_color[m]);
      for (int j = 0; j < n; j++) fprintf(f, "%s%.1f,%.1f", j ? " " : "", xs[j], YS(ys[j]));
      fprintf(f, "\"/>\n");
      for (int j = 0; j < n; j++) {
        if (ys[j] < ymin) { /* below the axis: a ▼ on it */
          clipped_any = 1;
          fprintf(f, "<path d=\"M%.1f,%.1f l-5,-8 h10 z\" fill=\"%s\"/>", xs[j], y1, method_color[m]);
        } else {
          fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\" fill=\"%s\"/>", xs[j], YS(ys[j]), method_color[m]);
        }
      }
      fputc('\n', f);
    }
    fprintf(f, "</g>\n");
#undef XS
#undef YS
  }
  /* legend */
  double lx = 10, ly = HEAD + PANEL_H + LEGEND / 2.0;
  for (int m = 0; m < NMETHODS; m++) {
    if (!c->use_method[m]) continue;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>", lx, ly,
            lx + 24, ly, method_color[m]);
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\" fill=\"%s\"/>", lx + 12, ly, method_color[m]);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", lx + 30, ly + 4, method_name[m]);
    lx += 100;
  }
  if (metric == 1) {
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"24\" height=\"12\" fill=\"#bfe3bf\" opacity=\"0.6\"/>", lx,
            ly - 6);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">93–97%%</text>\n", lx + 30, ly + 4);
    lx += 100;
  }
  if (clipped_any)
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">▼ below the axis (under 5 dB)</text>\n", lx, ly + 4);
  fprintf(f, "</svg>\n");
  int bad = ferror(f);
  if (fclose(f) || bad || rename(tmp, path)) fprintf(stderr, "bench_samplers: cannot write %s\n", path);
}

/* ---------------------------------------------------------------- main */

static void machine_name(char *out, size_t cap) {
  snprintf(out, cap, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10)) continue;
    char *v = strchr(line, ':');
    if (!v) continue;
    for (v++; *v == ' ' || *v == '\t'; v++) {}
    v[strcspn(v, "\n")] = 0;
    snprintf(out, cap, "%s", v);
    break;
  }
  fclose(f);
}

/* "a,b,c" against names[n]: sets use[i] for each; −1 on an unknown name */
static int parse_names(const char *list, const char *const *names, int n, int *use) {
  memset(use, 0, (size_t)n * sizeof *use);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  int any = 0;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int i = 0;
    while (i < n && strcmp(t, names[i])) i++;
    if (i == n) {
      fprintf(stderr, "bench_samplers: unknown name '%s'\n", t);
      return -1;
    }
    use[i] = any = 1;
  }
  return any ? 0 : -1;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static int parse_budgets(const char *list, cfg *c) {
  c->nb = 0;
  for (const char *s = list; *s;) {
    char *e;
    long v = strtol(s, &e, 10);
    if (e == s || v < 2 || v > 1000000 || c->nb == MAXB || (*e && *e != ',')) return -1;
    int dup = 0;
    for (int b = 0; b < c->nb; b++) dup |= c->budgets[b] == v;
    if (!dup) c->budgets[c->nb++] = (int)v;
    s = *e ? e + 1 : e;
  }
  qsort(c->budgets, (size_t)c->nb, sizeof(int), cmp_int);
  return c->nb ? 0 : -1;
}

int main(int argc, char **argv) {
  cfg c;
  memset(&c, 0, sizeof c);
  c.images = 100;
  c.chains = 8;
  c.model = "fashion-mnist";
  c.models = "models";
  c.json = "bench/samplers-results.json";
  c.svg_dir = "docs/img";
  const char *problem_names[NPROBLEMS];
  for (int p = 0; p < NPROBLEMS; p++) problem_names[p] = problems[p].name;
  parse_budgets("20,50,100,200,500", &c);
  parse_names("fourier,blur,inpaint", problem_names, NPROBLEMS, c.use_problem);
  parse_names("pc,annealed,ddrm,diffpir,smc", method_name, NMETHODS, c.use_method);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) goto usage;
    if (!strcmp(a, "--images")) c.images = atoi(v);
    else if (!strcmp(a, "--chains")) c.chains = atoi(v);
    else if (!strcmp(a, "--threads")) c.threads = atoi(v);
    else if (!strcmp(a, "--smc-particles")) c.smc_particles = atoi(v);
    else if (!strcmp(a, "--model")) c.model = v;
    else if (!strcmp(a, "--models")) c.models = v;
    else if (!strcmp(a, "--json")) c.json = *v ? v : NULL;
    else if (!strcmp(a, "--svg-dir")) c.svg_dir = *v ? v : NULL;
    else if (!strcmp(a, "--budgets")) {
      if (parse_budgets(v, &c)) goto usage;
    } else if (!strcmp(a, "--problems")) {
      if (parse_names(v, problem_names, NPROBLEMS, c.use_problem)) goto usage;
    } else if (!strcmp(a, "--methods")) {
      if (parse_names(v, method_name, NMETHODS, c.use_method)) goto usage;
    } else goto usage;
    i++;
  }
  if (c.images < 1 || c.chains < 2 || c.threads < 0 || (c.smc_particles != 0 && c.smc_particles < 2)) goto usage;
  sr_init();
  sr_error err;
  snprintf(c.path, sizeof c.path, "%s/%s.safetensors", c.models, c.model);
  if (sr_safetensors_open(c.path, &c.file, &err) != SR_OK || !(c.net = sr_unet_create(&c.file.set, &err))) {
    fprintf(stderr, "bench_samplers: %s: %s\n", c.path, err.msg);
    return 1;
  }
  size_t h, w;
  sr_unet_info(c.net, &h, &w, &c.smin, &c.smax);
  if (h != H || w != W) {
    fprintf(stderr, "bench_samplers: %s is a %zux%zu model; the problems are %dx%d\n", c.path, h, w, H, W);
    return 1;
  }
  float *test = bench_load_images("t10k-images-idx3-ubyte.gz", c.images);
  if (!test) {
    fprintf(stderr, "bench_samplers: cannot read %s (Debian package dataset-fashion-mnist)\n", DATA);
    return 1;
  }
  c.z = bench_z_predictive(c.chains);
  machine_name(c.machine, sizeof c.machine);
  time_t now = time(NULL);
  strftime(c.date, sizeof c.date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  c.rows = calloc((size_t)NPROBLEMS * NMETHODS * MAXB, sizeof(row));
  float *ws = sr_alloc(1 << 16);
  sr_op **ops = calloc((size_t)c.images, sizeof *ops);
  float *ys = sr_alloc((size_t)c.images * 2 * NPIX);
  if (!c.rows || !ws || !ops || !ys) {
    fprintf(stderr, "bench_samplers: out of memory\n");
    return 1;
  }
  printf("bench_samplers: %d test images, model %s (%ld parameters, VE sigma %g .. %g), %d samples per image, "
         "smc %ld particles, %d threads, %s\n",
         c.images, c.path, sr_unet_params(c.net), c.smin, c.smax, c.chains, smc_particles(&c),
         c.threads > 0 ? c.threads : sr_cpu_count(), c.machine);
  printf("E = network evaluations per returned sample; evals / sample = sr_result.score_evals / %d, mean over "
         "images\n\n",
         c.chains);
  printf("| problem | method | E | steps | evals / sample | PSNR dB | SSIM | 95%% coverage | seconds / image |\n"
         "|---|---|---|---|---|---|---|---|---|\n");
  fflush(stdout);
  for (int p = 0; p < NPROBLEMS; p++) {
    if (!c.use_problem[p]) continue;
    const problem *P = &problems[p];
    for (int i = 0; i < c.images; i++) {
      if (!(ops[i] = bench_make_op(P->name, i, &err))) {
        fprintf(stderr, "bench_samplers: %s image %d: %s\n", P->name, i, err.msg);
        return 1;
      }
      bench_observe(ops[i], test + (size_t)i * NPIX, P->sigma_y, i, ys + (size_t)i * 2 * NPIX, ws);
    }
    for (int m = 0; m < NMETHODS; m++) {
      if (!c.use_method[m]) continue;
      for (int b = 0; b < c.nb; b++) {
        row *r = &c.rows[c.nrows++];
        r->problem = p;
        r->method = m;
        r->budget = c.budgets[b];
        for (int i = 0; i < c.images; i++) {
          fprintf(stderr, "\r%s %s E=%d: image %d/%d ", P->name, method_name[m], r->budget, i + 1, c.images);
          if (run_one(&c, r, ops[i], ys + (size_t)i * 2 * NPIX, P->sigma_y, i, test + (size_t)i * NPIX) == -2)
            break; /* refused settings: the same for every image */
        }
        fprintf(stderr, "\r%60s\r", "");
        char steps[64];
        if (r->particles) snprintf(steps, sizeof steps, "%ld × %ld particles", r->steps, r->particles);
        else snprintf(steps, sizeof steps, "%ld%s", r->steps, m == S_PC ? " + 1 corr." : m == S_ANNEALED ? " levels" : "");
        if (r->ok) {
          double n = r->ok;
          printf("| %s | %s | %d | %s | %.1f | %.2f | %.3f | %.1f%% | %.3g |", P->name, method_name[m], r->budget,
                 steps, r->evals / n / c.chains, r->psnr / n, r->ssim / n, 100.0 * r->cover / n, r->secs / n);
          if (r->failed) printf(" %d of %d images failed: %s", r->failed, r->failed + r->ok, r->error);
          printf("\n");
        } else {
          printf("| %s | %s | %d | %s | — | — | — | — | — | failed: %s\n", P->name, method_name[m], r->budget, steps,
                 r->error);
        }
        fflush(stdout);
        write_json(&c, 0);
        write_svg(&c, 0);
        write_svg(&c, 1);
      }
    }
    for (int i = 0; i < c.images; i++) sr_op_free(ops[i]);
  }
  write_json(&c, 1);
  if (c.json) printf("\nwrote %s\n", c.json);
  if (c.svg_dir) printf("wrote %s/samplers-psnr.svg and %s/samplers-coverage.svg\n", c.svg_dir, c.svg_dir);
  sr_free(ys);
  free(ops);
  sr_free(ws);
  free(c.rows);
  free(test);
  sr_unet_free(c.net);
  sr_safetensors_close(&c.file);
  return 0;
usage:
  fprintf(stderr,
          "usage: %s [--images N] [--chains S>=2] [--budgets E1,E2,... (each >= 2)] [--problems fourier,blur,inpaint]\n"
          "          [--methods pc,annealed,ddrm,diffpir,smc] [--smc-particles P>=2] [--threads T] [--model NAME]\n"
          "          [--models DIR] [--json FILE] [--svg-dir DIR]   (an empty --json or --svg-dir writes none)\n",
          argv[0]);
  return 2;
}
