/* test_ops.c — every operator: dot-product adjoint test, normal = adjoint∘forward, the operator norm, and
 * the conventions (centred orthonormal DFT against a naive DFT; blur against direct circular convolution). */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scorerecon.h"
#include "test.h"

static unsigned long lcg = 12345;
static double urand(void) {
  lcg = lcg * 6364136223846793005UL + 1442695040888963407UL;
  return (double)(lcg >> 11) / 9007199254740992.0;
}
static void fill(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(2 * urand() - 1);
}

/* <A x, y> vs <x, A^T y>, and A^T A x vs A^T (A x). */
static void check_adjoint(sr_op *op, const char *what) {
  float *x = sr_alloc(op->n_in), *y = sr_alloc(op->n_out), *ax = sr_alloc(op->n_out), *aty = sr_alloc(op->n_in);
  float *n1 = sr_alloc(op->n_in), *n2 = sr_alloc(op->n_in);
  float *ws = sr_alloc(sr_stride(op->n_out) + op->ws_floats + 16);
  fill(x, op->n_in);
  fill(y, op->n_out);
  op->forward(op, x, ax, ws);
  op->adjoint(op, y, aty, ws);
  double lhs = 0, rhs = 0, scale = 0;
  for (size_t i = 0; i < op->n_out; i++) {
    lhs += (double)ax[i] * y[i];
    scale += fabs((double)ax[i] * y[i]);
  }
  for (size_t i = 0; i < op->n_in; i++) rhs += (double)x[i] * aty[i];
  CHECK(fabs(lhs - rhs) <= 1e-5 * scale + 1e-6, "%s: <Ax,y> = %.9g, <x,A^T y> = %.9g", what, lhs, rhs);
  sr_op_normal(op, x, n1, ws);
  op->adjoint(op, ax, n2, ws);
  double d = 0, s = 0;
  for (size_t i = 0; i < op->n_in; i++) {
    d += fabs((double)n1[i] - n2[i]);
    s += fabs((double)n2[i]);
  }
  CHECK(d <= 1e-5 * s + 1e-6, "%s: normal differs from adjoint(forward): %g of %g", what, d, s);
  double est = sr_op_norm2_estimate(op, 200);
  CHECK(est <= op->norm2 * (1 + 1e-4) + 1e-6, "%s: power estimate %g above norm2 %g", what, est, op->norm2);
  sr_free(x); sr_free(y); sr_free(ax); sr_free(aty); sr_free(n1); sr_free(n2); sr_free(ws);
}

static const size_t sizes[][2] = {{1, 1}, {1, 7}, {5, 1}, {6, 8}, {5, 7}, {7, 10}, {9, 9}, {16, 12}, {13, 31}, {32, 32}};
#define NSIZES (sizeof sizes / sizeof sizes[0])

TEST(op_identity_and_mask_adjoint) {
  for (size_t s = 0; s < NSIZES; s++) {
    sr_error err;
    sr_op *id = sr_op_identity(2, sizes[s], &err);
    check_adjoint(id, "identity");
    sr_op_free(id);
    size_t n = sizes[s][0] * sizes[s][1];
    float *m = sr_alloc(n);
    for (size_t i = 0; i < n; i++) m[i] = urand() < 0.5 ? 1.0f : 0.0f;
    sr_op *mk = sr_op_mask(2, sizes[s], m, &err);
    check_adjoint(mk, "mask");
    sr_op_free(mk);
    sr_free(m);
  }
}

TEST(op_blur_adjoint_and_norm) {
  for (size_t s = 0; s < NSIZES; s++) {
    size_t h = sizes[s][0], w = sizes[s][1];
    size_t kh = 1 + (size_t)(urand() * (double)(h < 5 ? h : 5)), kw = 1 + (size_t)(urand() * (double)(w < 5 ? w : 5));
    if (kh > h) kh = h;
    if (kw > w) kw = w;
    float k[25];
    for (size_t i = 0; i < kh * kw; i++) k[i] = (float)(0.1 + urand());
    sr_error err;
    sr_op *op = sr_op_blur(h, w, k, kh, kw, &err);
    CHECK(op != NULL, "blur %zux%zu: %s", h, w, err.msg);
    if (!op) continue;
    check_adjoint(op, "blur");
    /* positive kernel normalised to 1: |ĥ(0)| = 1 is the largest eigenvalue */
    CHECK_NEAR(op->norm2, 1.0, 1e-5, "blur norm2");
    sr_op_free(op);
  }
}

