/* sampler.c — sr_run(): validates the problem's fit, spreads chains over threads, and gathers the results. It
 * knows the samplers only through their operations tables (sr_sampler_ops, one row per kind below).
 *
 * Work unit = a batch of chains (one chain for analytic priors). Threads claim batches in index order; every
 * chain owns its Philox stream; per-chain moments are merged in chain order (Chan et al.'s pairwise update),
 * so mean/std/samples are bit-identical for any thread count. All buffers are allocated before the first step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "sampler_internal.h"

void sr_problem_init(sr_problem *pb) {
  memset(pb, 0, sizeof *pb);
  pb->num_samples = 1;
  pb->want_mean = pb->want_std = 1;
  pb->sampler.eta = pb->sampler.eta_b = pb->sampler.dp_lambda = pb->sampler.zeta = -1.0;
  pb->sampler.ess_threshold = -1.0;
  pb->sampler.final_steps = -1;
}

void sr_problem_clear(sr_problem *pb) {
  sr_op_free(pb->op);
  sr_prior_free(pb->prior);
  sr_free(pb->y);
  sr_free(pb->ground_truth);
  memset(pb, 0, sizeof *pb);
}

void sr_result_clear(sr_result *res) {
  sr_free(res->mean);
  sr_free(res->std);
  sr_free(res->samples);
  sr_free(res->trajectories);
  free(res->traj_times);
  free(res->ess_history);
  memset(res, 0, sizeof *res);
}

/* ---------------------------------------------------------------- the samplers and their validation */

/* The operations of each sampler kind: a new sampler adds its row here. */
static const sr_sampler_ops *const sampler_ops[] = {
    [SR_SAMPLER_LANGEVIN] = &sr__langevin_ops, [SR_SAMPLER_MALA] = &sr__mala_ops,
    [SR_SAMPLER_ANNEALED] = &sr__annealed_ops, [SR_SAMPLER_PC] = &sr__pc_ops,
    [SR_SAMPLER_ODE] = &sr__ode_ops,           [SR_SAMPLER_MH] = &sr__mh_ops,
    [SR_SAMPLER_DDRM] = &sr__ddrm_ops,         [SR_SAMPLER_DIFFPIR] = &sr__diffpir_ops,
    [SR_SAMPLER_SMC] = &sr__smc_ops,
};

const sr_sampler_ops *sr__sampler_ops(sr_sampler_kind kind) {
  return (size_t)kind < sizeof sampler_ops / sizeof sampler_ops[0] ? sampler_ops[kind] : NULL;
}

sr_status sr__need_marginals(const sr_problem *pb, const char *sname, sr_error *err) {
  if (!pb->prior->has_marginals)
    return sr_fail(err, SR_EINVAL, "sampler.type", "%s needs the score of noised marginals, which prior.type %s "
                   "does not have (use langevin or mala)", sname, pb->prior->kind);
  return SR_OK;
}

sr_status sr__chain_length(sr_sampler_cfg *s, const char *steps_name, sr_error *err) {
  if (s->steps <= 0) s->steps = 1000;
  if (s->burn_in < 0) s->burn_in = s->steps / 5;
  if (s->thinning <= 0) s->thinning = 1;
  if (s->burn_in >= s->steps)
    return sr_fail(err, SR_EINVAL, "sampler.burn_in", "(%ld) must be smaller than sampler.%s (%ld)", s->burn_in,
                   steps_name, s->steps);
  return SR_OK;
}

sr_status sr_problem_validate(sr_problem *pb, sr_error *err) {
  if (!pb->prior) return sr_fail(err, SR_EINVAL, "prior", "is required");
  if (pb->num_samples < 1) return sr_fail(err, SR_EINVAL, "num_samples", "must be >= 1");
  if (pb->op) {
    if (!(pb->noise_sigma > 0) || !isfinite(pb->noise_sigma))
      return sr_fail(err, SR_EINVAL, "noise.sigma", "must be > 0");
    if (!pb->y) return sr_fail(err, SR_EINVAL, "observation", "is required with an operator");
    if (pb->op->n_in != pb->n)
      return sr_fail(err, SR_EINVAL, "operator", "input size %zu does not match the image size %zu", pb->op->n_in,
                     pb->n);
  }
  const sr_sampler_ops *ops = sr__sampler_ops(pb->sampler.kind);
  if (!ops) return sr_fail(err, SR_EINVAL, "sampler.type", "is unknown");
  if (pb->complex_image) {
    /* 2P real unknowns: the Langevin family needs nothing else; the spectral samplers' bases and mh's spins are
     * real images' (docs/samplers.md) */
    sr_sampler_kind k = pb->sampler.kind;
    if (k != SR_SAMPLER_LANGEVIN && k != SR_SAMPLER_MALA && k != SR_SAMPLER_ANNEALED && k != SR_SAMPLER_PC &&
        k != SR_SAMPLER_ODE)
      return sr_fail(err, SR_EINVAL, "sampler.type", "%s does not take complex images (image_dtype complex64): "
                     "use langevin, mala, annealed_langevin, pc or ode", ops->name);
    if (pb->prior->discrete || pb->prior->trained_sigma[1] > 0)
      return sr_fail(err, SR_EINVAL, "prior.type", "%s does not take complex images (image_dtype complex64)",
                     pb->prior->kind);
    if (pb->op && !pb->op->in_complex)
      return sr_fail(err, SR_EINVAL, "operator", "%s takes real images, and image_dtype is complex64",
                     pb->op->kind);
  } else if (pb->op && pb->op->in_complex) {
    return sr_fail(err, SR_EINVAL, "image_dtype", "must be complex64 for operator %s", pb->op->kind);
  }
  if (pb->prior->discrete && !ops->discrete)
    return sr_fail(err, SR_EINVAL, "sampler.type", "%s needs the score (gradient) of the prior, and prior.type %s "
                   "is discrete (binary pixels) and has none: use \"mh\"", ops->name, pb->prior->kind);
  sr_status st = ops->validate(pb, err);
  if (st) return st;
  if (pb->trajectory_every < 0) return sr_fail(err, SR_EINVAL, "outputs.trajectories.every", "must be >= 1");
  return SR_OK;
}

