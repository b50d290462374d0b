/* op_fourier.c — subsampled orthonormal 2-D DFT of a real image, k-space centred (numpy fftshift layout).
 *
 * Real images have Hermitian spectra, so every application needs only a real-to-complex transform and its
 * inverse: forward fills the full centred spectrum from the half one, adjoint builds the Hermitian part
 * Z(k) = ½(M y(k) + conj M y(−k)) — since Re(Fᴴz) = Fᴴ Z — and the normal operator multiplies the half
 * spectrum by (M(k) + M(−k)) / 2. Also the Cartesian (whole rows) mask generator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft_util.h"
#include "scorerecon.h"

typedef struct {
  sr_fft2 fft;
  float *mask;        /* h*w centred 0/1 */
  float *q;           /* h*wh: (M(k) + M(-k)) / (2N) in FFT (uncentred) order */
  size_t *cen_row;    /* h: uncentred row ku -> centred row */
  size_t *cen_col;    /* w: uncentred column kv -> centred column */
  float scale;        /* 1/sqrt(N) */
} fourier_impl;

/* ws layout: [X: 2*h*wh floats][scratch: h*w floats] */
static void fourier_forward(const sr_op *op, const float *x, float *y, float *ws) {
  const fourier_impl *f = op->impl;
  size_t h = f->fft.h, w = f->fft.w, wh = f->fft.wh;
  float *X = ws;
  sr_fft2_forward(&f->fft, x, (fftwf_complex *)X, ws + sr_stride(2 * h * wh));
  const float s = f->scale;
  for (size_t ku = 0; ku < h; ku++) {
    size_t ci = f->cen_row[ku], kneg = (h - ku) % h;
    const float *row = X + 2 * ku * wh, *nrow = X + 2 * kneg * wh;
    float *yr = y + 2 * ci * w;
    const float *mr = f->mask + ci * w;
    for (size_t kv = 0; kv < w; kv++) {
      size_t cj = f->cen_col[kv];
      float re, im;
      if (kv < wh) {
        re = row[2 * kv];
        im = row[2 * kv + 1];
      } else { /* X(k) = conj X(-k) */
        re = nrow[2 * (w - kv)];
        im = -nrow[2 * (w - kv) + 1];
      }
      float m = mr[cj] * s;
      yr[2 * cj] = m * re;
      yr[2 * cj + 1] = m * im;
    }
  }
}

static void fourier_adjoint(const sr_op *op, const float *y, float *x, float *ws) {
  const fourier_impl *f = op->impl;
  size_t h = f->fft.h, w = f->fft.w, wh = f->fft.wh;
  float *Z = ws;
  const float hs = 0.5f * f->scale;
  for (size_t ku = 0; ku < h; ku++) {
    size_t ci = f->cen_row[ku], cin = f->cen_row[(h - ku) % h];
    for (size_t kv = 0; kv < wh; kv++) {
      size_t cj = f->cen_col[kv], cjn = f->cen_col[(w - kv) % w];
      float ma = f->mask[ci * w + cj], mb = f->mask[cin * w + cjn];
      const float *a = y + 2 * (ci * w + cj), *b = y + 2 * (cin * w + cjn);
      Z[2 * (ku * wh + kv)] = hs * (ma * a[0] + mb * b[0]);
      Z[2 * (ku * wh + kv) + 1] = hs * (ma * a[1] - mb * b[1]);
    }
  }
  sr_fft2_inverse(&f->fft, (fftwf_complex *)Z, x, ws + sr_stride(2 * h * wh));
}

static void fourier_normal(const sr_op *op, const float *x, float *out, float *ws) {
  const fourier_impl *f = op->impl;
  size_t nc = f->fft.h * f->fft.wh;
  float *X = ws, *scratch = ws + sr_stride(2 * nc);
  sr_fft2_forward(&f->fft, x, (fftwf_complex *)X, scratch);
  for (size_t k = 0; k < nc; k++) {
    X[2 * k] *= f->q[k];
    X[2 * k + 1] *= f->q[k];
  }
  sr_fft2_inverse(&f->fft, (fftwf_complex *)X, out, scratch);
}

static void fourier_destroy(sr_op *op) {
  fourier_impl *f = op->impl;
  sr_free(op->obs_mask);
  op->obs_mask = NULL;
  if (!f) return;
  sr_fft2_destroy(&f->fft);
  sr_free(f->mask);
  sr_free(f->q);
  free(f->cen_row);
  free(f->cen_col);
  free(f);
}

