/* op_complex.c — operators on complex images (interleaved re, im): a real operator applied to both parts, the
 * subsampled orthonormal c2c DFT and SENSE (coil sensitivities, then that DFT per coil).
 *
 * Adjoints are for the real inner product on the interleaved floats, <u, v> = Re Σ conj(u_i) v_i, so the
 * complex adjoint Aᴴ is also the real one. The k-space layout is sr_op_fourier's: centred, DC at [h/2][w/2],
 * centred index ci = (ku + h/2) mod h for FFT frequency ku (and likewise columns); the image is not shifted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "fft_util.h"
#include "scorerecon.h"

/* ---------------------------------------------------------------- a real operator on re and im */

typedef struct {
  sr_op *a;
} cwrap_impl;

/* ws layout: four real planes of plane(a) floats (re in, im in, re out, im out), then the member's ws */
static size_t plane(const sr_op *a) { return sr_stride(a->n_in > a->n_out ? a->n_in : a->n_out); }

/* Splits interleaved src (m complex values) into re[m], im[m]. */
static void deinterleave(const float *src, size_t m, float *re, float *im) {
  for (size_t i = 0; i < m; i++) {
    re[i] = src[2 * i];
    im[i] = src[2 * i + 1];
  }
}

static void interleave(const float *re, const float *im, size_t m, float *dst) {
  for (size_t i = 0; i < m; i++) {
    dst[2 * i] = re[i];
    dst[2 * i + 1] = im[i];
  }
}

typedef void (*apply_fn)(const sr_op *, const float *, float *, float *);

static void cwrap_apply(const sr_op *a, apply_fn fn, size_t m_in, size_t m_out, const float *x, float *y, float *ws) {
  size_t p = plane(a);
  float *re = ws, *im = ws + p, *ore = ws + 2 * p, *oim = ws + 3 * p, *inner = ws + 4 * p;
  deinterleave(x, m_in, re, im);
  fn(a, re, ore, inner);
  fn(a, im, oim, inner);
  interleave(ore, oim, m_out, y);
}

static void cwrap_forward(const sr_op *op, const float *x, float *y, float *ws) {
  const sr_op *a = ((const cwrap_impl *)op->impl)->a;
  cwrap_apply(a, a->forward, a->n_in, a->n_out, x, y, ws);
}

static void cwrap_adjoint(const sr_op *op, const float *y, float *x, float *ws) {
  const sr_op *a = ((const cwrap_impl *)op->impl)->a;
  cwrap_apply(a, a->adjoint, a->n_out, a->n_in, y, x, ws);
}

static void member_normal(const sr_op *a, const float *x, float *out, float *ws) { sr_op_normal(a, x, out, ws); }

static void cwrap_normal(const sr_op *op, const float *x, float *out, float *ws) {
  const sr_op *a = ((const cwrap_impl *)op->impl)->a;
  cwrap_apply(a, member_normal, a->n_in, a->n_in, x, out, ws);
}

static sr_status cwrap_plan_fft(sr_op *op, sr_fft_planner *pl, sr_error *err) {
  return sr_op_plan_fft(((cwrap_impl *)op->impl)->a, pl, err);
}

static void cwrap_destroy(sr_op *op) {
  cwrap_impl *c = op->impl;
  sr_free(op->obs_mask);
  op->obs_mask = NULL;
  if (c) sr_op_free(c->a);
  free(c);
}

