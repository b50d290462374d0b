/* test_grid_samplers.c — ddrm, diffpir and smc against exact answers.
 *
 * ddrm and diffpir: for a Gaussian prior every step is affine in the state with Gaussian noise whose covariance is
 * diagonal in the operator's spectral basis, so the law of their output is known exactly (dense matrices of
 * V diag(φ) Vᵀ built through the operator's spectral form, which test_ops.c checks). Chains are compared with that
 * law, and its distance from the exact posterior — each sampler's bias — is printed as a computed number.
 * smc: asymptotically exact for the posterior under the sampler's prior model (the DDPM ancestral chain, whose x0
 * law for a Gaussian prior is N(m0, τ0²) by a scalar recursion). Tolerances come from independent replicates:
 * pooled standardised errors at 5 replicate-SE, the mean-square error falling with the particle count, the
 * evidence estimate against the exact log p(y), and for a GMM the component weight within 4 SE. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dense.h"
#include "fixture.h"
#include "scorerecon.h"
#include "test.h"

static void set_ve(sr_sampler_cfg *s, double smin, double smax) {
  s->sde.kind = SR_SDE_VE;
  s->sde.sigma_min = smin;
  s->sde.sigma_max = smax;
  s->sde.T = 1.0;
}

/* ---------------------------------------------------------------- spectral matrices */

typedef struct {
  const sr_op *op;
  size_t n, nf;
  float *e, *c, *x, *ws;
} spec_ctx;

static void spec_open(spec_ctx *sc, const sr_op *op) {
  sc->op = op;
  sc->n = op->n_in;
  sc->nf = op->spec_floats;
  sc->e = sr_alloc(sc->n);
  sc->x = sr_alloc(sc->n);
  sc->c = sr_alloc(sc->nf);
  sc->ws = sr_alloc(sr_stride(op->n_out) + op->ws_floats + 16);
}
static void spec_close(spec_ctx *sc) {
  sr_free(sc->e); sr_free(sc->x); sr_free(sc->c); sr_free(sc->ws);
}

/* F = V diag(phi) Vᵀ (n×n). */
static void filter_matrix(spec_ctx *sc, const double *phi, double *F) {
  size_t n = sc->n;
  for (size_t j = 0; j < n; j++) {
    memset(sc->e, 0, n * sizeof(float));
    sc->e[j] = 1.0f;
    sc->op->to_spec(sc->op, sc->e, sc->c, sc->ws);
    for (size_t f = 0; f < sc->nf; f++) sc->c[f] = (float)(phi[f] * sc->c[f]);
    sc->op->from_spec(sc->op, sc->c, sc->x, sc->ws);
    for (size_t i = 0; i < n; i++) F[i * n + j] = sc->x[i];
  }
}

/* out = V psi (psi given in spectral coefficients). */
static void from_spec_vec(spec_ctx *sc, const double *psi, double *out) {
  for (size_t f = 0; f < sc->nf; f++) sc->c[f] = (float)psi[f];
  sc->op->from_spec(sc->op, sc->c, sc->x, sc->ws);
  for (size_t i = 0; i < sc->n; i++) out[i] = sc->x[i];
}

/* b = Vᵀ Aᵀ y in spectral coefficients. */
static void spec_aty(spec_ctx *sc, const double *aty, double *b) {
  for (size_t i = 0; i < sc->n; i++) sc->e[i] = (float)aty[i];
  sc->op->to_spec(sc->op, sc->e, sc->c, sc->ws);
  for (size_t f = 0; f < sc->nf; f++) b[f] = sc->c[f];
}

/* ---------------------------------------------------------------- the exact law of ddrm / diffpir (VE) */

