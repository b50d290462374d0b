/* op_structure.c — how AᵀA factors for a whole operator (op_structure.h), from its members' sr_op.structure. */
#include "op_structure.h"

#include <stdlib.h>
#include <string.h>

/* Appends op's members (through nested chains) to f; 0 when there are more than SR_FACTORS_MAX. */
static int flatten(const sr_op *op, sr_op_factors *f) {
  sr_op *const *sub;
  int k = sr_op_members(op, &sub), ok = 1;
  if (k) {
    for (int i = 0; i < k; i++) ok &= flatten(sub[i], f);
    return ok;
  }
  if (f->n >= SR_FACTORS_MAX) return 0;
  f->m[f->n++] = (sr_op *)op;
  return 1;
}

static int is_identity(const sr_op *o) { return o->structure == SR_OP_DIAGONAL && !o->obs_mask; }
static int is_diag(const sr_op *o) {
  size_t kh, kw;
  if (o->structure == SR_OP_DIAGONAL) return 1;
  return sr_op_kernel(o, &kh, &kw) && kh * kw == 1; /* a 1x1 kernel normalised to 1 is the identity */
}
static int is_conv(const sr_op *o) { return o->structure == SR_OP_CONVOLUTION; }

void sr__op_factor(const sr_op *op, sr_op_factors *f) {
  f->n = f->p1 = f->p2 = 0;
  f->kind = SR_NORMAL_DIAGONAL;
  if (!op) return;
  if (!flatten(op, f)) {
    f->kind = SR_NORMAL_GENERAL;
    return;
  }
  int i = 0, n = f->n, convs = 0;
  while (i < n && is_diag(f->m[i])) i++;
  f->p1 = i;
  while (i < n && (is_conv(f->m[i]) || is_identity(f->m[i]))) convs += !is_diag(f->m[i++]);
  f->p2 = i;
  if (i == n - 1 && f->m[i]->structure == SR_OP_FOURIER) {
    f->kind = SR_NORMAL_CIRCULANT;
    return;
  }
  while (i < n && is_diag(f->m[i])) i++;
  f->kind = i < n ? SR_NORMAL_GENERAL : convs ? SR_NORMAL_LOCAL : SR_NORMAL_DIAGONAL;
}

void sr__op_factors_diag(const sr_op_factors *f, int from, int to, size_t n, double *d) {
  for (size_t k = 0; k < n; k++) d[k] = 1.0;
  for (int i = from; i < to; i++)
    if (f->m[i]->obs_mask)
      for (size_t k = 0; k < n; k++) d[k] *= f->m[i]->obs_mask[k];
}

int sr__op_factors_normal(const sr_op_factors *f, int from, int to, const float *x, float *out) {
  size_t big = 16, wsf = 16;
  for (int i = from; i < to; i++) {
    if (sr_stride(f->m[i]->n_out) > big) big = sr_stride(f->m[i]->n_out);
    if (sr_stride(f->m[i]->n_in) > big) big = sr_stride(f->m[i]->n_in);
    if (f->m[i]->ws_floats > wsf) wsf = f->m[i]->ws_floats;
  }
  float *b0 = sr_alloc(big), *b1 = sr_alloc(big), *ws = sr_alloc(wsf + 16);
  if (!b0 || !b1 || !ws) {
    sr_free(b0); sr_free(b1); sr_free(ws);
    return -1;
  }
  memcpy(b0, x, f->m[from]->n_in * sizeof(float));
  float *cur = b0, *nxt = b1;
  for (int i = from; i < to; i++) {
    f->m[i]->forward(f->m[i], cur, nxt, ws);
    float *t = cur; cur = nxt; nxt = t;
  }
  for (int i = to - 1; i >= from; i--) {
    f->m[i]->adjoint(f->m[i], cur, nxt, ws);
    float *t = cur; cur = nxt; nxt = t;
  }
  memcpy(out, cur, f->m[from]->n_in * sizeof(float));
  sr_free(b0); sr_free(b1); sr_free(ws);
  return 0;
}

int sr__op_factors_kernel(const sr_op_factors *f, size_t h, size_t w, double *ker) {
  size_t n = h * w;
  double *buf = calloc(n, sizeof(double));
  if (!buf) return -1;
  double *cur = ker, *nxt = buf;
  memset(cur, 0, n * sizeof(double));
  cur[0] = 1.0;
  for (int m = f->p1; m < f->p2; m++) { /* convolve the kernel so far with member m's */
    size_t kh, kw;
    const double *kb = sr_op_kernel(f->m[m], &kh, &kw);
    if (!kb) continue; /* identity */
    memset(nxt, 0, n * sizeof(double));
    for (size_t a = 0; a < n; a++) {
      if (cur[a] == 0.0) continue;
      size_t ai = a / w, aj = a % w;
      for (size_t i = 0; i < kh; i++)
        for (size_t j = 0; j < kw; j++) {
          size_t ti = (ai + i + h * kh - kh / 2) % h, tj = (aj + j + w * kw - kw / 2) % w;
          nxt[ti * w + tj] += cur[a] * kb[i * kw + j];
        }
    }
    double *t = cur; cur = nxt; nxt = t;
  }
  if (cur != ker) memcpy(ker, cur, n * sizeof(double));
  free(buf);
  return 0;
}
