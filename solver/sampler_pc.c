/* sampler_pc.c — predictor–corrector sampling of the reverse-time SDE (Song et al. 2021), and the
 * probability-flow ODE with the same SDEs.
 *   reverse SDE (Anderson 1982): dx = [f(x,t) − g(t)² s(x,t)] dt + g(t) dw̄, from T to 0
 *   predictor (Euler–Maruyama, Δt > 0 backwards): x ← x − [f − g² s] Δt + g √Δt z
 *   corrector (Langevin, score_sde's snr rule):   ε = 2 a (snr |z| / |s|)²,  x ← x + ε s + √(2ε) z,
 *                                                 a = 1 − β(t)Δt for VP, else 1
 *   ODE: dx/dt = f − ½ g² s, Heun's method (Euler on the last step, where t − Δt = 0 may have no score).
 * s is the posterior score: prior score of p_t plus the likelihood term at weight 1/(σ_y² + σ_t²/α_t²)
 * taken at x̂ = (x − shift_t)/α_t. Chains start from the prior's exact marginal at T. */
#include <math.h>

#include "sampler_internal.h"

/* pc and ode: the SDE is required; `steps` defaults to steps0. */
static sr_status sde_validate(sr_problem *pb, const char *sname, long steps0, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  sr_status st = sr__need_marginals(pb, sname, err);
  if (st) return st;
  if (s->sde.kind == 0) return sr_fail(err, SR_EINVAL, "sampler.sde", "is required for %s", sname);
  if (s->steps <= 0) s->steps = steps0;
  return SR_OK;
}

static sr_status pc_validate(sr_problem *pb, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  sr_status st = sde_validate(pb, sr__pc_ops.name, 1000, err);
  if (st) return st;
  if (s->snr <= 0) s->snr = 0.16;
  if (s->corrector_steps < 0) s->corrector_steps = 1;
  return SR_OK;
}

static sr_status ode_validate(sr_problem *pb, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  sr_status st = sde_validate(pb, sr__ode_ops.name, 500, err);
  if (st) return st;
  if (s->ode_method == 0) s->ode_method = 2;
  return SR_OK;
}

/* Progress: every predictor and corrector step. */
static long pc_progress_units(const sr_sampler_cfg *s) { return s->steps * (1 + s->corrector_steps); }

/* A trajectory's step k is at SDE time T − T k / steps. */
static double sde_traj_time(const sr_sampler_cfg *s, long step) {
  return s->sde.T - s->sde.T * (double)step / (double)s->steps;
}

static void start(sr_batch *bt) {
  const sr_sde *sde = &bt->ctx->pb->sampler.sde;
  sr__init_state(bt, sr_sde_marginal(sde, sde->T));
  for (size_t b = 0; b < bt->B; b++) sr__traj(bt, b, 0, bt->x + b * bt->ctx->sn);
}

static void finish_step(sr_batch *bt, long i) {
  const sr_problem *pb = bt->ctx->pb;
  for (size_t b = 0; b < bt->B; b++)
    if (pb->trajectory_every > 0 && (i + 1) % pb->trajectory_every == 0)
      sr__traj(bt, b, (i + 1) / pb->trajectory_every, bt->x + b * bt->ctx->sn);
}

static double weight_at(const sr_problem *pb, sr_noise nl) { return pb->op ? sr__lik_weight(pb, nl) : 0.0; }

