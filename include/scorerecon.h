/* scorerecon.h — the public API of the solver library (libsr).
 *
 * Owns the vocabulary the rest of the project speaks: errors, arrays, the counter-based random generator,
 * linear operators, priors, SDEs, samplers and the problem a run solves. Nothing here knows about JSON or
 * HTTP: the server builds an sr_problem and calls sr_run().
 *
 * Conventions
 * - Images are real float32, row-major. Complex values are interleaved (re, im) float pairs. A complex image
 *   (sr_problem.complex_image) of P pixels is, to the samplers and priors, 2P real unknowns in that order.
 * - Every object follows plan/apply/free (as FFTW): sr_X_create() plans and allocates, the function pointers
 *   apply it any number of times from any number of threads (each with its own workspace), sr_X_free() frees.
 *   The creator owns the object; whoever holds the pointer last calls free.
 * - Arrays handed to operators and priors must come from sr_alloc() (64-byte aligned); a chain's slice of a
 *   batch starts at a multiple of sr_stride(n) floats, so it is aligned too.
 * - Functions that can fail return sr_status and fill an sr_error naming the offending field.
 */
#ifndef SCORERECON_H
#define SCORERECON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SR_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

typedef enum {
  SR_OK = 0,
  SR_EINVAL = 1,    /* invalid input: the error names the field */
  SR_ENOMEM = 2,    /* allocation failed */
  SR_ELIMIT = 3,    /* a configured limit was exceeded */
  SR_ECANCELLED = 4,
  SR_EINTERNAL = 5,
  SR_EDIVERGED = 6, /* a chain's state became NaN or Inf: the settings are numerically unstable */
  SR_ESYNTAX = 7    /* the text is not valid JSON (the job parser; the error gives line and column) */
} sr_status;

typedef struct {
  sr_status code;   /* what sr_fail was given */
  char field[128];  /* JSON-path-like name of the offending field ("prior.std"), "" if none */
  char msg[320];    /* full human-readable message, starting with the field */
} sr_error;

/* Sets err (if non-NULL) to "FIELD MESSAGE" and returns code. */
sr_status sr_fail(sr_error *err, sr_status code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: only differences mean anything): the one clock for timing,
 * in the solver, the benchmarks, the tests and the CLI's progress bar. */
double sr_clock_seconds(void);
const char *sr_status_name(sr_status s);

/* ---------------------------------------------------------------- memory */

float *sr_alloc(size_t nfloats);          /* 64-byte aligned, zeroed; NULL on failure; free with sr_free */
void sr_free(void *p);
size_t sr_stride(size_t n);               /* n rounded up to a multiple of 16 floats (64 bytes) */

/* Call once before planning operators from several threads (makes FFTW's planner thread-safe). */
void sr_init(void);

/* ---------------------------------------------------------------- FFT plans (docs/performance.md "Tuned plans")
 * Every FFT operator plans with FFTW_ESTIMATE when it is made: the same plans, so the same bits, on every run and
 * machine. A planner in SR_FFT_TUNED mode re-plans an operator's transforms (sr_op_plan_fft) from FFTW wisdom kept
 * in a file: with FFTW_WISDOM_ONLY when the file has the size, else once with FFTW_MEASURE, after which the wisdom
 * is added to the file (under an flock on FILE.lock, written to a temporary file and renamed) and the plan made
 * again from the file. So every job of a size on a machine runs the plan the file holds: the same bits every run,
 * which may differ from estimate mode's and from another machine's (other wisdom). What the operator computed at
 * construction (a blur's kernel spectrum, norm2 and so the default step size) stays ESTIMATE's.
 * FFTW's wisdom is process-wide: use one planner per process; while it plans, its (recursive) mutex is held and
 * the wisdom is forgotten again before it is released, so an ESTIMATE plan made under sr_fft_planner_lock never
 * sees tuned wisdom. */
typedef enum { SR_FFT_ESTIMATE = 0, SR_FFT_TUNED = 1 } sr_fft_mode;
typedef struct sr_fft_planner sr_fft_planner;
/* wisdom_file: required for SR_FFT_TUNED (absent is fine: made on the first plan), ignored for ESTIMATE. An
 * existing file that FFTW cannot read as single-precision wisdom is an error (SR_EINVAL, field "fft_wisdom"): the
 * run stops rather than plan differently from what the file promised; delete the file to plan afresh. */
