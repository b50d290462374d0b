/* sampler_mh.c — Metropolis–Hastings on a discrete prior's energy (the Ising prior), the sampler for binary
 * images, where there is no score.
 *
 * Target: π(s) ∝ exp(−β E(s)), E(s) = −J Σ_(i,j) s_i s_j − h Σ_i s_i + ‖y − A x(s)‖² / (2σ²), x = c0 + c1 s,
 * with β = 1/T (1 unless a temperature schedule anneals the burn-in). A sweep proposes to flip every site once:
 *   single_flip   sites in raster order (systematic scan). Each site update flips with probability
 *                 min(1, exp(−β ΔE)), which satisfies detailed balance for π; the composition of the site
 *                 updates leaves π invariant.
 *   checkerboard  the same site updates grouped by colour class (2 colours, 3 where a periodic side is odd).
 *                 With a likelihood that does not couple pixels, sites of one colour are conditionally
 *                 independent given the others, so a class is updated at once: vectorised, random words in bulk.
 * ΔE of a flip at k (δ = x_k' − x_k = −2 c1 s_k) is computed incrementally:
 *   prior       2 s_k (J Σ_neighbours s_j + h)                                     O(1)
 *   FIELD       (none / identity / mask) the likelihood is a per-site field: h_k = h + a_k c1 (y_k − a_k c0)/σ²
 *   LOCAL       (masks, blurs, masks) keep r = y − A x: Δ‖r‖² = −2δ⟨r, a_k⟩ + δ²‖a_k‖², a_k = A e_k is the
 *               combined kernel placed at k (circular), masked: O(kernel) per proposal and per accepted flip
 *   GRAM_SHIFT  (input masks, blurs, fourier last) keep g = Aᵀr: ⟨r, a_k⟩ = g_k, and a flip changes g by
 *               −δ AᵀA e_k, a shifted copy of one precomputed column (AᵀA = D Q D, Q circulant):
 *               O(1) per proposal, O(n) per accepted flip
 *   GRAM_GENERIC (anything else) as GRAM_SHIFT with the column from a dense AᵀA (n <= 1024) or one AᵀA
 *               application per accepted flip; diag(AᵀA) costs n applications once per run
 * Acceptance: a 31-bit word u of the chain's stream per proposal, flip iff u + ½ < p 2^31 (p resolved to 2^−31).
 * The random words of sweep t are sr_rng_bits(chain stream, 1 + t): site k uses word k, except in the two-colour
 * checkerboard, whose words follow its colour-compacted layout (below).
 *
 * Two-colour checkerboard layout: each colour's sites are packed row by row (row i of colour c holds the sites
 * j ≡ i + c mod 2 at t = j / 2), with a halo, so a colour pass reads its own spins, three rows of the other colour
 * and its fields contiguously, updates in place and never computes the other colour's sites.
 *
 * Elsewhere: the mode follows from how AᵀA factors (solver/op_structure.c), the checkerboard's vectorised rows are
 * in solver/mh_kernels.c, the pieces the tests drive in sampler_mh.h. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ising.h"
#include "machine.h"
#include "mh_kernels.h"
#include "op_structure.h"
#include "sampler_internal.h"
#include "sampler_mh.h"

#define DENSE_MAX 1024
#define EXP_CLAMP 350.0 /* field factors exp(±2βh_k) are clamped here; valid while 8β|J| <= TABLE_MAX */
#define TABLE_MAX 300.0

struct sr_mh_shared {
  sr_ising_params is;
  size_t h, w, n, W2;
  int pbc_x, pbc_y;           /* periodic and the side > 1 */
  double c0, c1, lw;          /* x = c0 + c1 s; lw = 1/(2σ²) (0 without an operator) */
  sr_mh_mode mode;
  const sr_op *op;
  int ncol;
  unsigned char *colour;      /* n */
  int packed;                 /* checkerboard on two colours: chains keep the colour-compacted layout */
  int v512;                   /* the checkerboard rows take their AVX-512 (F, BW, VL) path (sr_cpu_path) */
  size_t Wc0, Wc;             /* sites per compact row (w + 1)/2, and the row stride with its halo */
  signed char *init_obs;      /* n spins: the thresholded adjoint of the observation (init observation) */
  double *hf;                 /* FIELD: n per-site fields */
  /* LOCAL: stencil of the combined kernel (wrapped offsets) and the masks before and after it */
  size_t K;
  size_t *sdi, *sdj;          /* offsets wrapped into [0, h) x [0, w) */
  ptrdiff_t *soff;            /* the same offsets signed (|di| <= h/2, |dj| <= w/2), as di*w + dj */
  size_t mi0, mi1, mj0, mj1;  /* sites with mi0 <= i < h − mi1 and mj0 <= j < w − mj1 need no wrapping */
  double *sw;
  double *yd, *din, *dout, *dd; /* dd: ‖a_k‖² = (AᵀA)_kk (LOCAL and GRAM) */
  /* GRAM */
  double *q;                  /* SHIFT: Q e_0, symmetrised, at di*w + dj */
  double *G;                  /* GENERIC, n <= DENSE_MAX: AᵀA, symmetrised */
  double *b;                  /* Aᵀy */
  size_t opws;                /* floats of workspace for one AᵀA application */
};

struct sr_mh_chain {
  const sr_mh_shared *sh;
  signed char *sp;            /* (h+2)(w+2): spins with a halo (0 for free sides, copies for periodic) */
  signed char *tmp;           /* w */
  double beta, EJ[9];         /* EJ[m + 4] = exp(−2βJ m) */
  int table;                  /* FIELD: p = EJ[s nb + 4] · exp(∓2βh_k) is safe (8β|J| <= TABLE_MAX) */
  double *Fp, *Fm;            /* FIELD: exp(−2βh_k), exp(2βh_k), clamped */
  double *r;                  /* LOCAL: y − Ax; GRAM: Aᵀ(y − Ax) */
  uint32_t *u;                /* n words of the sweep */
  int32_t *cnt;               /* n: kept states with s = +1 */
  int32_t *half;              /* n: cnt after the first half of the kept states (split-R̂) */
  float *e, *col, *ws;        /* GRAM without a dense AᵀA: one normal application */
  long op_applies;
  /* two-colour checkerboard: per colour c, spins (h + 2) x Wc with halo, fields and counts h x Wc0 */
  signed char *cs[2];
  double *cFp[2], *cFm[2];
  int32_t *ccnt[2];
  int in_packed;              /* the state lives in cs (sp is stale) */
};

