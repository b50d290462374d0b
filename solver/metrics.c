/* metrics.c — image quality against a ground truth: PSNR, SSIM (Wang et al. 2004) and interval coverage. */
#include <math.h>
#include <stdlib.h>

#include "scorerecon.h"

static void range_of(const float *ref, size_t n, double *lo, double *hi) {
  *lo = INFINITY;
  *hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    if (ref[i] < *lo) *lo = ref[i];
    if (ref[i] > *hi) *hi = ref[i];
  }
}

/* PSNR = 10 log10(peak² / MSE), peak = max(ref) − min(ref) (1 if ref is constant). */
double sr_psnr(const float *x, const float *ref, size_t n) {
  double lo, hi, mse = 0.0;
  range_of(ref, n, &lo, &hi);
  double peak = hi > lo ? hi - lo : 1.0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)x[i] - ref[i];
    mse += d * d;
  }
  mse /= (double)n;
  return mse > 0 ? 10.0 * log10(peak * peak / mse) : INFINITY;
}

/* Mean SSIM with an 11x11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, L = range of ref; the window is
 * truncated at the borders (renormalised), so small images still get a value. */
double sr_ssim(const float *x, const float *ref, size_t h, size_t w) {
  double lo, hi;
  range_of(ref, h * w, &lo, &hi);
  double L = hi > lo ? hi - lo : 1.0, c1 = (0.01 * L) * (0.01 * L), c2 = (0.03 * L) * (0.03 * L);
  double g[11];
  for (int i = 0; i < 11; i++) g[i] = exp(-((i - 5) * (i - 5)) / (2.0 * 1.5 * 1.5));
  double total = 0.0;
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) {
      double sw = 0, mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
      for (int di = -5; di <= 5; di++) {
        long ii = (long)i + di;
        if (ii < 0 || ii >= (long)h) continue;
        for (int dj = -5; dj <= 5; dj++) {
          long jj = (long)j + dj;
          if (jj < 0 || jj >= (long)w) continue;
          double wt = g[di + 5] * g[dj + 5], a = x[ii * (long)w + jj], b = ref[ii * (long)w + jj];
          sw += wt; mx += wt * a; my += wt * b; sxx += wt * a * a; syy += wt * b * b; sxy += wt * a * b;
        }
      }
      mx /= sw; my /= sw;
      double vx = sxx / sw - mx * mx, vy = syy / sw - my * my, cxy = sxy / sw - mx * my;
      total += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
  return total / (double)(h * w);
}

/* Fraction of pixels with |ref − mean| <= z · std (Gaussian interval from the posterior moments). */
double sr_coverage(const float *mean, const float *std, const float *ref, size_t n, double z) {
  size_t in = 0;
  for (size_t i = 0; i < n; i++) in += fabs((double)ref[i] - mean[i]) <= z * std[i];
  return (double)in / (double)n;
}