sr_fft_planner *sr_fft_planner_create(sr_fft_mode mode, const char *wisdom_file, sr_error *err);
void sr_fft_planner_free(sr_fft_planner *pl);
sr_fft_mode sr_fft_planner_mode(const sr_fft_planner *pl);
/* "estimate" / "tuned"; sr_fft_mode_parse returns -1 for another name. */
const char *sr_fft_mode_name(sr_fft_mode m);
int sr_fft_mode_parse(const char *name);
/* Holds the planner's mutex (recursive), e.g. around making operators while another thread may plan tuned. */
void sr_fft_planner_lock(sr_fft_planner *pl);
void sr_fft_planner_unlock(sr_fft_planner *pl);
/* Makes sure the wisdom file holds the plans of an h x w image: the real pair (r2c, c2r) and, with complex_too,
 * the in-place c2c pair. *measured (may be NULL) is set to the transforms it had to measure. */
sr_status sr_fft_planner_prepare(sr_fft_planner *pl, size_t h, size_t w, int complex_too, int *measured,
                                 sr_error *err);

/* ---------------------------------------------------------------- random numbers
 * Philox4x32-10 (Salmon et al. 2011), keyed by (seed, stream); the counter is (block, step).
 * A chain owns one stream, so its numbers depend only on (seed, chain, step) — never on threads. */

typedef struct {
  uint32_t key[2];
  uint32_t stream;
  uint32_t path;   /* the vector path of the bulk draws, chosen by sr_rng_make (any path gives the same bits) */
} sr_rng;

sr_rng sr_rng_make(uint64_t seed, uint64_t stream);
/* n standard normals for counter position `step` (any n; block layout fixed so results are reproducible). */
void sr_rng_normals(const sr_rng *r, uint64_t step, float *out, size_t n);
/* n uniforms in (0, 1) for counter position `step`, from a sub-stream disjoint from sr_rng_normals. */
void sr_rng_uniforms(const sr_rng *r, uint64_t step, double *out, size_t n);
/* n raw 32-bit words for counter position `step` (< 2^63), from a sub-stream disjoint from the two above; the
 * same bits on every machine and code path (layout in rng.c). */
void sr_rng_bits(const sr_rng *r, uint64_t step, uint32_t *out, size_t n);
/* The raw generator: four 32-bit words at counter (c0, c1, c2, c3). */
void sr_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);

/* ---------------------------------------------------------------- linear operators
 * A: R^n_in -> R^n_out (real vector; a complex output is n_out/2 interleaved values).
 * forward:  y = A x        adjoint: x = A^T y (adjoint for the real inner product <u,v> = sum u_i v_i)
 * normal:   x' = A^T A x   (optional; NULL means forward then adjoint)
 * ws: caller-provided workspace of ws_floats floats (sr_alloc'd), one per concurrent caller. */

/* What an operator is, beyond its functions, for samplers that exploit it (mh: solver/op_structure.c). Set by the
 * constructors below. */
typedef enum {
  SR_OP_OPAQUE = 0,    /* nothing known: forward, adjoint and normal only */
  SR_OP_DIAGONAL,      /* A = diag(m), m = obs_mask ∈ {0, 1}^n (obs_mask NULL: the identity); n_in = n_out */
  SR_OP_CONVOLUTION,   /* circular 2-D convolution with a kernel: sr_op_kernel */
  SR_OP_FOURIER,       /* A = M F, the orthonormal 2-D DFT then a 0/1 mask: AᵀA = Fᴴ M F is circulant */
  SR_OP_CHAIN          /* a composition: sr_op_members */
} sr_op_structure;

