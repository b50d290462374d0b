/* sampler_annealed.c — annealed Langevin dynamics (Song & Ermon 2019) with the likelihood weighting of
 * Jalal et al. 2021: at geometric levels σ_i from σ_max to σ_min, T steps of
 *   x ← x + α_i [∇log p_σi(x) + Aᵀ(y − A x)/(σ_y² + σ_i²)] + √(2α_i) z,
 * with α_i = ε σ_i² / σ_min² (Song & Ermon), or α_i = ε / L_i under the "lipschitz" rule (sr_annealed_step).
 * Then `final_steps` steps at σ_min with the exact likelihood weight 1/σ_y² (the final exact-likelihood stage).
 *
 * The "spectral" rule preconditions in the operator's spectral basis (AᵀA = V diag(λ) Vᵀ, op->to_spec). Per
 * coefficient f the level's target has the stiffness d_f = a_i + w_i λ_f, a_i = 1/(σ_i² + 1/Lip₀) (exact for a
 * Gaussian prior, a bound otherwise) and w_i the level's likelihood weight; the step is the exact transition over
 * time τ_i = ε/a_i of the Ornstein–Uhlenbeck process with that stiffness,
 *   c_f ← c_f + (1 − ρ_f)/d_f · G_f + √((1 − ρ_f²)/d_f) ζ_f,   ρ_f = exp(−τ_i d_f),
 * G = Vᵀ∇log p_σi(x) + w_i (Vᵀ Aᵀy − λ ⊙ c) the posterior score's coefficients and ζ = Vᵀz white. For a Gaussian
 * prior it leaves the level's target exactly invariant whatever ε (docs/samplers.md derives it and the bias
 * that remains for other priors). The state is carried as c = Vᵀx: one transform of the prior score and one of
 * the noise in, one out, per step.
 * The output is the state after the last level (and the final stage): one sample per chain. */
#include <math.h>
#include <stdlib.h>

#include "sampler_internal.h"

/* The final stage's length: the job's, else 1 under spectral (one step draws the observed coefficients of the
 * final stage exactly) and 0 under song and lipschitz (existing jobs keep their bits). */
static long final_steps(const sr_sampler_cfg *s) {
  return s->final_steps >= 0 ? s->final_steps : s->step_rule == SR_STEP_SPECTRAL ? 1 : 0;
}

static sr_status annealed_validate(sr_problem *pb, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  sr_status st = sr__need_marginals(pb, sr__annealed_ops.name, err);
  if (st) return st;
  if (s->step_rule < SR_STEP_SONG || s->step_rule > SR_STEP_SPECTRAL)
    return sr_fail(err, SR_EINVAL, "sampler.step_rule", "must be \"song\", \"lipschitz\" or \"spectral\"");
  if (s->step_rule == SR_STEP_SPECTRAL) {
    if (pb->complex_image)
      return sr_fail(err, SR_EINVAL, "sampler.step_rule", "spectral does not take complex images (image_dtype "
                     "complex64): use song or lipschitz");
    if (pb->op && !pb->op->to_spec)
      return sr_fail(err, SR_EINVAL, "sampler.step_rule", "spectral needs an operator that one orthonormal basis "
                     "diagonalises (identity, mask, blur or fourier, alone; a list of operators has none): use song "
                     "or lipschitz");
  }
  if (s->sigma_max <= 0) s->sigma_max = 10.0;
  if (s->sigma_min <= 0) s->sigma_min = 0.01;
  if (s->levels <= 0) s->levels = 100;
  if (s->steps_per_level <= 0) s->steps_per_level = 10;
  s->final_steps = final_steps(s);
  if (!(s->sigma_max > s->sigma_min))
    return sr_fail(err, SR_EINVAL, "sampler.sigma_max", "must be larger than sampler.sigma_min");
  if (s->levels < 2) return sr_fail(err, SR_EINVAL, "sampler.levels", "must be >= 2");
  if (s->epsilon <= 0) {
    /* song: step_i · stiffness_i <= ε (1 + ||A||²)/σ_min² at every level, 0.2 keeps it well inside stability;
     * lipschitz: the step is ε / L_i, 0.1 bounds the ULA variance bias of the stiffest direction by ~5%;
     * spectral: ρ = e^−ε in the directions the data do not reach; 0.1 bounds the variance deficit there to
     * (1 − e^−0.1)/2 < 5% when the prior's true stiffness is far below the bound a_i (docs/samplers.md). */
    double a2 = pb->op ? pb->op->norm2 : 0.0;
    s->epsilon = s->step_rule == SR_STEP_SONG ? 0.2 * s->sigma_min * s->sigma_min / (1.0 + a2) : 0.1;
  }
  return SR_OK;
}