static void ddim_law(const fixture *fx, gauss_law *g) {
  const sr_problem *pb = &fx->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  size_t n = pb->n;
  sr_op *own = NULL, *op = pb->op;
  if (!op) {
    float *z = sr_alloc(n);
    own = sr_op_mask(pb->rank, pb->shape, z, NULL);
    sr_free(z);
    op = own;
  }
  sr_op_spec_prepare(op);
  spec_ctx sc;
  spec_open(&sc, op);
  size_t nf = sc.nf;
  double *lam = calloc(nf, 8), *b = calloc(nf, 8), *pa = calloc(nf, 8), *pb2 = calloc(nf, 8), *pe = calloc(nf, 8);
  double *pd = calloc(nf, 8), *Fa = calloc(n * n, 8), *Fb = calloc(n * n, 8), *Q = calloc(n * n, 8);
  double *M = calloc(n * n, 8), *cv = calloc(n, 8), *tmp = calloc(n * n + n, 8), *ev = calloc(n, 8);
  for (size_t f = 0; f < nf; f++) lam[f] = op->spec_lambda[f];
  if (pb->op) spec_aty(&sc, fx->aty, b);
  const double sy = pb->op ? pb->noise_sigma : 0.0, m = fx->m, s2 = fx->s * fx->s;
  const double lam_min = 1e-6 * (op->norm2 > 0 ? op->norm2 : 1.0);
  const int ddrm = s->kind == SR_SAMPLER_DDRM;
  const long K = s->steps;
  double rK = sr_sde_marginal(&s->sde, 1.0).sigma;
  law_alloc(g, n);
  for (size_t i = 0; i < n; i++) {
    g->mean[i] = m;
    g->cov[i * n + i] = s2 + rK * rK;
  }
  if (ddrm && pb->op) { /* the start on observed coefficients: ȳ + √(r_K² − n_f²) z */
    for (size_t f = 0; f < nf; f++) {
      int o = lam[f] > lam_min && sy * sy / lam[f] <= rK * rK;
      pa[f] = o ? 0.0 : 1.0;
      pe[f] = o ? b[f] / lam[f] : 0.0;
      pd[f] = o ? rK * rK - sy * sy / lam[f] : 0.0;
    }
    filter_matrix(&sc, pa, M);
    from_spec_vec(&sc, pe, cv);
    filter_matrix(&sc, pd, Q);
    law_step_cov(g, M, cv, Q, tmp);
  }
  for (long k = K; k >= 1; k--) {
    double r = sr_sde_marginal(&s->sde, (double)k / K).sigma;
    double rp = k > 1 ? sr_sde_marginal(&s->sde, (double)(k - 1) / K).sigma : 0.0;
    double v = s2 + r * r, dcoef = 1 - r * r / v, dconst = r * r * m / v; /* x̂0 = dcoef u + dconst */
    if (ddrm) {
      double keep = sqrt(1 - s->eta * s->eta), fresh = s->eta * rp, etab = s->eta_b;
      for (size_t f = 0; f < nf; f++) {
        double l = lam[f];
        if (l <= lam_min || !pb->op) {
          pa[f] = 1 - keep * rp / r; pb2[f] = keep * rp / r; pe[f] = 0; pd[f] = fresh * fresh;
        } else {
          double nfo = sy / sqrt(l), yb = b[f] / l;
          if (rp < nfo) {
            pa[f] = 1 - keep * rp / nfo; pb2[f] = 0; pe[f] = keep * rp / nfo * yb; pd[f] = fresh * fresh;
          } else {
            pa[f] = 1 - etab; pb2[f] = 0; pe[f] = etab * yb; pd[f] = rp * rp - etab * etab * nfo * nfo;
          }
        }
      }
    } else {
      double rho = sy > 0 ? s->dp_lambda * sy * sy / (r * r) : 0.0;
      double kap = rp * sqrt(1 - s->zeta) / r, fresh = sqrt(s->zeta) * rp;
      for (size_t f = 0; f < nf; f++) { /* u' = (1−κ)(g x̂0 + β) + κ u + fresh z */
        double l = lam[f], gg = l + rho > 0 ? rho / (l + rho) : 1.0, beta = l + rho > 0 ? b[f] / (l + rho) : 0.0;
        pa[f] = (1 - kap) * gg; pb2[f] = kap; pe[f] = (1 - kap) * beta; pd[f] = fresh * fresh;
      }
    }
    filter_matrix(&sc, pa, Fa);
    filter_matrix(&sc, pb2, Fb);
    filter_matrix(&sc, pd, Q);
    from_spec_vec(&sc, pe, cv);
    for (size_t i = 0; i < n; i++) {
      double rs = 0;
      for (size_t j = 0; j < n; j++) rs += Fa[i * n + j];
      cv[i] += rs * dconst;
    }
    for (size_t i = 0; i < n * n; i++) M[i] = dcoef * Fa[i] + Fb[i];
    law_step_cov(g, M, cv, Q, tmp);
  }
  free(lam); free(b); free(pa); free(pb2); free(pe); free(pd); free(Fa); free(Fb); free(Q); free(M); free(cv);
  free(tmp); free(ev);
  spec_close(&sc);
  sr_op_free(own);
}

