/* sampler_langevin.c — Langevin dynamics on the posterior at noise level 0.
 *   ULA:  x ← x + η ∇log π(x) + √(2η) z                       (bias O(η): stationary law is not exactly π)
 *   MALA: the same proposal, accepted with probability
 *         min(1, π(x') q(x|x') / (π(x) q(x'|x))),  q(a|b) ∝ exp(−|a − b − η∇log π(b)|² / 4η)   (exact)
 * MALA adapts log η per chain during burn-in towards the target acceptance (Robbins–Monro), then freezes it,
 * so the kept states are from an exact, fixed kernel. log π = log prior − |y − Ax|²/(2σ²). */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_internal.h"

/* ---------------------------------------------------------------- validation and defaults */

static double posterior_lipschitz(const sr_problem *pb) {
  double L = pb->prior->lipschitz;
  if (pb->op) L += pb->op->norm2 / (pb->noise_sigma * pb->noise_sigma);
  return L;
}

/* Both run at noise level 0: the prior needs a finite score there, MALA its log density too. */
static sr_status level0_validate(sr_problem *pb, int mala, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  const char *sname = (mala ? &sr__mala_ops : &sr__langevin_ops)->name;
  if (!isfinite(pb->prior->lipschitz) && sr_prior_mixture(pb->prior, NULL, NULL, NULL, NULL))
    return sr_fail(err, SR_EINVAL, "sampler.type", "%s needs the prior's score at noise level 0, which prior.type %s "
                   "does not have (use annealed_langevin, pc or ode)", sname, pb->prior->kind);
  if (!isfinite(pb->prior->lipschitz)) {
    if (!strcmp(pb->prior->kind, "gaussian")) /* a std whose 1/std² overflows */
      return sr_fail(err, SR_EINVAL, "prior.std", "is so small that the score at noise level 0 is not finite: %s "
                     "cannot sample it (use a larger std, or annealed_langevin, pc or ode)", sname);
    return sr_fail(err, SR_EINVAL, "prior.stds", "has an atom (std 0), which has no score at noise level 0: "
                   "%s cannot sample it (use annealed_langevin, pc or ode)", sname);
  }
  if (mala && !pb->prior->logp)
    return sr_fail(err, SR_EINVAL, "sampler.type", "mala needs the prior's log density, which prior.type %s lacks",
                   pb->prior->kind);
  sr_status st = sr__chain_length(s, "steps", err);
  if (st) return st;
  double L = posterior_lipschitz(pb);
  if (s->step_size <= 0) {
    /* ULA: 0.1/L keeps the variance bias of the stiffest direction under 1/(1 − 0.05) − 1 ≈ 5%.
     * MALA: 1/(L n^(1/3)) start (the optimal scaling in n), then adapted during burn-in. */
    s->step_size = !mala ? 0.1 / L : 1.0 / (L * cbrt((double)pb->n));
  }
  if (mala && s->target_accept <= 0) s->target_accept = 0.574;
  return SR_OK;
}

static sr_status ula_validate(sr_problem *pb, sr_error *err) { return level0_validate(pb, 0, err); }
static sr_status mala_validate(sr_problem *pb, sr_error *err) { return level0_validate(pb, 1, err); }

/* ---------------------------------------------------------------- the chains */

static void keep_and_trace(sr_batch *bt, long it) {
  const sr_problem *pb = bt->ctx->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  size_t sn = bt->ctx->sn;
  for (size_t b = 0; b < bt->B; b++) {
    const float *xb = bt->x + b * sn;
    if (it >= s->burn_in && (it - s->burn_in) % s->thinning == 0) sr__keep(bt, b, xb);
    if (pb->trajectory_every > 0 && (it + 1) % pb->trajectory_every == 0)
      sr__traj(bt, b, (it + 1) / pb->trajectory_every, xb);
  }
}

