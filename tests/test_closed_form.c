/* test_closed_form.c — the closed-form posteriors of shared/oracles.md, which the benchmarks use on large images,
 * checked against the dense posterior built from the operators themselves:
 *   blur:    d(k) = 1/s² + |ĥ(k)|²/σ²
 *   fourier: d(k) = 1/s² + (M(k) + M(−k))/(2σ²), X̂(k) = (M̂(k)/s² + (M(k)y(k) + M(−k) conj y(−k))/(2σ²))/d(k)
 * every pixel having variance (1/N) Σ_k 1/d(k). */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dense.h"
#include "scorerecon.h"
#include "test.h"

static unsigned long lcg = 2718281828;
static double urand(void) {
  lcg = lcg * 6364136223846793005UL + 1442695040888963407UL;
  return (double)(lcg >> 11) / 9007199254740992.0;
}

/* Unnormalised DFT of a real/complex h×w array (sign −1 forward, +1 inverse). */
static void dft(const double complex *in, double complex *out, size_t h, size_t w, int sign) {
  for (size_t a = 0; a < h; a++)
    for (size_t b = 0; b < w; b++) {
      double complex acc = 0;
      for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j++)
          acc += in[i * w + j] * cexp(sign * 2 * M_PI * I * ((double)(a * i) / (double)h + (double)(b * j) / (double)w));
      out[a * w + b] = acc;
    }
}

TEST(closed_form_fourier_posterior_matches_dense) {
  const size_t hs[] = {6, 5, 6}, wss[] = {8, 7, 5};
  const double m = 0.3, s = 0.8, sigma = 0.2;
  for (int t = 0; t < 3; t++) {
    size_t h = hs[t], w = wss[t], n = h * w;
    float *mask = sr_alloc(n), *x = sr_alloc(n), *y = sr_alloc(2 * n), *ws = sr_alloc(4096);
    for (size_t i = 0; i < n; i++) {
      mask[i] = urand() < 0.5 ? 1.0f : 0.0f;
      x[i] = (float)(urand() * 2 - 1);
    }
    sr_error err;
    sr_op *op = sr_op_fourier(h, w, mask, &err);
    op->forward(op, x, y, ws);
    for (size_t i = 0; i < 2 * n; i++) y[i] += (float)(0.1 * (urand() - 0.5)) * op->obs_mask[i];
    double *G = calloc(n * n, 8), *aty = calloc(n, 8);
    dense_normal(op, y, G, aty);
    gauss_law post;
    law_alloc(&post, n);
    dense_posterior(n, G, aty, m, s, sigma, &post);
    /* closed form, in the centred layout with mirror index (n − i) mod n for even n, n − 1 − i for odd n */
    double complex *Xh = calloc(n, sizeof(double complex)), *xs = calloc(n, sizeof(double complex));
    double var = 0;
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++) {
        size_t mi = h % 2 ? h - 1 - i : (h - i) % h, mj = w % 2 ? w - 1 - j : (w - j) % w;
        double Mk = mask[i * w + j], Mn = mask[mi * w + mj];
        double d = 1 / (s * s) + (Mk + Mn) / (2 * sigma * sigma);
        var += 1 / d / (double)n;
        double complex yk = y[2 * (i * w + j)] + I * y[2 * (i * w + j) + 1];
        double complex yn = y[2 * (mi * w + mj)] + I * y[2 * (mi * w + mj) + 1];
        double complex Mhat = (i == h / 2 && j == w / 2) ? m * sqrt((double)n) : 0; /* ortho DFT of constant m */
        Xh[i * w + j] = (Mhat / (s * s) + (Mk * yk + Mn * conj(yn)) / (2 * sigma * sigma)) / d;
      }
    /* back to pixels: un-centre, inverse orthonormal DFT */
    double complex *Xu = calloc(n, sizeof(double complex));
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++) Xu[((i + h - h / 2) % h) * w + (j + w - w / 2) % w] = Xh[i * w + j];
    dft(Xu, xs, h, w, +1);
    double dm = 0, dv = 0;
    for (size_t i = 0; i < n; i++) {
      dm = fmax(dm, fabs(creal(xs[i]) / sqrt((double)n) - post.mean[i]));
      dv = fmax(dv, fabs(post.cov[i * n + i] - var));
    }
    CHECK(dm < 1e-5, "fourier %zux%zu: closed-form mean differs from dense by %g", h, w, dm);
    CHECK(dv < 1e-6 * var + 1e-9, "fourier %zux%zu: closed-form variance differs from dense by %g", h, w, dv);
    law_free(&post);
    free(G); free(aty); free(Xh); free(xs); free(Xu);
    sr_op_free(op);
    sr_free(mask); sr_free(x); sr_free(y); sr_free(ws);
  }
}

TEST(closed_form_blur_posterior_variance_matches_dense) {
  size_t h = 7, w = 10, kh = 3, kw = 5, n = h * w;
  const double s = 0.8, sigma = 0.1;
  float k[15];
  double sum = 0;
  for (int i = 0; i < 15; i++) sum += (k[i] = (float)(0.1 + urand()));
  sr_error err;
  sr_op *op = sr_op_blur(h, w, k, kh, kw, &err);
  double *G = calloc(n * n, 8);
  dense_normal(op, NULL, G, NULL);
  double *aty = calloc(n, 8);
  gauss_law post;
  law_alloc(&post, n);
  dense_posterior(n, G, aty, 0, s, sigma, &post);
  /* ĥ: kernel zero-padded, rolled so its centre (kh/2, kw/2) sits at (0, 0) */
  double complex *pad = calloc(n, sizeof(double complex)), *hh = calloc(n, sizeof(double complex));
  for (size_t i = 0; i < kh; i++)
    for (size_t j = 0; j < kw; j++) pad[((i + h - kh / 2) % h) * w + (j + w - kw / 2) % w] += k[i * kw + j] / sum;
  dft(pad, hh, h, w, -1);
  double var = 0;
  for (size_t i = 0; i < n; i++) var += 1 / (1 / (s * s) + cabs(hh[i]) * cabs(hh[i]) / (sigma * sigma)) / (double)n;
  double dv = 0;
  for (size_t i = 0; i < n; i++) dv = fmax(dv, fabs(post.cov[i * n + i] - var));
  CHECK(dv < 1e-5 * var, "blur: closed-form variance %g differs from dense by %g", var, dv);
  law_free(&post);
  free(G); free(aty); free(pad); free(hh);
  sr_op_free(op);
}
