/* sampler_internal.h — what the sampler modules share: the run context (one per sr_run), the per-thread
 * batch of chains with its preallocated buffers, and the steps every sampler is made of. Private to solver/. */
#ifndef SR_SAMPLER_INTERNAL_H
#define SR_SAMPLER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "scorerecon.h"

typedef struct {
  const sr_problem *pb;
  size_t n, sn, snout;
  size_t B;                   /* chains per batch (1 for analytic priors) */
  long units_per_chain;       /* progress units (sampler steps incl. correctors) per chain */
  long progress_total;        /* progress units of the whole run (smc: steps × particles) */
  long traj_len;
  sr_progress_fn progress;
  void *user;
  atomic_long done, score_evals, op_applies, accepted, proposed, next_chain;
  atomic_long mh_proposals;   /* mh: single-site proposals, burn-in included */
  struct sr_mh_shared *mh;    /* mh: the likelihood's structure, built once per run (solver/sampler_mh.c) */
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
} sr_run_ctx;

typedef struct {
  sr_run_ctx *ctx;
  size_t B;                   /* chains in this batch */
  long chain0;
  sr_rng *rng;                /* per chain */
  uint64_t *draws;            /* per chain: next counter for its normals */
  float *x, *g, *z, *t1, *t2, *t3;  /* B*sn each */
  float *r;                   /* residual, snout */
  float *xs;                  /* scaled state for the likelihood, sn */
  float *opws, *prws;
  double *mean, *m2;          /* B*n per-chain Welford */
  long *kept;
  double *step, *logpi, *accept_sum;
  long *accept_n;
  void *ext;                  /* mh: this thread's chain state (sr_mh_chain) */
  float *s1, *s2, *s3, *s4;   /* ddrm/diffpir/smc: B*ssf spectral buffers each */
  double *hmean, *hm2;        /* diag: per half h and chain b, n values at (h*B + b)*n */
  long *hkept;                /* diag: draws per half and chain, at h*B + b */
} sr_batch;

/* Draws standard normals for chain b of the batch into out (n floats). */
void sr__normals(sr_batch *bt, size_t b, float *out);
/* g[b] = ∇ log p_t(x[b]) + w/alpha · Aᵀ(y − A (x[b] − shift)/alpha) for the whole batch at noise level nl.
 * With rr (B entries) it also returns ‖y − A x̂‖² per chain, through forward, residual and adjoint (MALA);
 * without, it uses Aᵀy − AᵀA x̂ (one FFT pair for blur and Fourier, no residual). */
void sr__posterior_score(sr_batch *bt, const float *x, sr_noise nl, double w, float *g, double *rr);
/* Initial state of every chain: prior sample at nl, else nl.shift + nl.sigma z. */
void sr__init_state(sr_batch *bt, sr_noise nl);
/* Records one kept state of chain b (Welford; with ctx->diag also into its half's moments). */
void sr__keep(sr_batch *bt, size_t b, const float *x);
/* Stores x as trajectory slot `slot` of chain b (if trajectories were asked for). */
void sr__traj(sr_batch *bt, size_t b, long slot, const float *x);
/* Adds progress for the batch; returns nonzero when the run is cancelled. */
int sr__tick(sr_batch *bt, long units);
/* Likelihood weight 1/(σ_y² + σ_t²/α²) at a noise level. */
double sr__lik_weight(const sr_problem *pb, sr_noise nl);

int sr__run_langevin(sr_batch *bt);   /* ULA and MALA */
int sr__run_annealed(sr_batch *bt);
int sr__run_pc(sr_batch *bt);
int sr__run_ode(sr_batch *bt);
int sr__run_mh(sr_batch *bt);         /* Metropolis–Hastings on a discrete prior */
/* A thread's batch of up to ctx->B chains with every buffer a step needs (0, or -1 when out of memory: free it
 * anyway); the thread owns it and frees it with sr__batch_free. */
int sr__batch_alloc(sr_batch *bt, sr_run_ctx *c);
void sr__batch_free(sr_batch *bt);
int sr__run_ddim(sr_batch *bt);       /* ddrm and diffpir (solver/sampler_ddim.c) */
/* smc runs its whole particle population in one call with its own threads (solver/sampler_smc.c) */
sr_status sr__run_smc(sr_run_ctx *c, int threads, sr_error *err);

/* ---- the time grid of ddrm / diffpir / smc (solver/sampler_grid.c) */
/* Level k of K = steps: the SDE's marginal at t = T k / K (k = 0: no noise). */
sr_noise sr__grid_level(const sr_sampler_cfg *s, long k);
/* Tweedie's denoiser for the batch: x0 = E[x_0 | x_t] = (x + σ² ∇log p_t(x) − shift) / α (counts B evaluations). */
void sr__denoise(sr_batch *bt, const float *x, sr_noise nl, float *x0);
/* Sets up c->sop, aty_spec, m_obs; -1 when out of memory. */
int sr__grid_prepare(sr_run_ctx *c);
void sr__grid_release(sr_run_ctx *c);
/* log N(y; A m, c2 I + v A Aᵀ) over the observed entries, from the mean's spectrum mh = Vᵀm and, when v > 0, the
 * spectral form (docs/samplers.md, "smc"); r (n_out floats) and px (n floats) are scratch. */
double sr__log_lik_marginal(sr_batch *bt, const float *m, const float *mh, double c2, double v, float *r);

#endif