static const char *const OPS[] = {"identity", "mask", "blur", "fourier", "fourier_odd", "none"};
#define NOPS 6

static void ddim_case(sr_sampler_kind kind, const char *opk, double eta_or_zeta, long steps) {
  fixture f;
  fixture_make(&f, opk, 0.15);
  f.pb.sampler.kind = kind;
  set_ve(&f.pb.sampler, 0.01, 4.0);
  f.pb.sampler.steps = steps;
  if (kind == SR_SAMPLER_DDRM) f.pb.sampler.eta = eta_or_zeta;
  else f.pb.sampler.zeta = eta_or_zeta;
  f.pb.num_samples = 1500;
  sr_result res;
  if (fixture_run(&f.pb, &res)) {
    gauss_law law, post;
    ddim_law(&f, &law);
    fixture_posterior(&f, f.m, f.s, &post);
    char what[96];
    snprintf(what, sizeof what, "%s/%s (%s %.2g, %ld steps)", kind == SR_SAMPLER_DDRM ? "ddrm" : "diffpir", opk,
             kind == SR_SAMPLER_DDRM ? "eta" : "zeta", eta_or_zeta, steps);
    CHECK(check_samples_against_law(res.samples, 1500, &law, what) == 0, "%s", what);
    CHECK(res.score_evals == steps * 1500, "%s: %ld evaluations, want %ld", what, res.score_evals, steps * 1500);
    double dm = 0, sm = 0;
    for (size_t i = 0; i < law.n; i++) {
      dm += fabs(law.mean[i] - post.mean[i]);
      sm += sqrt(post.cov[i * law.n + i]);
    }
    printf("    note: %s: law vs exact posterior: variance %+.1f%%, mean off by %.3f posterior std\n", what,
           100 * law_var_bias(&law, &post), dm / sm);
    law_free(&law);
    law_free(&post);
    sr_result_clear(&res);
  }
  fixture_free(&f);
}

TEST(sampler_ddrm_matches_its_exact_discrete_law) {
  for (int o = 0; o < NOPS; o++) ddim_case(SR_SAMPLER_DDRM, OPS[o], 0.85, 20);
  ddim_case(SR_SAMPLER_DDRM, "fourier", 0.0, 10);
  ddim_case(SR_SAMPLER_DDRM, "mask", 1.0, 50);
}

TEST(sampler_diffpir_matches_its_exact_discrete_law) {
  for (int o = 0; o < NOPS; o++) ddim_case(SR_SAMPLER_DIFFPIR, OPS[o], 0.3, 20);
  ddim_case(SR_SAMPLER_DIFFPIR, "blur", 1.0, 50);
}

/* ---------------------------------------------------------------- smc */

/* The x0 law of the sampler's prior model (DDPM ancestral in x0 units, VE) for the prior N(m, s²): N(m0, τ0²). */
static void smc_model_prior(const sr_sampler_cfg *s, double m, double sd, double *m0, double *t0) {
  long K = s->steps;
  double rK = sr_sde_marginal(&s->sde, 1.0).sigma, mu = m, var = sd * sd + rK * rK;
  for (long k = K; k >= 1; k--) {
    double r = sr_sde_marginal(&s->sde, (double)k / K).sigma;
    double rp = k > 1 ? sr_sde_marginal(&s->sde, (double)(k - 1) / K).sigma : 0.0;
    double v = sd * sd + r * r, a = 1 - r * r / v, beta = r * r * m / v, sh = rp * rp / (r * r);
    double A = a + sh * (1 - a), C = (1 - sh) * beta, vt = rp * rp * (r * r - rp * rp) / (r * r);
    mu = A * mu + C;
    var = A * A * var + vt;
  }
  *m0 = mu;
  *t0 = sqrt(var);
}

