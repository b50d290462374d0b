/* test_ising.c — the Ising prior and the Metropolis–Hastings sampler (solver/sampler_mh.c) against exact answers.
 *
 * Oracles. On 3x3 and 4x4 lattices (512 and 65,536 states) the test enumerates every state and builds its energy
 * by brute force, independently of the sampler: bonds from the lattice, the likelihood ‖y − A x‖²/(2σ²) from a
 * dense A. From π ∝ exp(−E) it takes the exact single-site marginals P(x_k = b) and nearest-neighbour
 * correlations E[s_i s_j]. It also propagates the exact law of the sampler's output after K sweeps (uniform start,
 * the Metropolis site kernels in the sampler's order), so the finite-K bias is a computed number, not a guess.
 * S independent chains keep their final state (S exact draws from that law); each statistic must lie within
 *   4.5 SE + |law_K − π|,   SE = sqrt(p(1 − p)/S) (marginals) or sqrt((1 − c²)/S) (correlations), from π,
 * and the bias |law_K − π| itself must stay under a quarter of the SE, so the check is against π.
 * Family-wise: the oracle tests make 960 such comparisons; at 4.5 SE (two-sided 6.8e-6 each) a correct sampler
 * fails one in about 0.7% of seeds (the seeds are fixed; SR_TEST_SEED shifts them).
 *
 * Detailed balance is checked directly on 2x2: the transition matrix of each single-site update is built from
 * the code's flip probabilities (sr__mh_flip_prob), and π(x)P(x,y) = π(y)P(y,x) and πP = π must hold to 1e-12. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ising.h"
#include "job.h"
#include "sampler_mh.h"
#include "scorerecon.h"
#include "test.h"

static unsigned long lcg = 20261123;
static double urand(void) {
  lcg = lcg * 6364136223846793005UL + 1442695040888963407UL;
  return (double)(lcg >> 11) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2 * log(urand() + 1e-300)) * cos(2 * M_PI * urand()); }

static uint64_t test_seed(uint64_t base) {
  const char *e = getenv("SR_TEST_SEED");
  return e ? base + strtoull(e, NULL, 10) : base;
}

/* ---------------------------------------------------------------- dense operators, built independently */

typedef struct {
  size_t m, n; /* rows (output floats), columns (pixels) */
  double *A;
} dense;

static dense dense_alloc(size_t m, size_t n) {
  dense d = {m, n, calloc(m * n, sizeof(double))};
  return d;
}

/* From the operator's own forward on unit vectors (float). */
static dense dense_of_op(const sr_op *op) {
  dense d = dense_alloc(op->n_out, op->n_in);
  float *e = sr_alloc(op->n_in), *col = sr_alloc(op->n_out), *ws = sr_alloc(op->ws_floats + sr_stride(op->n_out) + 16);
  for (size_t k = 0; k < op->n_in; k++) {
    memset(e, 0, op->n_in * sizeof(float));
    e[k] = 1;
    op->forward(op, e, col, ws);
    for (size_t i = 0; i < op->n_out; i++) d.A[i * d.n + k] = col[i];
  }
  sr_free(e); sr_free(col); sr_free(ws);
  return d;
}

/* Circular convolution by the documented convention: kernel element (i, j) lands at offset (i − kh/2, j − kw/2),
 * the kernel normalised to sum 1 — in double, exactly. */
static dense dense_blur(size_t h, size_t w, const float *k, size_t kh, size_t kw) {
  dense d = dense_alloc(h * w, h * w);
  double sum = 0;
  for (size_t i = 0; i < kh * kw; i++) sum += k[i];
  for (size_t qi = 0; qi < h; qi++)
    for (size_t qj = 0; qj < w; qj++)
      for (size_t i = 0; i < kh; i++)
        for (size_t j = 0; j < kw; j++) {
          size_t pi = (qi + i + h * kh - kh / 2) % h, pj = (qj + j + w * kw - kw / 2) % w;
          d.A[(pi * w + pj) * d.n + qi * w + qj] += k[i * kw + j] / sum;
        }
  return d;
}

static dense dense_diag(size_t n, const float *mask) {
  dense d = dense_alloc(n, n);
  for (size_t k = 0; k < n; k++) d.A[k * n + k] = mask[k] != 0;
  return d;
}

static dense dense_mul(dense a, dense b) { /* a ∘ b: a after b; frees both */
  dense d = dense_alloc(a.m, b.n);
  for (size_t i = 0; i < a.m; i++)
    for (size_t k = 0; k < a.n; k++)
      for (size_t j = 0; j < b.n; j++) d.A[i * d.n + j] += a.A[i * a.n + k] * b.A[k * b.n + j];
  free(a.A);
  free(b.A);
  return d;
}

/* ---------------------------------------------------------------- a model and its exact law */

typedef struct {
  size_t h, w, n;
  int periodic;
  double J, hf, a, b, sigma;
  dense A;      /* A.A == NULL: no measurement */
  double *y;    /* A.m */
  int exact_A;  /* A built in double (else from the float operator) */
} model;

static double model_energy(const model *md, unsigned z) {
  size_t h = md->h, w = md->w;
  double bonds = 0, mag = 0;
#define S(i, j) (((z >> ((i) * w + (j))) & 1u) ? 1.0 : -1.0)
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) {
      double s = S(i, j);
      mag += s;
      if (j + 1 < w) bonds += s * S(i, j + 1);
      else if (md->periodic && w > 1) bonds += s * S(i, 0);
      if (i + 1 < h) bonds += s * S(i + 1, j);
      else if (md->periodic && h > 1) bonds += s * S(0, j);
    }
  double E = -md->J * bonds - md->hf * mag;
  if (md->A.A) {
    double c0 = 0.5 * (md->a + md->b), c1 = 0.5 * (md->b - md->a), r2 = 0;
    for (size_t i = 0; i < md->A.m; i++) {
      double r = md->y[i];
      for (size_t k = 0; k < md->n; k++) r -= md->A.A[i * md->n + k] * (c0 + c1 * ((z >> k) & 1u ? 1.0 : -1.0));
      r2 += r * r;
    }
    E += r2 / (2 * md->sigma * md->sigma);
  }
#undef S
  return E;
}