static void init_level0(sr_batch *bt) {
  /* Start from a prior draw where the prior has one (over-dispersed, as MCMC diagnostics want),
   * otherwise from the adjoint of the observation (zero-filled), otherwise 0. */
  const sr_problem *pb = bt->ctx->pb;
  size_t sn = bt->ctx->sn;
  if (pb->prior->sample) {
    sr__init_state(bt, sr_noise_none());
  } else {
    for (size_t b = 0; b < bt->B; b++) {
      float *xb = bt->x + b * sn;
      if (pb->op) pb->op->adjoint(pb->op, pb->y, xb, bt->opws);
      else
        for (size_t i = 0; i < bt->ctx->n; i++) xb[i] = 0.0f;
    }
  }
  for (size_t b = 0; b < bt->B; b++) sr__traj(bt, b, 0, bt->x + b * sn);
}

/* The fused step (sr__ula_step_fused): one pass per chain after its FFT pair, instead of prior score, likelihood
 * add, normals, update and keep as five; the same bits. Trajectories are copied after it as before. */
static int run_ula_fused(sr_batch *bt, const sr_ula_fuse *f) {
  sr_run_ctx *c = bt->ctx;
  const sr_problem *pb = c->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  for (long it = 0; it < s->steps; it++) {
    if (!f->gaussian) pb->prior->score(pb->prior, bt->x, bt->B, c->n, sr_noise_none(), bt->g, bt->prws);
    int keep = it >= s->burn_in && (it - s->burn_in) % s->thinning == 0;
    for (size_t b = 0; b < bt->B; b++) sr__ula_step_fused(bt, b, f, keep);
    atomic_fetch_add_explicit(&c->score_evals, (long)bt->B, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->op_applies, (long)bt->B, memory_order_relaxed);
    if (pb->trajectory_every > 0 && (it + 1) % pb->trajectory_every == 0)
      for (size_t b = 0; b < bt->B; b++) sr__traj(bt, b, (it + 1) / pb->trajectory_every, bt->x + b * c->sn);
    if (sr__tick(bt, 1)) return 1;
  }
  return 0;
}

static int run_ula(sr_batch *bt) {
  const sr_problem *pb = bt->ctx->pb;
  size_t n = bt->ctx->n, sn = bt->ctx->sn;
  const double w = 1.0 / (pb->noise_sigma * pb->noise_sigma);
  sr_ula_fuse f;
  if (sr__ula_fuse_init(pb, w, pb->sampler.step_size, &f) == 0) return run_ula_fused(bt, &f);
  const float eta = (float)pb->sampler.step_size, sq = (float)sqrt(2.0 * pb->sampler.step_size);
  for (long it = 0; it < pb->sampler.steps; it++) {
    sr__posterior_score(bt, bt->x, sr_noise_none(), w, bt->g, NULL);
    for (size_t b = 0; b < bt->B; b++) {
      float *xb = bt->x + b * sn, *gb = bt->g + b * sn, *z = bt->z;
      sr__normals(bt, b, z);
      for (size_t i = 0; i < n; i++) xb[i] += eta * gb[i] + sq * z[i];
    }
    keep_and_trace(bt, it);
    if (sr__tick(bt, 1)) return 1;
  }
  return 0;
}

/* log π for each chain of a batch whose residual norms are rr. */
static void log_post(sr_batch *bt, const float *x, const double *rr, double *out) {
  const sr_problem *pb = bt->ctx->pb;
  double w = pb->op ? 0.5 / (pb->noise_sigma * pb->noise_sigma) : 0.0;
  for (size_t b = 0; b < bt->B; b++)
    out[b] = pb->prior->logp(pb->prior, x + b * bt->ctx->sn, bt->ctx->n, bt->prws) - w * rr[b];
}

/* MALA accept draws live far above the counters prior sampling uses for its component choices. */
#define MALA_UNIFORM_BASE (1ull << 62)

/* MALA's per-thread scratch, one entry per chain of a batch (ctx->B): residual norms, log π of the proposals,
 * accept uniforms, |z|² of the proposal noise. */
typedef struct {
  double *rr, *lp_new, *u, *zz;
} mala_scratch;

static void mala_scratch_free(void *ext) {
  mala_scratch *m = ext;
  if (!m) return;
  free(m->rr); free(m->lp_new); free(m->u); free(m->zz);
  free(m);
}

