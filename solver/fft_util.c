/* fft_util.c — the real 2-D FFT pair shared by op_blur.c and op_fourier.c (and the c2c pair of op_complex.c's
 * SENSE): plan once (ESTIMATE at construction, or a tuned planner's plans: fft_plan.c), execute many. */
#include "fft_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scorerecon.h"

/* A pair of plans for an h x w image, made by an sr__fft_maker: the real pair (a = r2c, b = c2r) or the complex
 * one (a = forward, b = backward), planned with `flags` on 64-byte aligned scratch arrays (MEASURE writes into
 * them). */
typedef struct {
  size_t h, w;
  fftwf_plan a, b;
} plan_pair;

static void pair_drop(void *arg) {
  plan_pair *p = arg;
  if (p->a) fftwf_destroy_plan(p->a);
  if (p->b) fftwf_destroy_plan(p->b);
  p->a = p->b = NULL;
}

static int r2c_make(void *arg, unsigned flags) {
  plan_pair *p = arg;
  size_t h = p->h, w = p->w, wh = w / 2 + 1;
  p->a = p->b = NULL;
  float *x = sr_alloc(h * w);
  float *c = sr_alloc(2 * h * wh);
  if (x && c) {
    p->a = fftwf_plan_dft_r2c_2d((int)h, (int)w, x, (fftwf_complex *)c, flags);
    p->b = fftwf_plan_dft_c2r_2d((int)h, (int)w, (fftwf_complex *)c, x, flags);
  }
  sr_free(x);
  sr_free(c);
  if (p->a && p->b) return 0;
  pair_drop(p);
  return -1;
}

int sr_fft2_plan(sr_fft2 *f, size_t h, size_t w) {
  memset(f, 0, sizeof *f);
  f->h = h;
  f->w = w;
  f->wh = w / 2 + 1;
  plan_pair p = {h, w, NULL, NULL};
  if (r2c_make(&p, FFTW_ESTIMATE)) return -1;
  f->r2c = p.a;
  f->c2r = p.b;
  return 0;
}

sr_status sr__fft2_replan(sr_fft2 *f, sr_fft_planner *pl, int *measured, sr_error *err) {
  char what[64];
  snprintf(what, sizeof what, "the real %zux%zu transforms", f->h, f->w);
  plan_pair p = {f->h, f->w, NULL, NULL};
  sr__fft_maker m = {r2c_make, pair_drop, &p, what};
  sr_status st = sr__fft_planner_make(pl, &m, measured, err);
  if (st) return st;
  sr_fft2_destroy(f);
  f->r2c = p.a;
  f->c2r = p.b;
  return SR_OK;
}

/* The c2c pair, in place (as op_complex.c executes it). */
static int c2c_make(void *arg, unsigned flags) {
  plan_pair *p = arg;
  p->a = p->b = NULL;
  float *tmp = sr_alloc(2 * p->h * p->w);
  if (tmp) {
    p->a = fftwf_plan_dft_2d((int)p->h, (int)p->w, (fftwf_complex *)tmp, (fftwf_complex *)tmp, FFTW_FORWARD, flags);
    p->b = fftwf_plan_dft_2d((int)p->h, (int)p->w, (fftwf_complex *)tmp, (fftwf_complex *)tmp, FFTW_BACKWARD, flags);
  }
  sr_free(tmp);
  if (p->a && p->b) return 0;
  pair_drop(p);
  return -1;
}

sr_status sr__fftc_plan(size_t h, size_t w, sr_fft_planner *pl, fftwf_plan *fwd, fftwf_plan *bwd, int *measured,
                        sr_error *err) {
  char what[64];
  snprintf(what, sizeof what, "the complex %zux%zu transforms", h, w);
  plan_pair p = {h, w, NULL, NULL};
  sr__fft_maker m = {c2c_make, pair_drop, &p, what};
  sr_status st = sr__fft_planner_make(pl, &m, measured, err);
  if (st) return st;
  *fwd = p.a;
  *bwd = p.b;
  return SR_OK;
}