/* Nearest-neighbour pairs (each bond once; periodic sides of 3 and 4 only here). */
static size_t model_bonds(const model *md, size_t (*bd)[2]) {
  size_t nb = 0, h = md->h, w = md->w;
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) {
      if (j + 1 < w || md->periodic) { bd[nb][0] = i * w + j; bd[nb++][1] = i * w + (j + 1) % w; }
      if (i + 1 < h || md->periodic) { bd[nb][0] = i * w + j; bd[nb++][1] = ((i + 1) % h) * w + j; }
    }
  return nb;
}

/* Single-site marginals P(s_k = +1) and bond correlations E[s_i s_j] of a law over states. */
static void law_stats(const model *md, const double *P, size_t (*bd)[2], size_t nb, double *marg, double *corr) {
  size_t N = (size_t)1 << md->n;
  for (size_t k = 0; k < md->n; k++) marg[k] = 0;
  for (size_t e = 0; e < nb; e++) corr[e] = 0;
  for (size_t z = 0; z < N; z++) {
    for (size_t k = 0; k < md->n; k++)
      if ((z >> k) & 1) marg[k] += P[z];
    for (size_t e = 0; e < nb; e++) corr[e] += (((z >> bd[e][0]) ^ (z >> bd[e][1])) & 1 ? -1.0 : 1.0) * P[z];
  }
}

/* acc[k N + z] = min(1, exp(−β (E(z with k flipped) − E(z)))): the Metropolis flip probability. */
static void flip_table(size_t n, const double *E, double beta, double *acc) {
  size_t N = (size_t)1 << n;
  for (size_t k = 0; k < n; k++)
    for (size_t z = 0; z < N; z++) {
      double d = E[z ^ ((size_t)1 << k)] - E[z];
      acc[k * N + z] = d <= 0 ? 1 : exp(-beta * d);
    }
}

/* One site update at k applied to a law over states. */
static void site_update(size_t N, size_t k, const double *acc, double *P) {
  size_t bit = (size_t)1 << k;
  const double *a = acc + k * N;
  for (size_t z = 0; z < N; z++) {
    if (z & bit) continue;
    size_t z2 = z | bit;
    double p1 = P[z], p2 = P[z2];
    P[z] = p1 * (1 - a[z]) + p2 * a[z2];
    P[z2] = p2 * (1 - a[z2]) + p1 * a[z];
  }
}

/* ---------------------------------------------------------------- the sampler's problem */

typedef struct {
  size_t h, w;
  int periodic;
  const char *data;     /* none mask blur fourier mask_fourier blur_fourier blur_mask mask_blur generic */
  int proposal;
  double J, hf, a, b;
  long sweeps;
  int init;
  double t0, t1;        /* temperature schedule (0: none) */
} cfg;

static sr_op *make_op(const cfg *c, model *md) {
  size_t h = c->h, w = c->w, n = h * w, sh[2] = {h, w};
  sr_error err;
  float *mask = malloc(n * sizeof(float)), *fm = malloc(n * sizeof(float)), k1[9], k2[9];
  for (size_t i = 0; i < n; i++) mask[i] = urand() < 0.6 ? 1.0f : 0.0f;
  mask[0] = 0.0f; /* at least one unobserved and one observed pixel */
  mask[1] = 1.0f;
  size_t kh = h < 3 ? h : 3;
  for (size_t i = 0; i < kh * kh; i++) k1[i] = (float)(0.2 + urand());
  for (size_t i = 0; i < kh * kh; i++) k2[i] = (float)(0.2 + urand());
  const char *d = c->data;
  sr_op *op = NULL;
  md->exact_A = 1;
  if (!strcmp(d, "mask")) {
    op = sr_op_mask(2, sh, mask, &err);
    md->A = dense_diag(n, mask);
  } else if (!strcmp(d, "blur")) {
    op = sr_op_blur(h, w, k1, kh, kh, &err);
    md->A = dense_blur(h, w, k1, kh, kh);
  } else if (!strcmp(d, "blur_mask")) {
    sr_op *ops[2] = {sr_op_blur(h, w, k1, kh, kh, &err), sr_op_mask(2, sh, mask, &err)};
    op = sr_op_chain(ops, 2, &err);
    md->A = dense_mul(dense_diag(n, mask), dense_blur(h, w, k1, kh, kh));
  } else if (!strcmp(d, "mask_blur")) {
    sr_op *ops[2] = {sr_op_mask(2, sh, mask, &err), sr_op_blur(h, w, k1, kh, kh, &err)};
    op = sr_op_chain(ops, 2, &err);
    md->A = dense_mul(dense_blur(h, w, k1, kh, kh), dense_diag(n, mask));
  } else if (!strcmp(d, "generic")) {
    sr_op *ops[3] = {sr_op_blur(h, w, k1, kh, kh, &err), sr_op_mask(2, sh, mask, &err),
                     sr_op_blur(h, w, k2, kh, kh, &err)};
    op = sr_op_chain(ops, 3, &err);
    md->A = dense_mul(dense_blur(h, w, k2, kh, kh), dense_mul(dense_diag(n, mask), dense_blur(h, w, k1, kh, kh)));
  } else if (!strcmp(d, "fourier")) {
    op = sr_op_fourier(h, w, mask, &err);
    md->exact_A = 0;
  } else if (!strcmp(d, "mask_fourier")) {
    for (size_t i = 0; i < n; i++) fm[i] = urand() < 0.7 ? 1.0f : 0.0f;
    sr_op *ops[2] = {sr_op_mask(2, sh, mask, &err), sr_op_fourier(h, w, fm, &err)};
    op = sr_op_chain(ops, 2, &err);
    md->exact_A = 0;
  } else if (!strcmp(d, "blur_fourier")) {
    for (size_t i = 0; i < n; i++) fm[i] = urand() < 0.7 ? 1.0f : 0.0f;
    sr_op *ops[2] = {sr_op_blur(h, w, k1, kh, kh, &err), sr_op_fourier(h, w, fm, &err)};
    op = sr_op_chain(ops, 2, &err);
    md->exact_A = 0;
  }
  if (op && !md->exact_A) md->A = dense_of_op(op);
  if (op && md->exact_A) { /* the independent construction must agree with the operator */
    dense f = dense_of_op(op);
    double worst = 0;
    for (size_t i = 0; i < f.m * f.n; i++) worst = fmax(worst, fabs(f.A[i] - md->A.A[i]));
    CHECK(worst < 1e-6, "%s: dense A differs from the operator by %g", d, worst);
    free(f.A);
  }
  free(mask);
  free(fm);
  return op;
}