/* ---------------------------------------------------------------- shared steps */

void sr__normals(sr_batch *bt, size_t b, float *out) {
  sr_rng_normals(&bt->rng[b], bt->draws[b]++, out, bt->ctx->n);
}

double sr__lik_weight(const sr_problem *pb, sr_noise nl) {
  double r = nl.sigma / nl.alpha;
  return 1.0 / (pb->noise_sigma * pb->noise_sigma + r * r);
}

void sr__posterior_score(sr_batch *bt, const float *x, sr_noise nl, double w, float *g, double *rr) {
  sr_run_ctx *c = bt->ctx;
  const sr_problem *pb = c->pb;
  size_t n = c->n, sn = c->sn;
  pb->prior->score(pb->prior, x, bt->B, n, nl, g, bt->prws);
  atomic_fetch_add_explicit(&c->score_evals, (long)bt->B, memory_order_relaxed);
  if (!pb->op) {
    if (rr)
      for (size_t b = 0; b < bt->B; b++) rr[b] = 0.0;
    return;
  }
  const sr_op *op = pb->op;
  const float ws = (float)(w / nl.alpha);
  const int scaled = nl.alpha != 1.0 || nl.shift != 0.0;
  const float ia = (float)(1.0 / nl.alpha), sh = (float)nl.shift;
  for (size_t b = 0; b < bt->B; b++) {
    const float *xb = x + b * sn;
    float *gb = g + b * sn;
    if (scaled) {
      for (size_t i = 0; i < n; i++) bt->xs[i] = (xb[i] - sh) * ia;
      xb = bt->xs;
    }
    if (!rr) { /* g += w/α (Aᵀy − AᵀA x̂) */
      sr_op_normal(op, xb, bt->t3, bt->opws);
      const float *aty = c->aty, *ata = bt->t3;
      for (size_t i = 0; i < n; i++) gb[i] += ws * (aty[i] - ata[i]);
      continue;
    }
    op->forward(op, xb, bt->r, bt->opws);
    double s2 = 0.0;
    for (size_t i = 0; i < op->n_out; i++) {
      float d = pb->y[i] - bt->r[i];
      bt->r[i] = d;
      s2 += (double)d * d;
    }
    rr[b] = s2;
    op->adjoint(op, bt->r, bt->xs, bt->opws);
    for (size_t i = 0; i < n; i++) gb[i] += ws * bt->xs[i];
  }
  atomic_fetch_add_explicit(&c->op_applies, (rr ? 2 : 1) * (long)bt->B, memory_order_relaxed);
}

void sr__init_state(sr_batch *bt, sr_noise nl) {
  const sr_problem *pb = bt->ctx->pb;
  size_t n = bt->ctx->n;
  for (size_t b = 0; b < bt->B; b++) {
    float *xb = bt->x + b * bt->ctx->sn;
    if (pb->prior->sample) {
      pb->prior->sample(pb->prior, nl, &bt->rng[b], bt->draws[b]++, xb, n);
    } else {
      sr__normals(bt, b, xb);
      for (size_t i = 0; i < n; i++) xb[i] = (float)(nl.shift + nl.sigma * xb[i]);
    }
  }
}

/* Cloned for AVX2 (4 doubles a vector instead of SSE2's 2: it was a quarter of a 256² chain-step). The same
 * IEEE operations element by element in every clone (AVX2 does not imply FMA), so the same bits. */
__attribute__((target_clones("avx2", "default")))
static void welford(double *restrict m, double *restrict m2, long count, const float *restrict x, size_t n) {
  double ik = 1.0 / (double)count;
  for (size_t i = 0; i < n; i++) {
    double d = x[i] - m[i];
    m[i] += d * ik;
    m2[i] += d * (x[i] - m[i]);
  }
}