typedef struct sr_op sr_op;
struct sr_op {
  const char *kind;         /* its name in a job ("mask", "blur", ...), for messages */
  sr_op_structure structure;
  int in_rank;
  size_t in_shape[4];
  int out_rank;
  size_t out_shape[4];      /* shape in values; complex values count once */
  int out_complex;
  int in_complex;           /* 1: the input is a complex image, n_in = 2 × pixels interleaved (re, im) */
  size_t n_in, n_out;       /* floats */
  double norm2;             /* ||A||_2^2 (exact where known, else a power-iteration estimate) */
  size_t ws_floats;
  float *obs_mask;          /* n_out floats, 1 observed / 0 ignored; NULL = all observed. Owned by the op. */
  /* Spectral form of the normal operator, where one exists (to_spec NULL: none, e.g. chains):
   *   AᵀA = V diag(λ) Vᵀ with V orthonormal and cheap (pixels for identity/mask, the real 2-D DFT for blur and
   *   Fourier). c = Vᵀx holds spec_floats floats (the r2c half spectrum for FFT operators, scaled by 1/√N);
   *   per float f: spec_lambda[f] = λ, spec_weight[f] = w_f with <x, x'> = Σ_f w_f c_f c'_f (Parseval), and
   *   spec_dof[f] = the eigen-directions f stands for, so Σ_j φ(λ_j) = Σ_f spec_dof[f] φ(spec_lambda[f]).
   *   A diagonal map c ↦ φ(λ) ⊙ c with φ symmetric in k keeps a real image real. The three arrays are built on
   *   demand by sr_op_spec_prepare (NULL before: an operator only validated, or used by a sampler that never
   *   asks, does not pay 3 floats a pixel) and owned by the op (sr_op_free frees them). ws: ws_floats floats. */
  size_t spec_floats;
  float *spec_lambda, *spec_weight, *spec_dof;
  int (*build_spec)(sr_op *op);  /* fills the three arrays; set with to_spec */
  /* Re-plans the op's FFTs (members' too) with a planner (sr_op_plan_fft); NULL: no FFT of its own. */
  sr_status (*plan_fft)(sr_op *op, sr_fft_planner *pl, sr_error *err);
  void (*to_spec)(const sr_op *op, const float *x, float *c, float *ws);
  void (*from_spec)(const sr_op *op, const float *c, float *x, float *ws);
  void (*forward)(const sr_op *op, const float *x, float *y, float *ws);
  void (*adjoint)(const sr_op *op, const float *y, float *x, float *ws);
  void (*normal)(const sr_op *op, const float *x, float *out, float *ws);
  void (*destroy)(sr_op *op);
  void *impl;
};

/* Each create returns NULL and fills err on invalid arguments. */
sr_op *sr_op_identity(int rank, const size_t *shape, sr_error *err);
/* mask: n values, nonzero = observed (stored as 0/1). */
sr_op *sr_op_mask(int rank, const size_t *shape, const float *mask, sr_error *err);
/* Circular convolution with kernel kh x kw (normalised to sum 1 here), centre element (kh/2, kw/2). */
sr_op *sr_op_blur(size_t h, size_t w, const float *kernel, size_t kh, size_t kw, sr_error *err);
/* Subsampled orthonormal 2-D DFT of a real h x w image, centred k-space (DC at [h/2][w/2]); mask h*w 0/1. */
sr_op *sr_op_fourier(size_t h, size_t w, const float *mask, sr_error *err);
/* Operators on complex images (in_complex = out_complex = 1), for adjoints in the real inner product on the
 * interleaved floats (= Re of the complex one):
 * - sr_op_complex: A applied to the real and imaginary parts separately, y = A re(x) + i A im(x), for a real
 *   operator A (identity, mask, blur; not a chain or fourier). Takes ownership of A (freed even on failure).
 * - sr_op_fourier_complex: y = M ⊙ F x, F the orthonormal c2c 2-D DFT, k-space centred as sr_op_fourier (DC at
 *   [h/2][w/2]); Aᴴ y = Fᴴ(M ⊙ y). mask h*w 0/1.
 * - sr_op_sense: coils c = 0..C−1: y_c = M ⊙ F(S_c ⊙ x), output [C, h, w] complex; Aᴴ y = Σ_c conj(S_c) ⊙
 *   Fᴴ(M ⊙ y_c). sens: C*h*w complex values (2 floats each); norm2 by power iteration (op.c). */
sr_op *sr_op_complex(sr_op *real_op, sr_error *err);
sr_op *sr_op_fourier_complex(size_t h, size_t w, const float *mask, sr_error *err);
sr_op *sr_op_sense(size_t coils, size_t h, size_t w, const float *sens, const float *mask, sr_error *err);
/* A = ops[n-1] ∘ … ∘ ops[0]; takes ownership of the ops (freed even on failure). */
sr_op *sr_op_chain(sr_op **ops, int n, sr_error *err);
void sr_op_free(sr_op *op);
/* Builds op's spectral arrays (spec_lambda, spec_weight, spec_dof) if not yet built. Returns 0, or -1 when the
 * op has no spectral form (to_spec NULL) or memory ran out. Not thread-safe: call before chains start. */