TEST(op_fourier_adjoint_and_norm) {
  for (size_t s = 0; s < NSIZES; s++) {
    size_t h = sizes[s][0], w = sizes[s][1], n = h * w;
    float *m = sr_alloc(n);
    for (int trial = 0; trial < 3; trial++) {
      for (size_t i = 0; i < n; i++) m[i] = trial == 0 ? 1.0f : (urand() < 0.4 ? 1.0f : 0.0f);
      sr_error err;
      sr_op *op = sr_op_fourier(h, w, m, &err);
      check_adjoint(op, "fourier");
      if (trial == 0) CHECK_NEAR(op->norm2, 1.0, 1e-12, "full fourier norm2");
      double est = sr_op_norm2_estimate(op, 300);
      CHECK(est >= 0.97 * op->norm2 - 1e-6, "fourier power estimate %g far below norm2 %g", est, op->norm2);
      sr_op_free(op);
    }
    sr_free(m);
  }
}

TEST(op_chain_adjoint) {
  size_t shp[2] = {7, 10};
  float k[15], m[70];
  for (int i = 0; i < 15; i++) k[i] = (float)(0.2 + urand());
  for (int i = 0; i < 70; i++) m[i] = urand() < 0.6 ? 1.0f : 0.0f;
  sr_error err;
  sr_op *ops[3] = {sr_op_blur(7, 10, k, 3, 5, &err), sr_op_mask(2, shp, m, &err), sr_op_fourier(7, 10, m, &err)};
  sr_op *c = sr_op_chain(ops, 3, &err);
  CHECK(c != NULL, "%s", err.msg);
  if (c) {
    CHECK(c->out_complex && c->n_out == 140, "chain output shape");
    check_adjoint(c, "blur+mask+fourier");
  }
  sr_op_free(c);
  /* a complex output cannot feed another operator */
  sr_op *bad[2] = {sr_op_fourier(7, 10, m, &err), sr_op_identity(2, shp, &err)};
  CHECK(sr_op_chain(bad, 2, &err) == NULL && strstr(err.msg, "complex"), "chain after fourier accepted: %s",
        err.msg);
}

/* Complex images: every operator's adjoint for the real inner product on the interleaved floats, and the complex
 * Fourier and SENSE operators against a naive centred DFT of S_c ⊙ x. */
TEST(op_complex_adjoints) {
  for (size_t s = 0; s < NSIZES; s++) {
    size_t h = sizes[s][0], w = sizes[s][1], n = h * w;
    sr_error err;
    float *m = sr_alloc(n), k[9], *sens = sr_alloc(2 * 3 * n);
    for (size_t i = 0; i < n; i++) m[i] = urand() < 0.5 ? 1.0f : 0.0f;
    for (int i = 0; i < 9; i++) k[i] = (float)(0.1 + urand());
    fill(sens, 2 * 3 * n);
    sr_op *ops[5] = {sr_op_complex(sr_op_identity(2, sizes[s], &err), &err),
                     sr_op_complex(sr_op_mask(2, sizes[s], m, &err), &err),
                     sr_op_complex(sr_op_blur(h, w, k, h < 3 ? h : 3, w < 3 ? w : 3, &err), &err),
                     sr_op_fourier_complex(h, w, m, &err), sr_op_sense(3, h, w, sens, m, &err)};
    const char *names[5] = {"complex identity", "complex mask", "complex blur", "complex fourier", "sense"};
    for (int i = 0; i < 5; i++) {
      CHECK(ops[i] && ops[i]->in_complex && ops[i]->out_complex && ops[i]->n_in == 2 * n, "%s %zux%zu: %s",
            names[i], h, w, ops[i] ? "flags" : err.msg);
      if (ops[i]) check_adjoint(ops[i], names[i]);
    }
    /* a chain of complex operators: blur then fourier */
    sr_op *pair[2] = {ops[2], ops[3]};
    sr_op *ch = sr_op_chain(pair, 2, &err);
    CHECK(ch && ch->in_complex && ch->out_complex, "complex chain: %s", err.msg);
    if (ch) check_adjoint(ch, "complex blur+fourier");
    sr_op_free(ch);
    sr_op_free(ops[0]); sr_op_free(ops[1]); sr_op_free(ops[4]);
    sr_free(m); sr_free(sens);
  }
}

