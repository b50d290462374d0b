/* sampler_internal.h — what the sampler modules share: the operations table every sampler fills in, the run
 * context (one per sr_run), the per-thread batch of chains with its preallocated buffers, and the steps every
 * sampler is made of. Private to solver/. */
#ifndef SR_SAMPLER_INTERNAL_H
#define SR_SAMPLER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "scorerecon.h"

typedef struct sr_run_ctx sr_run_ctx;
typedef struct sr_batch sr_batch;

/* One sampler's operations. sr_run's generic machinery (solver/sampler.c: threads over batches of chains, the
 * ordered merge of their moments, diagnostics) calls only these, so a sampler is its own file, exporting its
 * table, plus one row of the table by kind in sampler.c. validate, and run_batch or run_all, are required; any other
 * member may be NULL and takes the default it names. */
typedef struct {
  const char *name;        /* its sampler.type, for messages */
  int discrete;            /* samples a discrete prior, which has no score (mh); every other sampler needs a score */
  int markov;              /* one Markov chain per sample, kept after burn_in every thinning: split-R̂ and ESS */
  /* Checks that the problem fits the sampler and fills in every default of its settings (docs/samplers.md);
   * sr_problem_validate has checked what every sampler needs (and that a discrete prior meets a discrete one). */
  sr_status (*validate)(sr_problem *pb, sr_error *err);
  long (*chains)(const sr_problem *pb);            /* chains a run carries; NULL: num_samples */
  long (*traj_steps)(const sr_sampler_cfg *s);     /* steps one trajectory records; NULL: steps */
  long (*progress_units)(const sr_sampler_cfg *s); /* progress units per chain; NULL: traj_steps */
  double (*traj_time)(const sr_sampler_cfg *s, long step); /* a trajectory step's time; NULL: the step index */
  /* Per-run state, read by every chain (in c, e.g. c->shared); NULL: none. release undoes it, also after a failed
   * or skipped prepare. */
  sr_status (*prepare)(sr_run_ctx *c, sr_error *err);
  void (*release)(sr_run_ctx *c);
  /* Per-thread state (bt->ext): NULL when out of memory. NULL members: none. */
  void *(*worker_new)(const sr_run_ctx *c);
  void (*worker_free)(void *ext);
  /* Runs the batch's chains to their kept moments (sr__keep) and final states; nonzero: cancelled. */
  int (*run_batch)(sr_batch *bt);
  /* A population sampler (smc) runs all its chains in one call with threads of its own, instead of run_batch,
   * and fills in the result's moments and samples itself. */
  sr_status (*run_all)(sr_run_ctx *c, int threads, sr_error *err);
  /* The result's convergence diagnostics and warnings; NULL: split-R̂ and ESS of the pixel means (markov). */
  void (*diagnose)(sr_run_ctx *c, sr_result *res);
} sr_sampler_ops;

/* The operations of a sampler kind; NULL for an unknown kind. */
const sr_sampler_ops *sr__sampler_ops(sr_sampler_kind kind);

extern const sr_sampler_ops sr__langevin_ops, sr__mala_ops; /* solver/sampler_langevin.c */
extern const sr_sampler_ops sr__annealed_ops;                /* solver/sampler_annealed.c */
extern const sr_sampler_ops sr__pc_ops, sr__ode_ops;         /* solver/sampler_pc.c */
extern const sr_sampler_ops sr__mh_ops;                      /* solver/sampler_mh.c */
extern const sr_sampler_ops sr__ddrm_ops, sr__diffpir_ops;   /* solver/sampler_ddim.c */
extern const sr_sampler_ops sr__smc_ops;                     /* solver/sampler_smc.c */