/* The prior's stiffness bound at level σ: smoothing by N(0, σ²) caps it at 1/(σ² + 1/L_0), L_0 the level-0
 * Lipschitz bound (exact for a Gaussian prior; 1/σ² when L_0 is unknown). */
static double prior_stiffness(const sr_problem *pb, double sigma) {
  double l0 = pb->prior->lipschitz, inv = isfinite(l0) && l0 > 0 ? 1.0 / l0 : 0.0;
  return 1.0 / (sigma * sigma + inv);
}

/* song:      α_i = ε σ_i² / σ_min²                                  (Song & Ermon 2019)
 * lipschitz: α_i = ε / L_i,  L_i = 1/(σ_i² + 1/L_0) + ||A||²/v       (v = σ_y² + σ_i², or σ_y² at the end)
 * spectral:  τ_i = ε / a_i,  a_i = 1/(σ_i² + 1/L_0)                  (the OU time step; per coefficient below) */
static double step_at(const sr_problem *pb, double sigma_i, double v) {
  const sr_sampler_cfg *s = &pb->sampler;
  if (s->step_rule == SR_STEP_SONG) return s->epsilon * sigma_i * sigma_i / (s->sigma_min * s->sigma_min);
  double L = prior_stiffness(pb, sigma_i);
  if (s->step_rule == SR_STEP_LIPSCHITZ && pb->op) L += pb->op->norm2 / v;
  return s->epsilon / L;
}

double sr_annealed_step(const sr_problem *pb, double sigma_i) {
  return step_at(pb, sigma_i, pb->noise_sigma * pb->noise_sigma + sigma_i * sigma_i);
}

double sr_annealed_final_step(const sr_problem *pb) {
  return step_at(pb, pb->sampler.sigma_min, pb->noise_sigma * pb->noise_sigma);
}

/* Stage lv < levels is level lv; stage levels is the final exact-likelihood stage. */
static long stage(const sr_problem *pb, long lv, sr_noise *nl, double *w) {
  const sr_sampler_cfg *s = &pb->sampler;
  nl->alpha = 1.0;
  nl->shift = 0.0;
  if (lv == s->levels) {
    nl->sigma = s->sigma_min;
    *w = pb->op ? 1.0 / (pb->noise_sigma * pb->noise_sigma) : 0.0;
    return s->final_steps;
  }
  nl->sigma = s->sigma_max * pow(s->sigma_min / s->sigma_max, (double)lv / (double)(s->levels - 1));
  *w = pb->op ? sr__lik_weight(pb, *nl) : 0.0;
  return s->steps_per_level;
}

