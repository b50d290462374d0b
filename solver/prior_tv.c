/* prior_tv.c — smoothed total variation, log p(x) = −λ Σ_ij sqrt(|∇x|_ij² + ε²) with forward differences
 * and Neumann boundary (the last difference in each direction is 0). Score = −λ Dᵀ(Dx / sqrt(|Dx|² + ε²)).
 * Only defined at noise level 0 (no closed-form noised marginal): Langevin and MALA only.
 * Lipschitz bound of the score: λ ||D||² / ε ≤ 8 λ / ε.
 * Complex images (interleaved re, im) as BART's TV: |∇x|² = |∇re|² + |∇im|² per pixel, one root per pixel, so
 * the parts share each edge: score = −λ Dᵀ(Dx / sqrt(|Dx|² + ε²)) with D acting on re and im alike. */
#include <math.h>
#include <stdlib.h>

#include "scorerecon.h"

typedef struct {
  size_t h, w;
  double lambda, eps;
} tv_impl;

static void tv_score(const sr_prior *p, const float *x, size_t batch, size_t n, sr_noise nl, float *out,
                     float *ws) {
  (void)nl;
  const tv_impl *t = p->impl;
  size_t h = t->h, w = t->w, sn = sr_stride(n);
  const float lam = (float)t->lambda, e2 = (float)(t->eps * t->eps);
  for (size_t b = 0; b < batch; b++) {
    const float *xb = x + b * sn;
    float *ob = out + b * sn;
    float *gx = ws, *gy = ws + sn; /* normalised gradient field */
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++) {
        size_t k = i * w + j;
        float dx = j + 1 < w ? xb[k + 1] - xb[k] : 0.0f;
        float dy = i + 1 < h ? xb[k + w] - xb[k] : 0.0f;
        float inv = 1.0f / sqrtf(dx * dx + dy * dy + e2);
        gx[k] = dx * inv;
        gy[k] = dy * inv;
      }
    /* out = −λ Dᵀ g, Dᵀ of forward differences = −(backward divergence) */
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++) {
        size_t k = i * w + j;
        float div = gx[k] + gy[k];
        if (j > 0) div -= gx[k - 1];
        if (i > 0) div -= gy[k - w];
        ob[k] = lam * div;
      }
  }
}

static double tv_logp(const sr_prior *p, const float *x, size_t n, float *ws) {
  (void)n; (void)ws;
  const tv_impl *t = p->impl;
  double total = 0.0, e2 = t->eps * t->eps;
  for (size_t i = 0; i < t->h; i++)
    for (size_t j = 0; j < t->w; j++) {
      size_t k = i * t->w + j;
      double dx = j + 1 < t->w ? (double)x[k + 1] - x[k] : 0.0;
      double dy = i + 1 < t->h ? (double)x[k + t->w] - x[k] : 0.0;
      total += sqrt(dx * dx + dy * dy + e2);
    }
  return -t->lambda * total;
}

/* The complex form: x holds h*w (re, im) pairs; ws two interleaved planes (gx, gy). */
static void tvc_score(const sr_prior *p, const float *x, size_t batch, size_t n, sr_noise nl, float *out,
                      float *ws) {
  (void)nl;
  const tv_impl *t = p->impl;
  size_t h = t->h, w = t->w, sn = sr_stride(n);
  const float lam = (float)t->lambda, e2 = (float)(t->eps * t->eps);
  for (size_t b = 0; b < batch; b++) {
    const float *xb = x + b * sn;
    float *ob = out + b * sn;
    float *gx = ws, *gy = ws + sn;
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++) {
        size_t k = 2 * (i * w + j);
        float dxr = j + 1 < w ? xb[k + 2] - xb[k] : 0.0f, dxi = j + 1 < w ? xb[k + 3] - xb[k + 1] : 0.0f;
        float dyr = i + 1 < h ? xb[k + 2 * w] - xb[k] : 0.0f, dyi = i + 1 < h ? xb[k + 2 * w + 1] - xb[k + 1] : 0.0f;
        float inv = 1.0f / sqrtf(dxr * dxr + dxi * dxi + dyr * dyr + dyi * dyi + e2);
        gx[k] = dxr * inv;
        gx[k + 1] = dxi * inv;
        gy[k] = dyr * inv;
        gy[k + 1] = dyi * inv;
      }
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++)
        for (size_t r = 0; r < 2; r++) {
          size_t k = 2 * (i * w + j) + r;
          float div = gx[k] + gy[k];
          if (j > 0) div -= gx[k - 2];
          if (i > 0) div -= gy[k - 2 * w];
          ob[k] = lam * div;
        }
  }
}

static double tvc_logp(const sr_prior *p, const float *x, size_t n, float *ws) {
  (void)n; (void)ws;
  const tv_impl *t = p->impl;
  double total = 0.0, e2 = t->eps * t->eps;
  for (size_t i = 0; i < t->h; i++)
    for (size_t j = 0; j < t->w; j++) {
      size_t k = 2 * (i * t->w + j);
      double q = e2;
      for (size_t r = 0; r < 2; r++) {
        double dx = j + 1 < t->w ? (double)x[k + 2 + r] - x[k + r] : 0.0;
        double dy = i + 1 < t->h ? (double)x[k + 2 * t->w + r] - x[k + r] : 0.0;
        q += dx * dx + dy * dy;
      }
      total += sqrt(q);
    }
  return -t->lambda * total;
}

sr_prior *sr_prior_tv_complex(size_t h, size_t w, double lambda, double eps, sr_error *err) {
  sr_prior *p = sr_prior_tv(h, w, lambda, eps, err);
  if (!p) return NULL;
  p->ws_floats = 2 * sr_stride(2 * h * w);
  p->score = tvc_score;
  p->logp = tvc_logp;
  return p;
}

static void tv_destroy(sr_prior *p) { free(p->impl); }

sr_prior *sr_prior_tv(size_t h, size_t w, double lambda, double eps, sr_error *err) {
  if (!(lambda > 0) || !isfinite(lambda)) {
    sr_fail(err, SR_EINVAL, "prior.weight", "must be > 0");
    return NULL;
  }
  if (!(eps > 0) || !isfinite(eps)) {
    sr_fail(err, SR_EINVAL, "prior.epsilon", "must be > 0");
    return NULL;
  }
  sr_prior *p = calloc(1, sizeof *p);
  tv_impl *t = calloc(1, sizeof *t);
  if (!p || !t) {
    free(p); free(t);
    sr_fail(err, SR_ENOMEM, "prior", "out of memory");
    return NULL;
  }
  t->h = h; t->w = w; t->lambda = lambda; t->eps = eps;
  p->kind = "tv";
  p->has_marginals = 0;
  p->lipschitz = 8.0 * lambda / eps;
  p->ws_floats = 2 * sr_stride(h * w);
  p->score = tv_score;
  p->logp = tv_logp;
  p->sample = NULL;
  p->destroy = tv_destroy;
  p->impl = t;
  return p;
}