/* ---------------------------------------------------------------- validation */

/* How the likelihood's energy changes are computed follows from how AᵀA factors (solver/op_structure.c). */
static sr_mh_mode mode_of(const sr_op_factors *f) {
  switch (f->kind) {
  case SR_NORMAL_DIAGONAL: return SR_MH_FIELD;
  case SR_NORMAL_LOCAL: return SR_MH_LOCAL;
  case SR_NORMAL_CIRCULANT: return SR_MH_GRAM_SHIFT;
  case SR_NORMAL_GENERAL: break;
  }
  return SR_MH_GRAM_GENERIC;
}

static int spin_of(const sr_mh_shared *sh, double x) { return (x - sh->c0) * sh->c1 > 0 ? 1 : -1; }

static sr_status mh_validate(sr_problem *pb, sr_error *err) {
  sr_sampler_cfg *s = &pb->sampler;
  const sr_prior *pr = pb->prior;
  if (!pr->discrete)
    return sr_fail(err, SR_EINVAL, "sampler.type", "mh flips pixels between two values and needs a discrete prior "
                   "(prior.type ising); prior.type %s is continuous: use langevin, mala, annealed_langevin, pc or "
                   "ode", pr->kind);
  const sr_ising_params *is = sr__ising(pr);
  if (is->h * is->w != pb->n)
    return sr_fail(err, SR_EINVAL, "prior", "ising lattice %zux%zu does not match the image size %zu", is->h, is->w,
                   pb->n);
  sr_status st = sr__chain_length(s, "sweeps", err);
  if (st) return st;
  if (s->temp_end == 0) s->temp_end = 1.0;
  if (s->temp_start == 0) s->temp_start = s->temp_end;
  if (!(s->temp_start > 0) || !(s->temp_end > 0) || !isfinite(s->temp_start) || !isfinite(s->temp_end))
    return sr_fail(err, SR_EINVAL, "sampler.temperature", "must be > 0 and finite");
  if (s->temp_start != s->temp_end && s->burn_in < 1)
    return sr_fail(err, SR_EINVAL, "sampler.temperature", "an annealing schedule (start != end) runs over the "
                   "burn-in: sampler.burn_in must be >= 1");
  if (s->proposal != SR_MH_SINGLE_FLIP && s->proposal != SR_MH_CHECKERBOARD)
    return sr_fail(err, SR_EINVAL, "sampler.proposal", "must be single_flip or checkerboard");
  if (s->init != SR_MH_INIT_RANDOM && s->init != SR_MH_INIT_OBSERVATION)
    return sr_fail(err, SR_EINVAL, "sampler.init", "must be random or observation");
  if (s->init == SR_MH_INIT_OBSERVATION && !pb->op)
    return sr_fail(err, SR_EINVAL, "sampler.init", "observation needs a measurement (operator.type is none)");
  sr_op_factors f;
  sr__op_factor(pb->op, &f);
  if (s->proposal == SR_MH_CHECKERBOARD && mode_of(&f) != SR_MH_FIELD)
    return sr_fail(err, SR_EINVAL, "sampler.proposal", "checkerboard updates a whole colour class at once, which "
                   "needs a likelihood that does not couple pixels (operator none, identity or mask); operator %s "
                   "couples them: use single_flip", pb->op->kind);
  if (pb->ground_truth) {
    float a = (float)is->a, b = (float)is->b;
    for (size_t k = 0; k < pb->n; k++)
      if (pb->ground_truth[k] != a && pb->ground_truth[k] != b)
        return sr_fail(err, SR_EINVAL, "ground_truth", "pixel %zu is %g, not one of prior.values [%g, %g]", k,
                       (double)pb->ground_truth[k], is->a, is->b);
  }
  return SR_OK;
}

/* ---------------------------------------------------------------- per-run preparation */

void sr__mh_release(sr_mh_shared *sh) {
  if (!sh) return;
  free(sh->colour); free(sh->init_obs); free(sh->hf);
  free(sh->sdi); free(sh->sdj); free(sh->soff); free(sh->sw);
  free(sh->yd); free(sh->din); free(sh->dout); free(sh->dd);
  free(sh->q); free(sh->G); free(sh->b);
  free(sh);
}

sr_mh_mode sr__mh_mode(const sr_mh_shared *sh) { return sh->mode; }

int sr__mh_colours(const sr_mh_shared *sh, const unsigned char **colour) {
  *colour = sh->colour;
  return sh->ncol;
}

/* Colour of position i on a side of length L: 2-colourable (free, even or 1) → i mod 2; an odd cycle → 0,1,..,0,1,2. */
static int side_colour(size_t i, size_t L, int cyc) { return cyc && L % 2 && L > 1 && i == L - 1 ? 2 : (int)(i & 1); }

static int make_colours(sr_mh_shared *sh) {
  size_t h = sh->h, w = sh->w;
  int odd_y = sh->pbc_y && h % 2, odd_x = sh->pbc_x && w % 2;
  sh->ncol = odd_x || odd_y ? 3 : 2;
  sh->colour = malloc(sh->n);
  if (!sh->colour) return -1;
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++)
      sh->colour[i * w + j] = (unsigned char)((side_colour(i, h, sh->pbc_y) + side_colour(j, w, sh->pbc_x)) %
                                              sh->ncol);
  return 0;
}

