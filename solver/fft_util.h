/* fft_util.h — private helpers for the FFT-based operators: plans made once (ESTIMATE, or re-made by a tuned
 * planner: fft_plan.c), executed on any aligned arrays. */
#ifndef SR_FFT_UTIL_H
#define SR_FFT_UTIL_H
#include <fftw3.h>
#include <stddef.h>

#include "scorerecon.h"

typedef struct {
  size_t h, w, wh;          /* wh = w/2 + 1 */
  fftwf_plan r2c, c2r;
} sr_fft2;

/* Plans an out-of-place real 2-D transform pair (FFTW_ESTIMATE: deterministic plans, same bits every run). */
int sr_fft2_plan(sr_fft2 *f, size_t h, size_t w);
void sr_fft2_destroy(sr_fft2 *f);

/* One set of plans to make with given FFTW flags: make returns 0 when every plan was made (it destroys its partial
 * ones otherwise); drop destroys what make made. `what` names the transforms in messages. */
typedef struct {
  int (*make)(void *arg, unsigned flags);
  void (*drop)(void *arg);
  void *arg;
  const char *what;
} sr__fft_maker;
/* Makes m's plans the planner's way (fft_plan.c): ESTIMATE, or tuned from the wisdom file (measuring and adding
 * to the file when it lacks them; *measured counts those, may be NULL). */
sr_status sr__fft_planner_make(sr_fft_planner *pl, const sr__fft_maker *m, int *measured, sr_error *err);
/* Replaces f's plans by the planner's (on failure f keeps its old ones). */
sr_status sr__fft2_replan(sr_fft2 *f, sr_fft_planner *pl, int *measured, sr_error *err);
/* The in-place c2c pair of an h x w complex image (forward, backward) the planner's way; *fwd and *bwd are set
 * only on success. */
sr_status sr__fftc_plan(size_t h, size_t w, sr_fft_planner *pl, fftwf_plan *fwd, fftwf_plan *bwd, int *measured,
                        sr_error *err);
/* X (h*wh complex) = unnormalised DFT of x. x is copied to `scratch` (h*w floats) first if misaligned. */
void sr_fft2_forward(const sr_fft2 *f, const float *x, fftwf_complex *X, float *scratch);
/* x = unnormalised inverse DFT of X (X is destroyed). */
void sr_fft2_inverse(const sr_fft2 *f, fftwf_complex *X, float *x, float *scratch);

/* The spectral form of an FFT-diagonal operator (op->to_spec etc., include/scorerecon.h): c = r2c(x)/√N on the
 * half spectrum; lambda_half (h*wh values, one per complex slot) are AᵀA's eigenvalues. Fills op->spec_* and
 * the to/from functions; `fft` must live in the op's impl as its first member. Returns -1 on allocation failure. */
struct sr_op;
/* The spectral form of an operator whose normal is diagonal in the real 2-D DFT: caps sets spec_floats, to_spec
 * and from_spec (at construction); fill builds the arrays (sr_op_spec_prepare), λ = power[k] · scale on the
 * half spectrum. */
void sr__fft2_spec_caps(struct sr_op *op, const sr_fft2 *f);
int sr__fft2_spec_fill(struct sr_op *op, const sr_fft2 *f, const float *power, double scale);
#endif
