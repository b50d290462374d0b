/* sampler_smc.c — sequential Monte Carlo over the reverse diffusion for linear Gaussian observations: a
 * particle filter whose target at level k is the path law of the discretised reverse process times a twisting
 * potential g_k(u_k) ≈ p(y | u_k), with g_0 the exact likelihood, so that the weighted particles at k = 0 are
 * asymptotically exact (particles → ∞) for the posterior under the sampler's prior model (TDS / MCGdiff class;
 * no network gradients needed).
 *
 * In x0 units (u = (x − shift)/α, r = σ/α; u_k = x0 + r_k z for every SDE), with x̂0 = E[x0 | u_k] (Tweedie):
 *   model transition   p(u' | u_k) = N(μ, v I),  μ = x̂0 + (r'²/r_k²)(u_k − x̂0),  v = r'² (r_k² − r'²)/r_k²
 *                      (DDPM ancestral, r' = r_{k−1}; v = 0 on the last step: u_0 = x̂0)
 *   target potential   g_k(u) = N(y; A x̂0(u), σ_y² I + τ_k² A Aᵀ),  τ_k² = r_k² s0² / (r_k² + s0²)
 *                      (s0² = the prior's pixel variance, prior->var0: exact for a Gaussian prior; g_0 = likelihood)
 *   proposal           q(u' | u_k) ∝ p(u' | u_k) h(u'), h = g with x̂0(u') replaced by its prediction under the
 *                      local model x0 | u_k ~ N(x̂0(u_k), τ_k²): E[x0 | u'] = x̂0(u_k) + κ (u' − μ) and
 *                      Var[x0 | u'] = τh², with β = 1 − r'²/r_k², 1/τh² = 1/τ_k² + β²/v, κ = β τh²/v (exact for
 *                      a Gaussian prior, where h = g). Per spectral coefficient, with e_f = σ_y² + τh² λ_f and
 *                      d = x̂0(u_k) − κ μ: precision 1/v + κ² λ_f/e_f, mean (μ̂_f/v + κ(b_f − λ_f d̂_f)/e_f)/precision
 *   weight             w = Z_h(u_k) g_{k−1}(u') / (g_k(u_k) h(u')),
 *                      Z_h = N(y; A x̂0(u_k), σ_y² I + (τh² + κ² v) A Aᵀ)
 * (g_{k−1}(u') needs x̂0(u'), the next step's network evaluation: one evaluation per particle and step.)
 * Start: u_K from the prior's marginal, weight g_K(u_K). Resampling is systematic, from a stream of its own, when
 * ESS = 1/Σ W² drops below ess_threshold × particles; log p̂(y) = Σ log Σ_i W_i w_i estimates the evidence.
 * Outputs: mean and std are the weighted particle moments; `samples` are num_samples systematic draws from the
 * final weighted particles.
 *
 * Threads: particles go through the network in fixed groups of B (indices gB .. gB+B−1), particle i owns Philox
 * stream i with counters 4·slot + j, and every reduction runs on one thread in particle order: the result does
 * not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_internal.h"

#define RESAMPLE_STREAM 0x7fffffffu

static sr_status smc_validate(sr_problem *pb, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  sr_status st = sr__grid_validate(pb, sr__smc_ops.name, err);
  if (st) return st;
  if (s->particles <= 0) s->particles = pb->num_samples > 16 ? pb->num_samples : 16;
  if (s->ess_threshold <= 0) s->ess_threshold = 0.5;
  if (s->particles < 2) return sr_fail(err, SR_EINVAL, "sampler.particles", "must be >= 2");
  if (s->particles > 0x7ffffffeL) return sr_fail(err, SR_EINVAL, "sampler.particles", "must be < 2^31 - 1");
  if (!(s->ess_threshold <= 1)) return sr_fail(err, SR_EINVAL, "sampler.ess_threshold", "must be in (0, 1]");
  if (pb->trajectory_every > 0)
    return sr_fail(err, SR_EINVAL, "outputs", "trajectories are not recorded by smc (its particles are resampled "
                   "and have no single path)");
  return SR_OK;
}

/* The run's chains are the particles. */
static long smc_chains(const sr_problem *pb) { return pb->sampler.particles; }