/* Counts one kept state of chain b and returns the moments it goes into (*m, *m2, n values each) and their count
 * with it: its half's with ctx->diag (the chain's are then merged from the halves, moments_from_halves), else the
 * chain's own. */
static long keep_into(sr_batch *bt, size_t b, double **m, double **m2) {
  const sr_run_ctx *c = bt->ctx;
  size_t n = c->n;
  long before = bt->kept[b]++;
  if (c->diag) {
    size_t h = before >= c->half_at, slot = h * bt->B + b;
    *m = bt->hmean + slot * n;
    *m2 = bt->hm2 + slot * n;
    bt->from_halves = 1;
    return ++bt->hkept[slot];
  }
  *m = bt->mean + b * n;
  *m2 = bt->m2 + b * n;
  return bt->kept[b];
}

void sr__keep(sr_batch *bt, size_t b, const float *x) {
  double *m, *m2;
  long count = keep_into(bt, b, &m, &m2);
  welford(m, m2, count, x, bt->ctx->n);
}

/* A chain's moments from its two halves' (Chan et al.): n = na + nb, δ = mean_b − mean_a,
 * mean = mean_a + δ nb/n, M2 = M2_a + M2_b + δ² na nb / n. */
static void moments_from_halves(sr_batch *bt) {
  size_t n = bt->ctx->n;
  for (size_t b = 0; b < bt->B; b++) {
    double *m = bt->mean + b * n, *m2 = bt->m2 + b * n;
    const double *ma = bt->hmean + b * n, *m2a = bt->hm2 + b * n;
    const double *mb = bt->hmean + (bt->B + b) * n, *m2b = bt->hm2 + (bt->B + b) * n;
    double na = (double)bt->hkept[b], nb = (double)bt->hkept[bt->B + b], nt = na + nb;
    if (nt <= 0) continue;
    for (size_t i = 0; i < n; i++) {
      double d = mb[i] - ma[i];
      m[i] = ma[i] + d * (nb / nt);
      m2[i] = m2a[i] + m2b[i] + d * d * (na * nb / nt);
    }
  }
  bt->from_halves = 0;
}

/* ---------------------------------------------------------------- the fused ULA step (sampler_internal.h) */

int sr__ula_fuse_init(const sr_problem *pb, double w, double eta, sr_ula_fuse *f) {
  memset(f, 0, sizeof *f);
  if (!pb->op) return -1;
  size_t k;
  const double *mu, *sd;
  if (sr_prior_mixture(pb->prior, &k, NULL, &mu, &sd) == 0 && k == 1) {
    /* prior_gmm.c's level_params at sr_noise_none() (alpha 1, shift 0, sigma 0), written out the same way */
    double v = 1.0 * 1.0 * sd[0] * sd[0] + 0.0 * 0.0;
    f->gaussian = 1;
    f->c = (float)(1.0 * mu[0] + 0.0);
    f->iv = (float)(v > 0 ? 1.0 / v : INFINITY);
  }
  f->ws = (float)(w / 1.0);
  f->eta = (float)eta;
  f->sq = (float)sqrt(2.0 * eta);
  return 0;
}

/* x ← x + η (s(x) + ws (aty − ata)) + sq z over one piece; s(x) = (c − x)·iv, or g. */
__attribute__((target_clones("avx2", "default")))
static void ula_piece(float *restrict x, const float *restrict g, const float *restrict aty,
                      const float *restrict ata, const float *restrict z, size_t len, const sr_ula_fuse *f) {
  const float c = f->c, iv = f->iv, ws = f->ws, eta = f->eta, sq = f->sq;
  if (g) {
    for (size_t i = 0; i < len; i++) {
      float gi = g[i] + ws * (aty[i] - ata[i]);
      x[i] += eta * gi + sq * z[i];
    }
  } else {
    for (size_t i = 0; i < len; i++) {
      float gi = (c - x[i]) * iv;
      gi += ws * (aty[i] - ata[i]);
      x[i] += eta * gi + sq * z[i];
    }
  }
}

/* Pieces of 2048 normals (8 KiB) stay in L1 between the generator and the update. */
#define ULA_PIECE 2048

void sr__ula_step_fused(sr_batch *bt, size_t b, const sr_ula_fuse *f, int keep) {
  const sr_run_ctx *c = bt->ctx;
  const sr_problem *pb = c->pb;
  size_t n = c->n;
  float *xb = bt->x + b * c->sn, *z = bt->z;
  const float *gb = f->gaussian ? NULL : bt->g + b * c->sn;
  sr_op_normal(pb->op, xb, bt->t3, bt->opws);
  uint64_t step = bt->draws[b]++;
  double *m = NULL, *m2 = NULL;
  long count = keep ? keep_into(bt, b, &m, &m2) : 0; /* sr__keep's bookkeeping */
  for (size_t i0 = 0; i0 < n; i0 += ULA_PIECE) {
    size_t len = n - i0 < ULA_PIECE ? n - i0 : ULA_PIECE;
    sr__rng_normals_at(&bt->rng[b], step, i0, z, len);
    ula_piece(xb + i0, gb ? gb + i0 : NULL, c->aty + i0, bt->t3 + i0, z, len, f);
    if (m) welford(m + i0, m2 + i0, count, xb + i0, len);
  }
}