/* LOCAL: A = D_out K D_in; the stencil of K (its nonzero weights at wrapped and signed offsets) and the masks. */
static int prep_local(sr_mh_shared *sh, const sr_op_factors *f, const float *y) {
  size_t h = sh->h, w = sh->w, n = sh->n;
  double *ker = calloc(n, sizeof(double));
  sh->din = malloc(n * sizeof(double));
  sh->dout = malloc(n * sizeof(double));
  sh->yd = malloc(n * sizeof(double));
  sh->dd = calloc(n, sizeof(double));
  if (!ker || !sh->din || !sh->dout || !sh->yd || !sh->dd) goto fail;
  sr__op_factors_diag(f, 0, f->p1, n, sh->din);
  sr__op_factors_diag(f, f->p2, f->n, n, sh->dout);
  for (size_t k = 0; k < n; k++) sh->yd[k] = sh->dout[k] * y[k]; /* r is then exactly 0 where A never reaches */
  if (sr__op_factors_kernel(f, h, w, ker)) goto fail;
  size_t K = 0;
  for (size_t a = 0; a < n; a++) K += ker[a] != 0.0;
  sh->K = K;
  sh->sdi = malloc((K + 1) * sizeof(size_t));
  sh->sdj = malloc((K + 1) * sizeof(size_t));
  sh->sw = malloc((K + 1) * sizeof(double));
  sh->soff = malloc((K + 1) * sizeof(ptrdiff_t));
  if (!sh->sdi || !sh->sdj || !sh->sw || !sh->soff) goto fail;
  K = 0;
  for (size_t a = 0; a < n; a++)
    if (ker[a] != 0.0) {
      size_t di = a / w, dj = a % w;
      ptrdiff_t si = di > h / 2 ? (ptrdiff_t)di - (ptrdiff_t)h : (ptrdiff_t)di;
      ptrdiff_t sj = dj > w / 2 ? (ptrdiff_t)dj - (ptrdiff_t)w : (ptrdiff_t)dj;
      if (si < 0 && (size_t)-si > sh->mi0) sh->mi0 = (size_t)-si;
      if (si > 0 && (size_t)si > sh->mi1) sh->mi1 = (size_t)si;
      if (sj < 0 && (size_t)-sj > sh->mj0) sh->mj0 = (size_t)-sj;
      if (sj > 0 && (size_t)sj > sh->mj1) sh->mj1 = (size_t)sj;
      sh->sdi[K] = di;
      sh->sdj[K] = dj;
      sh->soff[K] = si * (ptrdiff_t)w + sj;
      sh->sw[K++] = ker[a];
    }
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) {
      size_t k = i * w + j;
      double s2 = 0.0;
      for (size_t e = 0; e < K; e++) {
        size_t ti = i + sh->sdi[e], tj = j + sh->sdj[e];
        if (ti >= h) ti -= h;
        if (tj >= w) tj -= w;
        double v = sh->sw[e] * sh->dout[ti * w + tj];
        s2 += v * v;
      }
      sh->dd[k] = sh->din[k] * s2;
    }
  free(ker);
  return 0;
fail:
  free(ker);
  return -1;
}

/* GRAM: b = Aᵀy and diag(AᵀA); SHIFT: AᵀA = D Q D with Q's column Q e_0; GENERIC: AᵀA dense (n <= DENSE_MAX). */
static int prep_gram(sr_mh_shared *sh, const sr_op_factors *f, const sr_problem *pb) {
  size_t h = sh->h, w = sh->w, n = sh->n;
  const sr_op *op = pb->op;
  sh->opws = sr_stride(op->n_out) + op->ws_floats + 16;
  sh->b = malloc(n * sizeof(double));
  sh->dd = malloc(n * sizeof(double));
  float *e = sr_alloc(n), *col = sr_alloc(n), *ws = sr_alloc(sh->opws);
  int rc = -1;
  if (!sh->b || !sh->dd || !e || !col || !ws) goto out;
  op->adjoint(op, pb->y, col, ws);
  for (size_t k = 0; k < n; k++) sh->b[k] = col[k];
  if (sh->mode == SR_MH_GRAM_SHIFT) {
    sh->din = malloc(n * sizeof(double));
    sh->q = malloc(n * sizeof(double));
    if (!sh->din || !sh->q) goto out;
    sr__op_factors_diag(f, 0, f->p1, n, sh->din);
    e[0] = 1.0f;
    if (sr__op_factors_normal(f, f->p1, f->n, e, col)) goto out;
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++) {
        size_t mi = (h - i) % h, mj = (w - j) % w; /* Q is symmetric: Q e_0 at −d equals it at d */
        sh->q[i * w + j] = 0.5 * ((double)col[i * w + j] + (double)col[mi * w + mj]);
      }
    for (size_t k = 0; k < n; k++) sh->dd[k] = sh->din[k] * sh->q[0];
  } else {
    if (n <= DENSE_MAX && !(sh->G = malloc(n * n * sizeof(double)))) goto out;
    for (size_t k = 0; k < n; k++) {
      memset(e, 0, n * sizeof(float));
      e[k] = 1.0f;
      sr_op_normal(op, e, col, ws);
      sh->dd[k] = col[k];
      if (sh->G)
        for (size_t j = 0; j < n; j++) sh->G[k * n + j] = col[j];
    }
    if (sh->G)
      for (size_t a = 0; a < n; a++)
        for (size_t c = a + 1; c < n; c++) {
          double v = 0.5 * (sh->G[a * n + c] + sh->G[c * n + a]);
          sh->G[a * n + c] = sh->G[c * n + a] = v;
        }
  }
  rc = 0;
out:
  sr_free(e); sr_free(col); sr_free(ws);
  return rc;
}

