/* op.c — what every linear operator shares: freeing, the normal operator, composition (chains) and the
 * power-iteration norm estimate. Concrete operators live in op_mask.c, op_blur.c and op_fourier.c. */
#include "scorerecon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sr_op_free(sr_op *op) {
  if (!op) return;
  if (op->destroy) op->destroy(op);
  sr_free(op->spec_lambda);
  sr_free(op->spec_weight);
  sr_free(op->spec_dof);
  free(op);
}

void sr_op_normal(const sr_op *op, const float *x, float *out, float *ws) {
  if (op->normal) {
    op->normal(op, x, out, ws);
    return;
  }
  /* A^T (A x): the intermediate lives at the start of ws, the operator's own workspace after it. */
  float *tmp = ws;
  op->forward(op, x, tmp, ws + sr_stride(op->n_out));
  op->adjoint(op, tmp, out, ws + sr_stride(op->n_out));
}

double sr_op_norm2_estimate(const sr_op *op, int iters) {
  float *x = sr_alloc(sr_stride(op->n_in));
  float *y = sr_alloc(sr_stride(op->n_in));
  float *ws = sr_alloc(sr_stride(op->n_out) + op->ws_floats + 16);
  if (!x || !y || !ws) {
    sr_free(x); sr_free(y); sr_free(ws);
    return NAN;
  }
  /* Deterministic start with every component present. */
  for (size_t i = 0; i < op->n_in; i++) x[i] = 1.0f + 0.37f * (float)((i * 7919u) % 13u);
  double lam = 0.0;
  for (int it = 0; it < iters; it++) {
    double nx = 0.0;
    for (size_t i = 0; i < op->n_in; i++) nx += (double)x[i] * x[i];
    nx = sqrt(nx);
    if (nx == 0.0) break;
    for (size_t i = 0; i < op->n_in; i++) x[i] = (float)(x[i] / nx);
    sr_op_normal(op, x, y, ws);
    double d = 0.0;
    for (size_t i = 0; i < op->n_in; i++) d += (double)x[i] * y[i];
    lam = d;
    memcpy(x, y, op->n_in * sizeof(float));
  }
  sr_free(x); sr_free(y); sr_free(ws);
  return lam;
}

/* ---------------------------------------------------------------- chains: A = A_{n-1} ∘ … ∘ A_0 */

typedef struct {
  int n;
  sr_op **ops;
  size_t buf;   /* floats per intermediate buffer (stride of the largest intermediate) */
  size_t inner; /* largest workspace of a member */
} chain_impl;

static void chain_forward(const sr_op *op, const float *x, float *y, float *ws) {
  const chain_impl *c = op->impl;
  float *bufs[2] = {ws, ws + c->buf};
  float *inner = ws + 2 * c->buf;
  const float *in = x;
  for (int i = 0; i < c->n; i++) {
    float *out = (i == c->n - 1) ? y : bufs[i & 1];
    c->ops[i]->forward(c->ops[i], in, out, inner);
    in = out;
  }
}

static void chain_adjoint(const sr_op *op, const float *y, float *x, float *ws) {
  const chain_impl *c = op->impl;
  float *bufs[2] = {ws, ws + c->buf};
  float *inner = ws + 2 * c->buf;
  const float *in = y;
  for (int i = c->n - 1, k = 0; i >= 0; i--, k++) {
    float *out = (i == 0) ? x : bufs[k & 1];
    c->ops[i]->adjoint(c->ops[i], in, out, inner);
    in = out;
  }
}

static void chain_destroy(sr_op *op) {
  chain_impl *c = op->impl;
  if (!c) return;
  for (int i = 0; i < c->n; i++) sr_op_free(c->ops[i]);
  free(c->ops);
  free(c);
  op->obs_mask = NULL; /* borrowed from the last member, freed with it */
}

static sr_status chain_plan_fft(sr_op *op, sr_fft_planner *pl, sr_error *err);

