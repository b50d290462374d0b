/* sampler_ddim.c — the few-step samplers on a DDIM time grid with an exact data step in the operator's spectral
 * basis (AᵀA = V diag(λ) Vᵀ; op->to_spec). Everything runs in x0 units: u = (x − shift)/α, noise r = σ/α, so that
 * u_k = x0 + r_k z for every SDE. With x̂0 = E[x0 | x_k] (Tweedie) and, per spectral coefficient f, the
 * observation ȳ_f = b_f/λ_f of noise n_f = σ_y/√λ_f (b = Vᵀ Aᵀ y):
 *
 * ddrm (Kawar et al. 2022), from r_k to r' = r_{k−1}:
 *   λ_f = 0:       u'_f = x̂0_f + √(1−η²) r' (u_f − x̂0_f)/r_k + η r' z_f
 *   r' <  n_f:     u'_f = x̂0_f + √(1−η²) r' (ȳ_f − x̂0_f)/n_f + η r' z_f
 *   r' >= n_f:     u'_f = (1−η_b) x̂0_f + η_b ȳ_f + √(r'² − η_b² n_f²) z_f
 *   start: u_K = ȳ + √(r_K² − n_f²) z on coefficients with n_f <= r_K, the prior's marginal elsewhere.
 *   Coefficients with λ_f <= 1e-6 ‖A‖² count as unobserved (float spectra carry no information there).
 * diffpir (Zhu et al. 2023), half-quadratic splitting:
 *   x̂0' = argmin ‖y − A x‖² + ρ_k ‖x − x̂0‖²  →  x̂0'_f = (b_f + ρ_k x̂0_f)/(λ_f + ρ_k),  ρ_k = λ σ_y² / r_k²
 *   ε̂ = (u − x̂0')/r_k,   u' = x̂0' + r' (√(1−ζ) ε̂ + √ζ z)
 * Both end at k = 0 (r = 0) with u = x̂0 (ddrm) or x̂0' (diffpir): `steps` network evaluations per sample. */
#include <math.h>

#include "sampler_internal.h"

static sr_status ddrm_validate(sr_problem *pb, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  sr_status st = sr__grid_validate(pb, sr__ddrm_ops.name, err);
  if (st) return st;
  if (s->eta < 0) s->eta = 0.85;
  if (s->eta_b < 0) s->eta_b = 1.0;
  if (!(s->eta <= 1)) return sr_fail(err, SR_EINVAL, "sampler.eta", "must be in [0, 1]");
  if (!(s->eta_b <= 1)) return sr_fail(err, SR_EINVAL, "sampler.eta_b", "must be in [0, 1]");
  return SR_OK;
}

static sr_status diffpir_validate(sr_problem *pb, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  sr_status st = sr__grid_validate(pb, sr__diffpir_ops.name, err);
  if (st) return st;
  if (s->dp_lambda <= 0) s->dp_lambda = 1.0;
  if (s->zeta < 0) s->zeta = 0.3;
  if (!isfinite(s->dp_lambda)) return sr_fail(err, SR_EINVAL, "sampler.lambda", "must be a finite number > 0");
  if (!(s->zeta <= 1)) return sr_fail(err, SR_EINVAL, "sampler.zeta", "must be in [0, 1]");
  return SR_OK;
}