TEST(op_sense_matches_naive_centred_dft) {
  const size_t hs[] = {5, 6, 4}, ws_[] = {7, 8, 9}, C = 2;
  for (int t = 0; t < 3; t++) {
    size_t h = hs[t], w = ws_[t], n = h * w;
    float *x = sr_alloc(2 * n), *m = sr_alloc(n), *sens = sr_alloc(2 * C * n), *y = sr_alloc(2 * C * n);
    float *yf = sr_alloc(2 * n), *ws = sr_alloc(4096);
    fill(x, 2 * n);
    fill(sens, 2 * C * n);
    for (size_t i = 0; i < n; i++) m[i] = urand() < 0.7 ? 1.0f : 0.0f;
    sr_error err;
    sr_op *op = sr_op_sense(C, h, w, sens, m, &err), *fo = sr_op_fourier_complex(h, w, m, &err);
    op->forward(op, x, y, ws);
    fo->forward(fo, x, yf, ws);
    double maxd = 0, maxf = 0;
    for (size_t c = 0; c < C; c++)
      for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j++) {
          double complex acc = 0, accf = 0;
          double ku = (double)i - (double)(h / 2), kv = (double)j - (double)(w / 2);
          for (size_t a = 0; a < h; a++)
            for (size_t b = 0; b < w; b++) {
              size_t p = a * w + b;
              double complex xv = x[2 * p] + I * x[2 * p + 1];
              double complex sv = sens[2 * (c * n + p)] + I * sens[2 * (c * n + p) + 1];
              double complex e = cexp(-2 * M_PI * I * (ku * (double)a / (double)h + kv * (double)b / (double)w));
              acc += sv * xv * e;
              accf += xv * e;
            }
          acc *= m[i * w + j] / sqrt((double)n);
          accf *= m[i * w + j] / sqrt((double)n);
          size_t q = c * n + i * w + j;
          double d = cabs(acc - (y[2 * q] + I * y[2 * q + 1]));
          if (d > maxd) maxd = d;
          if (c == 0) {
            double df = cabs(accf - (yf[2 * (i * w + j)] + I * yf[2 * (i * w + j) + 1]));
            if (df > maxf) maxf = df;
          }
        }
    CHECK(maxd < 1e-5, "sense %zux%zu differs from the naive centred DFT by %g", h, w, maxd);
    CHECK(maxf < 1e-5, "complex fourier %zux%zu differs from the naive centred DFT by %g", h, w, maxf);
    CHECK(op->norm2 > 0 && fo->norm2 == 1.0, "norm2: sense %g, fourier %g", op->norm2, fo->norm2);
    sr_op_free(op); sr_op_free(fo);
    sr_free(x); sr_free(m); sr_free(sens); sr_free(y); sr_free(yf); sr_free(ws);
  }
}

/* Centred orthonormal DFT: y[i][j] = M[i][j]/√N Σ x[a][b] exp(−2πi((i−h/2)a/h + (j−w/2)b/w)). */
TEST(op_fourier_matches_naive_centred_dft) {
  const size_t hs[] = {5, 6, 4}, ws_[] = {7, 8, 9};
  for (int t = 0; t < 3; t++) {
    size_t h = hs[t], w = ws_[t], n = h * w;
    float *x = sr_alloc(n), *m = sr_alloc(n), *y = sr_alloc(2 * n), *ws = sr_alloc(1024);
    fill(x, n);
    for (size_t i = 0; i < n; i++) m[i] = urand() < 0.7 ? 1.0f : 0.0f;
    sr_error err;
    sr_op *op = sr_op_fourier(h, w, m, &err);
    op->forward(op, x, y, ws);
    double maxd = 0;
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++) {
        double complex acc = 0;
        double ku = (double)i - (double)(h / 2), kv = (double)j - (double)(w / 2);
        for (size_t a = 0; a < h; a++)
          for (size_t b = 0; b < w; b++)
            acc += x[a * w + b] * cexp(-2 * M_PI * I * (ku * (double)a / (double)h + kv * (double)b / (double)w));
        acc *= m[i * w + j] / sqrt((double)n);
        double d = cabs(acc - (y[2 * (i * w + j)] + I * y[2 * (i * w + j) + 1]));
        if (d > maxd) maxd = d;
      }
    CHECK(maxd < 1e-5, "fourier %zux%zu differs from the naive centred DFT by %g", h, w, maxd);
    sr_op_free(op);
    sr_free(x); sr_free(m); sr_free(y); sr_free(ws);
  }
}

