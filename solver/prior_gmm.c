/* prior_gmm.c — the analytic priors: i.i.d. Gaussian mixtures per pixel, the Gaussian being the one-component
 * case. Their noised marginals are mixtures too (component k: mean alpha mu_k + shift, var alpha² s_k² + sigma²),
 * so the score of every p_t is exact:  s(x) = Σ_k r_k(x) (c_k − x) / v_k,  r_k ∝ w_k N(x; c_k, v_k).
 * A component with s_k = 0 is an atom: fine at sigma > 0, no score at level 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorerecon.h"

#define MAXK 64

typedef struct {
  size_t k;
  double w[MAXK], logw[MAXK], mu[MAXK], sd[MAXK];
} gmm_impl;

typedef struct {
  double c[MAXK], iv[MAXK], lognorm[MAXK]; /* per component at this level: centre, 1/var, log w − ½ log var */
} gmm_level;

static void level_params(const gmm_impl *g, sr_noise nl, gmm_level *L) {
  for (size_t j = 0; j < g->k; j++) {
    double v = nl.alpha * nl.alpha * g->sd[j] * g->sd[j] + nl.sigma * nl.sigma;
    L->c[j] = nl.alpha * g->mu[j] + nl.shift;
    L->iv[j] = v > 0 ? 1.0 / v : INFINITY;
    L->lognorm[j] = g->logw[j] - 0.5 * log(v);
  }
}

static void gmm_score(const sr_prior *p, const float *x, size_t batch, size_t n, sr_noise nl, float *out,
                      float *ws) {
  (void)ws;
  const gmm_impl *g = p->impl;
  gmm_level L;
  level_params(g, nl, &L);
  size_t sn = sr_stride(n);
  if (g->k == 1) { /* Gaussian: linear score, vectorises */
    const float c = (float)L.c[0], iv = (float)L.iv[0];
    for (size_t b = 0; b < batch; b++) {
      const float *xb = x + b * sn;
      float *ob = out + b * sn;
      for (size_t i = 0; i < n; i++) ob[i] = (c - xb[i]) * iv;
    }
    return;
  }
  double lr[MAXK];
  for (size_t b = 0; b < batch; b++) {
    const float *xb = x + b * sn;
    float *ob = out + b * sn;
    for (size_t i = 0; i < n; i++) {
      double xi = xb[i], mx = -INFINITY;
      for (size_t j = 0; j < g->k; j++) {
        double d = xi - L.c[j];
        lr[j] = L.lognorm[j] - 0.5 * d * d * L.iv[j];
        if (lr[j] > mx) mx = lr[j];
      }
      double zs = 0.0, num = 0.0;
      for (size_t j = 0; j < g->k; j++) {
        double e = exp(lr[j] - mx);
        zs += e;
        num += e * (L.c[j] - xi) * L.iv[j];
      }
      ob[i] = (float)(num / zs);
    }
  }
}

static double gmm_logp(const sr_prior *p, const float *x, size_t n, float *ws) {
  (void)ws;
  const gmm_impl *g = p->impl;
  gmm_level L;
  level_params(g, sr_noise_none(), &L);
  double total = 0.0;
  if (g->k == 1) {
    for (size_t i = 0; i < n; i++) {
      double d = x[i] - L.c[0];
      total += d * d;
    }
    return -0.5 * total * L.iv[0];
  }
  for (size_t i = 0; i < n; i++) {
    double lr[MAXK], mx = -INFINITY;
    for (size_t j = 0; j < g->k; j++) {
      double d = x[i] - L.c[j];
      lr[j] = L.lognorm[j] - 0.5 * d * d * L.iv[j];
      if (lr[j] > mx) mx = lr[j];
    }
    double zs = 0.0;
    for (size_t j = 0; j < g->k; j++) zs += exp(lr[j] - mx);
    total += mx + log(zs);
  }
  return total;
}

static void gmm_sample(const sr_prior *p, sr_noise nl, const sr_rng *rng, uint64_t step, float *x, size_t n) {
  const gmm_impl *g = p->impl;
  sr_rng_normals(rng, step, x, n);
  double u[64];
  for (size_t i0 = 0; i0 < n; i0 += 64) {
    size_t m = n - i0 < 64 ? n - i0 : 64;
    if (g->k > 1) sr_rng_uniforms(rng, step * 65536u + i0 / 64, u, m);
    for (size_t i = 0; i < m; i++) {
      size_t j = 0;
      if (g->k > 1) {
        double acc = g->w[0];
        while (u[i] > acc && j + 1 < g->k) acc += g->w[++j];
      }
      double v = nl.alpha * nl.alpha * g->sd[j] * g->sd[j] + nl.sigma * nl.sigma;
      x[i0 + i] = (float)(nl.alpha * g->mu[j] + nl.shift + sqrt(v) * x[i0 + i]);
    }
  }
}