void sr_fft2_destroy(sr_fft2 *f) {
  plan_pair p = {f->h, f->w, f->r2c, f->c2r};
  pair_drop(&p);
  f->r2c = f->c2r = NULL;
}

/* Plans were made on 64-byte aligned arrays; FFTW's new-array execute needs the same alignment. */
static int aligned(const void *p) { return ((uintptr_t)p & 63u) == 0; }

void sr_fft2_forward(const sr_fft2 *f, const float *x, fftwf_complex *X, float *scratch) {
  float *in = (float *)x; /* r2c out of place preserves its input */
  if (!aligned(x)) {
    memcpy(scratch, x, f->h * f->w * sizeof(float));
    in = scratch;
  }
  fftwf_execute_dft_r2c(f->r2c, in, X);
}

void sr_fft2_inverse(const sr_fft2 *f, fftwf_complex *X, float *x, float *scratch) {
  if (aligned(x)) {
    fftwf_execute_dft_c2r(f->c2r, X, x);
    return;
  }
  fftwf_execute_dft_c2r(f->c2r, X, scratch);
  memcpy(x, scratch, f->h * f->w * sizeof(float));
}

/* ---------------------------------------------------------------- spectral form (op->to_spec / from_spec)
 * V = the real 2-D DFT, orthonormal: c = r2c(x)/√N, x = c2r(c)/√N. Parseval on the half spectrum counts the
 * columns 0 < kv < w/2 twice (their mirror columns are not stored) and columns 0 and w/2 once; there each
 * complex slot stands for one real direction (its mirror row holds the conjugate), elsewhere for two. */
static void spec_forward(const sr_op *op, const float *x, float *c, float *ws) {
  const sr_fft2 *f = op->impl; /* the impl's first member */
  sr_fft2_forward(f, x, (fftwf_complex *)c, ws);
  const float s = (float)(1.0 / sqrt((double)(f->h * f->w)));
  for (size_t k = 0; k < op->spec_floats; k++) c[k] *= s;
}

static void spec_inverse(const sr_op *op, const float *c, float *x, float *ws) {
  const sr_fft2 *f = op->impl;
  float *X = ws, *scratch = ws + sr_stride(op->spec_floats); /* c2r destroys its input: work on a copy */
  const float s = (float)(1.0 / sqrt((double)(f->h * f->w)));
  for (size_t k = 0; k < op->spec_floats; k++) X[k] = s * c[k];
  sr_fft2_inverse(f, (fftwf_complex *)X, x, scratch);
}

void sr__fft2_spec_caps(sr_op *op, const sr_fft2 *f) {
  op->spec_floats = 2 * f->h * f->wh;
  op->to_spec = spec_forward;
  op->from_spec = spec_inverse;
}

int sr__fft2_spec_fill(sr_op *op, const sr_fft2 *f, const float *power, double scale) {
  size_t h = f->h, w = f->w, wh = f->wh, nf = 2 * h * wh;
  op->spec_lambda = sr_alloc(nf);
  op->spec_weight = sr_alloc(nf);
  op->spec_dof = sr_alloc(nf);
  if (!op->spec_lambda || !op->spec_weight || !op->spec_dof) return -1;
  for (size_t ku = 0; ku < h; ku++)
    for (size_t kv = 0; kv < wh; kv++) {
      size_t k = ku * wh + kv;
      int edge = kv == 0 || (w % 2 == 0 && kv == w / 2);
      float wt = edge ? 1.0f : 2.0f;
      for (int r = 0; r < 2; r++) {
        op->spec_lambda[2 * k + r] = (float)((double)power[k] * scale);
        op->spec_weight[2 * k + r] = wt;
        op->spec_dof[2 * k + r] = 0.5f * wt;
      }
    }
  return 0;
}