/* The problem for a config; md gets the same model (y as the sampler sees it). */
static void make_problem(const cfg *c, sr_problem *pb, model *md) {
  sr_error err;
  memset(md, 0, sizeof *md);
  sr_problem_init(pb);
  md->h = c->h; md->w = c->w; md->n = c->h * c->w;
  md->periodic = c->periodic;
  md->J = c->J; md->hf = c->hf; md->a = c->a; md->b = c->b;
  md->sigma = fabs(c->b - c->a) / 2; /* data fields of order 1 */
  pb->rank = 2;
  pb->shape[0] = c->h;
  pb->shape[1] = c->w;
  pb->n = md->n;
  pb->prior = sr_prior_ising(c->h, c->w, c->J, c->hf, c->periodic, c->a, c->b, &err);
  pb->op = strcmp(c->data, "none") ? make_op(c, md) : NULL;
  if (pb->op) {
    pb->noise_sigma = md->sigma;
    pb->y = sr_alloc(pb->op->n_out);
    md->y = calloc(pb->op->n_out, sizeof(double));
    double c0 = 0.5 * (c->a + c->b), c1 = 0.5 * (c->b - c->a);
    for (size_t i = 0; i < md->A.m; i++) {
      double v = 0;
      for (size_t k = 0; k < md->n; k++) v += md->A.A[i * md->n + k] * (c0 + c1 * (k % 3 == 1 ? -1.0 : 1.0));
      float f = (float)(v + md->sigma * nrand());
      if (pb->op->obs_mask) f *= pb->op->obs_mask[i];
      pb->y[i] = f;
      md->y[i] = f;
    }
  }
  pb->sampler.kind = SR_SAMPLER_MH;
  pb->sampler.steps = c->sweeps;
  pb->sampler.burn_in = c->sweeps - 1; /* keep the final state: chains are independent draws of law_K */
  pb->sampler.thinning = 1;
  pb->sampler.proposal = c->proposal;
  pb->sampler.init = c->init;
  pb->sampler.temp_start = c->t0;
  pb->sampler.temp_end = c->t1;
  pb->want_samples = 1;
}

static void model_free(model *md) {
  free(md->A.A);
  free(md->y);
}

static const char *mode_name(sr_mh_mode m) {
  return m == SR_MH_FIELD ? "field" : m == SR_MH_LOCAL ? "local" : m == SR_MH_GRAM_SHIFT ? "gram-shift" : "gram-generic";
}

/* ---------------------------------------------------------------- exact oracles */

static int oracle_checks;

