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
  unsigned char *row_kind; /* h, per centred row: 0 nothing observed, 1 everything observed, 2 mixed */
  float scale;        /* 1/sqrt(N) */
} fourier_impl;

/* Index maps without modulo. With c = w/2, centred column cj holds FFT column kv = cj − c (cj >= c) or
 * cj + w − c (cj < c); the half spectrum has kv < wh, so for cj < c only the first d0 = wh − (w − c) entries
 * (0 or 1: even w) come straight from the row, the rest are conj X(−ku, c − cj). Rows: centred ci = (ku + h/2)
 * mod h, mirror row (h − ku) mod h. The duplicated 0/1 mask op->obs_mask (re, im) keeps the loops contiguous. */

/* ws layout: [X: 2*h*wh floats][scratch: h*w floats] */
__attribute__((target_clones("avx2", "default")))
static void fourier_forward(const sr_op *op, const float *x, float *y, float *ws) {
  const fourier_impl *f = op->impl;
  const size_t h = f->fft.h, w = f->fft.w, wh = f->fft.wh, c = w / 2, d0 = wh - (w - c);
  float *X = ws;
  sr_fft2_forward(&f->fft, x, (fftwf_complex *)X, ws + sr_stride(2 * h * wh));
  const float s = f->scale;
  for (size_t ku = 0; ku < h; ku++) {
    size_t ci = ku + h / 2, kneg = ku ? h - ku : 0;
    if (ci >= h) ci -= h;
    float *restrict yr = y + 2 * ci * w;
    if (f->row_kind[ci] == 0) { /* nothing observed: M X = 0 */
      memset(yr, 0, 2 * w * sizeof(float));
      continue;
    }
    const float *restrict row = X + 2 * ku * wh, *restrict nrow = X + 2 * kneg * wh;
    const float *restrict mr = op->obs_mask + 2 * ci * w;
    if (f->row_kind[ci] == 1) {
      for (size_t cj = 0; cj < d0; cj++) { /* kv = cj + w - c */
        yr[2 * cj] = s * row[2 * (cj + w - c)];
        yr[2 * cj + 1] = s * row[2 * (cj + w - c) + 1];
      }
      for (size_t cj = d0; cj < c; cj++) { /* X(k) = conj X(-k) */
        yr[2 * cj] = s * nrow[2 * (c - cj)];
        yr[2 * cj + 1] = -(s * nrow[2 * (c - cj) + 1]);
      }
      float *restrict yd = yr + 2 * c; /* cj >= c: kv = cj - c, straight from the row */
      for (size_t t = 0; t < 2 * (w - c); t++) yd[t] = s * row[t];
    } else {
      for (size_t cj = 0; cj < d0; cj++) {
        yr[2 * cj] = (mr[2 * cj] * s) * row[2 * (cj + w - c)];
        yr[2 * cj + 1] = (mr[2 * cj + 1] * s) * row[2 * (cj + w - c) + 1];
      }
      for (size_t cj = d0; cj < c; cj++) {
        yr[2 * cj] = (mr[2 * cj] * s) * nrow[2 * (c - cj)];
        yr[2 * cj + 1] = -((mr[2 * cj + 1] * s) * nrow[2 * (c - cj) + 1]);
      }
      float *restrict yd = yr + 2 * c;
      const float *restrict md = mr + 2 * c;
      for (size_t t = 0; t < 2 * (w - c); t++) yd[t] = (md[t] * s) * row[t];
    }
  }
}

/* Z(ku, kv) = ½ s (M y(k) + conj M y(−k)) on the half spectrum: y(k) sits at centred column cj = kv + c (0 for
 * kv = c, even w) of row ci, y(−k) at column c − kv of the mirror row. */
