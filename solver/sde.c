/* sde.c — the forward SDEs: coefficients f(x,t) = f_lin x + f_const, g(t), and their exact marginals
 * x_t = alpha(t) x0 + shift(t) + sigma(t) z.
 *   VE:    f = 0, g² = d/dt sigma_ve(t)², sigma_ve(t) = smin (smax/smin)^t; marginal var sigma_ve(t)² − smin²
 *          (so the marginal at t = 0 is the data itself, and g² = 2 sigma_ve(t)² ln(smax/smin)).
 *   VP:    f = −½ beta(t) x, g = sqrt(beta(t)), beta linear on [0, T]; alpha = exp(−½ ∫beta), var = 1 − alpha².
 *   drift: f = mu, g = sigma; alpha = 1, shift = mu t, var = sigma² t. */
#include <math.h>

#include "scorerecon.h"

static double vp_beta(const sr_sde *s, double t) { return s->beta_min + (s->beta_max - s->beta_min) * t / s->T; }

sr_noise sr_sde_marginal(const sr_sde *s, double t) {
  sr_noise nl = {1.0, 0.0, 0.0};
  switch (s->kind) {
  case SR_SDE_VE: {
    double sv = s->sigma_min * pow(s->sigma_max / s->sigma_min, t);
    double v = sv * sv - s->sigma_min * s->sigma_min;
    nl.sigma = v > 0 ? sqrt(v) : 0.0;
    break;
  }
  case SR_SDE_VP: {
    double integral = s->beta_min * t + 0.5 * (s->beta_max - s->beta_min) * t * t / s->T;
    nl.alpha = exp(-0.5 * integral);
    double v = -expm1(-integral); /* 1 − alpha² without cancellation */
    nl.sigma = v > 0 ? sqrt(v) : 0.0;
    break;
  }
  case SR_SDE_DRIFT:
    nl.shift = s->mu * t;
    nl.sigma = s->sigma * sqrt(t > 0 ? t : 0.0);
    break;
  }
  return nl;
}

void sr_sde_coef(const sr_sde *s, double t, double *f_lin, double *f_const, double *g) {
  *f_lin = 0.0;
  *f_const = 0.0;
  switch (s->kind) {
  case SR_SDE_VE: {
    double sv = s->sigma_min * pow(s->sigma_max / s->sigma_min, t);
    *g = sv * sqrt(2.0 * log(s->sigma_max / s->sigma_min));
    break;
  }
  case SR_SDE_VP: {
    double b = vp_beta(s, t);
    *f_lin = -0.5 * b;
    *g = sqrt(b);
    break;
  }
  case SR_SDE_DRIFT:
    *f_const = s->mu;
    *g = s->sigma;
    break;
  }
}

const char *sr_sde_name(sr_sde_kind k) {
  switch (k) {
  case SR_SDE_VE: return "ve";
  case SR_SDE_VP: return "vp";
  case SR_SDE_DRIFT: return "drift";
  }
  return "?";
}
