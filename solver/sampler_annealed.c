/* sampler_annealed.c — annealed Langevin dynamics (Song & Ermon 2019) with the likelihood weighting of
 * Jalal et al. 2021: at geometric levels σ_i from σ_max to σ_min, T steps of
 *   x ← x + α_i [∇log p_σi(x) + Aᵀ(y − A x)/(σ_y² + σ_i²)] + √(2α_i) z,
 * with α_i = ε σ_i² / σ_min² (Song & Ermon), or α_i = ε / L_i under the "lipschitz" rule (sr_annealed_step).
 * The output is the state after the last level: one sample per chain. */
#include <math.h>

#include "sampler_internal.h"

static sr_status annealed_validate(sr_problem *pb, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  sr_status st = sr__need_marginals(pb, sr__annealed_ops.name, err);
  if (st) return st;
  if (s->sigma_max <= 0) s->sigma_max = 10.0;
  if (s->sigma_min <= 0) s->sigma_min = 0.01;
  if (s->levels <= 0) s->levels = 100;
  if (s->steps_per_level <= 0) s->steps_per_level = 10;
  if (!(s->sigma_max > s->sigma_min))
    return sr_fail(err, SR_EINVAL, "sampler.sigma_max", "must be larger than sampler.sigma_min");
  if (s->levels < 2) return sr_fail(err, SR_EINVAL, "sampler.levels", "must be >= 2");
  if (s->epsilon <= 0) {
    /* song: step_i · stiffness_i <= ε (1 + ||A||²)/σ_min² at every level, 0.2 keeps it well inside stability;
     * lipschitz: the step is ε / L_i, 0.1 bounds the ULA variance bias of the stiffest direction by ~5%. */
    double a2 = pb->op ? pb->op->norm2 : 0.0;
    s->epsilon = s->step_rule == SR_STEP_LIPSCHITZ ? 0.1 : 0.2 * s->sigma_min * s->sigma_min / (1.0 + a2);
  }
  return SR_OK;
}

/* song:      α_i = ε σ_i² / σ_min²                                  (Song & Ermon 2019)
 * lipschitz: α_i = ε / L_i,  L_i = 1/(σ_i² + 1/L_0) + ||A||²/(σ_y² + σ_i²)
 * where L_0 is the prior score's Lipschitz bound at level 0: smoothing by N(0, σ_i²) bounds the marginal's
 * stiffness by 1/(σ_i² + 1/L_0) (exact for a Gaussian; 1/σ_i² when L_0 is unknown). */
double sr_annealed_step(const sr_problem *pb, double sigma_i) {
  const sr_sampler_cfg *s = &pb->sampler;
  if (s->step_rule != SR_STEP_LIPSCHITZ) return s->epsilon * sigma_i * sigma_i / (s->sigma_min * s->sigma_min);
  double l0 = pb->prior->lipschitz, inv = isfinite(l0) && l0 > 0 ? 1.0 / l0 : 0.0;
  double L = 1.0 / (sigma_i * sigma_i + inv);
  if (pb->op) L += pb->op->norm2 / (pb->noise_sigma * pb->noise_sigma + sigma_i * sigma_i);
  return s->epsilon / L;
}

static int run_annealed(sr_batch *bt) {
  const sr_problem *pb = bt->ctx->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  size_t n = bt->ctx->n, sn = bt->ctx->sn;
  sr_noise nl = {1.0, 0.0, s->sigma_max};
  sr__init_state(bt, nl);
  for (size_t b = 0; b < bt->B; b++) sr__traj(bt, b, 0, bt->x + b * sn);
  long k = 0;
  double ratio = s->sigma_min / s->sigma_max;
  for (long lv = 0; lv < s->levels; lv++) {
    nl.sigma = s->sigma_max * pow(ratio, (double)lv / (double)(s->levels - 1));
    double w = pb->op ? sr__lik_weight(pb, nl) : 0.0;
    double a = sr_annealed_step(pb, nl.sigma);
    const float af = (float)a, sq = (float)sqrt(2.0 * a);
    for (long t = 0; t < s->steps_per_level; t++, k++) {
      sr__posterior_score(bt, bt->x, nl, w, bt->g, NULL);
      for (size_t b = 0; b < bt->B; b++) {
        float *xb = bt->x + b * sn, *gb = bt->g + b * sn, *z = bt->z;
        sr__normals(bt, b, z);
        for (size_t i = 0; i < n; i++) xb[i] += af * gb[i] + sq * z[i];
        if (pb->trajectory_every > 0 && (k + 1) % pb->trajectory_every == 0)
          sr__traj(bt, b, (k + 1) / pb->trajectory_every, xb);
      }
      if (sr__tick(bt, 1)) return 1;
    }
  }
  for (size_t b = 0; b < bt->B; b++) sr__keep(bt, b, bt->x + b * sn);
  return 0;
}

static long annealed_traj_steps(const sr_sampler_cfg *s) { return s->levels * s->steps_per_level; }

const sr_sampler_ops sr__annealed_ops = {
    .name = "annealed_langevin",
    .validate = annealed_validate,
    .traj_steps = annealed_traj_steps,
    .run_batch = run_annealed,
};
