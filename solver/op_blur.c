/* op_blur.c — circular convolution with a normalised kernel, diagonalised by the real 2-D FFT.
 * A x = IDFT(ĥ · DFT x), A^T y = IDFT(conj ĥ · DFT y), A^T A x = IDFT(|ĥ|² · DFT x); ||A||² = max |ĥ|². */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft_util.h"
#include "scorerecon.h"

typedef struct {
  sr_fft2 fft;
  float *hhat;    /* h*wh complex: ĥ / N (normalisation of the inverse folded in) */
  float *hpow;    /* h*wh real: |ĥ|² / N */
  double *kern;   /* kh*kw, the kernel normalised to sum 1 */
  size_t kh, kw;
} blur_impl;

/* X ← ĥ X (conj = 0) or conj(ĥ) X (conj = 1), nc complex values; the same products and sums as the scalar
 * formula in every clone (element-wise, no contraction), so the bits do not depend on the vector width. */
__attribute__((target_clones("avx2", "default")))
static void spectrum_mul(float *restrict X, const float *restrict hh, size_t nc, int conj) {
  if (conj) {
    for (size_t k = 0; k < nc; k++) {
      float hr = hh[2 * k], hi = -hh[2 * k + 1];
      float xr = X[2 * k], xi = X[2 * k + 1];
      X[2 * k] = hr * xr - hi * xi;
      X[2 * k + 1] = hr * xi + hi * xr;
    }
  } else {
    for (size_t k = 0; k < nc; k++) {
      float hr = hh[2 * k], hi = hh[2 * k + 1];
      float xr = X[2 * k], xi = X[2 * k + 1];
      X[2 * k] = hr * xr - hi * xi;
      X[2 * k + 1] = hr * xi + hi * xr;
    }
  }
}

__attribute__((target_clones("avx2", "default")))
static void spectrum_scale(float *restrict X, const float *restrict p, size_t nc) {
  for (size_t k = 0; k < nc; k++) {
    X[2 * k] *= p[k];
    X[2 * k + 1] *= p[k];
  }
}

/* ws layout: [X: 2*h*wh complex floats][scratch: h*w floats] */
static void blur_mul(const sr_op *op, const float *x, float *y, float *ws, int mode) {
  const blur_impl *b = op->impl;
  size_t nc = b->fft.h * b->fft.wh;
  fftwf_complex *X = (fftwf_complex *)ws;
  float *scratch = ws + sr_stride(2 * nc);
  sr_fft2_forward(&b->fft, x, X, scratch);
  if (mode == 2) spectrum_scale((float *)X, b->hpow, nc);
  else spectrum_mul((float *)X, b->hhat, nc, mode == 1); /* adjoint: conj ĥ */
  sr_fft2_inverse(&b->fft, X, y, scratch);
}

static void blur_forward(const sr_op *op, const float *x, float *y, float *ws) { blur_mul(op, x, y, ws, 0); }
static void blur_adjoint(const sr_op *op, const float *y, float *x, float *ws) { blur_mul(op, y, x, ws, 1); }
static void blur_normal(const sr_op *op, const float *x, float *o, float *ws) { blur_mul(op, x, o, ws, 2); }

static int blur_build_spec(sr_op *op) {
  const blur_impl *b = op->impl;
  return sr__fft2_spec_fill(op, &b->fft, b->hpow, (double)op->n_in);
}

/* Tuned plans replace the ESTIMATE pair. ĥ, |ĥ|² and norm2 stay as computed at construction with the ESTIMATE
 * plan: the default step size (from norm2) is then the same in both modes, and does not depend on what another
 * thread's planner had loaded. */
static sr_status blur_plan_fft(sr_op *op, sr_fft_planner *pl, sr_error *err) {
  blur_impl *b = op->impl;
  return sr__fft2_replan(&b->fft, pl, NULL, err);
}

static void blur_destroy(sr_op *op) {
  blur_impl *b = op->impl;
  if (!b) return;
  sr_fft2_destroy(&b->fft);
  sr_free(b->hhat);
  sr_free(b->hpow);
  free(b->kern);
  free(b);
}