static void gmm_destroy(sr_prior *p) { free(p->impl); }

sr_prior *sr_prior_gmm(size_t k, const double *weights, const double *means, const double *stds, sr_error *err) {
  if (k < 1 || k > MAXK) {
    sr_fail(err, SR_EINVAL, "prior.weights", "must hold 1 to %d components", MAXK);
    return NULL;
  }
  double sum = 0.0;
  for (size_t j = 0; j < k; j++) {
    char f[48];
    if (!(weights[j] >= 0) || !isfinite(weights[j])) {
      snprintf(f, sizeof f, "prior.weights[%zu]", j);
      sr_fail(err, SR_EINVAL, f, "must be a finite number >= 0");
      return NULL;
    }
    if (!isfinite(means[j])) {
      snprintf(f, sizeof f, "prior.means[%zu]", j);
      sr_fail(err, SR_EINVAL, f, "must be finite");
      return NULL;
    }
    if (!(stds[j] >= 0) || !isfinite(stds[j])) {
      snprintf(f, sizeof f, "prior.stds[%zu]", j);
      sr_fail(err, SR_EINVAL, f, "must be a finite number >= 0");
      return NULL;
    }
    sum += weights[j];
  }
  if (!(sum > 0)) {
    sr_fail(err, SR_EINVAL, "prior.weights", "must have a positive sum");
    return NULL;
  }
  sr_prior *p = calloc(1, sizeof *p);
  gmm_impl *g = calloc(1, sizeof *g);
  if (!p || !g) {
    free(p); free(g);
    sr_fail(err, SR_ENOMEM, "prior", "out of memory");
    return NULL;
  }
  g->k = k;
  double minsd = INFINITY;
  for (size_t j = 0; j < k; j++) {
    g->w[j] = weights[j] / sum;
    g->logw[j] = log(g->w[j]);
    g->mu[j] = means[j];
    g->sd[j] = stds[j];
    if (stds[j] < minsd) minsd = stds[j];
  }
  p->kind = "gmm";
  p->has_marginals = 1;
  double m1 = 0.0, m2 = 0.0; /* the mixture's variance: Σ w (s² + μ²) − (Σ w μ)² */
  for (size_t j = 0; j < k; j++) {
    m1 += g->w[j] * g->mu[j];
    m2 += g->w[j] * (g->sd[j] * g->sd[j] + g->mu[j] * g->mu[j]);
  }
  p->mean0 = m1;
  p->var0 = m2 - m1 * m1 > 0 ? m2 - m1 * m1 : 0.0;
  p->lipschitz = minsd > 0 ? 1.0 / (minsd * minsd) : INFINITY;
  p->score = gmm_score;
  p->logp = gmm_logp;
  p->sample = gmm_sample;
  p->destroy = gmm_destroy;
  p->impl = g;
  return p;
}

int sr_prior_mixture(const sr_prior *p, size_t *k, const double **w, const double **mu, const double **sd) {
  if (!p || p->destroy != gmm_destroy) return -1;
  const gmm_impl *g = p->impl;
  if (k) *k = g->k;
  if (w) *w = g->w;
  if (mu) *mu = g->mu;
  if (sd) *sd = g->sd;
  return 0;
}

sr_prior *sr_prior_gaussian(double mean, double std, sr_error *err) {
  if (!isfinite(mean)) {
    sr_fail(err, SR_EINVAL, "prior.mean", "must be finite");
    return NULL;
  }
  if (!(std > 0) || !isfinite(std)) {
    sr_fail(err, SR_EINVAL, "prior.std", "must be > 0");
    return NULL;
  }
  double w = 1.0;
  sr_prior *p = sr_prior_gmm(1, &w, &mean, &std, err);
  if (p) p->kind = "gaussian";
  return p;
}

void sr_prior_free(sr_prior *p) {
  if (!p) return;
  if (p->destroy) p->destroy(p);
  free(p);
}