/* ddrm: nonzero for ddrm, 0 for diffpir. */
static int run_ddim(sr_batch *bt, int ddrm) {
  sr_run_ctx *c = bt->ctx;
  const sr_problem *pb = c->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  const sr_op *op = c->sop;
  const size_t n = c->n, sn = c->sn, nf = op->spec_floats, ssf = c->ssf;
  const long K = s->steps;
  const double sy = pb->op ? pb->noise_sigma : 0.0, eta = s->eta, etab = s->eta_b;
  const double lam_min = 1e-6 * (op->norm2 > 0 ? op->norm2 : 1.0);
  const float *lam = op->spec_lambda, *bb = c->aty_spec;
  float *x = bt->x, *x0 = bt->t1, *u = bt->t2, *z = bt->z;
  float *c0 = bt->s1, *cu = bt->s2, *cz = bt->s3;

  sr_noise nl = sr__grid_level(s, K);
  sr__init_state(bt, nl);
  if (ddrm && pb->op) {
    double r = nl.sigma / nl.alpha;
    for (size_t b = 0; b < bt->B; b++) {
      float *xb = x + b * sn, *cub = cu + b * ssf, *czb = cz + b * ssf;
      for (size_t i = 0; i < n; i++) u[i] = (float)((xb[i] - nl.shift) / nl.alpha);
      op->to_spec(op, u, cub, bt->opws);
      sr__normals(bt, b, z);
      op->to_spec(op, z, czb, bt->opws);
      for (size_t f = 0; f < nf; f++) {
        double l = lam[f];
        if (l <= lam_min) continue;
        double n2 = sy * sy / l;
        if (n2 <= r * r) cub[f] = (float)(bb[f] / l + sqrt(r * r - n2) * czb[f]);
      }
      op->from_spec(op, cub, u, bt->opws);
      for (size_t i = 0; i < n; i++) xb[i] = (float)(nl.alpha * u[i] + nl.shift);
    }
  }
  for (size_t b = 0; b < bt->B; b++) sr__traj(bt, b, 0, x + b * sn);

  for (long k = K; k >= 1; k--) {
    sr_noise np = sr__grid_level(s, k - 1);
    const double r = nl.sigma / nl.alpha, rp = np.sigma / np.alpha;
    sr__denoise(bt, x, nl, x0);
    const double rho = sy > 0 ? s->dp_lambda * sy * sy / (r * r) : 0.0;
    const double keep = sqrt(1.0 - (ddrm ? eta * eta : s->zeta)), fresh = ddrm ? eta * rp : sqrt(s->zeta) * rp;
    for (size_t b = 0; b < bt->B; b++) {
      float *xb = x + b * sn, *x0b = x0 + b * sn;
      float *c0b = c0 + b * ssf, *cub = cu + b * ssf, *czb = cz + b * ssf;
      for (size_t i = 0; i < n; i++) u[i] = (float)((xb[i] - nl.shift) / nl.alpha);
      op->to_spec(op, u, cub, bt->opws);
      op->to_spec(op, x0b, c0b, bt->opws);
      if (rp > 0) {
        sr__normals(bt, b, z);
        op->to_spec(op, z, czb, bt->opws);
      } else {
        for (size_t f = 0; f < nf; f++) czb[f] = 0.0f;
      }
      if (ddrm) {
        for (size_t f = 0; f < nf; f++) {
          double l = lam[f], h = c0b[f], zf = czb[f], v;
          if (l <= lam_min || !pb->op) {
            v = h + keep * rp * ((double)cub[f] - h) / r + fresh * zf;
          } else {
            double nfo = sy / sqrt(l), yb = bb[f] / l;
            if (rp < nfo) v = h + keep * rp * (yb - h) / nfo + fresh * zf;
            else v = (1.0 - etab) * h + etab * yb + sqrt(rp * rp - etab * etab * nfo * nfo) * zf;
          }
          cub[f] = (float)v;
        }
      } else {
        for (size_t f = 0; f < nf; f++) {
          double l = lam[f], h = c0b[f];
          double hp = l + rho > 0 ? ((double)bb[f] + rho * h) / (l + rho) : h;
          double e = ((double)cub[f] - hp) / r;
          cub[f] = (float)(hp + rp * keep * e + fresh * czb[f]);
        }
      }
      op->from_spec(op, cub, u, bt->opws);
      for (size_t i = 0; i < n; i++) xb[i] = (float)(np.alpha * u[i] + np.shift);
      long step = K - k + 1;
      if (pb->trajectory_every > 0 && step % pb->trajectory_every == 0) sr__traj(bt, b, step / pb->trajectory_every, xb);
    }
    nl = np;
    if (sr__tick(bt, 1)) return 1;
  }
  for (size_t b = 0; b < bt->B; b++) sr__keep(bt, b, x + b * sn);
  return 0;
}

static int ddrm_batch(sr_batch *bt) { return run_ddim(bt, 1); }
static int diffpir_batch(sr_batch *bt) { return run_ddim(bt, 0); }

const sr_sampler_ops sr__ddrm_ops = {
    .name = "ddrm",
    .validate = ddrm_validate,
    .prepare = sr__grid_prepare,
    .release = sr__grid_release,
    .run_batch = ddrm_batch,
};

const sr_sampler_ops sr__diffpir_ops = {
    .name = "diffpir",
    .validate = diffpir_validate,
    .prepare = sr__grid_prepare,
    .release = sr__grid_release,
    .run_batch = diffpir_batch,
};