int sr_op_spec_prepare(sr_op *op);

/* A convolution's kernel, normalised to sum 1 (kh x kw, centre (kh/2, kw/2)); NULL unless op is SR_OP_CONVOLUTION
 * (a blur). */
const double *sr_op_kernel(const sr_op *op, size_t *kh, size_t *kw);
/* A chain's members in application order (ops[0] first) and their count; 0 unless op is SR_OP_CHAIN. */
int sr_op_members(const sr_op *op, sr_op *const **ops);

/* Re-plans every FFT of op with pl (nothing to do in SR_FFT_ESTIMATE mode or for pl NULL: the plans op was made
 * with). Call before the op is applied from several threads. */
sr_status sr_op_plan_fft(sr_op *op, sr_fft_planner *pl, sr_error *err);

/* Applies A^T A, through op->normal where present. */
void sr_op_normal(const sr_op *op, const float *x, float *out, float *ws);
/* Power iteration for ||A||^2 (iters steps from a fixed start). */
double sr_op_norm2_estimate(const sr_op *op, int iters);

/* Mask and kernel generators. */
void sr_gaussian_kernel(double sigma, size_t size, float *kernel /* size*size */);
/* Cartesian (whole rows, fastMRI-like): centre_fraction of rows around h/2 kept, the rest random so that the
 * total kept is about h/acceleration. Random: each entry kept with probability p. Both seeded. */
void sr_mask_cartesian(size_t h, size_t w, double acceleration, double center_fraction, uint64_t seed,
                       float *mask);
void sr_mask_random(size_t n, double fraction, uint64_t seed, float *mask);

/* ---------------------------------------------------------------- noise levels and SDEs
 * A noised marginal is x_t = alpha x0 + shift + sigma z, z ~ N(0, I). */

typedef struct {
  double alpha, shift, sigma;
} sr_noise;

static inline sr_noise sr_noise_none(void) {
  sr_noise nl = {1.0, 0.0, 0.0};
  return nl;
}

typedef enum { SR_SDE_VE = 1, SR_SDE_VP, SR_SDE_DRIFT } sr_sde_kind;

typedef struct {
  sr_sde_kind kind;
  double sigma_min, sigma_max;   /* VE: sigma(t) = smin (smax/smin)^t on [0,1]; marginal var sigma(t)^2 - smin^2 */
  double beta_min, beta_max;     /* VP: beta(t) = bmin + (bmax - bmin) t / T */
  double mu, sigma;              /* drift: dx = mu dt + sigma dW */
  double T;                      /* end time (VE: 1) */
} sr_sde;

sr_noise sr_sde_marginal(const sr_sde *sde, double t);
/* Coefficients at t: f(x, t) = f_lin x + f_const, diffusion g(t). */
void sr_sde_coef(const sr_sde *sde, double t, double *f_lin, double *f_const, double *g);
const char *sr_sde_name(sr_sde_kind k);

/* ---------------------------------------------------------------- priors
 * score: out = ∇ log p_t(x) for a batch of `batch` images of n pixels each (stride sr_stride(n)), at noise
 *        level nl. Priors with has_marginals = 0 accept only nl.sigma == 0.
 * logp:  unnormalised log density at level 0 of one image (NULL if the prior has none).
 * sample: draws one image from the noised marginal (NULL if it cannot). */

typedef struct sr_prior sr_prior;
struct sr_prior {
  const char *kind;
  int has_marginals;
  double lipschitz;        /* Lipschitz bound of the level-0 score (INFINITY if unbounded) */
  size_t ws_floats;        /* per image */
  size_t batch;            /* chains the prior prefers to score at once (0 or 1: one at a time) */
  void (*score)(const sr_prior *p, const float *x, size_t batch, size_t n, sr_noise nl, float *out, float *ws);
  double (*logp)(const sr_prior *p, const float *x, size_t n, float *ws);
  void (*sample)(const sr_prior *p, sr_noise nl, const sr_rng *rng, uint64_t step, float *x, size_t n);
  void (*destroy)(sr_prior *p);
  void *impl;
  double trained_sigma[2];  /* learned priors: the noise range the network was trained on (else 0, 0) */
  double mean0, var0;      /* a pixel's mean and variance under the prior (a Gaussian surrogate's): smc's potentials
                            * use var0, the data-units warning both (docs/samplers.md); var0 = 0: unknown */
  int discrete;            /* 1: a law on a finite set of images (ising): no score, sampled by mh only */
};