__attribute__((target_clones("avx2", "default")))
static void fourier_adjoint(const sr_op *op, const float *y, float *x, float *ws) {
  const fourier_impl *f = op->impl;
  const size_t h = f->fft.h, w = f->fft.w, wh = f->fft.wh, c = w / 2, nd = w - c < wh ? w - c : wh;
  float *Z = ws;
  const float hs = 0.5f * f->scale;
  for (size_t ku = 0; ku < h; ku++) {
    size_t ci = ku + h / 2, cin = (ku ? h - ku : 0) + h / 2;
    if (ci >= h) ci -= h;
    if (cin >= h) cin -= h;
    float *restrict z = Z + 2 * ku * wh;
    if (f->row_kind[ci] == 0 && f->row_kind[cin] == 0) {
      memset(z, 0, 2 * wh * sizeof(float));
      continue;
    }
    const float *restrict ya = y + 2 * ci * w, *restrict yb = y + 2 * cin * w;
    const float *restrict ma = op->obs_mask + 2 * ci * w, *restrict mb = op->obs_mask + 2 * cin * w;
    /* kv in [0, nd): a at column kv + c (forward), b at column c − kv (backward) */
    const float *a = ya + 2 * c, *am = ma + 2 * c;
    for (size_t kv = 0; kv < nd; kv++) {
      size_t jb = 2 * (c - kv);
      z[2 * kv] = hs * (am[2 * kv] * a[2 * kv] + mb[jb] * yb[jb]);
      z[2 * kv + 1] = hs * (am[2 * kv + 1] * a[2 * kv + 1] - mb[jb + 1] * yb[jb + 1]);
    }
    if (nd < wh) { /* even w, kv = c: y(k) at column 0, y(−k) at column 0 of the mirror row */
      z[2 * c] = hs * (ma[0] * ya[0] + mb[0] * yb[0]);
      z[2 * c + 1] = hs * (ma[1] * ya[1] - mb[1] * yb[1]);
    }
  }
  sr_fft2_inverse(&f->fft, (fftwf_complex *)Z, x, ws + sr_stride(2 * h * wh));
}

__attribute__((target_clones("avx2", "default")))
static void half_spectrum_scale(float *restrict X, const float *restrict q, size_t nc) {
  for (size_t k = 0; k < nc; k++) {
    X[2 * k] *= q[k];
    X[2 * k + 1] *= q[k];
  }
}

static void fourier_normal(const sr_op *op, const float *x, float *out, float *ws) {
  const fourier_impl *f = op->impl;
  size_t nc = f->fft.h * f->fft.wh;
  float *X = ws, *scratch = ws + sr_stride(2 * nc);
  sr_fft2_forward(&f->fft, x, (fftwf_complex *)X, scratch);
  half_spectrum_scale(X, f->q, nc);
  sr_fft2_inverse(&f->fft, (fftwf_complex *)X, out, scratch);
}

static int fourier_build_spec(sr_op *op) {
  const fourier_impl *f = op->impl;
  return sr__fft2_spec_fill(op, &f->fft, f->q, (double)op->n_in);
}

/* Tuned plans replace the ESTIMATE pair; mask, q and the rest do not depend on the plan. */
static sr_status fourier_plan_fft(sr_op *op, sr_fft_planner *pl, sr_error *err) {
  fourier_impl *f = op->impl;
  return sr__fft2_replan(&f->fft, pl, NULL, err);
}

static void fourier_destroy(sr_op *op) {
  fourier_impl *f = op->impl;
  sr_free(op->obs_mask);
  op->obs_mask = NULL;
  if (!f) return;
  sr_fft2_destroy(&f->fft);
  sr_free(f->mask);
  sr_free(f->q);
  free(f->row_kind);
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
  f->row_kind = malloc(h);
  op->obs_mask = sr_alloc(2 * n);
  if (!f->mask || !f->q || !f->row_kind || !op->obs_mask || sr_fft2_plan(&f->fft, h, w)) {
    sr_op_free(op);
    sr_fail(err, SR_ENOMEM, "operator", "out of memory (or FFTW could not plan %zux%zu)", h, w);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    f->mask[i] = mask[i] != 0.0f ? 1.0f : 0.0f;
    op->obs_mask[2 * i] = op->obs_mask[2 * i + 1] = f->mask[i];
  }
  for (size_t i = 0; i < h; i++) {
    size_t ones = 0;
    for (size_t j = 0; j < w; j++) ones += f->mask[i * w + j] != 0.0f;
    f->row_kind[i] = ones == 0 ? 0 : ones == w ? 1 : 2;
  }
  double maxq = 0.0;
  for (size_t ku = 0; ku < h; ku++)
    for (size_t kv = 0; kv < wh; kv++) {
      float ma = f->mask[((ku + h / 2) % h) * w + (kv + w / 2) % w];
      float mb = f->mask[(((h - ku) % h + h / 2) % h) * w + ((w - kv) % w + w / 2) % w];
      double qq = 0.5 * (ma + mb);
      if (qq > maxq) maxq = qq;
      f->q[ku * wh + kv] = (float)(qq / (double)n);
    }
  f->scale = (float)(1.0 / sqrt((double)n));
  op->kind = "fourier";
  op->structure = SR_OP_FOURIER;
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
  sr__fft2_spec_caps(op, &f->fft); /* AᵀA = V diag((M(k) + M(−k))/2) Vᵀ, built by fourier_build_spec */
  op->build_spec = fourier_build_spec;
  op->plan_fft = fourier_plan_fft;
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