sr_op *sr_op_complex(sr_op *a, sr_error *err) {
  if (!a) return NULL;
  if (a->out_complex || a->in_complex || a->structure == SR_OP_CHAIN) {
    sr_fail(err, SR_EINVAL, "operator", "%s cannot act on the parts of a complex image", a->kind);
    sr_op_free(a);
    return NULL;
  }
  sr_op *op = calloc(1, sizeof *op);
  cwrap_impl *c = calloc(1, sizeof *c);
  float *om = a->obs_mask ? sr_alloc(2 * a->n_out) : NULL;
  if (!op || !c || (a->obs_mask && !om)) {
    free(op); free(c); sr_free(om);
    sr_op_free(a);
    sr_fail(err, SR_ENOMEM, "operator", "out of memory");
    return NULL;
  }
  c->a = a;
  op->impl = c;
  op->kind = a->kind;
  op->structure = SR_OP_OPAQUE;
  op->in_rank = a->in_rank;
  op->out_rank = a->out_rank;
  memcpy(op->in_shape, a->in_shape, sizeof op->in_shape);
  memcpy(op->out_shape, a->out_shape, sizeof op->out_shape);
  op->in_complex = op->out_complex = 1;
  op->n_in = 2 * a->n_in;
  op->n_out = 2 * a->n_out;
  op->norm2 = a->norm2; /* the same singular values, each twice */
  /* the member's normal may need its forward output before its own workspace (sr_op_normal) */
  op->ws_floats = 4 * plane(a) + sr_stride(a->n_out) + a->ws_floats + 16;
  if (om)
    for (size_t i = 0; i < a->n_out; i++) om[2 * i] = om[2 * i + 1] = a->obs_mask[i];
  op->obs_mask = om;
  op->forward = cwrap_forward;
  op->adjoint = cwrap_adjoint;
  op->normal = cwrap_normal;
  op->destroy = cwrap_destroy;
  op->plan_fft = cwrap_plan_fft;
  return op;
}

/* ---------------------------------------------------------------- SENSE (one coil, S = 1: the c2c Fourier op) */

typedef struct {
  size_t h, w, coils;
  fftwf_plan fwd, bwd;   /* in place, on 64-byte aligned arrays of h*w complex values */
  float *sens;           /* coils*h*w complex, NULL: one coil with S = 1 */
  float *mask;           /* h*w 0/1, centred */
  float *umask;          /* h*w: mask at the FFT (uncentred) index, / N for the normal operator */
  float scale;           /* 1/√N */
} sense_impl;

/* Centred index of the FFT frequency (ku, kv). */
static size_t centred(const sense_impl *s, size_t ku, size_t kv) {
  size_t ci = ku + s->h / 2, cj = kv + s->w / 2;
  if (ci >= s->h) ci -= s->h;
  if (cj >= s->w) cj -= s->w;
  return ci * s->w + cj;
}

/* ws layout: [buf: 2N floats][acc: 2N floats] */
/* buf = S_c ⊙ x (or x, without coil maps) */
static void weight(const sense_impl *s, size_t c, const float *x, float *buf) {
  size_t N = s->h * s->w;
  if (!s->sens) {
    memcpy(buf, x, 2 * N * sizeof(float));
    return;
  }
  const float *S = s->sens + 2 * c * N;
  for (size_t i = 0; i < N; i++) {
    float a = S[2 * i], b = S[2 * i + 1], u = x[2 * i], v = x[2 * i + 1];
    buf[2 * i] = a * u - b * v;
    buf[2 * i + 1] = a * v + b * u;
  }
}

static void sense_forward(const sr_op *op, const float *x, float *y, float *ws) {
  const sense_impl *s = op->impl;
  size_t N = s->h * s->w;
  float *buf = ws;
  for (size_t c = 0; c < s->coils; c++) {
    weight(s, c, x, buf);
    fftwf_execute_dft(s->fwd, (fftwf_complex *)buf, (fftwf_complex *)buf);
    float *yc = y + 2 * c * N;
    for (size_t ku = 0; ku < s->h; ku++)
      for (size_t kv = 0; kv < s->w; kv++) {
        size_t k = ku * s->w + kv, j = centred(s, ku, kv);
        float m = s->mask[j] * s->scale;
        yc[2 * j] = m * buf[2 * k];
        yc[2 * j + 1] = m * buf[2 * k + 1];
      }
  }
}