/* Exact log N(y; A m0 1, σ² I + τ0² A Aᵀ) over the observed entries (Woodbury, Sylvester; dense). */
static double exact_log_evidence(const fixture *f, double m0, double t0) {
  const sr_problem *pb = &f->pb;
  size_t n = pb->n;
  double s2 = pb->noise_sigma * pb->noise_sigma, t2 = t0 * t0, yy = 0, M = 0;
  for (size_t i = 0; i < pb->op->n_out; i++) {
    if (pb->op->obs_mask && pb->op->obs_mask[i] == 0) continue;
    M += 1;
    yy += (double)pb->y[i] * pb->y[i];
  }
  double *B = calloc(n * n, 8), *rho = calloc(n, 8), *z = calloc(n, 8);
  double rr = yy, gsum = 0;
  for (size_t i = 0; i < n; i++) {
    double gm = 0;
    for (size_t j = 0; j < n; j++) gm += f->G[i * n + j] * m0;
    rho[i] = f->aty[i] - gm;
    rr += -2 * m0 * f->aty[i] + m0 * gm;
    gsum += gm;
  }
  (void)gsum;
  for (size_t i = 0; i < n * n; i++) B[i] = t2 / s2 * f->G[i] + (i % (n + 1) == 0 ? 1 : 0);
  dense_cholesky(n, B);
  double logdet = M * log(s2);
  for (size_t i = 0; i < n; i++) logdet += 2 * log(B[i * n + i]);
  for (size_t i = 0; i < n; i++) { /* z = L⁻¹ ρ, ρᵀ B⁻¹ ρ = |z|² */
    double v = rho[i];
    for (size_t k = 0; k < i; k++) v -= B[i * n + k] * z[k];
    z[i] = v / B[i * n + i];
  }
  double corr = 0;
  for (size_t i = 0; i < n; i++) corr += z[i] * z[i];
  double quad = rr / s2 - t2 / (s2 * s2) * corr;
  free(B); free(rho); free(z);
  return -0.5 * (M * log(2 * M_PI) + logdet + quad);
}

typedef struct {
  double e_mean, e_se, w_mean, w_se, mse, z_mean, z_se;
} smc_stats;

/* R replicates of smc with P particles on the fixture: standardised mean error e, relative variance error w and
 * evidence error z (each: average over replicates and its SE), and the mean square standardised mean error. */
static void smc_replicates(const char *opk, long P, int R, long steps, smc_stats *st, double *model_var_bias) {
  double se = 0, see = 0, sw = 0, sww = 0, mse = 0, sz = 0, szz = 0;
  for (int r = 0; r < R; r++) {
    fixture f;
    fixture_seed(1000 + 17 * (unsigned long)(opk[0] + opk[1])); /* one problem per operator */
    fixture_make(&f, opk, 0.15);
    f.pb.sampler.kind = SR_SAMPLER_SMC;
    set_ve(&f.pb.sampler, 0.01, 4.0);
    f.pb.sampler.steps = steps;
    f.pb.sampler.particles = P;
    f.pb.num_samples = 4;
    f.pb.seed = 500 + (uint64_t)r;
    sr_result res;
    if (!fixture_run(&f.pb, &res)) {
      fixture_free(&f);
      return;
    }
    double m0, t0;
    smc_model_prior(&f.pb.sampler, f.m, f.s, &m0, &t0);
    gauss_law post, truth;
    fixture_posterior(&f, m0, t0, &post);
    fixture_posterior(&f, f.m, f.s, &truth);
    *model_var_bias = law_var_bias(&post, &truth);
    size_t n = f.pb.n;
    double e = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
      double sd = sqrt(post.cov[i * n + i]), d = (res.mean[i] - post.mean[i]) / sd;
      e += d;
      mse += d * d;
      w += (double)res.std[i] * res.std[i] / (sd * sd) - 1;
    }
    e /= (double)n;
    w /= (double)n;
    se += e; see += e * e; sw += w; sww += w * w;
    if (f.pb.op) {
      double z = res.log_evidence - exact_log_evidence(&f, m0, t0);
      sz += z; szz += z * z;
    }
    CHECK(res.ess_len == steps + 1 && res.ess_history && res.particles == P, "smc stats: ess history and particles");
    law_free(&post);
    law_free(&truth);
    sr_result_clear(&res);
    fixture_free(&f);
  }
  st->e_mean = se / R;
  st->e_se = sqrt((see / R - st->e_mean * st->e_mean) / (R - 1));
  st->w_mean = sw / R;
  st->w_se = sqrt((sww / R - st->w_mean * st->w_mean) / (R - 1));
  st->z_mean = sz / R;
  st->z_se = sqrt(fmax(szz / R - st->z_mean * st->z_mean, 0) / (R - 1));
  st->mse = mse / R;
}