sr_status sr__mh_prepare(const sr_problem *pb, sr_mh_shared **out, sr_error *err) {
  *out = NULL;
  const sr_ising_params *is = sr__ising(pb->prior);
  if (!is) return sr_fail(err, SR_EINVAL, "prior.type", "mh needs a discrete prior");
  sr_mh_shared *sh = calloc(1, sizeof *sh);
  if (!sh) return sr_fail(err, SR_ENOMEM, "", "out of memory");
  sh->is = *is;
  sh->h = is->h;
  sh->w = is->w;
  sh->n = is->h * is->w;
  sh->W2 = is->w + 2;
  sh->pbc_x = is->periodic && is->w > 1;
  sh->pbc_y = is->periodic && is->h > 1;
  sh->c0 = 0.5 * (is->a + is->b);
  sh->c1 = 0.5 * (is->b - is->a);
  sh->op = pb->op;
  sh->lw = pb->op ? 0.5 / (pb->noise_sigma * pb->noise_sigma) : 0.0;
  sr_op_factors f;
  sr__op_factor(pb->op, &f);
  sh->mode = mode_of(&f);
  size_t n = sh->n;
  int bad = make_colours(sh);
  sh->Wc0 = (sh->w + 1) / 2;
  sh->Wc = sh->Wc0 + 2;
  sh->packed = pb->sampler.proposal == SR_MH_CHECKERBOARD && sh->ncol == 2 && sh->mode == SR_MH_FIELD;
  sh->v512 = (sr_cpu_path() & SR_CPU_AVX512BW_VL) != 0;
  if (!bad && sh->mode == SR_MH_FIELD) {
    sh->hf = malloc(n * sizeof(double));
    double *a = malloc(n * sizeof(double));
    bad = !sh->hf || !a;
    if (!bad) {
      sr__op_factors_diag(&f, 0, f.n, n, a);
      for (size_t k = 0; k < n; k++) {
        double ak = pb->op ? a[k] : 0.0, yk = pb->op ? (double)pb->y[k] : 0.0;
        sh->hf[k] = is->field + 2.0 * sh->lw * ak * sh->c1 * (yk - ak * sh->c0);
      }
    }
    free(a);
  } else if (!bad && sh->mode == SR_MH_LOCAL) {
    bad = prep_local(sh, &f, pb->y);
  } else if (!bad) {
    bad = prep_gram(sh, &f, pb);
  }
  if (!bad && pb->sampler.init == SR_MH_INIT_OBSERVATION && pb->op) {
    sh->init_obs = malloc(n);
    float *xa = sr_alloc(n), *ws = sr_alloc(sr_stride(pb->op->n_out) + pb->op->ws_floats + 16);
    bad = !sh->init_obs || !xa || !ws;
    if (!bad) {
      pb->op->adjoint(pb->op, pb->y, xa, ws);
      for (size_t k = 0; k < n; k++) sh->init_obs[k] = (signed char)spin_of(sh, xa[k]);
    }
    sr_free(xa);
    sr_free(ws);
  }
  if (bad) {
    sr__mh_release(sh);
    return sr_fail(err, SR_ENOMEM, "", "out of memory preparing the mh sampler");
  }
  *out = sh;
  return SR_OK;
}

/* ---------------------------------------------------------------- one chain */

void sr__mh_chain_free(sr_mh_chain *ch) {
  if (!ch) return;
  free(ch->sp); free(ch->tmp); free(ch->Fp); free(ch->Fm); free(ch->r); free(ch->u); free(ch->cnt);
  free(ch->half);
  for (int c = 0; c < 2; c++) {
    free(ch->cs[c]); free(ch->cFp[c]); free(ch->cFm[c]); free(ch->ccnt[c]);
  }
  sr_free(ch->e); sr_free(ch->col); sr_free(ch->ws);
  free(ch);
}

sr_mh_chain *sr__mh_chain_new(const sr_mh_shared *sh) {
  sr_mh_chain *ch = calloc(1, sizeof *ch);
  if (!ch) return NULL;
  size_t n = sh->n;
  ch->sh = sh;
  ch->sp = calloc((sh->h + 2) * sh->W2, 1);
  ch->tmp = malloc(sh->w);
  ch->u = malloc((n > 2 * sh->h * sh->Wc0 ? n : 2 * sh->h * sh->Wc0) * sizeof(uint32_t));
  ch->cnt = calloc(n, sizeof(int32_t));
  ch->half = calloc(n, sizeof(int32_t));
  int bad = !ch->sp || !ch->tmp || !ch->u || !ch->cnt || !ch->half;
  for (int c = 0; c < 2 && sh->packed; c++) {
    ch->cs[c] = calloc((sh->h + 2) * sh->Wc, 1);
    ch->cFp[c] = calloc(sh->h * sh->Wc0, sizeof(double));
    ch->cFm[c] = calloc(sh->h * sh->Wc0, sizeof(double));
    ch->ccnt[c] = calloc(sh->h * sh->Wc0, sizeof(int32_t));
    bad |= !ch->cs[c] || !ch->cFp[c] || !ch->cFm[c] || !ch->ccnt[c];
  }
  if (sh->mode == SR_MH_FIELD) {
    ch->Fp = malloc(n * sizeof(double));
    ch->Fm = malloc(n * sizeof(double));
    bad |= !ch->Fp || !ch->Fm;
  } else {
    ch->r = malloc(n * sizeof(double));
    bad |= !ch->r;
    if (sh->mode != SR_MH_LOCAL) {
      ch->e = sr_alloc(n);
      ch->col = sr_alloc(n);
      ch->ws = sr_alloc(sh->opws);
      bad |= !ch->e || !ch->col || !ch->ws;
    }
  }
  if (bad) {
    sr__mh_chain_free(ch);
    return NULL;
  }
  return ch;
}

static inline size_t sidx(const sr_mh_shared *sh, size_t i, size_t j) { return (i + 1) * sh->W2 + j + 1; }

static void halo_refresh(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  size_t h = sh->h, w = sh->w, W2 = sh->W2;
  signed char *sp = ch->sp;
  if (sh->pbc_x)
    for (size_t i = 1; i <= h; i++) {
      sp[i * W2] = sp[i * W2 + w];
      sp[i * W2 + w + 1] = sp[i * W2 + 1];
    }
  if (sh->pbc_y) {
    memcpy(sp + 1, sp + h * W2 + 1, w);
    memcpy(sp + (h + 1) * W2 + 1, sp + W2 + 1, w);
  }
}