static void run_oracle(const cfg *c, long S, uint64_t seed) {
  sr_problem pb;
  model md;
  lcg = 20261123 + seed; /* the problem (mask, kernel, data) depends on the config only, not on test order */
  make_problem(c, &pb, &md);
  pb.num_samples = S;
  pb.seed = test_seed(seed);
  char what[160];
  snprintf(what, sizeof what, "%zux%zu %s %s/%s J=%g h=%g values=[%g,%g]%s", c->h, c->w,
           c->periodic ? "periodic" : "free", c->data, c->proposal ? "checkerboard" : "single_flip", c->J, c->hf,
           c->a, c->b, c->t0 ? " annealed" : c->init ? " init=observation" : "");
  sr_error err;
  sr_status st = sr_problem_validate(&pb, &err);
  CHECK(st == SR_OK, "%s: validate: %s", what, err.msg);
  sr_result res;
  if (st || (st = sr_run(&pb, &res, NULL, NULL, &err)) != SR_OK) {
    CHECK(0, "%s: run: %s", what, err.msg);
    sr_problem_clear(&pb);
    model_free(&md);
    return;
  }
  size_t n = md.n, N = (size_t)1 << n;
  double *E = malloc(N * sizeof(double)), *pi = malloc(N * sizeof(double)), *P = malloc(N * sizeof(double));
  double *acc = malloc(n * N * sizeof(double)), acc_beta = -1;
  double emin = INFINITY, zsum = 0;
  for (size_t z = 0; z < N; z++) emin = fmin(emin, E[z] = model_energy(&md, (unsigned)z));
  double beta1 = 1.0 / (c->t1 > 0 ? c->t1 : 1.0);
  for (size_t z = 0; z < N; z++) zsum += pi[z] = exp(-beta1 * (E[z] - emin));
  for (size_t z = 0; z < N; z++) pi[z] /= zsum;
  /* the sampler's exact law after K sweeps, from its start, in its site order */
  sr_mh_shared *sh;
  CHECK(sr__mh_prepare(&pb, &sh, &err) == SR_OK, "prepare: %s", err.msg);
  const unsigned char *colour;
  int ncol = sr__mh_colours(sh, &colour);
  if (c->init == SR_MH_INIT_OBSERVATION) {
    float *xa = sr_alloc(n), *ws = sr_alloc(sr_stride(pb.op->n_out) + pb.op->ws_floats + 16);
    pb.op->adjoint(pb.op, pb.y, xa, ws);
    size_t z0 = 0;
    for (size_t k = 0; k < n; k++)
      if ((xa[k] - 0.5 * (c->a + c->b)) * (c->b - c->a) > 0) z0 |= (size_t)1 << k;
    for (size_t z = 0; z < N; z++) P[z] = z == z0;
    sr_free(xa); sr_free(ws);
  } else {
    for (size_t z = 0; z < N; z++) P[z] = 1.0 / (double)N;
  }
  for (long t = 0; t < c->sweeps; t++) {
    double beta = beta1;
    if (c->t0 && t < pb.sampler.burn_in)
      beta = 1.0 / (c->t0 * pow(c->t1 / c->t0, (double)t / (double)pb.sampler.burn_in));
    if (beta != acc_beta) flip_table(n, E, acc_beta = beta, acc);
    if (c->proposal == SR_MH_CHECKERBOARD) {
      for (int col = 0; col < ncol; col++)
        for (size_t k = 0; k < n; k++)
          if (colour[k] == col) site_update(N, k, acc, P);
    } else {
      for (size_t k = 0; k < n; k++) site_update(N, k, acc, P);
    }
  }
  sr_mh_mode mode = sr__mh_mode(sh);
  sr__mh_release(sh);
  size_t bd[64][2], nb = model_bonds(&md, bd);
  double mpi[16], cpi[64], mK[16], cK[64], ms[16] = {0}, cs[64] = {0};
  law_stats(&md, pi, bd, nb, mpi, cpi);
  law_stats(&md, P, bd, nb, mK, cK);
  /* the draws */
  int bad_pixel = 0;
  for (long s = 0; s < S; s++) {
    const float *x = res.samples + (size_t)s * n;
    for (size_t k = 0; k < n; k++) {
      bad_pixel |= x[k] != (float)c->a && x[k] != (float)c->b;
      ms[k] += x[k] == (float)c->b;
    }
    for (size_t e = 0; e < nb; e++) cs[e] += (x[bd[e][0]] == x[bd[e][1]]) ? 1.0 : -1.0;
  }
  CHECK(!bad_pixel, "%s: a sample pixel is not one of the two values", what);
  /* An annealed run ends its schedule on the last burn-in sweep, so its output is not yet π: it is checked
   * against its own exact law instead (as the Langevin samplers' discrete laws are). */
  int annealed = c->t0 && c->t0 != c->t1;
  double worst = 0, worst_bias = 0;
  for (size_t k = 0; k < n + nb; k++) {
    int marg = k < n;
    double p_pi = marg ? mpi[k] : cpi[k - n], lawk = marg ? mK[k] : cK[k - n], ex = annealed ? lawk : p_pi;
    double got = (marg ? ms[k] : cs[k - n]) / (double)S;
    double se = marg ? sqrt(fmax(ex * (1 - ex), 1e-12) / (double)S) : sqrt(fmax(1 - ex * ex, 1e-12) / (double)S);
    double bias = fabs(lawk - ex), tol = 4.5 * se + bias;
    worst = fmax(worst, fabs(got - ex) / se);
    worst_bias = fmax(worst_bias, fabs(lawk - p_pi) / se);
    oracle_checks++;
    CHECK(fabs(got - ex) <= tol, "%s: %s %zu: sampled %.5f, exact %.5f (law after %ld sweeps %.5f), |diff| %.2f SE > "
          "tol %.2f SE", what, marg ? "marginal P(x=b) at pixel" : "correlation at bond", marg ? k : k - n, got, p_pi,
          c->sweeps, lawk, fabs(got - ex) / se, tol / se);
  }
  CHECK(annealed || worst_bias <= 0.25, "%s: %ld sweeps leave a bias of %.3g SE: too few for the test", what,
        c->sweeps, worst_bias);
  printf("    %-62s %-12s %2zu stats: worst %.2f SE from %s; law_K − π %.1e SE; acc %.3f\n", what, mode_name(mode),
         n + nb, worst, annealed ? "law_K" : "π", worst_bias, res.accept_rate);
  free(E); free(pi); free(P); free(acc);
  sr_result_clear(&res);
  sr_problem_clear(&pb);
  model_free(&md);
}

#define S_CHAINS 12000

/* Both sizes, both boundaries; no data, a noisy masked and a noisy blurred observation; both proposals where the
 * likelihood allows (checkerboard: none and mask). The 3x3 periodic checkerboard runs on three colours. */
TEST(ising_exact_marginals_and_correlations) {
  const char *data[] = {"none", "mask", "blur"};
  const double vals[3][2] = {{-1, 1}, {0, 1}, {2, -1}};
  int idx = 0;
  for (size_t L = 3; L <= 4; L++)
    for (int per = 0; per <= 1; per++)
      for (int d = 0; d < 3; d++)
        for (int prop = 0; prop <= (d < 2); prop++, idx++) {
          cfg c = {L, L, per, data[d], prop, idx % 2 ? 0.45 : 0.3, idx % 3 ? 0.15 : -0.1,
                   vals[idx % 3][0], vals[idx % 3][1], L == 3 ? 60 : 120, SR_MH_INIT_RANDOM, 0, 0};
          run_oracle(&c, S_CHAINS, 100 + (uint64_t)idx);
        }
}

/* The other likelihood paths: Fourier (O(n) per accepted flip), masks before a blur or a Fourier transform, a
 * blur before a mask, and a chain with no structure (blur, mask, blur: dense AᵀA). */
TEST(ising_exact_other_operators) {
  cfg cs[] = {
      {4, 4, 1, "fourier", 0, 0.35, 0.1, -1, 1, 120, 0, 0, 0},
      {3, 3, 0, "mask_fourier", 0, 0.4, 0.0, 0, 1, 60, 0, 0, 0},
      {3, 3, 1, "blur_fourier", 0, 0.3, 0.2, 0, 1, 60, 0, 0, 0},
      {4, 4, 0, "blur_mask", 0, 0.4, -0.1, 0, 1, 120, 0, 0, 0},
      {3, 3, 1, "mask_blur", 0, 0.35, 0.1, -1, 1, 60, 0, 0, 0},
      {3, 3, 0, "generic", 0, 0.4, 0.1, 0, 1, 60, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) run_oracle(&cs[i], S_CHAINS, 200 + i);
}

/* Temperature: a constant T samples π^(1/T); an annealing schedule over the burn-in ends on π itself; and a start
 * from the thresholded observation instead of random spins. */
TEST(ising_exact_temperature_and_init) {
  cfg cs[] = {
      {3, 3, 1, "none", 0, 0.5, 0.2, -1, 1, 60, 0, 2.0, 2.0},
      {3, 3, 0, "mask", 1, 0.45, 0.1, 0, 1, 60, 0, 4.0, 1.0},
      {3, 3, 0, "blur", 0, 0.45, 0.1, 0, 1, 60, 0, 0.5, 1.0},
      {3, 3, 1, "mask", 0, 0.4, 0.0, 0, 1, 60, SR_MH_INIT_OBSERVATION, 0, 0},
  };
  for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) run_oracle(&cs[i], S_CHAINS, 300 + i);
  printf("    note: %d oracle comparisons in all (at 4.5 SE each)\n", oracle_checks);
}