/* y[i][j] = Σ_ab k[a][b] x[(i − a + kh/2) mod h][(j − b + kw/2) mod w] with k normalised to sum 1. */
TEST(op_blur_matches_direct_convolution) {
  size_t h = 7, w = 10, kh = 3, kw = 5, n = h * w;
  float k[15], *x = sr_alloc(n), *y = sr_alloc(n), *ws = sr_alloc(1024);
  double sum = 0;
  for (int i = 0; i < 15; i++) sum += (k[i] = (float)(urand() + 0.1));
  fill(x, n);
  sr_error err;
  sr_op *op = sr_op_blur(h, w, k, kh, kw, &err);
  op->forward(op, x, y, ws);
  double maxd = 0;
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) {
      double acc = 0;
      for (size_t a = 0; a < kh; a++)
        for (size_t b = 0; b < kw; b++) {
          size_t r = (i + h - a + kh / 2) % h, c = (j + w - b + kw / 2) % w;
          acc += k[a * kw + b] / sum * x[r * w + c];
        }
      double d = fabs(acc - y[i * w + j]);
      if (d > maxd) maxd = d;
    }
  CHECK(maxd < 1e-5, "blur differs from the direct circular convolution by %g", maxd);
  sr_op_free(op);
  sr_free(x); sr_free(y); sr_free(ws);
}

TEST(op_unaligned_arrays_give_the_same_answer) {
  size_t h = 6, w = 8, n = h * w;
  float m[48];
  for (int i = 0; i < 48; i++) m[i] = urand() < 0.5 ? 1.0f : 0.0f;
  sr_error err;
  sr_op *op = sr_op_fourier(h, w, m, &err);
  float *x = sr_alloc(n + 1), *y1 = sr_alloc(2 * n), *y2 = sr_alloc(2 * n + 1), *ws = sr_alloc(op->ws_floats);
  fill(x + 1, n);
  float *xa = sr_alloc(n);
  memcpy(xa, x + 1, n * sizeof(float));
  op->forward(op, xa, y1, ws);
  op->forward(op, x + 1, y2 + 1, ws);
  CHECK(memcmp(y1, y2 + 1, 2 * n * sizeof(float)) == 0, "misaligned input changed the result");
  op->adjoint(op, y1, xa, ws);
  op->adjoint(op, y1, x + 1, ws);
  CHECK(memcmp(xa, x + 1, n * sizeof(float)) == 0, "misaligned output changed the result");
  sr_op_free(op);
  sr_free(x); sr_free(y1); sr_free(y2); sr_free(ws); sr_free(xa);
}

TEST(mask_generators) {
  size_t h = 64, w = 20;
  float *m = sr_alloc(h * w);
  sr_mask_cartesian(h, w, 4.0, 0.08, 7, m);
  size_t rows = 0;
  for (size_t i = 0; i < h; i++) {
    int full = 1, empty = 1;
    for (size_t j = 0; j < w; j++) {
      full &= m[i * w + j] == 1.0f;
      empty &= m[i * w + j] == 0.0f;
    }
    CHECK(full || empty, "row %zu is neither kept nor dropped whole", i);
    rows += full;
  }
  CHECK(rows == 16, "cartesian 4x on 64 rows kept %zu rows, want 16", rows);
  size_t ncen = (size_t)llround(64 * 0.08);
  for (size_t i = h / 2 - ncen / 2; i < h / 2 - ncen / 2 + ncen; i++) CHECK(m[i * w] == 1.0f, "centre row %zu dropped", i);
  float *m2 = sr_alloc(h * w);
  sr_mask_cartesian(h, w, 4.0, 0.08, 7, m2);
  CHECK(memcmp(m, m2, h * w * sizeof(float)) == 0, "same seed gave another mask");
  sr_mask_random(100000, 0.3, 3, m2 = realloc(m2, 100000 * sizeof(float)));
  double kept = 0;
  for (int i = 0; i < 100000; i++) kept += m2[i];
  CHECK_NEAR(kept / 100000, 0.3, 4 * sqrt(0.21 / 100000), "random mask fraction");
  sr_free(m);
  free(m2);
}

/* The spectral form (op->to_spec): V orthonormal (round trip, Parseval with spec_weight), AᵀA = V diag(λ) Vᵀ
 * against the normal operator, Σ dof = n and Σ dof λ = trace(AᵀA) (from the normal on unit vectors). */