static inline void halo_site(sr_mh_chain *ch, size_t i, size_t j, signed char v) {
  const sr_mh_shared *sh = ch->sh;
  size_t h = sh->h, w = sh->w, W2 = sh->W2;
  if (sh->pbc_x) {
    if (j == 0) ch->sp[(i + 1) * W2 + w + 1] = v;
    if (j == w - 1) ch->sp[(i + 1) * W2] = v;
  }
  if (sh->pbc_y) {
    if (i == 0) ch->sp[(h + 1) * W2 + j + 1] = v;
    if (i == h - 1) ch->sp[j + 1] = v;
  }
}

double sr__mh_accept(double dE, double beta) {
  double x = -beta * dE;
  return x >= 0 ? 1.0 : exp(x);
}

static void set_beta(sr_mh_chain *ch, double beta) {
  const sr_mh_shared *sh = ch->sh;
  ch->beta = beta;
  ch->table = 8.0 * beta * fabs(sh->is.J) <= TABLE_MAX;
  for (int m = -4; m <= 4; m++) ch->EJ[m + 4] = exp(-2.0 * beta * sh->is.J * m);
  if (sh->mode != SR_MH_FIELD) return;
  for (size_t k = 0; k < sh->n; k++) {
    double x = -2.0 * beta * sh->hf[k];
    x = x > EXP_CLAMP ? EXP_CLAMP : x < -EXP_CLAMP ? -EXP_CLAMP : x;
    ch->Fp[k] = exp(x);
    ch->Fm[k] = exp(-x);
  }
  if (!sh->packed) return;
  for (size_t i = 0; i < sh->h; i++)
    for (size_t j = 0; j < sh->w; j++) {
      int c = (int)((i + j) & 1);
      size_t q = i * sh->Wc0 + j / 2;
      ch->cFp[c][q] = ch->Fp[i * sh->w + j];
      ch->cFm[c][q] = ch->Fm[i * sh->w + j];
    }
}

void sr__mh_chain_set(sr_mh_chain *ch, const signed char *spins, double beta) {
  const sr_mh_shared *sh = ch->sh;
  size_t h = sh->h, w = sh->w, n = sh->n;
  for (size_t i = 0; i < h; i++) memcpy(ch->sp + sidx(sh, i, 0), spins + i * w, w);
  halo_refresh(ch);
  set_beta(ch, beta);
  double *r = ch->r;
  if (sh->mode == SR_MH_LOCAL) {
    memcpy(r, sh->yd, n * sizeof(double));
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++) {
        size_t k = i * w + j;
        double xk = sh->din[k] * (sh->c0 + sh->c1 * spins[k]);
        if (xk == 0.0) continue;
        for (size_t e = 0; e < sh->K; e++) {
          size_t ti = i + sh->sdi[e], tj = j + sh->sdj[e];
          if (ti >= h) ti -= h;
          if (tj >= w) tj -= w;
          r[ti * w + tj] -= sh->dout[ti * w + tj] * sh->sw[e] * xk;
        }
      }
  } else if (sh->mode == SR_MH_GRAM_SHIFT && n <= DENSE_MAX) { /* g = b − D Q D x, exactly in double */
    for (size_t a = 0; a < n; a++) {
      size_t ai = a / w, aj = a % w;
      double acc = 0.0;
      for (size_t c = 0; c < n; c++) {
        size_t di = (ai + h - c / w) % h, dj = (aj + w - c % w) % w;
        acc += sh->q[di * w + dj] * sh->din[c] * (sh->c0 + sh->c1 * spins[c]);
      }
      r[a] = sh->b[a] - sh->din[a] * acc;
    }
  } else if (sh->G) {
    for (size_t a = 0; a < n; a++) {
      double acc = 0.0;
      for (size_t c = 0; c < n; c++) acc += sh->G[a * n + c] * (sh->c0 + sh->c1 * spins[c]);
      r[a] = sh->b[a] - acc;
    }
  } else if (sh->mode != SR_MH_FIELD) { /* large: one AᵀA application in float */
    for (size_t k = 0; k < n; k++) ch->e[k] = (float)(sh->c0 + sh->c1 * spins[k]);
    sr_op_normal(sh->op, ch->e, ch->col, ch->ws);
    ch->op_applies += 2;
    for (size_t k = 0; k < n; k++) r[k] = sh->b[k] - ch->col[k];
    memset(ch->e, 0, n * sizeof(float));
  }
}

static inline int interior(const sr_mh_shared *sh, size_t i, size_t j) {
  return i >= sh->mi0 && i + sh->mi1 < sh->h && j >= sh->mj0 && j + sh->mj1 < sh->w;
}

/* The flip probability of site k = (i, j) from the current state. */
static inline double prob_at(const sr_mh_chain *ch, size_t k, size_t i, size_t j) {
  const sr_mh_shared *sh = ch->sh;
  const signed char *c = ch->sp + sidx(sh, i, j);
  const size_t W2 = sh->W2;
  int s = c[0], nb = c[-1] + c[1] + c[-(ptrdiff_t)W2] + c[W2];
  if (sh->mode == SR_MH_FIELD) {
    if (ch->table) {
      double p = ch->EJ[s * nb + 4] * (s > 0 ? ch->Fp[k] : ch->Fm[k]);
      return p < 1.0 ? p : 1.0;
    }
    return sr__mh_accept(2.0 * s * (sh->is.J * nb + sh->hf[k]), ch->beta);
  }
  double dE = 2.0 * s * (sh->is.J * nb + sh->is.field), delta = -2.0 * sh->c1 * s, rk;
  if (sh->mode == SR_MH_LOCAL) { /* ⟨r, a_k⟩; r is 0 wherever the output masks are */
    rk = 0.0;
    if (sh->din[k] != 0.0) {
      size_t h = sh->h, w = sh->w;
      if (interior(sh, i, j)) {
        const double *rc = ch->r + k;
        for (size_t e = 0; e < sh->K; e++) rk += sh->sw[e] * rc[sh->soff[e]];
      } else {
        for (size_t e = 0; e < sh->K; e++) {
          size_t ti = i + sh->sdi[e], tj = j + sh->sdj[e];
          if (ti >= h) ti -= h;
          if (tj >= w) tj -= w;
          rk += sh->sw[e] * ch->r[ti * w + tj];
        }
      }
      rk *= sh->din[k];
    }
  } else {
    rk = ch->r[k];
  }
  dE += sh->lw * (-2.0 * delta * rk + delta * delta * sh->dd[k]);
  return sr__mh_accept(dE, ch->beta);
}