typedef struct {
  sr_run_ctx *c;
  long P, K, groups;
  size_t B;
  float *X, *X2;          /* P * sn: states at the current level (X2: room for resampling) */
  float *X0, *X02;        /* P * sn: their denoised x̂0 */
  double *lw, *gk, *W;    /* P each: log weights since the last resampling, log g_k(u_k), normalised weights */
  double lse_last, s0;    /* log Σ exp(lw) at the last normalisation; the prior's pixel std */
  long *anc;
  double log_z;
  pthread_barrier_t bar;
  pthread_mutex_t gate_mu;  /* threads wait at the gate until the barrier is sized to those that started */
  pthread_cond_t gate_cv;
  int gate_open;
  atomic_long next;
  int stop;
} smc_pop;

typedef struct {
  smc_pop *pop;
  sr_batch bt;
  int lead;
} smc_worker;

/* Systematic resampling: m indices from normalised weights W (P), offset u0 in [0, 1). */
static void systematic(const double *W, long P, long m, double u0, long *out) {
  double cum = W[0];
  long i = 0;
  for (long j = 0; j < m; j++) {
    double pos = ((double)j + u0) / (double)m;
    while (pos > cum && i < P - 1) cum += W[++i];
    out[j] = i;
  }
}

static double logsumexp(const double *a, long n) {
  double mx = -INFINITY, s = 0.0;
  for (long i = 0; i < n; i++)
    if (a[i] > mx) mx = a[i];
  if (!isfinite(mx)) return mx;
  for (long i = 0; i < n; i++) s += exp(a[i] - mx);
  return mx + log(s);
}

/* Normalised weights from lw; returns the ESS. */
static double normalise(smc_pop *pop) {
  double lse = logsumexp(pop->lw, pop->P), s2 = 0.0;
  for (long i = 0; i < pop->P; i++) {
    pop->W[i] = isfinite(lse) ? exp(pop->lw[i] - lse) : 1.0 / (double)pop->P;
    s2 += pop->W[i] * pop->W[i];
  }
  return 1.0 / s2;
}

static void set_streams(sr_batch *bt, long i0, long step) {
  const sr_problem *pb = bt->ctx->pb;
  for (size_t b = 0; b < bt->B; b++) {
    bt->rng[b] = sr_rng_make(pb->seed, (uint64_t)(i0 + (long)b));
    bt->draws[b] = 4u * (uint64_t)step;
  }
}

/* τ² of the potentials at noise r²: the Gaussian surrogate's Var[x0 | u] = r² s0²/(r² + s0²). */
static double twist_var(const smc_pop *pop, double r2) {
  double s02 = pop->s0 * pop->s0;
  return r2 * s02 / (r2 + s02);
}

/* The start: particles from the prior's marginal at level K. */
static void init_group(smc_worker *wk, long g) {
  smc_pop *pop = wk->pop;
  sr_run_ctx *c = pop->c;
  sr_batch *bt = &wk->bt;
  long i0 = g * (long)pop->B;
  set_streams(bt, i0, 0);
  sr__init_state(bt, sr__grid_level(&c->pb->sampler, pop->K));
  for (size_t b = 0; b < bt->B; b++)
    memcpy(pop->X + (size_t)(i0 + (long)b) * c->sn, bt->x + b * c->sn, c->n * sizeof(float));
}

