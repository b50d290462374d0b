/* prior_ising.c — the Ising prior on binary images: p(s) ∝ exp(J Σ_(i,j) s_i s_j + h Σ_i s_i), s_i = ±1, over
 * 4-neighbour pairs, each spin shown as pixel a (s = −1) or b (s = +1). It has no score (the sampler is
 * Metropolis–Hastings on the energy, solver/sampler_mh.c); logp is the unnormalised log density of an image
 * whose pixels are nearest to a or b. */
#include <math.h>
#include <stdlib.h>

#include "ising.h"

static double ising_logp(const sr_prior *p, const float *x, size_t n, float *ws) {
  (void)ws;
  const sr_ising_params *q = p->impl;
  const double c0 = 0.5 * (q->a + q->b), c1 = 0.5 * (q->b - q->a);
  const size_t h = q->h, w = q->w;
  if (n != h * w) return NAN;
#define SPIN(k) (((double)x[k] - c0) * c1 > 0 ? 1.0 : -1.0)
  double bonds = 0.0, mag = 0.0;
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) {
      double s = SPIN(i * w + j);
      mag += s;
      if (j + 1 < w) bonds += s * SPIN(i * w + j + 1);
      else if (q->periodic && w > 1) bonds += s * SPIN(i * w);
      if (i + 1 < h) bonds += s * SPIN((i + 1) * w + j);
      else if (q->periodic && h > 1) bonds += s * SPIN(j);
    }
#undef SPIN
  return q->J * bonds + q->field * mag;
}

static void ising_destroy(sr_prior *p) { free(p->impl); }

sr_prior *sr_prior_ising(size_t h, size_t w, double coupling, double field, int periodic, double a, double b,
                         sr_error *err) {
  if (h < 1 || w < 1) {
    sr_fail(err, SR_EINVAL, "shape", "must be non-empty for an ising prior");
    return NULL;
  }
  if (!isfinite(coupling)) {
    sr_fail(err, SR_EINVAL, "prior.coupling", "must be finite");
    return NULL;
  }
  if (!isfinite(field)) {
    sr_fail(err, SR_EINVAL, "prior.field", "must be finite");
    return NULL;
  }
  if (!isfinite(a) || !isfinite(b) || !isfinite(b - a) || (float)a == (float)b) {
    sr_fail(err, SR_EINVAL, "prior.values", "must be two finite numbers that differ in float32 ([a, b] with a != b)");
    return NULL;
  }
  sr_prior *p = calloc(1, sizeof *p);
  sr_ising_params *q = calloc(1, sizeof *q);
  if (!p || !q) {
    free(p);
    free(q);
    sr_fail(err, SR_ENOMEM, "prior", "out of memory");
    return NULL;
  }
  *q = (sr_ising_params){h, w, coupling, field, periodic != 0, a, b};
  p->kind = "ising";
  p->discrete = 1;
  p->has_marginals = 0;
  p->lipschitz = INFINITY;
  p->logp = ising_logp;
  p->destroy = ising_destroy;
  p->impl = q;
  return p;
}