static void flip_at(sr_mh_chain *ch, size_t k, size_t i, size_t j) {
  const sr_mh_shared *sh = ch->sh;
  signed char *c = ch->sp + sidx(sh, i, j);
  int s = c[0];
  c[0] = (signed char)-s;
  halo_site(ch, i, j, (signed char)-s);
  if (sh->mode == SR_MH_FIELD) return;
  const size_t h = sh->h, w = sh->w, n = sh->n;
  const double delta = -2.0 * sh->c1 * s;
  double *restrict r = ch->r;
  if (sh->mode == SR_MH_LOCAL) {
    double d = delta * sh->din[k];
    if (d == 0.0) return;
    if (interior(sh, i, j)) {
      double *rc = r + k;
      const double *dc = sh->dout + k;
      for (size_t e = 0; e < sh->K; e++) rc[sh->soff[e]] -= d * sh->sw[e] * dc[sh->soff[e]];
      return;
    }
    for (size_t e = 0; e < sh->K; e++) {
      size_t ti = i + sh->sdi[e], tj = j + sh->sdj[e];
      if (ti >= h) ti -= h;
      if (tj >= w) tj -= w;
      r[ti * w + tj] -= d * sh->sw[e] * sh->dout[ti * w + tj];
    }
  } else if (sh->mode == SR_MH_GRAM_SHIFT) {
    double d = delta * sh->din[k];
    if (d == 0.0) return;
    for (size_t i2 = 0; i2 < h; i2++) {
      const double *restrict qr = sh->q + (i2 >= i ? i2 - i : i2 + h - i) * w, *restrict dr = sh->din + i2 * w;
      double *restrict gr = r + i2 * w;
      for (size_t j2 = 0; j2 < j; j2++) gr[j2] -= d * dr[j2] * qr[j2 + w - j];
      for (size_t j2 = j; j2 < w; j2++) gr[j2] -= d * dr[j2] * qr[j2 - j];
    }
  } else if (sh->G) {
    const double *restrict gc = sh->G + k * n;
    for (size_t a = 0; a < n; a++) r[a] -= delta * gc[a];
  } else {
    ch->e[k] = 1.0f;
    sr_op_normal(sh->op, ch->e, ch->col, ch->ws);
    ch->e[k] = 0.0f;
    ch->op_applies += 2;
    for (size_t a = 0; a < n; a++) r[a] -= delta * ch->col[a];
  }
}

double sr__mh_flip_prob(const sr_mh_chain *ch, size_t k) {
  return prob_at(ch, k, k / ch->sh->w, k % ch->sh->w);
}

void sr__mh_chain_flip(sr_mh_chain *ch, size_t k) { flip_at(ch, k, k / ch->sh->w, k % ch->sh->w); }

/* ---------------------------------------------------------------- sweeps */

/* Flip iff u + ½ < p 2^31 with the top 31 bits u of the word: probability p, resolved to 2^−31. */
static inline int take(uint32_t word, double p) { return (double)(word >> 1) + 0.5 < p * 2147483648.0; }

/* single_flip on a FIELD likelihood: the table path, inlined. */
static long sweep_field(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  const size_t h = sh->h, w = sh->w, W2 = sh->W2;
  const int edges = sh->pbc_x || sh->pbc_y;
  long acc = 0;
  for (size_t i = 0; i < h; i++) {
    signed char *row = ch->sp + sidx(sh, i, 0);
    const uint32_t *u = ch->u + i * w;
    const double *Fp = ch->Fp + i * w, *Fm = ch->Fm + i * w;
    for (size_t j = 0; j < w; j++) {
      int s = row[j], nb = row[j - 1] + row[j + 1] + row[(ptrdiff_t)j - (ptrdiff_t)W2] + row[j + W2];
      double p = ch->EJ[s * nb + 4] * (s > 0 ? Fp[j] : Fm[j]);
      if (take(u[j], p)) {
        row[j] = (signed char)-s;
        acc++;
        if (edges) halo_site(ch, i, j, (signed char)-s);
      }
    }
  }
  return acc;
}

static long sweep_general(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  long acc = 0;
  for (size_t i = 0, k = 0; i < sh->h; i++)
    for (size_t j = 0; j < sh->w; j++, k++)
      if (take(ch->u[k], prob_at(ch, k, i, j))) {
        flip_at(ch, k, i, j);
        acc++;
      }
  return acc;
}

/* ---- the two-colour compact layout */

/* Row i of colour c: sites j = 2t + j0, j0 = (i + c) mod 2, t < count; position t + 1 in its row (halo at 0). */
static inline size_t crow_j0(size_t i, int c) { return (i + (size_t)c) & 1; }
static inline size_t crow_count(const sr_mh_shared *sh, size_t i, int c) { return (sh->w - crow_j0(i, c) + 1) / 2; }

static void packed_halo(sr_mh_chain *ch, int c) {
  const sr_mh_shared *sh = ch->sh;
  const size_t h = sh->h, Wc = sh->Wc;
  signed char *a = ch->cs[c];
  if (sh->pbc_x) /* even w: the row's last site is the left halo, its first the right halo */
    for (size_t i = 0; i < h; i++) {
      signed char *r = a + (i + 1) * Wc;
      size_t cnt = crow_count(sh, i, c);
      r[0] = r[cnt];
      r[cnt + 1] = r[1];
    }
  if (sh->pbc_y) { /* even h: row −1 is row h − 1 of the same colour, row h is row 0 */
    memcpy(a, a + h * Wc, Wc);
    memcpy(a + (h + 1) * Wc, a + Wc, Wc);
  }
}