sr_prior *sr_prior_gaussian(double mean, double std, sr_error *err);
sr_prior *sr_prior_gmm(size_t k, const double *weights, const double *means, const double *stds, sr_error *err);
/* Smoothed TV on an h x w image: log p = -lambda sum_ij sqrt(|∇x|_ij^2 + eps^2), forward differences,
 * Neumann boundary. */
sr_prior *sr_prior_tv(size_t h, size_t w, double lambda, double eps, sr_error *err);
/* The same on a complex h x w image (interleaved re, im): |∇x|² = |∇re|² + |∇im|² per pixel (as BART's TV). */
sr_prior *sr_prior_tv_complex(size_t h, size_t w, double lambda, double eps, sr_error *err);
/* Ising model on an h x w lattice of spins s = ±1 shown as pixels a (s = −1) or b (s = +1):
 * log p = J Σ_(i,j) s_i s_j + field Σ_i s_i over 4-neighbour pairs (periodic: every site's right and down
 * neighbour, wrapping). Discrete: sampled by SR_SAMPLER_MH only (docs/samplers.md). */
sr_prior *sr_prior_ising(size_t h, size_t w, double coupling, double field, int periodic, double a, double b,
                         sr_error *err);
void sr_prior_free(sr_prior *p);
/* The per-pixel mixture a gmm (or gaussian) prior is, for the tests and the analytic oracles: k components with
 * weights w (normalised to sum 1), means mu and stds sd, arrays owned by the prior (any output may be NULL).
 * Returns 0, or nonzero (outputs untouched) for a prior that is no mixture. */
int sr_prior_mixture(const sr_prior *p, size_t *k, const double **w, const double **mu, const double **sd);

/* ---------------------------------------------------------------- samplers */

typedef enum {
  SR_SAMPLER_LANGEVIN = 1,
  SR_SAMPLER_MALA,
  SR_SAMPLER_ANNEALED,
  SR_SAMPLER_PC,
  SR_SAMPLER_ODE,
  SR_SAMPLER_MH,             /* Metropolis–Hastings single-site flips on a discrete prior's energy */
  SR_SAMPLER_DDRM,           /* few-step DDIM grid with exact data consistency in the operator's spectral basis */
  SR_SAMPLER_DIFFPIR,        /* DDIM grid with a half-quadratic-splitting proximal data step */
  SR_SAMPLER_SMC             /* sequential Monte Carlo over the reverse diffusion: asymptotically exact */
} sr_sampler_kind;

/* annealed step rules (docs/samplers.md): song ε σ_i²/σ_min², lipschitz ε/L_i, spectral: the exact
 * Ornstein–Uhlenbeck step per frequency of the operator's spectral basis (op->to_spec) */
enum { SR_STEP_SONG = 0, SR_STEP_LIPSCHITZ = 1, SR_STEP_SPECTRAL = 2 };
enum { SR_MH_SINGLE_FLIP = 0, SR_MH_CHECKERBOARD = 1 };  /* mh proposals */
enum { SR_MH_INIT_RANDOM = 0, SR_MH_INIT_OBSERVATION = 1 }; /* mh initial state */