/* ---------------------------------------------------------------- detailed balance on 2x2 */

TEST(ising_detailed_balance_2x2) {
  const char *data[] = {"none", "mask", "blur", "fourier", "generic"};
  for (int per = 0; per <= 1; per++)
    for (int d = 0; d < 5; d++) {
      cfg c = {2, 2, per, data[d], 0, 0.6, 0.25, 0, 1, 1, 0, 0, 0};
      sr_problem pb;
      model md;
      make_problem(&c, &pb, &md);
      pb.sampler.burn_in = 0;
      sr_error err;
      CHECK(sr_problem_validate(&pb, &err) == SR_OK, "%s", err.msg);
      sr_mh_shared *sh;
      CHECK(sr__mh_prepare(&pb, &sh, &err) == SR_OK, "%s", err.msg);
      sr_mh_chain *ch = sr__mh_chain_new(sh), *ref = sr__mh_chain_new(sh);
      const sr_mh_mode want[] = {SR_MH_FIELD, SR_MH_FIELD, SR_MH_LOCAL, SR_MH_GRAM_SHIFT, SR_MH_GRAM_GENERIC};
      CHECK(sr__mh_mode(sh) == want[d], "%s: mode %s", data[d], mode_name(sr__mh_mode(sh)));
      /* exact A (none, mask, blur): 1e-12; from the float operator (fourier, generic): the code's AᵀA is the
       * float operator's, so its energies agree with this test's to float precision only */
      int float_gram = sr__mh_mode(sh) == SR_MH_GRAM_SHIFT || sr__mh_mode(sh) == SR_MH_GRAM_GENERIC;
      double tol = float_gram ? 2e-6 : 1e-12;
      const size_t n = 4, N = 16;
      for (double beta = 0.6; beta <= 1.0; beta += 0.4) {
        double E[16], pi[16], Pk[4][16], T[16][16], zs = 0, worst_p = 0, worst_db = 0, worst_st = 0;
        for (size_t z = 0; z < N; z++) E[z] = model_energy(&md, (unsigned)z);
        for (size_t z = 0; z < N; z++) zs += pi[z] = exp(-beta * (E[z] - E[0]));
        for (size_t z = 0; z < N; z++) pi[z] /= zs;
        for (size_t z = 0; z < N; z++) {
          signed char sp[4];
          for (size_t k = 0; k < n; k++) sp[k] = (z >> k) & 1 ? 1 : -1;
          sr__mh_chain_set(ch, sp, beta);
          for (size_t k = 0; k < n; k++) {
            Pk[k][z] = sr__mh_flip_prob(ch, k);
            double dE = E[z ^ (1u << k)] - E[z], want_p = fmin(1.0, exp(-beta * dE));
            worst_p = fmax(worst_p, fabs(Pk[k][z] - want_p));
            CHECK(fabs(sr__mh_accept(dE, beta) - want_p) <= 1e-15, "acceptance function at dE %g", dE);
          }
        }
        /* each site's kernel: P_k(z, z^k) = p_k(z), P_k(z, z) = 1 − p_k(z); detailed balance pair by pair */
        for (size_t k = 0; k < n; k++)
          for (size_t z = 0; z < N; z++) {
            size_t z2 = z ^ (1u << k);
            worst_db = fmax(worst_db, fabs(pi[z] * Pk[k][z] - pi[z2] * Pk[k][z2]));
          }
        /* the sweep T = P_0 P_1 P_2 P_3 (raster order): rows sum to 1 and π T = π */
        for (size_t a = 0; a < N; a++)
          for (size_t b = 0; b < N; b++) T[a][b] = a == b;
        for (size_t k = 0; k < n; k++) {
          double M[16][16];
          for (size_t a = 0; a < N; a++)
            for (size_t b = 0; b < N; b++) {
              size_t b2 = b ^ (1u << k); /* (T P_k)(a, b) = T(a, b)(1 − p_k(b)) + T(a, b^k) p_k(b^k) */
              M[a][b] = T[a][b] * (1 - Pk[k][b]) + T[a][b2] * Pk[k][b2];
            }
          memcpy(T, M, sizeof T);
        }
        for (size_t b = 0; b < N; b++) {
          double s = 0, rs = 0;
          for (size_t a = 0; a < N; a++) s += pi[a] * T[a][b];
          for (size_t a = 0; a < N; a++) rs += T[b][a];
          worst_st = fmax(worst_st, fmax(fabs(s - pi[b]), fabs(rs - 1)));
        }
        /* Reversibility of the code's own kernel, whatever its energy: π_code built along flips from state 0 by
         * π(z^k) = π(z) p_k(z) / p_k(z^k) must satisfy detailed balance on every edge to 1e-12 (Kolmogorov). */
        double pc[16] = {1}, zc = 0, worst_k = 0;
        for (size_t z = 1; z < N; z++) {
          size_t k = (size_t)__builtin_ctz((unsigned)z), z0 = z ^ (1u << k); /* z0 < z: already set */
          pc[z] = pc[z0] * Pk[k][z0] / Pk[k][z];
        }
        for (size_t z = 0; z < N; z++) zc += pc[z];
        for (size_t k = 0; k < n; k++)
          for (size_t z = 0; z < N; z++)
            worst_k = fmax(worst_k, fabs(pc[z] * Pk[k][z] - pc[z ^ (1u << k)] * Pk[k][z ^ (1u << k)]) / zc);
        CHECK(worst_k <= 1e-12, "%s %s β=%g: the code's kernel is not reversible (%g)", per ? "periodic" : "free",
              data[d], beta, worst_k);
        CHECK(worst_p <= tol, "%s %s β=%g: flip probability off the brute-force min(1, e^(−βΔE)) by %g",
              per ? "periodic" : "free", data[d], beta, worst_p);
        CHECK(worst_db <= tol, "%s %s β=%g: detailed balance violated by %g", per ? "periodic" : "free", data[d],
              beta, worst_db);
        CHECK(worst_st <= tol, "%s %s β=%g: π not stationary for the sweep (%g)", per ? "periodic" : "free",
              data[d], beta, worst_st);
      }
      /* incremental updates: after any sequence of flips the probabilities equal those of a fresh start */
      signed char sp[4] = {1, -1, -1, 1};
      sr__mh_chain_set(ch, sp, 1.0);
      double drift = 0;
      for (int it = 0; it < 200; it++) {
        size_t k = (size_t)(urand() * 4);
        sr__mh_chain_flip(ch, k);
        sp[k] = (signed char)-sp[k];
        sr__mh_chain_set(ref, sp, 1.0);
        for (size_t j = 0; j < n; j++) drift = fmax(drift, fabs(sr__mh_flip_prob(ch, j) - sr__mh_flip_prob(ref, j)));
      }
      CHECK(drift <= 1e-12, "%s: incremental update drifts by %g", data[d], drift);
      sr__mh_chain_free(ch);
      sr__mh_chain_free(ref);
      sr__mh_release(sh);
      sr_problem_clear(&pb);
      model_free(&md);
    }
}

