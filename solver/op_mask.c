/* op_mask.c — the diagonal 0/1 operators: identity (denoising) and mask (inpainting), and random masks. */
#include "scorerecon.h"

#include <stdlib.h>
#include <string.h>

static void mask_apply(const sr_op *op, const float *x, float *y, float *ws) {
  (void)ws;
  const float *m = op->obs_mask;
  if (!m) {
    if (x != y) memcpy(y, x, op->n_in * sizeof(float));
    return;
  }
  for (size_t i = 0; i < op->n_in; i++) y[i] = m[i] * x[i];
}

/* Spectral form: V = I, λ = the mask (1 for identity). */
static void spec_copy(const sr_op *op, const float *x, float *c, float *ws) {
  (void)ws;
  if (x != c) memcpy(c, x, op->n_in * sizeof(float));
}

static int diag_spec(sr_op *op) {
  size_t n = op->n_in;
  op->spec_lambda = sr_alloc(n);
  op->spec_weight = sr_alloc(n);
  op->spec_dof = sr_alloc(n);
  if (!op->spec_lambda || !op->spec_weight || !op->spec_dof) return -1;
  for (size_t i = 0; i < n; i++) {
    op->spec_lambda[i] = op->obs_mask ? op->obs_mask[i] : 1.0f;
    op->spec_weight[i] = op->spec_dof[i] = 1.0f;
  }
  return 0;
}

static void mask_destroy(sr_op *op) { sr_free(op->obs_mask); op->obs_mask = NULL; }

static sr_op *diag_new(int rank, const size_t *shape, const char *kind, sr_error *err) {
  if (rank < 1 || rank > 4) {
    sr_fail(err, SR_EINVAL, "shape", "must have 1 to 4 dimensions");
    return NULL;
  }
  sr_op *op = calloc(1, sizeof *op);
  if (!op) {
    sr_fail(err, SR_ENOMEM, "operator", "out of memory");
    return NULL;
  }
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  op->kind = kind;
  op->structure = SR_OP_DIAGONAL;
  op->in_rank = op->out_rank = rank;
  memcpy(op->in_shape, shape, (size_t)rank * sizeof *shape);
  memcpy(op->out_shape, shape, (size_t)rank * sizeof *shape);
  op->n_in = op->n_out = n;
  op->norm2 = 1.0;
  op->forward = op->adjoint = op->normal = mask_apply;
  op->destroy = mask_destroy;
  op->spec_floats = n; /* the arrays come with sr_op_spec_prepare */
  op->to_spec = op->from_spec = spec_copy;
  op->build_spec = diag_spec;
  return op;
}

sr_op *sr_op_identity(int rank, const size_t *shape, sr_error *err) {
  return diag_new(rank, shape, "identity", err);
}

sr_op *sr_op_mask(int rank, const size_t *shape, const float *mask, sr_error *err) {
  sr_op *op = diag_new(rank, shape, "mask", err);
  if (!op) return NULL;
  op->obs_mask = sr_alloc(op->n_in);
  if (!op->obs_mask) {
    sr_op_free(op);
    sr_fail(err, SR_ENOMEM, "operator.mask", "out of memory");
    return NULL;
  }
  size_t kept = 0;
  for (size_t i = 0; i < op->n_in; i++) {
    op->obs_mask[i] = mask[i] != 0.0f ? 1.0f : 0.0f;
    kept += mask[i] != 0.0f;
  }
  op->norm2 = kept ? 1.0 : 0.0;
  return op;
}

void sr_mask_random(size_t n, double fraction, uint64_t seed, float *mask) {
  sr_rng r = sr_rng_make(seed, 0);
  double u[64];
  for (size_t i = 0; i < n; i += 64) {
    size_t m = n - i < 64 ? n - i : 64;
    sr_rng_uniforms(&r, i / 64, u, m);
    for (size_t j = 0; j < m; j++) mask[i + j] = u[j] < fraction ? 1.0f : 0.0f;
  }
}