struct sr_run_ctx {
  const sr_problem *pb;
  const sr_sampler_ops *ops;
  size_t n, sn, snout;
  size_t B;                   /* chains per batch (1 for analytic priors) */
  long units_per_chain;       /* progress units (sampler steps incl. correctors) per chain */
  long progress_total;        /* progress units of the whole run (smc: steps × particles) */
  long traj_len;
  sr_progress_fn progress;
  void *user;
  atomic_long done, score_evals, op_applies, accepted, proposed, next_chain;
  atomic_long mh_proposals;   /* mh: single-site proposals, burn-in included */
  void *shared;               /* the sampler's per-run state (ops->prepare), e.g. mh's likelihood structure */
  atomic_int cancel;
  atomic_long diverged;       /* 1 + index of the first chain found non-finite, 0 if none */
  /* ordered merge of per-chain moments: chains merge in index order, so the sums never depend on threads */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long next_merge;
  double *gmean, *gm2, gcount, step_sum;
  float *aty;                 /* Aᵀy, computed once per run (NULL without an operator) */
  sr_result *res;
  /* ddrm / diffpir / smc: the spectral form they work in (solver/sampler_grid.c) */
  const sr_op *sop;           /* pb->op, or own_sop (an all-zero mask: no data) when the job has no operator */
  sr_op *own_sop;
  size_t ssf;                 /* sr_stride(sop->spec_floats) */
  float *aty_spec;            /* b = Vᵀ Aᵀ y (ssf floats) */
  /* split-R̂ / ESS of the pixel means (Markov chains with >= 4 kept draws, >= 2 chains): each chain's kept draws
   * split at half_at into two halves; merged half by half in chain order */
  int diag;
  long half_at;
  double *d_w;                /* n: Σ over halves of the within-half variance */
  double *d_hm, *d_hm2;       /* n: Welford over the half means */
  double d_halves, d_draws;   /* halves merged, draws in them */
  long m_obs;                 /* observed real components of y */
};

struct sr_batch {
  sr_run_ctx *ctx;
  size_t B;                   /* chains in this batch */
  long chain0;
  sr_rng *rng;                /* per chain */
  uint64_t *draws;            /* per chain: next counter for its normals */
  float *x, *g, *z, *t1, *t2, *t3;  /* B*sn each */
  float *r;                   /* residual, snout */
  float *xs;                  /* scaled state for the likelihood, sn */
  float *opws, *prws;
  double *mean, *m2;          /* B*n per-chain Welford (with from_halves: derived from the halves' at the merge) */
  int from_halves;            /* the keeps went to the halves only (diag): mean, m2 = their Chan merge */
  long *kept;
  double *step, *logpi, *accept_sum;
  long *accept_n;
  void *ext;                  /* the sampler's per-thread state (ops->worker_new), e.g. mh's sr_mh_chain */
  float *s1, *s2, *s3, *s4;   /* ddrm/diffpir/smc: B*ssf spectral buffers each */
  double *hmean, *hm2;        /* diag: per half h and chain b, n values at (h*B + b)*n */
  long *hkept;                /* diag: draws per half and chain, at h*B + b */
};

/* Draws standard normals for chain b of the batch into out (n floats). */
void sr__normals(sr_batch *bt, size_t b, float *out);
/* g[b] = ∇ log p_t(x[b]) + w/alpha · Aᵀ(y − A (x[b] − shift)/alpha) for the whole batch at noise level nl.
 * With rr (B entries) it also returns ‖y − A x̂‖² per chain, through forward, residual and adjoint (MALA);
 * without, it uses Aᵀy − AᵀA x̂ (one FFT pair for blur and Fourier, no residual). */
void sr__posterior_score(sr_batch *bt, const float *x, sr_noise nl, double w, float *g, double *rr);
/* One ULA step x ← x + η g + √(2η) z of chain b at noise level 0 with an operator, in one pass after its normal
 * operator: g = s(x) + w (Aᵀy − AᵀA x), s the prior's score (gaussian: (c − x)·iv inline, else bt->g, filled by
 * prior->score for the batch beforehand), the normals made a cache-sized piece at a time right before the update
 * reads them, and the Welford keep of the new state (keep) in the same piece. The same float operations in the
 * same order as sr__posterior_score + sr__normals + the update + sr__keep, so the same bits. */