/* The checkerboard's colour classes are independent sets of the bond graph, for every shape and boundary. */
TEST(ising_checkerboard_colouring_is_proper) {
  const size_t dims[][2] = {{1, 5}, {2, 2}, {3, 3}, {3, 4}, {4, 4}, {5, 7}, {6, 5}, {2, 3}, {1, 1}, {8, 1}};
  for (size_t t = 0; t < sizeof dims / sizeof *dims; t++)
    for (int per = 0; per <= 1; per++) {
      size_t h = dims[t][0], w = dims[t][1];
      sr_problem pb;
      sr_problem_init(&pb);
      sr_error err;
      pb.rank = 2; pb.shape[0] = h; pb.shape[1] = w; pb.n = h * w;
      pb.prior = sr_prior_ising(h, w, 0.5, 0, per, -1, 1, &err);
      pb.sampler.kind = SR_SAMPLER_MH;
      pb.sampler.proposal = SR_MH_CHECKERBOARD;
      pb.sampler.burn_in = -1;
      CHECK(sr_problem_validate(&pb, &err) == SR_OK, "%s", err.msg);
      sr_mh_shared *sh;
      sr__mh_prepare(&pb, &sh, &err);
      const unsigned char *col;
      int nc = sr__mh_colours(sh, &col);
      int bad = 0;
      for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j++) {
          size_t k = i * w + j;
          bad |= col[k] >= nc;
          if (j + 1 < w || (per && w > 1)) bad |= col[k] == col[i * w + (j + 1) % w];
          if (i + 1 < h || (per && h > 1)) bad |= col[k] == col[((i + 1) % h) * w + j];
        }
      int want = per && ((h > 1 && h % 2) || (w > 1 && w % 2)) ? 3 : 2;
      CHECK(!bad && nc == want, "%zux%zu %s: colouring not proper (%d colours, want %d)", h, w,
            per ? "periodic" : "free", nc, want);
      sr__mh_release(sh);
      sr_problem_clear(&pb);
    }
}

/* ---------------------------------------------------------------- reproducibility */

TEST(ising_same_seed_bit_identical_for_any_thread_count) {
  const char *data[] = {"blur", "mask", "fourier"};
  for (int d = 0; d < 3; d++)
    for (int prop = 0; prop <= (d == 1); prop++) {
      cfg c = {16, 16, d == 1, data[d], prop, 0.5, 0.05, 0, 1, 30, 0, d == 1 ? 2.0 : 0, d == 1 ? 1.0 : 0};
      float *ref[3] = {NULL, NULL, NULL};
      for (int th = 1; th <= 3; th++) {
        sr_problem pb;
        model md;
        lcg = 777; /* the same problem each time */
        make_problem(&c, &pb, &md);
        pb.sampler.burn_in = 10;
        pb.num_samples = 7;
        pb.threads = th;
        pb.seed = 42;
        sr_error err;
        sr_result res;
        CHECK(sr_problem_validate(&pb, &err) == SR_OK, "%s", err.msg);
        CHECK(sr_run(&pb, &res, NULL, NULL, &err) == SR_OK, "%s", err.msg);
        const float *got[3] = {res.mean, res.std, res.samples};
        size_t len[3] = {pb.n, pb.n, 7 * pb.n};
        for (int a = 0; a < 3; a++) {
          if (th == 1) {
            ref[a] = malloc(len[a] * sizeof(float));
            memcpy(ref[a], got[a], len[a] * sizeof(float));
          } else {
            CHECK(!memcmp(ref[a], got[a], len[a] * sizeof(float)), "%s/%s: %s differs with %d threads", data[d],
                  prop ? "checkerboard" : "single_flip", a == 0 ? "mean" : a == 1 ? "std" : "samples", th);
          }
        }
        CHECK(res.proposals == 7 * 30 * 256, "proposals %ld", res.proposals);
        CHECK(res.accept_rate > 0 && res.accept_rate < 1, "acceptance %g", res.accept_rate);
        sr_result_clear(&res);
        sr_problem_clear(&pb);
        model_free(&md);
      }
      for (int a = 0; a < 3; a++) free(ref[a]);
    }
}

/* The checkerboard's AVX-512 rows (16 sites at a time in the two-colour layout, 8 in the three-colour one) and its
 * portable C rows make the same decisions: bit-identical results, on lattices wide enough for the vector loops
 * (the oracles' 3x3 and 4x4 only reach the C rows). */