static void pack(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  for (size_t i = 0; i < sh->h; i++) {
    const signed char *row = ch->sp + sidx(sh, i, 0);
    for (size_t j = 0; j < sh->w; j++) ch->cs[(i + j) & 1][(i + 1) * sh->Wc + j / 2 + 1] = row[j];
  }
  packed_halo(ch, 0);
  packed_halo(ch, 1);
  ch->in_packed = 1;
}

static void unpack(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  for (size_t i = 0; i < sh->h; i++) {
    signed char *row = ch->sp + sidx(sh, i, 0);
    for (size_t j = 0; j < sh->w; j++) row[j] = ch->cs[(i + j) & 1][(i + 1) * sh->Wc + j / 2 + 1];
  }
  halo_refresh(ch);
  ch->in_packed = 0;
}

static long sweep_packed(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  const size_t h = sh->h, Wc = sh->Wc, Wc0 = sh->Wc0;
  long acc = 0;
  for (int c = 0; c < 2; c++) {
    const signed char *o = ch->cs[1 - c];
    for (size_t i = 0; i < h; i++) {
      size_t cnt = crow_count(sh, i, c), q = i * Wc0;
      signed char *self = ch->cs[c] + (i + 1) * Wc + 1;
      const signed char *up = o + i * Wc + 1, *dn = o + (i + 2) * Wc + 1;
      const signed char *mid = o + (i + 1) * Wc + (crow_j0(i, c) ? 1 : 0); /* position t + lo + 1 */
      const uint32_t *u = ch->u + (size_t)c * h * Wc0 + q;
      acc += sr__mh_crow(sh->v512, self, up, dn, mid, ch->cFp[c] + q, ch->cFm[c] + q, ch->EJ, u, cnt);
    }
    packed_halo(ch, c);
  }
  return acc;
}

static void packed_keep(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  for (int c = 0; c < 2; c++)
    for (size_t i = 0; i < sh->h; i++) {
      const signed char *self = ch->cs[c] + (i + 1) * sh->Wc + 1;
      int32_t *cn = ch->ccnt[c] + i * sh->Wc0;
      for (size_t t = 0; t < sh->Wc0; t++) cn[t] += self[t] > 0;
    }
}

static void packed_counts_merge(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  for (size_t i = 0; i < sh->h; i++)
    for (size_t j = 0; j < sh->w; j++) {
      int c = (int)((i + j) & 1);
      ch->cnt[i * sh->w + j] += ch->ccnt[c][i * sh->Wc0 + j / 2];
    }
}

/* The first half's counts for split-R̂: packed counts folded into cnt first (and restarted), then copied. */
static void half_snapshot(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  if (sh->packed) {
    packed_counts_merge(ch);
    for (int c = 0; c < 2; c++) memset(ch->ccnt[c], 0, sh->h * sh->Wc0 * sizeof(int32_t));
  }
  memcpy(ch->half, ch->cnt, sh->n * sizeof(int32_t));
}

static long sweep_checkerboard(sr_mh_chain *ch) {
  const sr_mh_shared *sh = ch->sh;
  const size_t h = sh->h, w = sh->w, W2 = sh->W2;
  long acc = 0;
  for (int c = 0; c < sh->ncol; c++) {
    for (size_t i = 0; i < h; i++) {
      signed char *row = ch->sp + sidx(sh, i, 0);
      size_t k0 = i * w;
      if (ch->table && w < 32) { /* short rows: the same decisions, without the vector loop's overhead */
        signed char *t = ch->tmp;
        for (size_t j = 0; j < w; j++) {
          int sj = row[j], nb = row[j - 1] + row[j + 1] + row[(ptrdiff_t)j - (ptrdiff_t)W2] + row[j + W2];
          double p = ch->EJ[sj * nb + 4] * (sj > 0 ? ch->Fp[k0 + j] : ch->Fm[k0 + j]);
          int fl = sh->colour[k0 + j] == c && take(ch->u[k0 + j], p);
          t[j] = (signed char)(fl ? -sj : sj);
          acc += fl;
        }
        memcpy(row, t, w);
      } else if (ch->table) {
        acc += sr__mh_row(sh->v512, row, row - W2, row + W2, sh->colour + k0, c, ch->Fp + k0, ch->Fm + k0, ch->EJ,
                          ch->u + k0, w, ch->tmp);
        memcpy(row, ch->tmp, w);
      } else {
        for (size_t j = 0; j < w; j++)
          if (sh->colour[k0 + j] == c && take(ch->u[k0 + j], prob_at(ch, k0 + j, i, j))) {
            flip_at(ch, k0 + j, i, j);
            acc++;
          }
      }
    }
    halo_refresh(ch);
  }
  return acc;
}

static void to_image(const sr_mh_chain *ch, float *x) {
  const sr_mh_shared *sh = ch->sh;
  const float a = (float)sh->is.a, b = (float)sh->is.b;
  for (size_t i = 0; i < sh->h; i++) {
    const signed char *row = ch->sp + sidx(sh, i, 0);
    for (size_t j = 0; j < sh->w; j++) x[i * sh->w + j] = row[j] > 0 ? b : a;
  }
}

static double beta_at(const sr_sampler_cfg *s, long t) {
  if (t >= s->burn_in || s->temp_start == s->temp_end) return 1.0 / s->temp_end;
  double f = (double)t / (double)s->burn_in;
  return 1.0 / (s->temp_start * pow(s->temp_end / s->temp_start, f));
}