TEST(sampler_smc_converges_to_the_exact_posterior) {
  const int R = 16;
  for (int o = 0; o < NOPS; o++) {
    smc_stats lo, hi;
    double mb = 0;
    smc_replicates(OPS[o], 64, R, 60, &lo, &mb);
    smc_replicates(OPS[o], 512, R, 60, &hi, &mb);
    printf("    note: smc/%s 60 steps: MSE/posterior var %.4f (64 particles) -> %.4f (512; ideal ratio 8, got %.1f); "
           "mean err %+.4f±%.4f, var err %+.4f±%.4f, log Z err %+.3f±%.3f; model prior vs true posterior "
           "variance %+.2f%%\n", OPS[o], lo.mse, hi.mse, lo.mse / hi.mse, hi.e_mean, hi.e_se, hi.w_mean, hi.w_se,
           hi.z_mean, hi.z_se, 100 * mb);
    /* t-distributed with R − 1 = 15 degrees of freedom: |t| > 5 has probability 1.6e-4 */
    CHECK(fabs(hi.e_mean) <= 5 * hi.e_se + 1e-4, "smc/%s: mean error %g (5 SE %g)", OPS[o], hi.e_mean, 5 * hi.e_se);
    CHECK(fabs(hi.w_mean) <= 5 * hi.w_se + 1e-3, "smc/%s: variance error %g (5 SE %g)", OPS[o], hi.w_mean,
          5 * hi.w_se);
    if (strcmp(OPS[o], "none"))
      CHECK(fabs(hi.z_mean) <= 5 * hi.z_se + 1e-3, "smc/%s: log-evidence error %g (5 SE %g)", OPS[o], hi.z_mean,
            5 * hi.z_se);
    /* 8× the particles: the MSE falls ~8×; > 3× allows for its own Monte-Carlo scatter (16 replicates) */
    CHECK(lo.mse / hi.mse > 3, "smc/%s: MSE fell only %.2fx with 8x the particles", OPS[o], lo.mse / hi.mse);
  }
}

/* A two-component GMM per pixel, half the pixels observed: the posterior weight of component 1 on observed and
 * missing pixels (Rao–Blackwellised: E[p(k | x) | y]) and the posterior mean, against the exact values, within
 * 4 SE from 8 independent replicates. */
