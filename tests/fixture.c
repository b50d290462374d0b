/* fixture.c — the shared sampler-test problems (fixture.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dense.h"
#include "fixture.h"
#include "test.h"

static unsigned long lcg = 987654321;
void fixture_seed(unsigned long seed) { lcg = seed; }
unsigned long fixture_state(void) { return lcg; }
double urand(void) {
  lcg = lcg * 6364136223846793005UL + 1442695040888963407UL;
  return (double)(lcg >> 11) / 9007199254740992.0;
}
double nrand(void) { return sqrt(-2 * log(urand() + 1e-300)) * cos(2 * M_PI * urand()); }


/* A small problem: operator kind, Gaussian prior N(m, s²), noise sigma, observation from a prior draw. */
void fixture_make(fixture *f, const char *kind, double sigma) {
  memset(f, 0, sizeof *f);
  sr_problem *pb = &f->pb;
  sr_problem_init(pb);
  f->m = 0.2;
  f->s = 0.7;
  sr_error err;
  size_t h = 6, w = 8;
  sr_op *op = NULL;
  if (!strcmp(kind, "identity")) {
    h = 5; w = 6;
    size_t sh[2] = {h, w};
    op = sr_op_identity(2, sh, &err);
  } else if (!strcmp(kind, "mask")) {
    h = 6; w = 7;
    size_t sh[2] = {h, w};
    float mk[42];
    for (int i = 0; i < 42; i++) mk[i] = urand() < 0.6 ? 1.0f : 0.0f;
    op = sr_op_mask(2, sh, mk, &err);
  } else if (!strcmp(kind, "blur")) {
    h = 7; w = 10;
    float k[15];
    for (int i = 0; i < 15; i++) k[i] = (float)(0.1 + urand());
    op = sr_op_blur(h, w, k, 3, 5, &err);
  } else if (!strcmp(kind, "fourier") || !strcmp(kind, "fourier_odd")) {
    if (kind[7]) { h = 5; w = 7; }
    float mk[64];
    for (size_t i = 0; i < h * w; i++) mk[i] = urand() < 0.5 ? 1.0f : 0.0f;
    op = sr_op_fourier(h, w, mk, &err);
  } else if (!strcmp(kind, "chain")) {
    h = 6; w = 9;
    size_t sh[2] = {h, w};
    float k[9], mk[54];
    for (int i = 0; i < 9; i++) k[i] = (float)(0.1 + urand());
    for (int i = 0; i < 54; i++) mk[i] = urand() < 0.7 ? 1.0f : 0.0f;
    sr_op *ops[2] = {sr_op_blur(h, w, k, 3, 3, &err), sr_op_mask(2, sh, mk, &err)};
    op = sr_op_chain(ops, 2, &err);
  } else if (!strcmp(kind, "complex_identity")) {
    h = 4; w = 5;
    size_t sh[2] = {h, w};
    op = sr_op_complex(sr_op_identity(2, sh, &err), &err);
  } else if (!strcmp(kind, "complex_fourier")) {
    h = 4; w = 6;
    float mk[24];
    for (size_t i = 0; i < h * w; i++) mk[i] = urand() < 0.5 ? 1.0f : 0.0f;
    op = sr_op_fourier_complex(h, w, mk, &err);
  } else if (!strcmp(kind, "sense")) {
    h = 3; w = 5;
    float mk[15], sens[2 * 3 * 15];
    for (size_t i = 0; i < h * w; i++) mk[i] = urand() < 0.6 ? 1.0f : 0.0f;
    for (size_t i = 0; i < 2 * 3 * h * w; i++) sens[i] = (float)(0.6 * nrand());
    op = sr_op_sense(3, h, w, sens, mk, &err);
  } else if (!strcmp(kind, "none")) {
    h = 4; w = 5;
  }
  pb->rank = 2;
  pb->shape[0] = h;
  pb->shape[1] = w;
  pb->complex_image = op && op->in_complex;
  pb->n = (pb->complex_image ? 2 : 1) * h * w; /* complex: interleaved (re, im), a Gaussian prior on each part */
  pb->op = op;
  pb->prior = sr_prior_gaussian(f->m, f->s, &err);
  pb->noise_sigma = sigma;
  pb->seed = getenv("SR_TEST_SEED") ? strtoull(getenv("SR_TEST_SEED"), NULL, 10) : 1234;
  pb->want_samples = 1;
  size_t n = pb->n;
  f->G = calloc(n * n, sizeof(double));
  f->aty = calloc(n, sizeof(double));
  if (op) {
    float *x = sr_alloc(n), *ws = sr_alloc(op->ws_floats + 16);
    for (size_t i = 0; i < n; i++) x[i] = (float)(f->m + f->s * nrand());
    pb->y = sr_alloc(op->n_out);
    op->forward(op, x, pb->y, ws);
    for (size_t i = 0; i < op->n_out; i++) {
      pb->y[i] += (float)(sigma * nrand());
      if (op->obs_mask) pb->y[i] *= op->obs_mask[i];
    }
    dense_normal(op, pb->y, f->G, f->aty);
    sr_free(x);
    sr_free(ws);
  }
}

void fixture_free(fixture *f) {
  sr_problem_clear(&f->pb);
  free(f->G);
  free(f->aty);
}


int fixture_run(sr_problem *pb, sr_result *res) {
  sr_error err;
  sr_status st = sr_problem_validate(pb, &err);
  CHECK(st == SR_OK, "validate: %s", err.msg);
  if (st) return 0;
  st = sr_run(pb, res, NULL, NULL, &err);
  CHECK(st == SR_OK, "run: %s", err.msg);
  return st == SR_OK;
}

void gmm2_posterior(const double w[2], const double mu[2], const double sd[2], double sigma, double y0, double pw[2],
                    double pm[2], double pv[2]) {
  double zs = 0;
  for (int k = 0; k < 2; k++) {
    double v = sd[k] * sd[k] + sigma * sigma;
    pw[k] = w[k] * exp(-0.5 * (y0 - mu[k]) * (y0 - mu[k]) / v) / sqrt(v);
    zs += pw[k];
    pv[k] = 1 / (1 / (sd[k] * sd[k]) + 1 / (sigma * sigma));
    pm[k] = pv[k] * (mu[k] / (sd[k] * sd[k]) + y0 / (sigma * sigma));
  }
  for (int k = 0; k < 2; k++) pw[k] /= zs;
}

void fixture_posterior(const fixture *f, double m, double s, gauss_law *g) {
  law_alloc(g, f->pb.n);
  if (f->pb.op) {
    dense_posterior(f->pb.n, f->G, f->aty, m, s, f->pb.noise_sigma, g);
    return;
  }
  for (size_t i = 0; i < f->pb.n; i++) {
    g->mean[i] = m;
    g->cov[i * f->pb.n + i] = s * s;
  }
}
