/* fft_util.h — private helpers for the FFT-based operators: plans made once, executed on any aligned arrays. */
#ifndef SR_FFT_UTIL_H
#define SR_FFT_UTIL_H
#include <fftw3.h>
#include <stddef.h>

typedef struct {
  size_t h, w, wh;          /* wh = w/2 + 1 */
  fftwf_plan r2c, c2r;
} sr_fft2;

/* Plans an out-of-place real 2-D transform pair (FFTW_ESTIMATE: deterministic plans, same bits every run). */
int sr_fft2_plan(sr_fft2 *f, size_t h, size_t w);
void sr_fft2_destroy(sr_fft2 *f);
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