TEST(sampler_smc_gmm_component_weight) {
  const double w[2] = {0.35, 0.65}, mu[2] = {-0.5, 0.6}, sd[2] = {0.35, 0.45}, sigma = 0.4, y0 = 0.1;
  const int R = 8;
  const size_t n = 36;
  float mk[36];
  for (size_t i = 0; i < n; i++) mk[i] = i % 2 ? 1.0f : 0.0f;
  double pw[2], pm[2], pv[2];
  gmm2_posterior(w, mu, sd, sigma, y0, pw, pm, pv);
  double want_w[2] = {w[0], pw[0]}, want_m[2] = {w[0] * mu[0] + w[1] * mu[1], pw[0] * pm[0] + pw[1] * pm[1]};
  double s1[2] = {0}, s2[2] = {0}, m1[2] = {0}, m2[2] = {0};
  for (int r = 0; r < R; r++) {
    sr_problem pb;
    sr_problem_init(&pb);
    sr_error err;
    size_t shp[2] = {6, 6};
    pb.rank = 2; pb.shape[0] = 6; pb.shape[1] = 6; pb.n = n;
    pb.op = sr_op_mask(2, shp, mk, &err);
    pb.y = sr_alloc(n);
    for (size_t i = 0; i < n; i++) pb.y[i] = (float)(mk[i] * y0);
    pb.noise_sigma = sigma;
    pb.prior = sr_prior_gmm(2, w, mu, sd, &err);
    pb.sampler.kind = SR_SAMPLER_SMC;
    set_ve(&pb.sampler, 0.01, 5.0);
    pb.sampler.steps = 200;
    pb.sampler.particles = 1000;
    pb.num_samples = 1000;
    pb.want_samples = 1;
    pb.seed = 77 + (uint64_t)r;
    sr_result res;
    if (fixture_run(&pb, &res)) {
      for (int obs = 0; obs < 2; obs++) {
        double rsum = 0, xsum = 0, cnt = 0;
        for (long c = 0; c < pb.num_samples; c++)
          for (size_t i = 0; i < n; i++) {
            if ((mk[i] != 0) != obs) continue;
            double x = res.samples[(size_t)c * n + i];
            double l0 = w[0] * exp(-0.5 * (x - mu[0]) * (x - mu[0]) / (sd[0] * sd[0])) / sd[0];
            double l1 = w[1] * exp(-0.5 * (x - mu[1]) * (x - mu[1]) / (sd[1] * sd[1])) / sd[1];
            rsum += l0 / (l0 + l1);
            xsum += x;
            cnt++;
          }
        s1[obs] += rsum / cnt; s2[obs] += (rsum / cnt) * (rsum / cnt);
        m1[obs] += xsum / cnt; m2[obs] += (xsum / cnt) * (xsum / cnt);
      }
      sr_result_clear(&res);
    }
    sr_problem_clear(&pb);
  }
  for (int obs = 0; obs < 2; obs++) {
    double rm = s1[obs] / R, rse = sqrt(fmax(s2[obs] / R - rm * rm, 0) / (R - 1));
    double xm = m1[obs] / R, xse = sqrt(fmax(m2[obs] / R - xm * xm, 0) / (R - 1));
    const char *which = obs ? "observed" : "missing";
    printf("    note: smc/gmm %s pixels: component-1 weight %.4f ± %.4f (exact %.4f), mean %.4f ± %.4f (exact %.4f)\n",
           which, rm, rse, want_w[obs], xm, xse, want_m[obs]);
    CHECK(fabs(rm - want_w[obs]) <= 4 * rse + 1e-4, "%s: component-1 weight %.4f vs exact %.4f (4 SE = %.4f)", which,
          rm, want_w[obs], 4 * rse);
    CHECK(fabs(xm - want_m[obs]) <= 4 * xse + 1e-4, "%s: mean %.4f vs exact %.4f (4 SE = %.4f)", which, xm,
          want_m[obs], 4 * xse);
  }
}

/* The same seed gives bit-identical outputs on 1, 2 and 3 threads. */
TEST(sampler_grid_results_do_not_depend_on_threads) {
  const sr_sampler_kind kinds[3] = {SR_SAMPLER_DDRM, SR_SAMPLER_DIFFPIR, SR_SAMPLER_SMC};
  for (int kk = 0; kk < 3; kk++) {
    sr_result ref;
    memset(&ref, 0, sizeof ref);
    for (int th = 1; th <= 3; th++) {
      fixture f;
      fixture_seed(4242);
      fixture_make(&f, "fourier", 0.1);
      f.pb.sampler.kind = kinds[kk];
      set_ve(&f.pb.sampler, 0.01, 4.0);
      f.pb.sampler.steps = 15;
      f.pb.sampler.particles = 37;
      f.pb.sampler.ess_threshold = 0.9; /* resample often */
      f.pb.num_samples = 11;
      f.pb.threads = th;
      sr_result res;
      if (fixture_run(&f.pb, &res)) {
        if (th == 1) {
          ref = res;
          memset(&res, 0, sizeof res);
        } else {
          size_t n = f.pb.n;
          CHECK(!memcmp(ref.mean, res.mean, n * 4) && !memcmp(ref.std, res.std, n * 4) &&
                    !memcmp(ref.samples, res.samples, n * 11 * 4),
                "sampler %d: %d threads differ from 1", kinds[kk], th);
          if (kinds[kk] == SR_SAMPLER_SMC)
            CHECK(ref.log_evidence == res.log_evidence && ref.resamples == res.resamples && ref.resamples > 0,
                  "smc: evidence or resampling differs with %d threads (%ld resamplings)", th, res.resamples);
          sr_result_clear(&res);
        }
      }
      fixture_free(&f);
    }
    sr_result_clear(&ref);
  }
}