void sr__traj(sr_batch *bt, size_t b, long slot, const float *x) {
  sr_result *res = bt->ctx->res;
  if (!res->trajectories || slot >= res->traj_len) return;
  size_t n = bt->ctx->n;
  memcpy(res->trajectories + ((size_t)(bt->chain0 + (long)b) * (size_t)res->traj_len + (size_t)slot) * n, x,
         n * sizeof(float));
}

int sr__tick(sr_batch *bt, long units) {
  sr_run_ctx *c = bt->ctx;
  long done = atomic_fetch_add_explicit(&c->done, units * (long)bt->B, memory_order_relaxed) + units * (long)bt->B;
  if (c->progress && c->progress(c->user, done, c->progress_total))
    atomic_store(&c->cancel, 1);
  return atomic_load_explicit(&c->cancel, memory_order_relaxed);
}

/* ---------------------------------------------------------------- threads */

void sr__batch_free(sr_batch *bt) {
  free(bt->rng); free(bt->draws); free(bt->kept); free(bt->step); free(bt->logpi);
  free(bt->accept_sum); free(bt->accept_n);
  sr_free(bt->x); sr_free(bt->g); sr_free(bt->z); sr_free(bt->t1); sr_free(bt->t2); sr_free(bt->t3);
  sr_free(bt->r); sr_free(bt->xs); sr_free(bt->opws); sr_free(bt->prws);
  free(bt->mean); free(bt->m2);
  if (bt->ext && bt->ctx->ops->worker_free) bt->ctx->ops->worker_free(bt->ext);
  sr_free(bt->s1); sr_free(bt->s2); sr_free(bt->s3); sr_free(bt->s4);
  free(bt->hmean); free(bt->hm2); free(bt->hkept);
  memset(bt, 0, sizeof *bt);
}

int sr__batch_alloc(sr_batch *bt, sr_run_ctx *c) {
  memset(bt, 0, sizeof *bt);
  bt->ctx = c;
  size_t B = c->B, bs = B * c->sn;
  const sr_problem *pb = c->pb;
  bt->rng = calloc(B, sizeof *bt->rng);
  bt->draws = calloc(B, sizeof *bt->draws);
  bt->kept = calloc(B, sizeof *bt->kept);
  bt->step = calloc(B, sizeof *bt->step);
  bt->logpi = calloc(B, sizeof *bt->logpi);
  bt->accept_sum = calloc(B, sizeof *bt->accept_sum);
  bt->accept_n = calloc(B, sizeof *bt->accept_n);
  bt->x = sr_alloc(bs); bt->g = sr_alloc(bs); bt->z = sr_alloc(bs);
  bt->t1 = sr_alloc(bs); bt->t2 = sr_alloc(bs); bt->t3 = sr_alloc(bs);
  bt->xs = sr_alloc(c->sn);
  bt->r = sr_alloc(c->snout ? c->snout : 16);
  bt->opws = sr_alloc(pb->op ? sr_stride(pb->op->n_out) + pb->op->ws_floats + 16 : 16);
  bt->prws = sr_alloc(B * pb->prior->ws_floats + 16);
  bt->mean = calloc(B * c->n, sizeof(double));
  bt->m2 = calloc(B * c->n, sizeof(double));
  if (c->ops->worker_new && !(bt->ext = c->ops->worker_new(c))) return -1;
  if (c->diag) {
    bt->hmean = calloc(2 * B * c->n, sizeof(double));
    bt->hm2 = calloc(2 * B * c->n, sizeof(double));
    bt->hkept = calloc(2 * B, sizeof(long));
    if (!bt->hmean || !bt->hm2 || !bt->hkept) return -1;
  }
  if (c->sop) {
    bt->s1 = sr_alloc(B * c->ssf); bt->s2 = sr_alloc(B * c->ssf);
    bt->s3 = sr_alloc(B * c->ssf); bt->s4 = sr_alloc(B * c->ssf);
    if (!bt->s1 || !bt->s2 || !bt->s3 || !bt->s4) return -1;
  }
  return (bt->rng && bt->draws && bt->kept && bt->step && bt->logpi && bt->accept_sum && bt->accept_n && bt->x &&
          bt->g && bt->z && bt->t1 && bt->t2 && bt->t3 && bt->xs && bt->r && bt->opws && bt->prws && bt->mean &&
          bt->m2)
             ? 0
             : -1;
}