static int run_mh(sr_batch *bt) {
  sr_run_ctx *c = bt->ctx;
  const sr_problem *pb = c->pb;
  const sr_sampler_cfg *s = &pb->sampler;
  sr_mh_chain *ch = bt->ext;
  const sr_mh_shared *sh = ch->sh;
  const size_t n = sh->n, h = sh->h, w = sh->w;
  const long tick_every = (long)(65536 / n) + 1; /* sweeps per progress report: about 64k proposals */
  int cancelled = 0;
  for (size_t b = 0; b < bt->B && !cancelled; b++) {
    float *xb = bt->x + b * c->sn;
    signed char *spins = (signed char *)bt->z; /* n bytes of the batch's float scratch */
    if (s->init == SR_MH_INIT_OBSERVATION && sh->init_obs) {
      memcpy(spins, sh->init_obs, n);
    } else {
      sr_rng_bits(&bt->rng[b], 0, ch->u, n);
      for (size_t k = 0; k < n; k++) spins[k] = (signed char)(ch->u[k] >> 31 ? 1 : -1);
    }
    double beta = beta_at(s, 0);
    ch->op_applies = 0;
    sr__mh_chain_set(ch, spins, beta);
    memset(ch->cnt, 0, n * sizeof(int32_t));
    for (int cc = 0; cc < 2 && sh->packed; cc++) memset(ch->ccnt[cc], 0, h * sh->Wc0 * sizeof(int32_t));
    to_image(ch, xb);
    sr__traj(bt, b, 0, xb);
    const size_t words = sh->packed ? 2 * h * sh->Wc0 : n;
    long kept = 0, acc = 0, pending = 0;
    for (long t = 0; t < s->steps; t++) {
      double bt_ = beta_at(s, t);
      if (bt_ != ch->beta) set_beta(ch, bt_);
      sr_rng_bits(&bt->rng[b], 1 + (uint64_t)t, ch->u, words);
      long a;
      if (sh->packed && ch->table) {
        if (!ch->in_packed) pack(ch);
        a = sweep_packed(ch);
      } else if (s->proposal == SR_MH_CHECKERBOARD) {
        if (ch->in_packed) unpack(ch);
        a = sweep_checkerboard(ch);
      } else if (sh->mode == SR_MH_FIELD && ch->table) {
        a = sweep_field(ch);
      } else {
        a = sweep_general(ch);
      }
      if (t >= s->burn_in) {
        acc += a;
        if ((t - s->burn_in) % s->thinning == 0) {
          if (c->diag && kept == c->half_at) half_snapshot(ch); /* split-R̂: the first half's counts */
          kept++;
          if (ch->in_packed) packed_keep(ch);
          else
          for (size_t i = 0; i < h; i++) {
            const signed char *row = ch->sp + sidx(sh, i, 0);
            int32_t *cn = ch->cnt + i * w;
            for (size_t j = 0; j < w; j++) cn[j] += row[j] > 0;
          }
        }
      }
      if (pb->trajectory_every > 0 && (t + 1) % pb->trajectory_every == 0) {
        if (ch->in_packed) {
          unpack(ch); /* sp now holds the state; the next sweep packs it again */
        }
        to_image(ch, xb);
        sr__traj(bt, b, (t + 1) / pb->trajectory_every, xb);
      }
      if (++pending >= tick_every || t == s->steps - 1) {
        cancelled = sr__tick(bt, pending);
        pending = 0;
        if (cancelled) break;
      }
    }
    atomic_fetch_add_explicit(&c->accepted, acc, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->proposed, (long)n * (s->steps - s->burn_in), memory_order_relaxed);
    atomic_fetch_add_explicit(&c->mh_proposals, (long)n * s->steps, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->op_applies, ch->op_applies, memory_order_relaxed);
    /* the chain's moments from its counts, exactly: K kept states, m of them b at pixel k */
    if (ch->in_packed) unpack(ch);
    if (sh->packed) packed_counts_merge(ch);
    to_image(ch, xb);
    double *mean = bt->mean + b * n, *m2 = bt->m2 + b * n, a = sh->is.a, d = sh->is.b - sh->is.a;
    for (size_t k = 0; k < n; k++) {
      double m = ch->cnt[k];
      mean[k] = kept ? a + d * m / (double)kept : 0.0;
      m2[k] = kept ? m * ((double)kept - m) * d * d / (double)kept : 0.0;
    }
    bt->kept[b] = kept;
    if (c->diag && kept > c->half_at && ch->half) { /* the two halves' moments from their counts */
      for (size_t hf = 0; hf < 2; hf++) {
        size_t slot = hf * bt->B + b;
        long kh = hf ? kept - c->half_at : c->half_at;
        double *hm = bt->hmean + slot * n, *hv = bt->hm2 + slot * n;
        for (size_t k = 0; k < n; k++) {
          double mc = hf ? (double)(ch->cnt[k] - ch->half[k]) : (double)ch->half[k];
          hm[k] = kh ? a + d * mc / (double)kh : 0.0;
          hv[k] = kh ? mc * ((double)kh - mc) * d * d / (double)kh : 0.0;
        }
        bt->hkept[slot] = kh;
      }
    }
  }
  return cancelled;
}

/* ---------------------------------------------------------------- the sampler's operations */

static sr_status mh_prepare(sr_run_ctx *c, sr_error *err) {
  sr_mh_shared *sh;
  sr_status st = sr__mh_prepare(c->pb, &sh, err);
  c->shared = sh;
  return st;
}

static void mh_release(sr_run_ctx *c) {
  sr__mh_release(c->shared);
  c->shared = NULL;
}

static void *mh_worker_new(const sr_run_ctx *c) { return sr__mh_chain_new(c->shared); }
static void mh_worker_free(void *ext) { sr__mh_chain_free(ext); }

const sr_sampler_ops sr__mh_ops = {
    .name = "mh",
    .discrete = 1,
    .markov = 1,
    .validate = mh_validate,
    .prepare = mh_prepare,
    .release = mh_release,
    .worker_new = mh_worker_new,
    .worker_free = mh_worker_free,
    .run_batch = run_mh,
};