static void check_spectral(sr_op *op, const char *what) {
  CHECK(op->to_spec && op->from_spec && op->spec_floats > 0, "%s has no spectral form", what);
  if (!op->to_spec) return;
  CHECK(op->spec_lambda == NULL, "%s: the spectral arrays are built on demand, not at construction", what);
  CHECK(sr_op_spec_prepare(op) == 0 && op->spec_lambda && op->spec_weight && op->spec_dof,
        "%s: sr_op_spec_prepare builds the spectral arrays", what);
  CHECK(sr_op_spec_prepare(op) == 0, "%s: sr_op_spec_prepare twice", what);
  size_t n = op->n_in, nf = op->spec_floats;
  float *x = sr_alloc(n), *x2 = sr_alloc(n), *c = sr_alloc(nf), *c2 = sr_alloc(nf), *back = sr_alloc(n);
  float *nx = sr_alloc(n), *vx = sr_alloc(n), *e = sr_alloc(n);
  float *ws = sr_alloc(sr_stride(op->n_out) + op->ws_floats + 16);
  fill(x, n);
  fill(x2, n);
  op->to_spec(op, x, c, ws);
  op->to_spec(op, x2, c2, ws);
  op->from_spec(op, c, back, ws);
  double d = 0, s = 0, ip = 0, ips = 0, ipa = 0;
  for (size_t i = 0; i < n; i++) {
    d += fabs((double)back[i] - x[i]);
    s += fabs((double)x[i]);
    ip += (double)x[i] * x2[i];
    ipa += fabs((double)x[i] * x2[i]);
  }
  CHECK(d <= 1e-5 * s + 1e-6, "%s: from_spec(to_spec(x)) differs from x by %g of %g", what, d, s);
  for (size_t f = 0; f < nf; f++) ips += (double)op->spec_weight[f] * c[f] * c2[f];
  CHECK(fabs(ip - ips) <= 1e-5 * ipa + 1e-6, "%s: Parseval <x,x'> = %.9g, spectral %.9g", what, ip, ips);
  for (size_t f = 0; f < nf; f++) c[f] *= op->spec_lambda[f];
  op->from_spec(op, c, vx, ws);
  sr_op_normal(op, x, nx, ws);
  d = s = 0;
  for (size_t i = 0; i < n; i++) {
    d += fabs((double)vx[i] - nx[i]);
    s += fabs((double)nx[i]);
  }
  CHECK(d <= 1e-5 * s + 1e-6, "%s: V λ Vᵀ x differs from AᵀA x by %g of %g", what, d, s);
  double dof = 0, tr_spec = 0, tr = 0;
  for (size_t f = 0; f < nf; f++) {
    dof += op->spec_dof[f];
    tr_spec += (double)op->spec_dof[f] * op->spec_lambda[f];
  }
  for (size_t i = 0; i < n; i++) {
    memset(e, 0, n * sizeof(float));
    e[i] = 1;
    sr_op_normal(op, e, nx, ws);
    tr += nx[i];
  }
  CHECK_NEAR(dof, (double)n, 1e-6 * n, "Σ spec_dof = n");
  CHECK(fabs(tr - tr_spec) <= 1e-4 * (tr + 1), "%s: trace(AᵀA) %.7g vs Σ dof λ %.7g", what, tr, tr_spec);
  sr_free(x); sr_free(x2); sr_free(c); sr_free(c2); sr_free(back); sr_free(nx); sr_free(vx); sr_free(e);
  sr_free(ws);
}

TEST(op_spectral_form_of_every_diagonalisable_operator) {
  for (size_t s = 0; s < NSIZES; s++) {
    sr_error err;
    size_t h = sizes[s][0], w = sizes[s][1], n = h * w;
    char what[64];
    float *m = sr_alloc(n), *k = sr_alloc(9);
    for (size_t i = 0; i < n; i++) m[i] = urand() < 0.5 ? 1.0f : 0.0f;
    for (int i = 0; i < 9; i++) k[i] = (float)(0.1 + urand());
    sr_op *ops[4] = {sr_op_identity(2, sizes[s], &err), sr_op_mask(2, sizes[s], m, &err),
                     sr_op_fourier(h, w, m, &err), sr_op_blur(h, w, k, h < 3 ? h : 3, w < 3 ? w : 3, &err)};
    for (int o = 0; o < 4; o++) {
      snprintf(what, sizeof what, "%s %zux%zu", ops[o]->kind, h, w);
      check_spectral(ops[o], what);
      sr_op_free(ops[o]);
    }
    sr_free(m);
    sr_free(k);
  }
  /* a chain has no spectral form: samplers that need one refuse it */
  sr_error err;
  size_t sh[2] = {4, 4};
  float k[4] = {1, 1, 1, 1};
  sr_op *pair[2] = {sr_op_blur(4, 4, k, 2, 2, &err), sr_op_identity(2, sh, &err)};
  sr_op *chain = sr_op_chain(pair, 2, &err);
  CHECK(chain && !chain->to_spec, "a chain must not claim a spectral form");
  sr_op_free(chain);
}