TEST(ising_checkerboard_vector_rows_match_portable) {
  const struct { size_t h, w; int periodic; } shapes[] = {{37, 53, 0}, {40, 64, 1}, {21, 35, 1}, {64, 31, 1}};
  const char *env = getenv("SR_RNG_PATH");
  char *saved = env ? strdup(env) : NULL;
  for (size_t t = 0; t < 4; t++) {
    cfg c = {shapes[t].h, shapes[t].w, shapes[t].periodic, "mask", SR_MH_CHECKERBOARD, 0.6, -0.05, 0, 1, 25, 0, 3, 1};
    float *ref = NULL;
    for (int portable = 1; portable >= 0; portable--) {
      sr_problem pb;
      model md;
      lcg = 4242;
      make_problem(&c, &pb, &md);
      pb.sampler.burn_in = 5;
      pb.num_samples = 3;
      pb.seed = 11;
      /* the portable rows: SR_RNG_PATH=avx2 rules AVX-512 out (read when the run prepares) */
      if (portable) setenv("SR_RNG_PATH", "avx2", 1);
      else if (saved) setenv("SR_RNG_PATH", saved, 1);
      else unsetenv("SR_RNG_PATH");
      sr_error err;
      sr_result res;
      CHECK(sr_problem_validate(&pb, &err) == SR_OK, "%s", err.msg);
      CHECK(sr_run(&pb, &res, NULL, NULL, &err) == SR_OK, "%s", err.msg);
      size_t len = 3 * pb.n;
      if (portable) {
        ref = malloc(len * sizeof(float));
        memcpy(ref, res.samples, len * sizeof(float));
      } else {
        CHECK(!memcmp(ref, res.samples, len * sizeof(float)), "%zux%zu %s: vector and portable rows differ",
              c.h, c.w, c.periodic ? "periodic" : "free");
      }
      sr_result_clear(&res);
      sr_problem_clear(&pb);
      model_free(&md);
    }
    free(ref);
  }
  free(saved);
}

/* The moments come from counts: mean and std of each pixel over the kept states must equal those of the samples
 * when every sweep's state is a sample (one chain per kept state is not available, so check the algebra on a
 * chain with thinning: mean in [a, b], std = |b − a| sqrt(p(1 − p)) up to the K/(K − 1) factor). */
TEST(ising_moments_in_image_units) {
  cfg c = {8, 8, 0, "mask", 0, 0.4, 0, 0, 1, 200, 0, 0, 0};
  sr_problem pb;
  model md;
  make_problem(&c, &pb, &md);
  pb.sampler.burn_in = 50;
  pb.sampler.thinning = 3;
  pb.num_samples = 3;
  pb.seed = 5;
  sr_error err;
  sr_result res;
  CHECK(sr_problem_validate(&pb, &err) == SR_OK, "%s", err.msg);
  CHECK(sr_run(&pb, &res, NULL, NULL, &err) == SR_OK, "%s", err.msg);
  long K = 3 * ((200 - 50 + 2) / 3);
  CHECK(res.kept_per_chain == K / 3, "kept %ld", res.kept_per_chain);
  for (size_t k = 0; k < pb.n; k++) {
    double p = res.mean[k], want = sqrt(p * (1 - p) * (double)K / (double)(K - 1));
    CHECK(p >= 0 && p <= 1, "mean %g", p);
    CHECK(fabs(res.std[k] - want) < 1e-5, "pixel %zu: std %g, from the mean %g", k, res.std[k], want);
  }
  sr_result_clear(&res);
  sr_problem_clear(&pb);
  model_free(&md);
}

/* sr_rng_bits: word i is word (i mod 64)/16 of Philox block 16(i/64) + i mod 16 at counter
 * (block, stream | 2^31, step lo, step hi | 2^31), on every code path. */
TEST(rng_bits_layout_matches_philox) {
  sr_rng r = sr_rng_make(0x123456789abcdefULL, 77);
  uint32_t out[333];
  for (uint64_t step = 0; step < 3; step++) {
    uint64_t st = step * 0x100000001ULL;
    sr_rng_bits(&r, st, out, 333);
    int bad = 0;
    for (size_t i = 0; i < 333; i++) {
      uint32_t ctr[4] = {(uint32_t)(16 * (i / 64) + i % 16), r.stream | 0x80000000u, (uint32_t)st,
                         (uint32_t)(st >> 32) | 0x80000000u}, o[4];
      sr_philox4x32(r.key, ctr, o);
      bad += o[(i % 64) / 16] != out[i];
    }
    CHECK(!bad, "%d words differ from the reference at step %llu", bad, (unsigned long long)st);
  }
}

/* ---------------------------------------------------------------- the job document */

static sr_status parse_q(const char *tmpl, sr_problem *pb, sr_error *err) {
  char *doc = strdup(tmpl);
  for (char *p = doc; *p; p++)
    if (*p == '\'') *p = '"';
  sr_limits lim;
  sr_limits_default(&lim);
  sr_status st = sr_job_parse(doc, strlen(doc), &lim, pb, err);
  free(doc);
  return st;
}

#define ISING_MEAS "{'shape':[2,2],'operator':{'type':'identity'},'noise':{'sigma':0.5},'observation':[[0,1],[1,0.2]]"
#define ISING01 "'prior':{'type':'ising','coupling':0.7,'values':[0,1]}"
#define MH "'sampler':{'type':'mh','sweeps':50}"