typedef struct {
  int gaussian;             /* 1: the prior's score is (c − x)·iv (prior_gmm.c, one component, level 0) */
  float c, iv;
  float ws, eta, sq;        /* w (likelihood weight), η, √(2η) */
} sr_ula_fuse;
/* Fills f for the problem; returns 0 when the fused step applies (an operator with a normal operator). */
int sr__ula_fuse_init(const sr_problem *pb, double w, double eta, sr_ula_fuse *f);
void sr__ula_step_fused(sr_batch *bt, size_t b, const sr_ula_fuse *f, int keep);
/* Initial state of every chain: prior sample at nl, else nl.shift + nl.sigma z. */
void sr__init_state(sr_batch *bt, sr_noise nl);
/* Records one kept state of chain b: Welford into its moments, or with ctx->diag into its half's only (the chain's
 * are then the two halves' merged, at the end: one accumulator a step instead of two). */
void sr__keep(sr_batch *bt, size_t b, const float *x);
/* Stores x as trajectory slot `slot` of chain b (if trajectories were asked for). */
void sr__traj(sr_batch *bt, size_t b, long slot, const float *x);
/* Adds progress for the batch; returns nonzero when the run is cancelled. */
int sr__tick(sr_batch *bt, long units);
/* Likelihood weight 1/(σ_y² + σ_t²/α²) at a noise level. */
double sr__lik_weight(const sr_problem *pb, sr_noise nl);
/* For the validate of a sampler that runs on noised marginals: fails unless the prior has their scores. */
sr_status sr__need_marginals(const sr_problem *pb, const char *sname, sr_error *err);
/* For the validate of a Markov sampler (langevin, mala, mh): steps (default 1000; the job calls them steps_name),
 * burn_in (steps/5) and thinning (1), with burn_in < steps. */
sr_status sr__chain_length(sr_sampler_cfg *s, const char *steps_name, sr_error *err);
/* Median of v[0 .. m) (sorts v). */
double sr__median(double *v, size_t m);
/* Adds a warning to the result (fmt takes the three numbers); dropped when the result holds four already. */
void sr__warn(sr_result *res, const char *fmt, double a, double b, double c);

/* A thread's batch of up to ctx->B chains with every buffer a step needs (0, or -1 when out of memory: free it
 * anyway); the thread owns it and frees it with sr__batch_free. */
int sr__batch_alloc(sr_batch *bt, sr_run_ctx *c);
void sr__batch_free(sr_batch *bt);
/* ---- the time grid of ddrm / diffpir / smc (solver/sampler_grid.c) */
/* What their validate shares: an operator with a spectral form (or none), the SDE, the steps' default. */
sr_status sr__grid_validate(sr_problem *pb, const char *sname, sr_error *err);
/* Level k of K = steps: the SDE's marginal at t = T k / K (k = 0: no noise). */
sr_noise sr__grid_level(const sr_sampler_cfg *s, long k);
/* Tweedie's denoiser for the batch: x0 = E[x_0 | x_t] = (x + σ² ∇log p_t(x) − shift) / α (counts B evaluations). */
void sr__denoise(sr_batch *bt, const float *x, sr_noise nl, float *x0);
/* Their prepare and release: c->sop, aty_spec, m_obs. */
sr_status sr__grid_prepare(sr_run_ctx *c, sr_error *err);
void sr__grid_release(sr_run_ctx *c);
/* log N(y; A m, c2 I + v A Aᵀ) over the observed entries, from the mean's spectrum mh = Vᵀm and, when v > 0, the
 * spectral form (docs/samplers.md, "smc"); r (n_out floats) and px (n floats) are scratch. */
double sr__log_lik_marginal(sr_batch *bt, const float *m, const float *mh, double c2, double v, float *r);

#endif