/* Settings the samplers cannot use are refused naming the field. */
TEST(sampler_grid_bad_settings_are_refused) {
  struct {
    const char *op;
    sr_sampler_kind kind;
    double eta, etab, zeta, lam, thr;
    long particles;
    const char *field;
  } cases[] = {
      {"mask", SR_SAMPLER_DDRM, 1.5, -1, -1, -1, -1, 0, "sampler.eta"},
      {"mask", SR_SAMPLER_DDRM, -1, 2, -1, -1, -1, 0, "sampler.eta_b"},
      {"mask", SR_SAMPLER_DIFFPIR, -1, -1, 1.2, -1, -1, 0, "sampler.zeta"},
      {"mask", SR_SAMPLER_SMC, -1, -1, -1, -1, -1, 1, "sampler.particles"},
      {"mask", SR_SAMPLER_SMC, -1, -1, -1, -1, 1.5, 0, "sampler.ess_threshold"},
      {"chain", SR_SAMPLER_DDRM, -1, -1, -1, -1, -1, 0, "sampler.type"},
      {"chain", SR_SAMPLER_DIFFPIR, -1, -1, -1, -1, -1, 0, "sampler.type"},
      {"chain", SR_SAMPLER_SMC, -1, -1, -1, -1, -1, 0, "sampler.type"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fixture f;
    fixture_make(&f, cases[i].op, 0.1);
    sr_sampler_cfg *s = &f.pb.sampler;
    s->kind = cases[i].kind;
    set_ve(s, 0.01, 4.0);
    s->eta = cases[i].eta; s->eta_b = cases[i].etab; s->zeta = cases[i].zeta; s->dp_lambda = cases[i].lam;
    s->ess_threshold = cases[i].thr; s->particles = cases[i].particles;
    sr_error err;
    sr_status st = sr_problem_validate(&f.pb, &err);
    CHECK(st == SR_EINVAL && !strcmp(err.field, cases[i].field), "case %zu: status %d field '%s' (%s), want %s", i, st,
          err.field, err.msg, cases[i].field);
    fixture_free(&f);
  }
}

/* Degenerate weights are reported, not hidden: few particles on a sharp likelihood under a bimodal prior (where
 * the proposal's Gaussian local model is far from exact) warn; many on a mild one do not. */
TEST(sampler_smc_warns_when_weights_degenerate) {
  for (int sharp = 0; sharp < 2; sharp++) {
    fixture f;
    fixture_make(&f, "fourier", sharp ? 0.002 : 0.3);
    const double w[2] = {0.5, 0.5}, mu[2] = {-1, 1}, sd[2] = {0.1, 0.1};
    sr_error err;
    sr_prior_free(f.pb.prior);
    f.pb.prior = sr_prior_gmm(2, w, mu, sd, &err);
    f.pb.sampler.kind = SR_SAMPLER_SMC;
    set_ve(&f.pb.sampler, 0.01, 4.0);
    f.pb.sampler.steps = 10;
    f.pb.sampler.particles = sharp ? 4 : 256;
    f.pb.num_samples = 4;
    sr_result res;
    if (fixture_run(&f.pb, &res)) {
      int warned = res.nwarnings > 0 && strstr(res.warnings[0], "degenerated") != NULL;
      CHECK(warned == sharp, "%s likelihood, %ld particles: warning %d (final ESS %.1f, %ld resamplings)",
            sharp ? "sharp" : "mild", f.pb.sampler.particles, warned, res.ess_min, res.resamples);
      sr_result_clear(&res);
    }
    fixture_free(&f);
  }
}