static void *mala_scratch_new(const sr_run_ctx *c) {
  mala_scratch *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->rr = malloc(c->B * sizeof(double));
  m->lp_new = malloc(c->B * sizeof(double));
  m->u = malloc(c->B * sizeof(double));
  m->zz = malloc(c->B * sizeof(double));
  if (!m->rr || !m->lp_new || !m->u || !m->zz) {
    mala_scratch_free(m);
    return NULL;
  }
  return m;
}

static int run_mala(sr_batch *bt) {
  sr_run_ctx *c = bt->ctx;
  const sr_problem *pb = c->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  size_t n = c->n, sn = c->sn, B = bt->B;
  const double w = 1.0 / (pb->noise_sigma * pb->noise_sigma);
  mala_scratch *m = bt->ext;
  double *rr = m->rr, *lp_new = m->lp_new, *u = m->u, *zz = m->zz;
  float *xp = bt->t1, *gp = bt->t2;
  sr__posterior_score(bt, bt->x, sr_noise_none(), w, bt->g, rr);
  log_post(bt, bt->x, rr, bt->logpi);
  long acc = 0, prop = 0;
  for (long it = 0; it < s->steps; it++) {
    /* proposal x' = x + η g + √(2η) z, with log q(x'|x) = −|z|²/2 */
    for (size_t b = 0; b < B; b++) {
      float eta = (float)bt->step[b], sq = (float)sqrt(2.0 * bt->step[b]);
      float *xb = bt->x + b * sn, *gb = bt->g + b * sn, *pb_ = xp + b * sn, *z = bt->z;
      sr__normals(bt, b, z);
      double s2 = 0.0;
      for (size_t i = 0; i < n; i++) {
        pb_[i] = xb[i] + eta * gb[i] + sq * z[i];
        s2 += (double)z[i] * z[i];
      }
      zz[b] = s2;
    }
    sr__posterior_score(bt, xp, sr_noise_none(), w, gp, rr);
    log_post(bt, xp, rr, lp_new);
    for (size_t b = 0; b < B; b++) sr_rng_uniforms(&bt->rng[b], MALA_UNIFORM_BASE + (uint64_t)it, &u[b], 1);
    for (size_t b = 0; b < B; b++) {
      double eta = bt->step[b];
      float *xb = bt->x + b * sn, *gb = bt->g + b * sn, *pb_ = xp + b * sn, *gpb = gp + b * sn;
      double back = 0.0; /* |x − x' − η g(x')|² */
      for (size_t i = 0; i < n; i++) {
        double d = (double)xb[i] - pb_[i] - eta * gpb[i];
        back += d * d;
      }
      double log_a = lp_new[b] - bt->logpi[b] - back / (4.0 * eta) + 0.5 * zz[b];
      double a = log_a >= 0 ? 1.0 : exp(log_a);
      if (isnan(a)) a = 0.0;
      int accept = u[b] < a;
      if (accept) {
        for (size_t i = 0; i < n; i++) {
          xb[i] = pb_[i];
          gb[i] = gpb[i];
        }
        bt->logpi[b] = lp_new[b];
      }
      if (it < s->burn_in) {
        if (s->adapt) {
          double gamma = 1.0 / pow((double)it + 10.0, 0.6);
          bt->step[b] *= exp(gamma * (a - s->target_accept));
        }
      } else {
        acc += accept;
        prop++;
      }
    }
    keep_and_trace(bt, it);
    if (sr__tick(bt, 1)) return 1;
  }
  atomic_fetch_add(&c->accepted, acc);
  atomic_fetch_add(&c->proposed, prop);
  return 0;
}

static int ula_batch(sr_batch *bt) {
  init_level0(bt);
  return run_ula(bt);
}

static int mala_batch(sr_batch *bt) {
  init_level0(bt);
  return run_mala(bt);
}

const sr_sampler_ops sr__langevin_ops = {
    .name = "langevin",
    .markov = 1,
    .validate = ula_validate,
    .run_batch = ula_batch,
};

const sr_sampler_ops sr__mala_ops = {
    .name = "mala",
    .markov = 1,
    .validate = mala_validate,
    .worker_new = mala_scratch_new,
    .worker_free = mala_scratch_free,
    .run_batch = mala_batch,
};