typedef struct {
  sr_sampler_kind kind;
  /* langevin / mala */
  long steps, burn_in, thinning;
  double step_size;          /* 0 = default (see docs/samplers.md) */
  int adapt;                 /* mala: adapt the step during burn-in towards target_accept */
  double target_accept;
  /* annealed */
  double sigma_max, sigma_min, epsilon;
  long levels, steps_per_level;
  int step_rule;             /* annealed: SR_STEP_SONG (ε σ_i²/σ_min²), SR_STEP_LIPSCHITZ (ε / L_i) or SR_STEP_SPECTRAL */
  long final_steps;          /* annealed: steps at σ_min with the exact likelihood weight 1/σ_y² after the last level;
                              * negative = the default (1 under spectral, else 0; sr_problem_init sets −1) */
  /* pc / ode */
  sr_sde sde;
  double snr;
  long corrector_steps;
  int denoise;               /* pc: final step without noise (score_sde's noise removal) */
  int ode_method;            /* 1 euler, 2 heun */
  /* mh: steps, burn_in and thinning count sweeps (n single-site proposals each) */
  int proposal;              /* SR_MH_SINGLE_FLIP or SR_MH_CHECKERBOARD */
  int init;                  /* SR_MH_INIT_RANDOM or SR_MH_INIT_OBSERVATION */
  double temp_start, temp_end; /* temperature: geometric from start to end over the burn-in, then end (0 = 1) */
  /* ddrm / diffpir / smc: `steps` network evaluations on a grid t_k = T k/K of `sde` (docs/samplers.md).
   * A negative value means "the default" (sr_problem_init sets them so; sr_problem_validate fills them in). */
  double eta;                /* ddrm: η in [0, 1] (0.85); diffpir: unused */
  double eta_b;              /* ddrm: η_b in [0, 1] (1): weight of the observation where it is less noisy */
  double dp_lambda;          /* diffpir: λ > 0 (1): ρ_k = λ σ_y² / r_k² */
  double zeta;               /* diffpir: ζ in [0, 1] (0.3): share of fresh noise in each step */
  long particles;            /* smc: particles >= 2 (default max(num_samples, 16)) */
  double ess_threshold;      /* smc: resample when ESS < ess_threshold × particles, in (0, 1] (0.5) */
  int auto_chosen;           /* 1: the job asked for {"type": "auto"} and this is what it resolved to */
} sr_sampler_cfg;

/* ---------------------------------------------------------------- the problem and its run */

typedef struct {
  /* the unknown */
  int rank;
  size_t shape[4];
  size_t n;                  /* real unknowns: pixels, or 2 × pixels for a complex image */
  int complex_image;         /* 1: the unknown is complex (image_dtype complex64), interleaved (re, im) */
  /* measurement: op == NULL samples the prior alone */
  sr_op *op;                 /* owned by the problem */
  double noise_sigma;
  float *y;                  /* op->n_out floats (sr_alloc), owned; unobserved entries zeroed */
  sr_prior *prior;           /* owned */
  sr_sampler_cfg sampler;
  long num_samples;
  uint64_t seed;
  int threads;               /* 0 = all cores */
  /* outputs */
  int want_mean, want_std, want_samples;
  long trajectory_every;     /* 0 = none */
  float *ground_truth;       /* n floats (complex: interleaved) or NULL, owned */
} sr_problem;

void sr_problem_init(sr_problem *pb);
void sr_problem_clear(sr_problem *pb);  /* frees everything the problem owns */

/* Checks that sampler and prior fit together; fills defaults (step sizes, ...). */
sr_status sr_problem_validate(sr_problem *pb, sr_error *err);

typedef struct {
  double psnr, ssim, coverage95, nrmse;
  int have;
} sr_metrics;

typedef struct {
  float *mean, *std;          /* n each (NULL unless wanted); complex image: mean n floats interleaved, std one
                               * real value per pixel, sqrt(Var re + Var im) */
  float *samples;             /* num_samples * n (NULL unless wanted) */
  float *trajectories;        /* num_samples * traj_len * n (NULL unless asked) */
  long traj_len;
  double *traj_times;         /* traj_len times (sampler time or step index) */
  long kept_per_chain;
  long score_evals;           /* per chain-image evaluations of the prior score */
  long op_applies;            /* forward + adjoint applications */
  double seconds;
  double accept_rate;         /* mala, mh (after burn-in); -1 otherwise */
  double step_size;           /* langevin/mala: the step used (mean over chains after adaptation) */
  long proposals;             /* mh: single-site proposals made in all (burn-in included) */
  sr_metrics metrics;
  /* convergence diagnostics over pixels (docs/samplers.md), NaN where not defined:
   * split-R̂ of the pixel means (chains with >= 4 kept draws each, >= 2 chains) and their effective sample size */
  double rhat_max, rhat_median, ess_min, ess_median;
  /* smc: ESS of the weights after each step (ess_len = steps + 1, ess_history[0] at the start), resampling count,
   * the log normalising-constant estimate log p̂(y), and the particles used */
  double *ess_history;
  long ess_len, resamples, particles;
  double log_evidence;
  /* warnings for the result document (e.g. R̂ > 1.05): nwarnings strings */
  int nwarnings;
  char warnings[4][240];
} sr_result;