/* Proposal and weight of the step from level k to k − 1 for the particles of the group (x̂0 known). */
static void propagate_group(smc_worker *wk, long g, long k) {
  smc_pop *pop = wk->pop;
  sr_run_ctx *c = pop->c;
  sr_batch *bt = &wk->bt;
  const sr_problem *pb = c->pb;
  const sr_op *op = c->sop;
  const size_t n = c->n, sn = c->sn, nf = op->spec_floats;
  long i0 = g * (long)pop->B;
  sr_noise nl = sr__grid_level(&pb->sampler, k), np = sr__grid_level(&pb->sampler, k - 1);
  const double r = nl.sigma / nl.alpha, rp = np.sigma / np.alpha, sy2 = pb->noise_sigma * pb->noise_sigma;
  const double v = rp * rp * (r * r - rp * rp) / (r * r), shrink = rp * rp / (r * r);
  /* the local model x0 | u_k ~ N(x̂0(u_k), τ_k²) and u' | x0 ~ N(β x0 + shrink·u_k, v), β = 1 − shrink, give
   * E[x0 | u'] = x̂0 + κ (u' − μ) and Var[x0 | u'] = τh², both exact for a Gaussian prior */
  const double beta = 1.0 - shrink, tk2 = twist_var(pop, r * r);
  const double pr0 = v > 0 ? 1.0 / tk2 + beta * beta / v : 1.0, kap = v > 0 ? beta / v / pr0 : 1.0, th2 = 1.0 / pr0;
  float *u = bt->t2, *mu = bt->t3, *z = bt->z, *hm = bt->t1, *mh = bt->s1, *zh = bt->s2, *nh = bt->s3;
  float *ah = bt->s4;
  const float *lam = op->spec_lambda, *bb = c->aty_spec;
  for (size_t b = 0; b < bt->B; b++) {
    long i = i0 + (long)b;
    float *xb = pop->X + (size_t)i * sn;
    const float *x0b = pop->X0 + (size_t)i * sn;
    for (size_t j = 0; j < n; j++) {
      u[j] = (float)((xb[j] - nl.shift) / nl.alpha);
      mu[j] = (float)(x0b[j] + shrink * ((double)u[j] - x0b[j]));
    }
    double inc = -pop->gk[i];
    if (v > 0 && pb->op) {
      op->to_spec(op, mu, mh, bt->opws);
      op->to_spec(op, x0b, ah, bt->opws);
      sr__normals(bt, b, z);
      op->to_spec(op, z, zh, bt->opws);
      for (size_t f = 0; f < nf; f++) { /* h's mean is κ u' + d with d = x̂0 − κ μ */
        double l = lam[f], e = sy2 + th2 * l, dh = (double)ah[f] - kap * (double)mh[f];
        double prec = 1.0 / v + kap * kap * l / e;
        nh[f] = (float)(((double)mh[f] / v + kap * ((double)bb[f] - l * dh) / e) / prec + (double)zh[f] / sqrt(prec));
      }
      op->from_spec(op, nh, u, bt->opws);
      /* + log Z_h(u_k): mean κ μ + d = x̂0, covariance σ_y² I + (τh² + κ² v) A Aᵀ */
      inc += sr__log_lik_marginal(bt, x0b, ah, sy2, th2 + kap * kap * v, bt->r);
      /* − log h(u'): mean x̂0 + κ (u' − μ) */
      for (size_t j = 0; j < n; j++) hm[j] = (float)(x0b[j] + kap * ((double)u[j] - mu[j]));
      for (size_t f = 0; f < nf; f++) zh[f] = (float)(ah[f] + kap * ((double)nh[f] - mh[f]));
      inc -= sr__log_lik_marginal(bt, hm, zh, sy2, th2, bt->r);
    } else if (v > 0) { /* no data: the model's own transition */
      sr__normals(bt, b, z);
      const double sv = sqrt(v);
      for (size_t j = 0; j < n; j++) u[j] = (float)(mu[j] + sv * z[j]);
    } else { /* the last step: u_0 = x̂0 (Z_h and h cancel) */
      memcpy(u, mu, n * sizeof(float));
    }
    pop->lw[i] += inc;
    for (size_t j = 0; j < n; j++) xb[j] = (float)(np.alpha * u[j] + np.shift);
  }
}