TEST(ising_parse_errors_name_the_field) {
  static const struct {
    const char *doc, *field, *msg;
  } bad[] = {
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'langevin'}}", "sampler.type", "prior.type ising"},
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'annealed_langevin'}}", "sampler.type", "use \"mh\""},
      {ISING_MEAS ",'prior':{'type':'gaussian','std':1}," MH "}", "sampler.type", "prior.type gaussian"},
      {ISING_MEAS ",'prior':{'type':'tv','weight':1}," MH "}", "sampler.type", "discrete prior"},
      {ISING_MEAS ",'prior':{'type':'ising','coupling':1e999}," MH "}", "prior.coupling", "must be finite"},
      {ISING_MEAS ",'prior':{'type':'ising'}," MH "}", "prior.coupling", "is required"},
      {ISING_MEAS ",'prior':{'type':'ising','coupling':1,'field':-1e400}," MH "}", "prior.field", "must be finite"},
      {ISING_MEAS ",'prior':{'type':'ising','coupling':1,'values':[1,1]}," MH "}", "prior.values", "differ"},
      {ISING_MEAS ",'prior':{'type':'ising','coupling':1,'values':[1]}," MH "}", "prior.values", "two numbers"},
      {ISING_MEAS ",'prior':{'type':'ising','coupling':1,'values':[0,'a']}," MH "}", "prior.values[1]", "finite"},
      {ISING_MEAS ",'prior':{'type':'ising','coupling':1,'boundary':'open'}," MH "}", "prior.boundary", "periodic"},
      {ISING_MEAS ",'prior':{'type':'ising','coupling':1,'spin':1}," MH "}", "prior.spin", "not a known field"},
      {ISING_MEAS "," ISING01 "," MH ",'ground_truth':[[0,1],[0.5,1]]}", "ground_truth",
       "pixel 2 is 0.5, not one of prior.values [0, 1]"},
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'mh','proposal':'swendsen_wang'}}", "sampler.proposal",
       "single_flip"},
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'mh','sweeps':0}}", "sampler.sweeps", "between 1"},
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'mh','sweeps':10,'burn_in':10}}", "sampler.burn_in", "smaller"},
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'mh','temperature':0}}", "sampler.temperature", "> 0"},
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'mh','temperature':{'end':1}}}", "sampler.temperature.start",
       "required"},
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'mh','burn_in':0,'temperature':{'start':3}}}",
       "sampler.temperature", "burn_in must be >= 1"},
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'mh','init':'zeros'}}", "sampler.init", "observation"},
      {"{'shape':[2,2],'operator':{'type':'none'}," ISING01 ",'sampler':{'type':'mh','init':'observation'}}",
       "sampler.init", "needs a measurement"},
      {"{'shape':[4,4],'operator':{'type':'blur','kernel':[[1,1],[1,1]]},'noise':{'sigma':0.5},'observation':"
       "[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,0]]," ISING01 ",'sampler':{'type':'mh','proposal':'checkerboard'}}",
       "sampler.proposal", "operator blur couples them"},
      {ISING_MEAS "," ISING01 ",'sampler':{'type':'mh','step_size':0.1}}", "sampler.step_size", "not a known field"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sr_problem pb;
    sr_error err;
    sr_status st = parse_q(bad[i].doc, &pb, &err);
    CHECK(st == SR_EINVAL, "case %zu: status %d", i, st);
    CHECK(!strcmp(err.field, bad[i].field), "case %zu: field '%s', want '%s' (%s)", i, err.field, bad[i].field,
          err.msg);
    CHECK(strstr(err.msg, bad[i].msg) != NULL, "case %zu: message '%s' lacks '%s'", i, err.msg, bad[i].msg);
    CHECK(!pb.prior && !pb.op, "case %zu: problem not cleared", i);
  }
  /* the C API refuses a non-finite coupling itself */
  sr_error err;
  CHECK(!sr_prior_ising(3, 3, NAN, 0, 0, -1, 1, &err) && !strcmp(err.field, "prior.coupling"), "NaN coupling");
  CHECK(!sr_prior_ising(3, 3, 1, 0, 0, 2, 2, &err) && !strcmp(err.field, "prior.values"), "equal values");
}

TEST(ising_parse_valid_defaults_and_result) {
  sr_problem pb;
  sr_error err;
  sr_status st = parse_q(ISING_MEAS "," ISING01 "," MH ",'ground_truth':[[0,1],[1,0]],'outputs':['mean','std','samples']}",
                         &pb, &err);
  CHECK(st == SR_OK, "%s", err.msg);
  if (st) return;
  CHECK(pb.sampler.kind == SR_SAMPLER_MH && pb.sampler.steps == 50 && pb.sampler.burn_in == 10 &&
            pb.sampler.thinning == 1 && pb.sampler.proposal == SR_MH_SINGLE_FLIP && pb.sampler.temp_start == 1 &&
            pb.sampler.temp_end == 1 && pb.sampler.init == SR_MH_INIT_RANDOM,
        "defaults");
  const sr_ising_params *is = sr__ising(pb.prior);
  CHECK(is && is->J == 0.7 && is->field == 0 && !is->periodic && is->a == 0 && is->b == 1, "prior parameters");
  sr_result res;
  CHECK(sr_run(&pb, &res, NULL, NULL, &err) == SR_OK, "%s", err.msg);
  cJSON *o = sr_result_json(&pb, &res, 1);
  cJSON *stats = cJSON_GetObjectItem(o, "stats"), *smp = cJSON_GetObjectItem(o, "sampler");
  CHECK(cJSON_GetObjectItem(stats, "flips_per_second") && cJSON_GetObjectItem(stats, "acceptance_rate"), "stats");
  CHECK(!strcmp(cJSON_GetObjectItem(smp, "type")->valuestring, "mh") &&
            cJSON_GetObjectItem(smp, "sweeps")->valuedouble == 50 &&
            !strcmp(cJSON_GetObjectItem(smp, "proposal")->valuestring, "single_flip") &&
            cJSON_GetObjectItem(smp, "temperature")->valuedouble == 1,
        "effective sampler");
  CHECK(cJSON_GetObjectItem(o, "metrics") != NULL, "metrics with a ground truth");
  cJSON_Delete(o);
  sr_result_clear(&res);
  sr_problem_clear(&pb);
  st = parse_q(ISING_MEAS ",'prior':{'type':'ising','coupling':-0.3,'field':0.2,'boundary':'periodic'},"
               "'sampler':{'type':'mh','sweeps':40,'burn_in':5,'proposal':'checkerboard','init':'observation',"
               "'temperature':{'start':5}}}", &pb, &err);
  CHECK(st == SR_OK, "%s", err.msg);
  if (st) return;
  CHECK(pb.sampler.proposal == SR_MH_CHECKERBOARD && pb.sampler.temp_start == 5 && pb.sampler.temp_end == 1 &&
            pb.sampler.init == SR_MH_INIT_OBSERVATION && sr__ising(pb.prior)->periodic &&
            sr__ising(pb.prior)->a == -1,
        "explicit settings");
  CHECK(sr_run(&pb, &res, NULL, NULL, &err) == SR_OK, "%s", err.msg);
  o = sr_result_json(&pb, &res, 1);
  smp = cJSON_GetObjectItem(o, "sampler");
  cJSON *t = cJSON_GetObjectItem(smp, "temperature");
  CHECK(cJSON_IsObject(t) && cJSON_GetObjectItem(t, "start")->valuedouble == 5 &&
            cJSON_GetObjectItem(t, "end")->valuedouble == 1,
        "schedule echoed");
  cJSON_Delete(o);
  sr_result_clear(&res);
  sr_problem_clear(&pb);
}