/* Progress callback: called from the running threads, done/total in chain-steps. Return nonzero to cancel. */
typedef int (*sr_progress_fn)(void *user, long done, long total);

sr_status sr_run(const sr_problem *pb, sr_result *res, sr_progress_fn progress, void *user, sr_error *err);
void sr_result_clear(sr_result *res);

/* ---------------------------------------------------------------- metrics */

double sr_psnr(const float *x, const float *ref, size_t n);              /* peak = max(ref) - min(ref) */
double sr_ssim(const float *x, const float *ref, size_t h, size_t w);    /* 11x11 Gaussian window, sigma 1.5 */
double sr_coverage(const float *mean, const float *std, const float *ref, size_t n, double z);

/* States recorded per chain for outputs.trajectories with the given `every` (slot 0 is the start). */
long sr_trajectory_len(const sr_sampler_cfg *s, long every);

/* Annealed Langevin's step at level sigma_i under the problem's rule (after sr_problem_validate), with the level's
 * likelihood weight 1/(σ_y² + σ_i²); the spectral rule's is its time step τ_i = ε / a_i (docs/samplers.md). */
double sr_annealed_step(const sr_problem *pb, double sigma_i);
/* The same for the final exact-likelihood stage (level σ_min, weight 1/σ_y²). */
double sr_annealed_final_step(const sr_problem *pb);

/* ---------------------------------------------------------------- score networks (docs/score-model-format.md)
 * A tensor table, filled by a loader (server/safetensors.c memory-maps the file); the solver only borrows it. */

typedef struct {
  const char *name;
  int rank;
  size_t shape[4];
  const float *data;
  size_t nbytes;
} sr_tensor;

typedef struct {
  size_t n;
  const sr_tensor *t;
  size_t nmeta;
  const char *const *meta_keys, *const *meta_vals;
} sr_tensor_set;

typedef struct sr_unet sr_unet;
/* Validates every tensor name and shape against the metadata's architecture; the data stays borrowed. */
sr_unet *sr_unet_create(const sr_tensor_set *ts, sr_error *err);
void sr_unet_free(sr_unet *u);
long sr_unet_params(const sr_unet *u);
void sr_unet_info(const sr_unet *u, size_t *h, size_t *w, double *sigma_min, double *sigma_max);
/* The training data's pixel mean and standard deviation: metadata "data_mean" and "data_std" when the file has
 * them, else the middle of the data range (−data_shift / data_scale) and the largest std a pixel in that range can
 * have (1 / data_scale, half the range's width). */
void sr_unet_data_stats(const sr_unet *u, double *mean, double *std);
/* Floats of workspace for batches of up to `batch` images; at most batch × sr_unet_ws_floats(u, 1). */
size_t sr_unet_ws_floats(const sr_unet *u, size_t batch);
/* Floating-point operations of one image's forward pass, counted as direct convolutions and attention products
 * (2·M·N·K each; Winograd does fewer, so a rate from this is an effective one). */
double sr_unet_flops(const sr_unet *u);
/* out = ∇_x log p_σ(x) in data units for `batch` images of H·W pixels, `stride` floats apart. */
void sr_unet_score(const sr_unet *u, const float *x, size_t batch, size_t stride, double sigma, float *out,
                   float *ws);

/* A learned prior from a score network; owns `net` and calls release(release_arg) when freed (the loader's
 * memory map). No level-0 score: annealed_langevin, pc and ode only. */
/* Chains a score-model prior runs through the network together at most (one matrix product per layer for all of
 * them); sr_run uses min(this, ceil(num_samples/4)): never sized to the thread count, so that a chain's result
 * never depends on the threads. */
#define SR_SCORE_MODEL_BATCH 4
sr_prior *sr_prior_score_model(sr_unet *net, void (*release)(void *), void *release_arg, sr_error *err);

/* Number of usable cores. */
int sr_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