sr_op *sr_op_chain(sr_op **ops, int n, sr_error *err) {
  if (n < 1) {
    sr_fail(err, SR_EINVAL, "operator", "list must hold at least one operator");
    return NULL;
  }
  char field[64];
  for (int i = 1; i < n; i++) {
    snprintf(field, sizeof field, "operator[%d]", i);
    if (ops[i - 1]->out_complex && !ops[i]->in_complex) {
      sr_fail(err, SR_EINVAL, field, "cannot follow %s: its output is complex, operators take real images",
              ops[i - 1]->kind);
      goto fail;
    }
    if (ops[i]->n_in != ops[i - 1]->n_out) {
      sr_fail(err, SR_EINVAL, field, "input size %zu does not match the output size %zu of operator[%d]",
              ops[i]->n_in, ops[i - 1]->n_out, i - 1);
      goto fail;
    }
  }
  sr_op *op = calloc(1, sizeof *op);
  chain_impl *c = calloc(1, sizeof *c);
  sr_op **copy = malloc((size_t)n * sizeof *copy);
  if (!op || !c || !copy) {
    free(op); free(c); free(copy);
    sr_fail(err, SR_ENOMEM, "operator", "out of memory");
    goto fail;
  }
  memcpy(copy, ops, (size_t)n * sizeof *copy);
  c->n = n;
  c->ops = copy;
  double norm2 = 1.0;
  for (int i = 0; i < n; i++) {
    if (i < n - 1 && sr_stride(ops[i]->n_out) > c->buf) c->buf = sr_stride(ops[i]->n_out);
    if (ops[i]->ws_floats > c->inner) c->inner = ops[i]->ws_floats;
    norm2 *= ops[i]->norm2;
  }
  const sr_op *first = ops[0], *last = ops[n - 1];
  op->kind = "chain";
  op->structure = SR_OP_CHAIN;
  op->in_rank = first->in_rank;
  memcpy(op->in_shape, first->in_shape, sizeof op->in_shape);
  op->out_rank = last->out_rank;
  memcpy(op->out_shape, last->out_shape, sizeof op->out_shape);
  op->out_complex = last->out_complex;
  op->in_complex = first->in_complex;
  op->n_in = first->n_in;
  op->n_out = last->n_out;
  op->ws_floats = 2 * c->buf + c->inner;
  op->obs_mask = last->obs_mask;
  op->forward = chain_forward;
  op->adjoint = chain_adjoint;
  op->normal = NULL;
  op->destroy = chain_destroy;
  op->plan_fft = chain_plan_fft;
  op->impl = c;
  /* The product of the members' norms bounds ||A||^2; the power estimate is sharper but a lower bound. */
  op->norm2 = norm2;
  return op;
fail:
  for (int i = 0; i < n; i++) sr_op_free(ops[i]);
  return NULL;
}

static sr_status chain_plan_fft(sr_op *op, sr_fft_planner *pl, sr_error *err) {
  const chain_impl *c = op->impl;
  for (int i = 0; i < c->n; i++) {
    sr_status st = sr_op_plan_fft(c->ops[i], pl, err);
    if (st) return st;
  }
  return SR_OK;
}

sr_status sr_op_plan_fft(sr_op *op, sr_fft_planner *pl, sr_error *err) {
  if (!op || !op->plan_fft || sr_fft_planner_mode(pl) == SR_FFT_ESTIMATE) return SR_OK; /* made with ESTIMATE */
  return op->plan_fft(op, pl, err);
}

int sr_op_members(const sr_op *op, sr_op *const **ops) {
  if (!op || op->destroy != chain_destroy) return 0;
  const chain_impl *c = op->impl;
  *ops = c->ops;
  return c->n;
}

int sr_op_spec_prepare(sr_op *op) {
  if (!op || !op->to_spec || !op->build_spec) return -1;
  if (op->spec_lambda && op->spec_weight && op->spec_dof) return 0;
  return op->build_spec(op);
}
