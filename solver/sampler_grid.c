/* sampler_grid.c — what ddrm, diffpir and smc share: their validation's common part, the time grid t_k = T k/K of
 * the job's SDE, Tweedie's
 * denoiser from the prior score, the operator's spectral form (AᵀA = V diag(λ) Vᵀ) with Vᵀ Aᵀ y, and the
 * Gaussian marginal likelihood N(y; A m, c² I + v A Aᵀ) that smc weights with. */
#include <math.h>
#include <string.h>

#include "sampler_internal.h"

/* An operator with a spectral form (or none), the SDE, and the steps' default of docs/samplers.md. */
sr_status sr__grid_validate(sr_problem *pb, const char *sname, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  sr_status st = sr__need_marginals(pb, sname, err);
  if (st) return st;
  if (pb->op && !pb->op->to_spec)
    return sr_fail(err, SR_EINVAL, "sampler.type", "%s needs an operator that one orthonormal basis diagonalises "
                   "(identity, mask, blur or fourier, alone); a list of operators has no such basis: use pc, "
                   "annealed_langevin or ode", sname);
  if (s->sde.kind == 0) return sr_fail(err, SR_EINVAL, "sampler.sde", "is required for %s", sname);
  if (s->steps <= 0) s->steps = 100;
  return SR_OK;
}

sr_noise sr__grid_level(const sr_sampler_cfg *s, long k) {
  if (k <= 0) return sr_noise_none();
  return sr_sde_marginal(&s->sde, s->sde.T * (double)k / (double)s->steps);
}

/* E[x0 | x_t] = (x_t + σ² ∇log p_t(x_t) − shift) / α  (Tweedie; x_t = α x0 + shift + σ z). */
void sr__denoise(sr_batch *bt, const float *x, sr_noise nl, float *x0) {
  sr_run_ctx *c = bt->ctx;
  const sr_prior *pr = c->pb->prior;
  size_t n = c->n, sn = c->sn;
  pr->score(pr, x, bt->B, n, nl, x0, bt->prws);
  atomic_fetch_add_explicit(&c->score_evals, (long)bt->B, memory_order_relaxed);
  const double s2 = nl.sigma * nl.sigma, ia = 1.0 / nl.alpha, sh = nl.shift;
  for (size_t b = 0; b < bt->B; b++) {
    const float *xb = x + b * sn;
    float *ob = x0 + b * sn;
    for (size_t i = 0; i < n; i++) ob[i] = (float)(((double)xb[i] + s2 * (double)ob[i] - sh) * ia);
  }
}

sr_status sr__grid_prepare(sr_run_ctx *c, sr_error *err) {
  const sr_problem *pb = c->pb;
  if (pb->op) {
    if (sr_op_spec_prepare(pb->op)) goto nomem;
    c->sop = pb->op;
  } else { /* no measurement: an all-zero mask (λ = 0 everywhere) makes every data step the identity */
    float *zero = sr_alloc(pb->n);
    if (zero) c->own_sop = sr_op_mask(pb->rank, pb->shape, zero, NULL);
    sr_free(zero);
    if (!c->own_sop || sr_op_spec_prepare(c->own_sop)) goto nomem;
    c->sop = c->own_sop;
  }
  const sr_op *op = c->sop;
  c->ssf = sr_stride(op->spec_floats);
  c->aty_spec = sr_alloc(c->ssf);
  float *ws = sr_alloc(sr_stride(op->n_out) + op->ws_floats + 16);
  if (!c->aty_spec || !ws) {
    sr_free(ws);
    goto nomem;
  }
  if (c->aty) op->to_spec(op, c->aty, c->aty_spec, ws);
  sr_free(ws);
  c->m_obs = 0;
  if (pb->op && pb->y)
    for (size_t i = 0; i < op->n_out; i++) c->m_obs += op->obs_mask ? op->obs_mask[i] != 0.0f : 1;
  return SR_OK;
nomem:
  return sr_fail(err, SR_ENOMEM, "num_samples", "out of memory for %zu chains of %zu pixels", (size_t)pb->num_samples,
                 pb->n);
}

void sr__grid_release(sr_run_ctx *c) {
  sr_op_free(c->own_sop);
  c->own_sop = NULL;
  sr_free(c->aty_spec);
  c->aty_spec = NULL;
}

/* log N(y; A m, c² I + v A Aᵀ) over the M observed real components (Woodbury and Sylvester in V's basis):
 *   quad   = ‖y − A m‖²/c² − (v/c⁴) Σ_f w_f ρ_f² / (1 + v λ_f/c²),   ρ = Vᵀ Aᵀ (y − A m) = b − λ ⊙ m̂
 *   logdet = M log c² + Σ_f dof_f log(1 + v λ_f / c²)
 *   log N  = −½ (M log 2π + logdet + quad).
 * ‖y − A m‖² is taken through the forward operator, not from spectra, to avoid cancellation. */
double sr__log_lik_marginal(sr_batch *bt, const float *m, const float *mh, double c2, double v, float *r) {
  const sr_run_ctx *c = bt->ctx;
  const sr_problem *pb = c->pb;
  if (!pb->op || c->m_obs == 0) return 0.0;
  const sr_op *op = pb->op;
  op->forward(op, m, r, bt->opws);
  atomic_fetch_add_explicit(&bt->ctx->op_applies, 1, memory_order_relaxed);
  double rr = 0.0;
  for (size_t i = 0; i < op->n_out; i++) {
    if (op->obs_mask && op->obs_mask[i] == 0.0f) continue;
    double d = (double)pb->y[i] - r[i];
    rr += d * d;
  }
  double quad = rr / c2, logdet = (double)c->m_obs * log(c2);
  if (v > 0) {
    const float *lam = op->spec_lambda, *w = op->spec_weight, *dof = op->spec_dof, *bb = c->aty_spec;
    double corr = 0.0, ld = 0.0;
    for (size_t f = 0; f < op->spec_floats; f++) {
      double l = lam[f];
      if (l == 0.0) continue;
      double g = v * l / c2, rho = (double)bb[f] - l * (double)mh[f];
      corr += (double)w[f] * rho * rho / (1.0 + g);
      ld += (double)dof[f] * log1p(g);
    }
    quad -= v / (c2 * c2) * corr;
    logdet += ld;
  }
  return -0.5 * ((double)c->m_obs * log(2.0 * M_PI) + logdet + quad);
}