/* x += conj(S_c) ⊙ buf (or x = buf for the first coil) */
static void accumulate(const sense_impl *s, size_t c, const float *buf, float *x) {
  size_t N = s->h * s->w;
  if (!s->sens) {
    memcpy(x, buf, 2 * N * sizeof(float));
    return;
  }
  const float *S = s->sens + 2 * c * N;
  for (size_t i = 0; i < N; i++) {
    float a = S[2 * i], b = S[2 * i + 1], u = buf[2 * i], v = buf[2 * i + 1];
    float re = a * u + b * v, im = a * v - b * u;
    if (c == 0) {
      x[2 * i] = re;
      x[2 * i + 1] = im;
    } else {
      x[2 * i] += re;
      x[2 * i + 1] += im;
    }
  }
}

static void sense_adjoint(const sr_op *op, const float *y, float *x, float *ws) {
  const sense_impl *s = op->impl;
  size_t N = s->h * s->w;
  float *buf = ws;
  for (size_t c = 0; c < s->coils; c++) {
    const float *yc = y + 2 * c * N;
    for (size_t ku = 0; ku < s->h; ku++)
      for (size_t kv = 0; kv < s->w; kv++) {
        size_t k = ku * s->w + kv, j = centred(s, ku, kv);
        float m = s->mask[j] * s->scale;
        buf[2 * k] = m * yc[2 * j];
        buf[2 * k + 1] = m * yc[2 * j + 1];
      }
    fftwf_execute_dft(s->bwd, (fftwf_complex *)buf, (fftwf_complex *)buf);
    accumulate(s, c, buf, x);
  }
}

/* AᴴA x = Σ_c conj(S_c) ⊙ Fᴴ M F (S_c ⊙ x): the mask multiplies the uncentred spectrum directly. */
static void sense_normal(const sr_op *op, const float *x, float *out, float *ws) {
  const sense_impl *s = op->impl;
  size_t N = s->h * s->w;
  float *buf = ws, *acc = ws + sr_stride(2 * N);
  for (size_t c = 0; c < s->coils; c++) {
    weight(s, c, x, buf);
    fftwf_execute_dft(s->fwd, (fftwf_complex *)buf, (fftwf_complex *)buf);
    for (size_t k = 0; k < N; k++) {
      buf[2 * k] *= s->umask[k];
      buf[2 * k + 1] *= s->umask[k];
    }
    fftwf_execute_dft(s->bwd, (fftwf_complex *)buf, (fftwf_complex *)buf);
    accumulate(s, c, buf, acc);
  }
  memcpy(out, acc, 2 * N * sizeof(float));
}

/* c2c is what a complex image needs (no Hermitian symmetry to exploit); tuned plans replace the ESTIMATE pair.
 * norm2 (a power iteration for SENSE) stays the ESTIMATE plan's, as the blur's spectrum does (op_blur.c). */
static sr_status sense_plan_fft(sr_op *op, sr_fft_planner *pl, sr_error *err) {
  sense_impl *s = op->impl;
  fftwf_plan fwd, bwd;
  sr_status st = sr__fftc_plan(s->h, s->w, pl, &fwd, &bwd, NULL, err);
  if (st) return st;
  fftwf_destroy_plan(s->fwd);
  fftwf_destroy_plan(s->bwd);
  s->fwd = fwd;
  s->bwd = bwd;
  return SR_OK;
}

static void sense_destroy(sr_op *op) {
  sense_impl *s = op->impl;
  sr_free(op->obs_mask);
  op->obs_mask = NULL;
  if (!s) return;
  if (s->fwd) fftwf_destroy_plan(s->fwd);
  if (s->bwd) fftwf_destroy_plan(s->bwd);
  sr_free(s->sens);
  sr_free(s->mask);
  sr_free(s->umask);
  free(s);
}