/* x̂0 at level k (k > 0) for the group, and the potentials log g_k(u_k) added to the weights. */
static void weigh_group(smc_worker *wk, long g, long k) {
  smc_pop *pop = wk->pop;
  sr_run_ctx *c = pop->c;
  sr_batch *bt = &wk->bt;
  const sr_problem *pb = c->pb;
  const sr_op *op = c->sop;
  const size_t sn = c->sn;
  long i0 = g * (long)pop->B;
  sr_noise nl = sr__grid_level(&pb->sampler, k);
  const double r2 = (nl.sigma / nl.alpha) * (nl.sigma / nl.alpha);
  const double tau2 = k > 0 ? twist_var(pop, r2) : 0.0, sy2 = pb->noise_sigma * pb->noise_sigma;
  float *X = pop->X + (size_t)i0 * sn, *X0 = pop->X0 + (size_t)i0 * sn;
  if (k > 0) sr__denoise(bt, X, nl, X0);
  else memcpy(X0, X, bt->B * sn * sizeof(float)); /* level 0: x̂0 = u_0 */
  for (size_t b = 0; b < bt->B; b++) {
    long i = i0 + (long)b;
    const float *x0b = X0 + b * sn;
    double lg = 0.0;
    if (pb->op) {
      if (tau2 > 0) op->to_spec(op, x0b, bt->s1, bt->opws);
      lg = sr__log_lik_marginal(bt, x0b, bt->s1, sy2, tau2, bt->r);
    }
    pop->gk[i] = lg;
    pop->lw[i] += lg;
  }
}

static void copy_rows(float *dst, const float *src, const long *anc, long P, size_t sn, size_t n) {
  for (long i = 0; i < P; i++) memcpy(dst + (size_t)i * sn, src + (size_t)anc[i] * sn, n * sizeof(float));
}

/* The serial part after each slot (thread 0): evidence, weights, ESS, resampling, progress. */
static void between_steps(smc_pop *pop, long slot) {
  sr_run_ctx *c = pop->c;
  const sr_problem *pb = c->pb;
  sr_result *res = c->res;
  const long P = pop->P;
  double lse = logsumexp(pop->lw, P);
  pop->log_z += lse - pop->lse_last;
  pop->lse_last = lse;
  double ess = normalise(pop);
  if (res->ess_history) res->ess_history[slot] = ess;
  if (slot < pop->K && ess < pb->sampler.ess_threshold * (double)P) {
    double u0;
    sr_rng rr = sr_rng_make(pb->seed, RESAMPLE_STREAM);
    sr_rng_uniforms(&rr, (uint64_t)slot, &u0, 1);
    systematic(pop->W, P, P, u0, pop->anc);
    copy_rows(pop->X2, pop->X, pop->anc, P, c->sn, c->n);
    copy_rows(pop->X02, pop->X0, pop->anc, P, c->sn, c->n);
    float *t = pop->X;
    pop->X = pop->X2;
    pop->X2 = t;
    t = pop->X0;
    pop->X0 = pop->X02;
    pop->X02 = t;
    for (long i = 0; i < P; i++) pop->W[i] = pop->gk[pop->anc[i]]; /* W as scratch: the ancestors' g_k */
    for (long i = 0; i < P; i++) {
      pop->gk[i] = pop->W[i];
      pop->W[i] = 1.0 / (double)P;
      pop->lw[i] = 0.0;
    }
    pop->lse_last = log((double)P);
    res->resamples++;
  }
  long done = slot * P; /* slot 0 is the start: steps × particles in all */
  atomic_store(&c->done, done);
  if (c->progress && c->progress(c->user, done, c->progress_total)) atomic_store(&c->cancel, 1);
  if (atomic_load(&c->cancel)) pop->stop = 1;
  atomic_store(&pop->next, 0);
}

/* Slot 0 starts the particles at level K; slot s >= 1 moves them from level K − s + 1 to K − s; each slot ends by
 * denoising and weighing at its level. */