static int run_pc(sr_batch *bt) {
  const sr_problem *pb = bt->ctx->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  const sr_sde *sde = &s->sde;
  size_t n = bt->ctx->n, sn = bt->ctx->sn;
  const double dt = sde->T / (double)s->steps;
  start(bt);
  for (long i = 0; i < s->steps; i++) {
    double t = sde->T - (double)i * dt;
    sr_noise nl = sr_sde_marginal(sde, t);
    double w = weight_at(pb, nl), flin, fc, g;
    sr_sde_coef(sde, t, &flin, &fc, &g);
    double a = sde->kind == SR_SDE_VP ? 1.0 - (-2.0 * flin) * dt : 1.0;
    for (long c = 0; c < s->corrector_steps; c++) {
      sr__posterior_score(bt, bt->x, nl, w, bt->g, NULL);
      for (size_t b = 0; b < bt->B; b++) {
        float *xb = bt->x + b * sn, *gb = bt->g + b * sn, *z = bt->z;
        sr__normals(bt, b, z);
        double zn = 0.0, gn = 0.0;
        for (size_t k = 0; k < n; k++) {
          zn += (double)z[k] * z[k];
          gn += (double)gb[k] * gb[k];
        }
        if (!(gn > 0)) continue;
        double eps = 2.0 * a * s->snr * s->snr * zn / gn;
        float ef = (float)eps, sq = (float)sqrt(2.0 * eps);
        for (size_t k = 0; k < n; k++) xb[k] += ef * gb[k] + sq * z[k];
      }
      if (sr__tick(bt, 1)) return 1;
    }
    sr__posterior_score(bt, bt->x, nl, w, bt->g, NULL);
    int last = i == s->steps - 1;
    const float g2dt = (float)(g * g * dt), mlin = (float)(1.0 - flin * dt), mc = (float)(-fc * dt);
    const float gs = (last && s->denoise) ? 0.0f : (float)(g * sqrt(dt));
    for (size_t b = 0; b < bt->B; b++) {
      float *xb = bt->x + b * sn, *gb = bt->g + b * sn, *z = bt->z;
      if (gs != 0.0f) sr__normals(bt, b, z);
      for (size_t k = 0; k < n; k++) xb[k] = mlin * xb[k] + mc + g2dt * gb[k] + (gs != 0.0f ? gs * z[k] : 0.0f);
    }
    finish_step(bt, i);
    if (sr__tick(bt, 1)) return 1;
  }
  for (size_t b = 0; b < bt->B; b++) sr__keep(bt, b, bt->x + b * sn);
  return 0;
}

/* out = F(x, t) = f(x, t) − ½ g(t)² s(x, t) for the batch. */
static void ode_field(sr_batch *bt, const float *x, double t, float *out) {
  const sr_problem *pb = bt->ctx->pb;
  const sr_sde *sde = &pb->sampler.sde;
  size_t n = bt->ctx->n, sn = bt->ctx->sn;
  sr_noise nl = sr_sde_marginal(sde, t);
  double flin, fc, g;
  sr_sde_coef(sde, t, &flin, &fc, &g);
  sr__posterior_score(bt, x, nl, weight_at(pb, nl), out, NULL);
  const float hl = (float)(0.5 * g * g), fl = (float)flin, fcf = (float)fc;
  for (size_t b = 0; b < bt->B; b++) {
    const float *xb = x + b * sn;
    float *ob = out + b * sn;
    for (size_t k = 0; k < n; k++) ob[k] = fl * xb[k] + fcf - hl * ob[k];
  }
}

static int run_ode(sr_batch *bt) {
  const sr_problem *pb = bt->ctx->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  const sr_sde *sde = &s->sde;
  size_t n = bt->ctx->n, sn = bt->ctx->sn, all = bt->B * sn;
  const double dt = sde->T / (double)s->steps;
  float *k1 = bt->t1, *xe = bt->t2, *k2 = bt->g;
  start(bt);
  (void)n;
  for (long i = 0; i < s->steps; i++) {
    double t = sde->T - (double)i * dt;
    int last = i == s->steps - 1;
    ode_field(bt, bt->x, t, k1);
    const float h = (float)dt;
    if (s->ode_method == 1 || last) {
      for (size_t k = 0; k < all; k++) bt->x[k] -= h * k1[k];
    } else {
      for (size_t k = 0; k < all; k++) xe[k] = bt->x[k] - h * k1[k];
      ode_field(bt, xe, t - dt, k2);
      const float hh = 0.5f * h;
      for (size_t k = 0; k < all; k++) bt->x[k] -= hh * (k1[k] + k2[k]);
    }
    finish_step(bt, i);
    if (sr__tick(bt, 1)) return 1;
  }
  for (size_t b = 0; b < bt->B; b++) sr__keep(bt, b, bt->x + b * sn);
  return 0;
}

const sr_sampler_ops sr__pc_ops = {
    .name = "pc",
    .validate = pc_validate,
    .progress_units = pc_progress_units,
    .traj_time = sde_traj_time,
    .run_batch = run_pc,
};

const sr_sampler_ops sr__ode_ops = {
    .name = "ode",
    .validate = ode_validate,
    .traj_time = sde_traj_time,
    .run_batch = run_ode,
};