sr_op *sr_op_blur(size_t h, size_t w, const float *kernel, size_t kh, size_t kw, sr_error *err) {
  if (h < 1 || w < 1) {
    sr_fail(err, SR_EINVAL, "shape", "blur needs a 2-D image shape [H, W]");
    return NULL;
  }
  if (kh < 1 || kw < 1 || kh > h || kw > w) {
    sr_fail(err, SR_EINVAL, "operator.kernel", "shape [%zu,%zu] must be non-empty and no larger than the image [%zu,%zu]",
            kh, kw, h, w);
    return NULL;
  }
  double sum = 0.0;
  for (size_t i = 0; i < kh * kw; i++) sum += kernel[i];
  if (!(fabs(sum) > 1e-12) || !isfinite(sum)) {
    sr_fail(err, SR_EINVAL, "operator.kernel", "must have a finite, nonzero sum (it is normalised to 1)");
    return NULL;
  }
  sr_op *op = calloc(1, sizeof *op);
  blur_impl *b = calloc(1, sizeof *b);
  if (!op || !b) goto nomem;
  op->impl = b;
  op->destroy = blur_destroy;
  if (sr_fft2_plan(&b->fft, h, w)) goto nomem;
  size_t nc = h * b->fft.wh, n = h * w;
  b->hhat = sr_alloc(2 * nc);
  b->hpow = sr_alloc(nc);
  b->kern = malloc(kh * kw * sizeof(double));
  if (!b->kern) goto nomem;
  b->kh = kh;
  b->kw = kw;
  for (size_t i = 0; i < kh * kw; i++) b->kern[i] = kernel[i] / sum;
  float *pad = sr_alloc(n);
  float *scratch = sr_alloc(n);
  if (!b->hhat || !b->hpow || !pad || !scratch) {
    sr_free(pad); sr_free(scratch);
    goto nomem;
  }
  /* Zero-pad and roll so the centre element (kh/2, kw/2) sits at (0, 0). */
  for (size_t i = 0; i < kh; i++)
    for (size_t j = 0; j < kw; j++) {
      size_t r = (i + h - kh / 2) % h, c = (j + w - kw / 2) % w;
      pad[r * w + c] += (float)(kernel[i * kw + j] / sum);
    }
  sr_fft2_forward(&b->fft, pad, (fftwf_complex *)b->hhat, scratch);
  double maxp = 0.0;
  for (size_t k = 0; k < nc; k++) {
    double re = b->hhat[2 * k], im = b->hhat[2 * k + 1], p = re * re + im * im;
    if (p > maxp) maxp = p;
    b->hpow[k] = (float)(p / (double)n);
    b->hhat[2 * k] = (float)(re / (double)n);
    b->hhat[2 * k + 1] = (float)(im / (double)n);
  }
  sr_free(pad);
  sr_free(scratch);
  op->kind = "blur";
  op->structure = SR_OP_CONVOLUTION;
  op->in_rank = op->out_rank = 2;
  op->in_shape[0] = op->out_shape[0] = h;
  op->in_shape[1] = op->out_shape[1] = w;
  op->n_in = op->n_out = n;
  op->norm2 = maxp;
  op->ws_floats = sr_stride(2 * nc) + sr_stride(n);
  op->forward = blur_forward;
  op->adjoint = blur_adjoint;
  op->normal = blur_normal;
  sr__fft2_spec_caps(op, &b->fft); /* AᵀA = V diag(|ĥ|²) Vᵀ, built by blur_build_spec when asked for */
  op->build_spec = blur_build_spec;
  op->plan_fft = blur_plan_fft;
  return op;
nomem:
  sr_op_free(op);
  if (!op) free(b);
  sr_fail(err, SR_ENOMEM, "operator", "out of memory (or FFTW could not plan %zux%zu)", h, w);
  return NULL;
}

const double *sr_op_kernel(const sr_op *op, size_t *kh, size_t *kw) {
  if (!op || op->destroy != blur_destroy) return NULL;
  const blur_impl *b = op->impl;
  *kh = b->kh;
  *kw = b->kw;
  return b->kern;
}

void sr_gaussian_kernel(double sigma, size_t size, float *kernel) {
  double c = (double)(size / 2), sum = 0.0;
  for (size_t i = 0; i < size; i++)
    for (size_t j = 0; j < size; j++) {
      double di = (double)i - c, dj = (double)j - c;
      double v = exp(-(di * di + dj * dj) / (2.0 * sigma * sigma));
      kernel[i * size + j] = (float)v;
      sum += v;
    }
  for (size_t i = 0; i < size * size; i++) kernel[i] = (float)(kernel[i] / sum);
}
