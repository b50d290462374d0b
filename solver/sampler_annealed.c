/* sampler_annealed.c — annealed Langevin dynamics (Song & Ermon 2019) with the likelihood weighting of
 * Jalal et al. 2021: at geometric levels σ_i from σ_max to σ_min, T steps of
 *   x ← x + α_i [∇log p_σi(x) + Aᵀ(y − A x)/(σ_y² + σ_i²)] + √(2α_i) z,
 * with α_i = ε σ_i² / σ_min² (Song & Ermon), or α_i = ε / L_i under the "lipschitz" rule (sr_annealed_step).
 * The output is the state after the last level: one sample per chain. */
#include <math.h>

#include "sampler_internal.h"

int sr__run_annealed(sr_batch *bt) {
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
