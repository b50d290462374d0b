/* fft_util.c — the real 2-D FFT pair shared by op_blur.c and op_fourier.c: plan once, execute many. */
#include "fft_util.h"

#include <string.h>

#include "scorerecon.h"

int sr_fft2_plan(sr_fft2 *f, size_t h, size_t w) {
  memset(f, 0, sizeof *f);
  f->h = h;
  f->w = w;
  f->wh = w / 2 + 1;
  float *x = sr_alloc(h * w);
  float *c = sr_alloc(2 * h * f->wh);
  if (!x || !c) {
    sr_free(x); sr_free(c);
    return -1;
  }
  f->r2c = fftwf_plan_dft_r2c_2d((int)h, (int)w, x, (fftwf_complex *)c, FFTW_ESTIMATE);
  f->c2r = fftwf_plan_dft_c2r_2d((int)h, (int)w, (fftwf_complex *)c, x, FFTW_ESTIMATE);
  sr_free(x);
  sr_free(c);
  if (!f->r2c || !f->c2r) {
    sr_fft2_destroy(f);
    return -1;
  }
  return 0;
}

void sr_fft2_destroy(sr_fft2 *f) {
  if (f->r2c) fftwf_destroy_plan(f->r2c);
  if (f->c2r) fftwf_destroy_plan(f->c2r);
  f->r2c = f->c2r = NULL;
}

/* Plans were made on 64-byte aligned arrays; FFTW's new-array execute needs the same alignment. */
static int aligned(const void *p) { return ((uintptr_t)p & 63u) == 0; }

void sr_fft2_forward(const sr_fft2 *f, const float *x, fftwf_complex *X, float *scratch) {
  float *in = (float *)x; /* r2c out of place preserves its input */
  if (!aligned(x)) {
    memcpy(scratch, x, f->h * f->w * sizeof(float));
    in = scratch;
  }
  fftwf_execute_dft_r2c(f->r2c, in, X);
}

void sr_fft2_inverse(const sr_fft2 *f, fftwf_complex *X, float *x, float *scratch) {
  if (aligned(x)) {
    fftwf_execute_dft_c2r(f->c2r, X, x);
    return;
  }
  fftwf_execute_dft_c2r(f->c2r, X, scratch);
  memcpy(x, scratch, f->h * f->w * sizeof(float));
}