static void *smc_thread(void *arg) {
  smc_worker *wk = arg;
  smc_pop *pop = wk->pop;
  pthread_mutex_lock(&pop->gate_mu);
  while (!pop->gate_open) pthread_cond_wait(&pop->gate_cv, &pop->gate_mu);
  pthread_mutex_unlock(&pop->gate_mu);
  for (long slot = 0; slot <= pop->K; slot++) {
    long g, k = pop->K - slot;
    while ((g = atomic_fetch_add(&pop->next, 1)) < pop->groups) {
      long i0 = g * (long)pop->B;
      wk->bt.B = (size_t)(pop->P - i0 < (long)pop->B ? pop->P - i0 : (long)pop->B);
      set_streams(&wk->bt, i0, slot);
      if (slot == 0) init_group(wk, g);
      else propagate_group(wk, g, k + 1);
      weigh_group(wk, g, k);
    }
    pthread_barrier_wait(&pop->bar);
    if (wk->lead) between_steps(pop, slot);
    pthread_barrier_wait(&pop->bar);
    if (pop->stop) break;
  }
  return NULL;
}

static sr_status run_smc(sr_run_ctx *c, int threads, sr_error *err) {
  const sr_problem *pb = c->pb;
  sr_result *res = c->res;
  smc_pop pop;
  memset(&pop, 0, sizeof pop);
  pop.c = c;
  pop.P = pb->sampler.particles;
  pop.K = pb->sampler.steps;
  pop.B = c->B;
  pop.groups = (pop.P + (long)pop.B - 1) / (long)pop.B;
  size_t P = (size_t)pop.P, n = c->n, sn = c->sn;
  if (threads > pop.groups) threads = (int)pop.groups;
  if (threads < 1) threads = 1;
  pop.X = sr_alloc(P * sn);
  pop.X2 = sr_alloc(P * sn);
  pop.X0 = sr_alloc(P * sn);
  pop.X02 = sr_alloc(P * sn);
  pop.lw = calloc(P, sizeof(double));
  pop.gk = calloc(P, sizeof(double));
  pop.lse_last = log((double)P);
  pop.s0 = pb->prior->var0 > 0 ? sqrt(pb->prior->var0) : 1.0;
  pop.W = calloc(P, sizeof(double));
  pop.anc = calloc(P > (size_t)pb->num_samples ? P : (size_t)pb->num_samples, sizeof(long));
  res->ess_len = pop.K + 1;
  res->ess_history = calloc((size_t)res->ess_len, sizeof(double));
  smc_worker *wk = calloc((size_t)threads, sizeof *wk);
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  sr_status st = SR_OK;
  if (!pop.X || !pop.X2 || !pop.X0 || !pop.X02 || !pop.lw || !pop.gk || !pop.W || !pop.anc || !res->ess_history || !wk || !tid) {
    st = sr_fail(err, SR_ENOMEM, "sampler.particles", "out of memory for %zu particles of %zu pixels", P, n);
    goto out;
  }
  int failed = 0;
  for (int t = 0; t < threads; t++) {
    wk[t].pop = &pop;
    failed |= sr__batch_alloc(&wk[t].bt, c) != 0;
  }
  if (failed) {
    for (int t = 0; t < threads; t++) sr__batch_free(&wk[t].bt);
    st = sr_fail(err, SR_ENOMEM, "sampler.particles", "out of memory for the sampler's buffers");
    goto out;
  }
  wk[0].lead = 1;
  /* A thread that fails to start is no error: the barrier is sized to those that did, and they share the work. */
  pthread_mutex_init(&pop.gate_mu, NULL);
  pthread_cond_init(&pop.gate_cv, NULL);
  int started = 1;
  char *up = calloc((size_t)threads, 1);
  for (int t = 1; t < threads && up; t++) started += (up[t] = pthread_create(&tid[t], NULL, smc_thread, &wk[t]) == 0);
  pthread_barrier_init(&pop.bar, NULL, (unsigned)started);
  pthread_mutex_lock(&pop.gate_mu);
  pop.gate_open = 1;
  pthread_cond_broadcast(&pop.gate_cv);
  pthread_mutex_unlock(&pop.gate_mu);
  smc_thread(&wk[0]);
  for (int t = 1; t < threads && up; t++)
    if (up[t]) pthread_join(tid[t], NULL);
  free(up);
  pthread_barrier_destroy(&pop.bar);
  pthread_mutex_destroy(&pop.gate_mu);
  pthread_cond_destroy(&pop.gate_cv);
  for (int t = 0; t < threads; t++) sr__batch_free(&wk[t].bt);
  if (atomic_load(&c->cancel)) {
    st = sr_fail(err, SR_ECANCELLED, "", "cancelled");
    goto out;
  }
  /* the final weighted particles: moments, evidence, draws */
  for (size_t i = 0; i < P * sn; i += sn)
    for (size_t j = 0; j < n; j++)
      if (!isfinite(pop.X[i + j])) {
        st = sr_fail(err, SR_EDIVERGED, "sampler.steps", "a particle became NaN or Inf: use more steps or less "
                     "extreme prior and noise values");
        goto out;
      }
  double s2 = 0.0;
  for (size_t i = 0; i < P; i++) s2 += pop.W[i] * pop.W[i];
  for (size_t j = 0; j < n; j++) {
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < P; i++) m += pop.W[i] * pop.X[i * sn + j];
    for (size_t i = 0; i < P; i++) {
      double d = pop.X[i * sn + j] - m;
      v += pop.W[i] * d * d;
    }
    if (s2 < 1.0) v /= 1.0 - s2; /* reliability-weight correction: unbiased for independent draws */
    if (res->mean) res->mean[j] = (float)m;
    if (res->std) res->std[j] = (float)sqrt(v);
  }
  if (res->samples) {
    double u0;
    sr_rng rr = sr_rng_make(pb->seed, RESAMPLE_STREAM);
    sr_rng_uniforms(&rr, (uint64_t)pop.K + 1, &u0, 1);
    systematic(pop.W, pop.P, pb->num_samples, u0, pop.anc);
    for (long s = 0; s < pb->num_samples; s++)
      memcpy(res->samples + (size_t)s * n, pop.X + (size_t)pop.anc[s] * sn, n * sizeof(float));
  }
  res->log_evidence = pop.log_z;
  res->particles = pop.P;
  res->ess_min = res->ess_median = 1.0 / s2;
  res->kept_per_chain = 1;