static sr_op *sense_new(size_t coils, size_t h, size_t w, const float *sens, const float *mask, sr_error *err) {
  if (h < 1 || w < 1 || coils < 1) {
    sr_fail(err, SR_EINVAL, "shape", "needs a 2-D image shape [H, W] and at least one coil");
    return NULL;
  }
  size_t N = h * w;
  sr_op *op = calloc(1, sizeof *op);
  sense_impl *s = calloc(1, sizeof *s);
  if (!op || !s) {
    free(op); free(s);
    sr_fail(err, SR_ENOMEM, "operator", "out of memory");
    return NULL;
  }
  op->impl = s;
  op->destroy = sense_destroy;
  s->h = h;
  s->w = w;
  s->coils = coils;
  s->mask = sr_alloc(N);
  s->umask = sr_alloc(N);
  if (sens) s->sens = sr_alloc(2 * coils * N);
  op->obs_mask = sr_alloc(2 * coils * N);
  sr__fftc_plan(h, w, NULL, &s->fwd, &s->bwd, NULL, NULL); /* ESTIMATE; NULL plans are reported below */
  if (!s->mask || !s->umask || (sens && !s->sens) || !op->obs_mask || !s->fwd || !s->bwd) {
    sr_op_free(op);
    sr_fail(err, SR_ENOMEM, "operator", "out of memory (or FFTW could not plan %zux%zu)", h, w);
    return NULL;
  }
  if (sens) memcpy(s->sens, sens, 2 * coils * N * sizeof(float));
  size_t kept = 0;
  for (size_t i = 0; i < N; i++) {
    s->mask[i] = mask[i] != 0.0f ? 1.0f : 0.0f;
    kept += mask[i] != 0.0f;
  }
  for (size_t c = 0; c < coils; c++)
    for (size_t i = 0; i < N; i++) op->obs_mask[2 * (c * N + i)] = op->obs_mask[2 * (c * N + i) + 1] = s->mask[i];
  for (size_t ku = 0; ku < h; ku++)
    for (size_t kv = 0; kv < w; kv++) s->umask[ku * w + kv] = (float)(s->mask[centred(s, ku, kv)] / (double)N);
  s->scale = (float)(1.0 / sqrt((double)N));
  op->structure = SR_OP_OPAQUE;
  op->in_rank = 2;
  op->in_shape[0] = h;
  op->in_shape[1] = w;
  op->in_complex = op->out_complex = 1;
  op->n_in = 2 * N;
  op->n_out = 2 * coils * N;
  op->ws_floats = 2 * sr_stride(2 * N);
  op->forward = sense_forward;
  op->adjoint = sense_adjoint;
  op->normal = sense_normal;
  op->plan_fft = sense_plan_fft;
  op->norm2 = kept ? 1.0 : 0.0; /* the c2c Fourier op: ‖M F‖² = 1 unless nothing is observed */
  return op;
}

sr_op *sr_op_fourier_complex(size_t h, size_t w, const float *mask, sr_error *err) {
  sr_op *op = sense_new(1, h, w, NULL, mask, err);
  if (!op) return NULL;
  op->kind = "fourier";
  op->out_rank = 2;
  op->out_shape[0] = h;
  op->out_shape[1] = w;
  return op;
}

sr_op *sr_op_sense(size_t coils, size_t h, size_t w, const float *sens, const float *mask, sr_error *err) {
  if (!sens) {
    sr_fail(err, SR_EINVAL, "operator.sensitivities", "are required");
    return NULL;
  }
  sr_op *op = sense_new(coils, h, w, sens, mask, err);
  if (!op) return NULL;
  op->kind = "sense";
  op->out_rank = 3;
  op->out_shape[0] = coils;
  op->out_shape[1] = h;
  op->out_shape[2] = w;
  /* ‖A‖² = the largest eigenvalue of Σ_c S_cᴴ Fᴴ M F S_c: no closed form with a mask. The power iteration (from
   * a fixed start: deterministic) approaches it from below, so 2% is added, and the result capped at
   * max_p Σ_c |S_c(p)|², the exact value without a mask and a bound with one. */
  double bound = 0.0;
  size_t N = h * w;
  for (size_t i = 0; i < N; i++) {
    double e = 0.0;
    for (size_t c = 0; c < coils; c++) {
      const float *S = sens + 2 * (c * N + i);
      e += (double)S[0] * S[0] + (double)S[1] * S[1];
    }
    if (e > bound) bound = e;
  }
  double est = op->norm2 > 0 ? 1.02 * sr_op_norm2_estimate(op, 100) : 0.0;
  op->norm2 = isfinite(est) && est < bound ? est : bound;
  return op;
}