/* A chain whose final state or moments are not finite diverged: report it instead of returning NaN. */
static int batch_finite(const sr_batch *bt) {
  const sr_run_ctx *c = bt->ctx;
  for (size_t b = 0; b < bt->B; b++) {
    const float *x = bt->x + b * c->sn;
    const double *m = bt->mean + b * c->n, *m2 = bt->m2 + b * c->n;
    for (size_t i = 0; i < c->n; i++)
      if (!isfinite(x[i]) || !isfinite(m[i]) || !isfinite(m2[i])) return (int)b;
  }
  return -1;
}

static void merge_batch(sr_batch *bt) {
  sr_run_ctx *c = bt->ctx;
  size_t n = c->n;
  if (bt->from_halves) moments_from_halves(bt);
  if (!atomic_load(&c->cancel)) {
    int bad = batch_finite(bt);
    if (bad >= 0) {
      long expected = 0;
      atomic_compare_exchange_strong(&c->diverged, &expected, bt->chain0 + bad + 1);
      atomic_store(&c->cancel, 1);
    }
  }
  pthread_mutex_lock(&c->mu);
  while (c->next_merge != bt->chain0) pthread_cond_wait(&c->cv, &c->mu);
  for (size_t b = 0; b < bt->B; b++) {
    double nb = (double)bt->kept[b];
    if (nb > 0) {
      double na = c->gcount, nt = na + nb;
      const double *mb = bt->mean + b * n, *m2b = bt->m2 + b * n;
      for (size_t i = 0; i < n; i++) {
        double d = mb[i] - c->gmean[i];
        c->gmean[i] += d * nb / nt;
        c->gm2[i] += m2b[i] + d * d * na * nb / nt;
      }
      c->gcount = nt;
    }
    c->step_sum += bt->step[b];
    for (size_t h = 0; c->diag && h < 2; h++) { /* the chain's halves, in order: within variances, half means */
      size_t slot = h * bt->B + b;
      long nh = bt->hkept[slot];
      if (nh < 2) continue;
      const double *hm = bt->hmean + slot * n, *hv = bt->hm2 + slot * n;
      double k = ++c->d_halves;
      c->d_draws += (double)nh;
      for (size_t i = 0; i < n; i++) {
        c->d_w[i] += hv[i] / (double)(nh - 1);
        double d = hm[i] - c->d_hm[i];
        c->d_hm[i] += d / k;
        c->d_hm2[i] += d * (hm[i] - c->d_hm[i]);
      }
    }
    if (c->res->samples) memcpy(c->res->samples + (size_t)(bt->chain0 + (long)b) * n, bt->x + b * c->sn,
                                n * sizeof(float));
  }
  c->next_merge = bt->chain0 + (long)bt->B;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

typedef struct {
  sr_run_ctx *ctx;
  int failed;
} worker_arg;

static void *worker(void *arg) {
  worker_arg *wa = arg;
  sr_run_ctx *c = wa->ctx;
  const sr_problem *pb = c->pb;
  sr_batch bt;
  int ok = sr__batch_alloc(&bt, c) == 0;
  if (!ok) wa->failed = 1;
  for (;;) {
    long c0 = atomic_fetch_add(&c->next_chain, (long)c->B);
    if (c0 >= pb->num_samples) break;
    size_t B = (size_t)(pb->num_samples - c0 < (long)c->B ? pb->num_samples - c0 : (long)c->B);
    if (ok && !atomic_load(&c->cancel)) {
      bt.B = B;
      bt.chain0 = c0;
      memset(bt.kept, 0, B * sizeof *bt.kept);
      bt.from_halves = 0;
      memset(bt.mean, 0, B * c->n * sizeof(double));
      memset(bt.m2, 0, B * c->n * sizeof(double));
      if (c->diag) {
        memset(bt.hmean, 0, 2 * B * c->n * sizeof(double));
        memset(bt.hm2, 0, 2 * B * c->n * sizeof(double));
        memset(bt.hkept, 0, 2 * B * sizeof(long));
      }
      for (size_t b = 0; b < B; b++) {
        bt.rng[b] = sr_rng_make(pb->seed, (uint64_t)(c0 + (long)b));
        bt.draws[b] = 0;
        bt.step[b] = pb->sampler.step_size;
        bt.accept_sum[b] = 0;
        bt.accept_n[b] = 0;
      }
      c->ops->run_batch(&bt);
    } else {
      bt.B = ok ? B : 0;
      bt.chain0 = c0;
      atomic_store(&c->cancel, 1);
    }
    /* Always take our turn in the merge, so later batches never wait forever. */
    if (!ok) {
      pthread_mutex_lock(&c->mu);
      while (c->next_merge != c0) pthread_cond_wait(&c->cv, &c->mu);
      c->next_merge = c0 + (long)B;
      pthread_cond_broadcast(&c->cv);
      pthread_mutex_unlock(&c->mu);
    } else {
      merge_batch(&bt);
    }
  }
  sr__batch_free(&bt);
  return NULL;
}

static long traj_steps(const sr_sampler_cfg *s) {
  const sr_sampler_ops *ops = sr__sampler_ops(s->kind);
  return ops && ops->traj_steps ? ops->traj_steps(s) : s->steps;
}

long sr_trajectory_len(const sr_sampler_cfg *s, long every) { return every > 0 ? 1 + traj_steps(s) / every : 0; }

static long progress_units(const sr_sampler_ops *ops, const sr_sampler_cfg *s) {
  return ops->progress_units ? ops->progress_units(s) : traj_steps(s);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double sr__median(double *v, size_t m) {
  qsort(v, m, sizeof *v, cmp_double);
  return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

void sr__warn(sr_result *res, const char *fmt, double a, double b, double c3) {
  if (res->nwarnings >= (int)(sizeof res->warnings / sizeof res->warnings[0])) return;
  snprintf(res->warnings[res->nwarnings++], sizeof res->warnings[0], fmt, a, b, c3);
}

/* Split-R̂ (Gelman et al. 2013, BDA3 §11.4) and a batch-means effective sample size per pixel, from the 2S
 * half-chains of N draws each: W = mean within-half variance, B = N · variance of the half means,
 * var⁺ = (N−1)/N W + B/N, R̂ = √(var⁺/W), ESS = 2S·N·var⁺/B (the half-chains as batches). Pixels that never move
 * (W = 0) have neither. Samplers that keep one independent draw per chain have no R̂, and ESS = chains. */
static void diagnostics(sr_run_ctx *c, sr_result *res) {
  const sr_problem *pb = c->pb;
  size_t n = c->n;
  /* a learned prior knows its data's units: an observation far outside them (0–255 pixels for a 0–1 model) gives
   * a meaningless answer, so say so. Aᵀy is the observation in image space (the zero-filled image for masks and
   * k-space); 10 training-data stds from the data mean is far outside any image the model saw. */
  if (pb->prior->trained_sigma[1] > 0 && c->aty && pb->prior->var0 > 0) {
    double m0 = pb->prior->mean0, s0 = sqrt(pb->prior->var0), far = 0.0;
    for (size_t i = 0; i < n; i++)
      if (fabs(c->aty[i] - m0) > far) far = fabs(c->aty[i] - m0);
    if (far > 10.0 * s0)
      sr__warn(res, "the observation (as Aᵀy) reaches %.3g from the model's data mean %.3g, over 10 times its data "
               "std %.3g: it is not in the units the model was trained on (e.g. pixel/255 for [0, 1] images)",
               far, m0, s0);
  }
  if (c->ops->diagnose) {
    c->ops->diagnose(c, res);
    return;
  }
  if (!c->diag) {
    if (c->half_at < 0) res->ess_min = res->ess_median = (double)pb->num_samples; /* one independent draw each */
    return;
  }
  if (c->d_halves < 4) return;
  double *rh = malloc(n * sizeof(double)), *es = malloc(n * sizeof(double));
  if (!rh || !es) {
    free(rh); free(es);
    return;
  }
  double H = c->d_halves, N = c->d_draws / H;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    double W = c->d_w[i] / H, B = N * c->d_hm2[i] / (H - 1);
    if (!(W > 0)) continue;
    double vp = (N - 1) / N * W + B / N;
    rh[m] = sqrt(vp / W);
    es[m] = B > 0 ? H * N * vp / B : H * N;
    m++;
  }
  if (m > 0) {
    double mx = 0, mn = INFINITY;
    for (size_t i = 0; i < m; i++) {
      if (rh[i] > mx) mx = rh[i];
      if (es[i] < mn) mn = es[i];
    }
    res->rhat_max = mx;
    res->ess_min = mn;
    res->rhat_median = sr__median(rh, m);
    res->ess_median = sr__median(es, m);
    if (mx > 1.05)
      sr__warn(res, "not converged: split-R-hat of the pixel means is %.3f at the worst pixel (median %.3f) > 1.05; "
               "the chains disagree: run more steps or a longer burn-in (effective sample size at the worst pixel "
               "%.1f)", mx, res->rhat_median, mn);
  }
  free(rh);
  free(es);
}

/* A complex image's metrics: PSNR and SSIM of the magnitudes |mean| against |ground truth|; NRMSE of the complex
 * values; coverage95 the share of pixels with |mean − truth| <= 1.7308 std, the 95% disc of a circular complex
 * Gaussian of total variance std² (|d|² / (std²/2) ~ χ²₂, whose 95% point is 5.9915). */
static int complex_metrics(const sr_problem *pb, sr_result *res) {
  size_t P = pb->n / 2;
  float *mm = sr_alloc(P), *mg = sr_alloc(P), *d = sr_alloc(P), *zero = sr_alloc(P);
  int rc = !mm || !mg || !d || !zero;
  if (!rc) {
    double num = 0, den = 0;
    for (size_t p = 0; p < P; p++) {
      const float *m = res->mean + 2 * p, *g = pb->ground_truth + 2 * p;
      double dr = (double)m[0] - g[0], di = (double)m[1] - g[1];
      mm[p] = (float)hypot(m[0], m[1]);
      mg[p] = (float)hypot(g[0], g[1]);
      d[p] = (float)hypot(dr, di);
      num += dr * dr + di * di;
      den += (double)g[0] * g[0] + (double)g[1] * g[1];
    }
    res->metrics.have = 1;
    res->metrics.psnr = sr_psnr(mm, mg, P);
    res->metrics.ssim = pb->rank == 2 ? sr_ssim(mm, mg, pb->shape[0], pb->shape[1]) : sr_ssim(mm, mg, 1, P);
    res->metrics.coverage95 = sr_coverage(d, res->std, zero, P, sqrt(5.991464547107979 / 2));
    res->metrics.nrmse = den > 0 ? sqrt(num / den) : NAN;
  }
  sr_free(mm); sr_free(mg); sr_free(d); sr_free(zero);
  return rc;
}

sr_status sr_run(const sr_problem *pb, sr_result *res, sr_progress_fn progress, void *user, sr_error *err) {
  memset(res, 0, sizeof *res);
  res->rhat_max = res->rhat_median = res->ess_min = res->ess_median = res->log_evidence = NAN;
  const sr_sampler_ops *ops = sr__sampler_ops(pb->sampler.kind);
  if (!ops) return sr_fail(err, SR_EINVAL, "sampler.type", "is unknown"); /* sr_problem_validate refuses it first */
  double t0 = sr_clock_seconds();
  sr_run_ctx c;
  memset(&c, 0, sizeof c);
  c.pb = pb;
  c.ops = ops;
  c.n = pb->n;
  c.sn = sr_stride(pb->n);
  c.snout = pb->op ? sr_stride(pb->op->n_out) : 0;
  /* chains per work unit: up to what the prior prefers (a network runs a batch per matrix product), but small
   * enough to leave at least four units for the threads: B = min(prior's batch, ceil(S/4)). A function of the
   * job only, so a chain's numbers never depend on the thread count. */
  const size_t chains = ops->chains ? (size_t)ops->chains(pb) : (size_t)pb->num_samples; /* smc: particles */
  c.B = pb->prior->batch > 1 ? pb->prior->batch : 1;
  if (c.B > (chains + 3) / 4) c.B = (chains + 3) / 4;
  if (c.B < 1) c.B = 1;
  c.units_per_chain = progress_units(ops, &pb->sampler);
  c.progress_total = c.units_per_chain * (long)chains;
  {
    const sr_sampler_cfg *sc = &pb->sampler;
    const int markov = ops->markov;
    long kexp = markov && sc->thinning > 0 ? (sc->steps - sc->burn_in + sc->thinning - 1) / sc->thinning : 1;
    c.half_at = markov ? kexp / 2 : -1;
    c.diag = markov && pb->num_samples >= 2 && kexp >= 4;
  }
  c.progress = progress;
  c.user = user;
  c.res = res;
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  size_t n = pb->n, S = (size_t)pb->num_samples;
  c.gmean = calloc(n, sizeof(double));
  c.gm2 = calloc(n, sizeof(double));
  int oom = !c.gmean || !c.gm2;
  if (c.diag) {
    c.d_w = calloc(n, sizeof(double));
    c.d_hm = calloc(n, sizeof(double));
    c.d_hm2 = calloc(n, sizeof(double));
    oom |= !c.d_w || !c.d_hm || !c.d_hm2;
  }
  /* metrics need the moments even when the caller did not ask to see them */
  if (pb->want_mean || pb->ground_truth) oom |= !(res->mean = sr_alloc(n));
  if (pb->want_std || pb->ground_truth) oom |= !(res->std = sr_alloc(n));
  if (pb->want_samples) oom |= !(res->samples = sr_alloc(S * n));
  if (pb->trajectory_every > 0) {
    res->traj_len = sr_trajectory_len(&pb->sampler, pb->trajectory_every);
    oom |= !(res->trajectories = sr_alloc(S * (size_t)res->traj_len * n));
    oom |= !(res->traj_times = calloc((size_t)res->traj_len, sizeof(double)));
  }
  if (pb->op) {
    float *ws = sr_alloc(sr_stride(pb->op->n_out) + pb->op->ws_floats + 16);
    c.aty = sr_alloc(c.sn);
    if (ws && c.aty) pb->op->adjoint(pb->op, pb->y, c.aty, ws);
    else oom = 1;
    sr_free(ws);
  }
  sr_status st = SR_OK;
  if (oom) {
    st = sr_fail(err, SR_ENOMEM, "num_samples", "out of memory for %zu chains of %zu pixels", S, n);
    goto done;
  }
  if (ops->prepare && (st = ops->prepare(&c, err)) != SR_OK) goto done;
  int threads = pb->threads > 0 ? pb->threads : sr_cpu_count();
  if (ops->run_all) {
    if ((st = ops->run_all(&c, threads, err)) != SR_OK) goto done;
    goto finish;
  }
  long batches = (long)((S + c.B - 1) / c.B);
  if (threads > batches) threads = (int)batches;
  if (threads < 1) threads = 1;
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  worker_arg *wa = calloc((size_t)threads, sizeof *wa);
  char *started = calloc((size_t)threads, 1);
  if (!tid || !wa || !started) {
    free(tid); free(wa); free(started);
    st = sr_fail(err, SR_ENOMEM, "", "out of memory");
    goto done;
  }
  for (int i = 0; i < threads; i++) wa[i].ctx = &c;
  /* A thread that fails to start is no error: the others (and the caller) claim its chains. */
  for (int i = 1; i < threads; i++) started[i] = pthread_create(&tid[i], NULL, worker, &wa[i]) == 0;
  worker(&wa[0]); /* the calling thread works too */
  for (int i = 1; i < threads; i++)
    if (started[i]) pthread_join(tid[i], NULL);
  int failed = 0;
  for (int i = 0; i < threads; i++) failed |= wa[i].failed;
  free(tid);
  free(wa);
  free(started);
  if (failed) {
    st = sr_fail(err, SR_ENOMEM, "", "out of memory for the sampler's buffers");
    goto done;
  }
  long div = atomic_load(&c.diverged);
  if (div) {
    st = sr_fail(err, SR_EDIVERGED, "sampler.step_size",
                 "is too large for this problem: chain %ld diverged (its state became NaN or Inf); use a smaller step, "
                 "more levels or steps, or less extreme prior and noise values", div - 1);
    goto done;
  }
  if (atomic_load(&c.cancel)) {
    st = sr_fail(err, SR_ECANCELLED, "", "cancelled");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (res->mean) res->mean[i] = (float)c.gmean[i];
    if (res->std) res->std[i] = c.gcount > 1 ? (float)sqrt(c.gm2[i] / (c.gcount - 1)) : 0.0f;
  }
  if (pb->complex_image && res->std) /* one value per pixel: sqrt(Var re + Var im), in place */
    for (size_t p = 0; p < n / 2; p++)
      res->std[p] = (float)sqrt((double)res->std[2 * p] * res->std[2 * p] +
                                (double)res->std[2 * p + 1] * res->std[2 * p + 1]);
  res->kept_per_chain = (long)(c.gcount / (double)S + 0.5);
finish:
  diagnostics(&c, res);
  res->score_evals = atomic_load(&c.score_evals);
  res->op_applies = atomic_load(&c.op_applies);
  long prop = atomic_load(&c.proposed);
  res->accept_rate = prop > 0 ? (double)atomic_load(&c.accepted) / (double)prop : -1.0;
  res->step_size = c.step_sum / (double)S;
  res->proposals = atomic_load(&c.mh_proposals);
  if (res->trajectories) {
    const sr_sampler_cfg *s = &pb->sampler;
    for (long k = 0; k < res->traj_len; k++) {
      long step = k * pb->trajectory_every;
      res->traj_times[k] = ops->traj_time ? ops->traj_time(s, step) : (double)step;
    }
  }
  if (pb->ground_truth && pb->complex_image) {
    if (complex_metrics(pb, res)) {
      st = sr_fail(err, SR_ENOMEM, "ground_truth", "out of memory");
      goto done;
    }
  } else if (pb->ground_truth) {
    res->metrics.have = 1;
    res->metrics.psnr = sr_psnr(res->mean, pb->ground_truth, n);
    res->metrics.ssim = pb->rank == 2 ? sr_ssim(res->mean, pb->ground_truth, pb->shape[0], pb->shape[1])
                                      : sr_ssim(res->mean, pb->ground_truth, 1, n);
    res->metrics.coverage95 = sr_coverage(res->mean, res->std, pb->ground_truth, n, 1.959964);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
      double d = (double)res->mean[i] - pb->ground_truth[i];
      num += d * d;
      den += (double)pb->ground_truth[i] * pb->ground_truth[i];
    }
    res->metrics.nrmse = den > 0 ? sqrt(num / den) : NAN;
  }
done:
  if (ops->release) ops->release(&c);
  sr_free(c.aty);
  free(c.gmean);
  free(c.gm2);
  free(c.d_w);
  free(c.d_hm);
  free(c.d_hm2);
  pthread_mutex_destroy(&c.mu);
  pthread_cond_destroy(&c.cv);
  res->seconds = sr_clock_seconds() - t0;
  if (st != SR_OK) {
    double secs = res->seconds;
    sr_result_clear(res);
    res->seconds = secs;
    res->rhat_max = res->rhat_median = res->ess_min = res->ess_median = res->log_evidence = NAN;
  }
  return st;
}