out:
  sr_free(pop.X); sr_free(pop.X2); sr_free(pop.X0); sr_free(pop.X02);
  free(pop.lw); free(pop.gk); free(pop.W); free(pop.anc);
  free(wk); free(tid);
  return st;
}

/* The weights' degeneracy: a warning when the ESS fell below a tenth of the particles (2 at least). */
static void smc_diagnose(sr_run_ctx *c, sr_result *res) {
  double P = (double)res->particles, med = NAN;
  double *h = malloc((size_t)res->ess_len * sizeof(double));
  if (h && res->ess_history && res->ess_len > 0) {
    memcpy(h, res->ess_history, (size_t)res->ess_len * sizeof(double));
    med = sr__median(h, (size_t)res->ess_len);
  }
  free(h);
  double floor_ess = 0.1 * P > 2.0 ? 0.1 * P : 2.0; /* ESS >= 1 always: below 2, one particle dominates */
  if (res->ess_min < floor_ess || med < floor_ess)
    sr__warn(res, "smc: the weights degenerated (median ESS over the steps %.1f, final %.1f, of %.0f particles): "
             "the estimates rest on few distinct particles and the samples repeat; use more particles",
             med, res->ess_min, P);
}

const sr_sampler_ops sr__smc_ops = {
    .name = "smc",
    .validate = smc_validate,
    .chains = smc_chains,
    .prepare = sr__grid_prepare,
    .release = sr__grid_release,
    .run_all = run_smc,
    .diagnose = smc_diagnose,
};