static int run_annealed(sr_batch *bt) {
  const sr_problem *pb = bt->ctx->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  size_t n = bt->ctx->n, sn = bt->ctx->sn;
  sr_noise nl = {1.0, 0.0, s->sigma_max};
  sr__init_state(bt, nl);
  for (size_t b = 0; b < bt->B; b++) sr__traj(bt, b, 0, bt->x + b * sn);
  long k = 0;
  for (long lv = 0; lv <= s->levels; lv++) {
    double w;
    long steps = stage(pb, lv, &nl, &w);
    double a = lv < s->levels ? sr_annealed_step(pb, nl.sigma) : sr_annealed_final_step(pb);
    const float af = (float)a, sq = (float)sqrt(2.0 * a);
    for (long t = 0; t < steps; t++, k++) {
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

/* ---------------------------------------------------------------- the spectral rule */

/* Per thread: a stage's coefficients (1 − ρ_f)/d_f and √((1 − ρ_f²)/d_f), spec_floats each. */
typedef struct {
  float *h, *q;
} spectral_ws;

static void *annealed_worker_new(const sr_run_ctx *c) {
  spectral_ws *ws = calloc(1, sizeof *ws);
  if (!ws || !c->sop) return ws; /* song, lipschitz: nothing per thread */
  ws->h = sr_alloc(c->ssf);
  ws->q = sr_alloc(c->ssf);
  if (!ws->h || !ws->q) {
    sr_free(ws->h); sr_free(ws->q); free(ws);
    return NULL;
  }
  return ws;
}

static void annealed_worker_free(void *ext) {
  spectral_ws *ws = ext;
  if (!ws) return;
  sr_free(ws->h);
  sr_free(ws->q);
  free(ws);
}

static sr_status annealed_prepare(sr_run_ctx *c, sr_error *err) {
  return c->pb->sampler.step_rule == SR_STEP_SPECTRAL ? sr__grid_prepare(c, err) : SR_OK;
}

/* The exact OU transition over τ = ε/a at stiffness d = a + w λ: ρ = e^(−τd), drift (1 − ρ)/d, noise
 * √((1 − ρ²)/d), with expm1 so that small τd keeps its digits. λ repeats (0/1 masks, 0/½/1 Fourier rows): an
 * exp only where it changes. */
static void stage_coefficients(const sr_op *op, double a, double w, double tau, float *h, float *q) {
  const float *lam = op->spec_lambda;
  float lastl = -1.0f, hl = 0.0f, ql = 0.0f;
  for (size_t f = 0; f < op->spec_floats; f++) {
    if (lam[f] != lastl) {
      double d = a + w * (double)lam[f], x = tau * d;
      hl = (float)(-expm1(-x) / d);
      ql = (float)sqrt(-expm1(-2.0 * x) / d);
      lastl = lam[f];
    }
    h[f] = hl;
    q[f] = ql;
  }
}

/* How the noise's coefficients ζ = Vᵀz (z white in pixels) are drawn: where V is the pixel basis (identity, mask,
 * none: spec_floats = n) ζ = z; where c is the r2c half spectrum of an h x w image scaled by 1/√N (blur, fourier:
 * spec_floats = 2 h (w/2 + 1), scorerecon.h) ζ is drawn in that layout directly (spectral_white), which saves one
 * transform per step; any other spectral form transforms z. */
enum { NOISE_PIXELS, NOISE_R2C, NOISE_TRANSFORM };

static int noise_mode(const sr_op *op, size_t n) {
  if (op->spec_floats == n) return NOISE_PIXELS;
  if (op->in_rank == 2 && op->spec_floats == 2 * op->in_shape[0] * (op->in_shape[1] / 2 + 1)) return NOISE_R2C;
  return NOISE_TRANSFORM;
}

/* The orthonormal DFT X = Fz of white real noise: for k ≠ −k, Re X(k) and Im X(k) are independent N(0, ½) and
 * X(−k) = conj X(k); for k = −k, X(k) is real N(0, 1). The half spectrum (columns 0 .. w/2) holds k and −k both only
 * in its edge columns (0, and w/2 for even w), rows ku and h − ku: there row h − ku is the conjugate of row ku, and
 * rows 0 and h/2 (even h) are self-conjugate. c holds 2 h wh floats of standard normals on entry. */
static void spectral_white(float *c, size_t h, size_t w) {
  const size_t wh = w / 2 + 1, nf = 2 * h * wh;
  const float half = 0.70710678118654752f, one = 1.41421356237309505f;
  for (size_t k = 0; k < nf; k++) c[k] *= half;
  for (int e = 0; e < (w % 2 == 0 && wh > 1 ? 2 : 1); e++) {
    size_t kv = e ? w / 2 : 0;
    for (size_t ku = 0; ku < h; ku++) {
      float *z = c + 2 * (ku * wh + kv);
      size_t mirror = ku ? h - ku : 0;
      if (mirror == ku) { /* self-conjugate: real, variance 1 */
        z[0] *= one;
        z[1] = 0.0f;
      } else if (mirror > ku) {
        float *zm = c + 2 * (mirror * wh + kv);
        zm[0] = z[0];
        zm[1] = -z[1];
      }
    }
  }
}

/* c += h ⊙ (g + w (b − λ ⊙ c)) + q ⊙ ζ, in float (the state is float anyway; no FMA: -ffp-contract=off). */
__attribute__((target_clones("avx2", "default")))
static void spectral_update(float *restrict c, const float *restrict g, const float *restrict zeta,
                            const float *restrict b, const float *restrict lam, const float *restrict h,
                            const float *restrict q, float w, size_t nf) {
  for (size_t f = 0; f < nf; f++) c[f] = c[f] + (h[f] * (g[f] + w * (b[f] - lam[f] * c[f])) + q[f] * zeta[f]);
}

static int run_spectral(sr_batch *bt) {
  sr_run_ctx *c = bt->ctx;
  const sr_problem *pb = c->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  const sr_op *op = c->sop;
  const spectral_ws *sw = bt->ext;
  const size_t n = c->n, sn = c->sn, nf = op->spec_floats, ssf = c->ssf;
  const float *lam = op->spec_lambda, *bb = c->aty_spec;
  float *cx = bt->s1, *cg = bt->s2, *cz = bt->s3;
  const int mode = noise_mode(op, n);
  sr_noise nl = {1.0, 0.0, s->sigma_max};
  sr__init_state(bt, nl);
  for (size_t b = 0; b < bt->B; b++) {
    sr__traj(bt, b, 0, bt->x + b * sn);
    op->to_spec(op, bt->x + b * sn, cx + b * ssf, bt->opws);
  }
  long k = 0;
  for (long lv = 0; lv <= s->levels; lv++) {
    double w;
    long steps = stage(pb, lv, &nl, &w);
    if (steps == 0) continue;
    double a = prior_stiffness(pb, nl.sigma);
    stage_coefficients(op, a, w, s->epsilon / a, sw->h, sw->q);
    const float *restrict h = sw->h, *restrict q = sw->q;
    for (long t = 0; t < steps; t++, k++) {
      pb->prior->score(pb->prior, bt->x, bt->B, n, nl, bt->g, bt->prws);
      atomic_fetch_add_explicit(&c->score_evals, (long)bt->B, memory_order_relaxed);
      for (size_t b = 0; b < bt->B; b++) {
        float *restrict xc = cx + b * ssf, *restrict gc = cg + b * ssf, *restrict zc = cz + b * ssf;
        float *xb = bt->x + b * sn;
        op->to_spec(op, bt->g + b * sn, gc, bt->opws);
        if (mode == NOISE_PIXELS) {
          sr__normals(bt, b, zc);
        } else if (mode == NOISE_R2C) {
          sr_rng_normals(&bt->rng[b], bt->draws[b]++, zc, nf);
          spectral_white(zc, op->in_shape[0], op->in_shape[1]);
        } else {
          sr__normals(bt, b, bt->z);
          op->to_spec(op, bt->z, zc, bt->opws);
        }
        spectral_update(xc, gc, zc, bb, lam, h, q, (float)w, nf);
        op->from_spec(op, xc, xb, bt->opws);
        if (pb->trajectory_every > 0 && (k + 1) % pb->trajectory_every == 0)
          sr__traj(bt, b, (k + 1) / pb->trajectory_every, xb);
      }
      if (sr__tick(bt, 1)) return 1;
    }
  }
  for (size_t b = 0; b < bt->B; b++) sr__keep(bt, b, bt->x + b * sn);
  return 0;
}

static int run_batch(sr_batch *bt) {
  return bt->ctx->pb->sampler.step_rule == SR_STEP_SPECTRAL ? run_spectral(bt) : run_annealed(bt);
}

static long annealed_traj_steps(const sr_sampler_cfg *s) { return s->levels * s->steps_per_level + final_steps(s); }

const sr_sampler_ops sr__annealed_ops = {
    .name = "annealed_langevin",
    .validate = annealed_validate,
    .traj_steps = annealed_traj_steps,
    .prepare = annealed_prepare,
    .release = sr__grid_release,
    .worker_new = annealed_worker_new,
    .worker_free = annealed_worker_free,
    .run_batch = run_batch,
};