sr_op *sr_op_fourier(size_t h, size_t w, const float *mask, sr_error *err) {
  if (h < 1 || w < 1) {
    sr_fail(err, SR_EINVAL, "shape", "fourier needs a 2-D image shape [H, W]");
    return NULL;
  }
  size_t n = h * w;
  sr_op *op = calloc(1, sizeof *op);
  fourier_impl *f = calloc(1, sizeof *f);
  if (!op || !f) {
    free(op); free(f);
    sr_fail(err, SR_ENOMEM, "operator", "out of memory");
    return NULL;
  }
  op->impl = f;
  op->destroy = fourier_destroy;
  size_t wh = w / 2 + 1;
  f->mask = sr_alloc(n);
  f->q = sr_alloc(h * wh);
  f->cen_row = malloc(h * sizeof(size_t));
  f->cen_col = malloc(w * sizeof(size_t));
  op->obs_mask = sr_alloc(2 * n);
  if (!f->mask || !f->q || !f->cen_row || !f->cen_col || !op->obs_mask || sr_fft2_plan(&f->fft, h, w)) {
    sr_op_free(op);
    sr_fail(err, SR_ENOMEM, "operator", "out of memory (or FFTW could not plan %zux%zu)", h, w);
    return NULL;
  }
  for (size_t i = 0; i < h; i++) f->cen_row[i] = (i + h / 2) % h;
  for (size_t j = 0; j < w; j++) f->cen_col[j] = (j + w / 2) % w;
  for (size_t i = 0; i < n; i++) {
    f->mask[i] = mask[i] != 0.0f ? 1.0f : 0.0f;
    op->obs_mask[2 * i] = op->obs_mask[2 * i + 1] = f->mask[i];
  }
  double maxq = 0.0;
  for (size_t ku = 0; ku < h; ku++)
    for (size_t kv = 0; kv < wh; kv++) {
      float ma = f->mask[f->cen_row[ku] * w + f->cen_col[kv]];
      float mb = f->mask[f->cen_row[(h - ku) % h] * w + f->cen_col[(w - kv) % w]];
      double qq = 0.5 * (ma + mb);
      if (qq > maxq) maxq = qq;
      f->q[ku * wh + kv] = (float)(qq / (double)n);
    }
  f->scale = (float)(1.0 / sqrt((double)n));
  op->kind = "fourier";
  op->in_rank = op->out_rank = 2;
  op->in_shape[0] = op->out_shape[0] = h;
  op->in_shape[1] = op->out_shape[1] = w;
  op->out_complex = 1;
  op->n_in = n;
  op->n_out = 2 * n;
  op->norm2 = maxq;
  op->ws_floats = sr_stride(2 * h * wh) + sr_stride(n);
  op->forward = fourier_forward;
  op->adjoint = fourier_adjoint;
  op->normal = fourier_normal;
  return op;
}

void sr_mask_cartesian(size_t h, size_t w, double acceleration, double center_fraction, uint64_t seed,
                       float *mask) {
  size_t total = (size_t)llround((double)h / acceleration);
  size_t ncen = (size_t)llround((double)h * center_fraction);
  if (ncen > h) ncen = h;
  if (total < ncen) total = ncen;
  if (total > h) total = h;
  char *keep = calloc(h, 1);
  size_t *rest = malloc(h * sizeof *rest);
  if (!keep || !rest) {
    free(keep); free(rest);
    for (size_t i = 0; i < h * w; i++) mask[i] = 1.0f;
    return;
  }
  size_t c0 = h / 2 - ncen / 2;
  for (size_t i = 0; i < ncen; i++) keep[c0 + i] = 1;
  /* Fisher–Yates over the other rows with the seeded generator: exactly `total` rows kept. */
  size_t nr = 0;
  for (size_t i = 0; i < h; i++)
    if (!keep[i]) rest[nr++] = i;
  sr_rng r = sr_rng_make(seed, 1);
  for (size_t i = 0; i + 1 < nr; i++) {
    double u;
    sr_rng_uniforms(&r, i, &u, 1);
    size_t j = i + (size_t)(u * (double)(nr - i));
    if (j >= nr) j = nr - 1;
    size_t t = rest[i]; rest[i] = rest[j]; rest[j] = t;
  }
  for (size_t i = 0; i < total - ncen && i < nr; i++) keep[rest[i]] = 1;
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) mask[i * w + j] = keep[i] ? 1.0f : 0.0f;
  free(keep);
  free(rest);
}
