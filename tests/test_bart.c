/* test_bart.c — scorerecon's Fourier operator against BART's own FFT (/usr/bin/bart, Debian's `bart`): the
 * convention docs/job-format.md states (ours = `bart fftshift 3` then `bart fft -u 3`; plain `bart fft -u 3` is
 * ours times (−1)^(i−h/2 + j−w/2) for even sizes), checked on `bart phantom -x 16` and on images written here
 * through format/cfl.c (non-square, odd); and a SENSE reconstruction with a Gaussian prior against `bart pics -l2`.
 * Prints "SKIPPED" and checks nothing where bart is not installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfl.h"
#include "scorerecon.h"
#include "test.h"

#define BART "/usr/bin/bart"

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
  *len = b && n > 0 ? fread(b, 1, (size_t)n, f) : 0;
  fclose(f);
  return b;
}

/* dir/name.hdr + dir/name.cfl; out->data NULL when unreadable */
static void read_pair(const char *dir, const char *name, sr_cfl_array *out) {
  char p[512], why[256];
  size_t hl = 0, cl = 0;
  snprintf(p, sizeof p, "%s/%s.hdr", dir, name);
  unsigned char *h = slurp(p, &hl);
  snprintf(p, sizeof p, "%s/%s.cfl", dir, name);
  unsigned char *c = slurp(p, &cl);
  memset(out, 0, sizeof *out);
  if (h && c && sr_cfl_read((const char *)h, hl, c, cl, 1u << 20, out, why, sizeof why))
    fprintf(stderr, "  %s: %s\n", name, why);
  free(h);
  free(c);
}

static int write_pair(const char *dir, const char *name, const float *x, size_t h, size_t w) {
  size_t shape[2] = {h, w}, dims[SR_CFL_MAX_DIMS], hl, cl;
  sr_cfl_dims(2, shape, dims);
  char *hdr = sr_cfl_hdr_encode(dims, &hl);
  unsigned char *cfl = sr_cfl_encode(x, h * w, 0, &cl);
  char p[512];
  int ok = hdr && cfl;
  for (int k = 0; k < 2 && ok; k++) {
    snprintf(p, sizeof p, "%s/%s.%s", dir, name, k ? "cfl" : "hdr");
    FILE *f = fopen(p, "wb");
    ok = f && fwrite(k ? (const void *)cfl : hdr, 1, k ? cl : hl, f) == (k ? cl : hl);
    if (f) ok &= fclose(f) == 0;
  }
  free(hdr);
  free(cfl);
  return ok;
}

/* max |bart − sign·ours| / max |ours|, sign (−1)^(i−h/2 + j−w/2) if checker, else 1 */
static double rel_err(const sr_cfl_array *k, const float *y, size_t h, size_t w, int checker) {
  double md = 0, mx = 0;
  for (size_t i = 0; i < h; i++)
    for (size_t j = 0; j < w; j++) {
      size_t t = i * w + j;
      double s = checker && ((i + h / 2 + j + w / 2) & 1) ? -1 : 1;
      double dr = k->data[2 * t] - s * y[2 * t], di = k->data[2 * t + 1] - s * y[2 * t + 1];
      md = fmax(md, hypot(dr, di));
      mx = fmax(mx, hypot(y[2 * t], y[2 * t + 1]));
    }
  return md / mx;
}

TEST(bart_fft_matches_fourier_op) {
  if (access(BART, X_OK)) {
    printf("  bart: SKIPPED: %s is not installed (Debian package bart; scripts/install-deps.sh installs it)\n", BART);
    return;
  }
  char dir[] = "/tmp/sr_bart_XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  /* 16 x 16: BART's phantom (complex, imaginary parts 0: its real part is our real image); then images of ours */
  const size_t hs[] = {16, 12, 9}, wsz[] = {16, 20, 15};
  for (int t = 0; t < 3; t++) {
    size_t h = hs[t], w = wsz[t], n = h * w;
    char cmd[1024], name[8];
    snprintf(name, sizeof name, "x%d", t);
    float *x = sr_alloc(n), *y = sr_alloc(2 * n), *m = sr_alloc(n); /* aligned: operators want it */
    if (t == 0) {
      snprintf(cmd, sizeof cmd, "cd %s && " BART " phantom -x 16 %s", dir, name);
      CHECK(system(cmd) == 0, "%s", cmd);
    } else {
      for (size_t i = 0; i < n; i++) x[i] = (float)((i * 7919 % 101) / 101.0 - 0.3);
      CHECK(write_pair(dir, name, x, h, w), "writing %s", name);
    }
    snprintf(cmd, sizeof cmd, "cd %s && " BART " fft -u 3 %s k%d && " BART " fftshift 3 %s s%d && " BART
             " fft -u 3 s%d ks%d", dir, name, t, name, t, t, t);
    CHECK(system(cmd) == 0, "%s", cmd);
    sr_cfl_array xa, k, ks;
    read_pair(dir, name, &xa);
    snprintf(name, sizeof name, "k%d", t);
    read_pair(dir, name, &k);
    snprintf(name, sizeof name, "ks%d", t);
    read_pair(dir, name, &ks);
    size_t shape[4];
    CHECK(xa.data && k.data && ks.data && sr_cfl_shape(k.ndims, k.dims, 4, shape) == 2 && shape[0] == h &&
          shape[1] == w, "%zux%zu: bart's files", h, w);
    if (xa.data && k.data && ks.data) {
      for (size_t i = 0; i < n; i++) {
        CHECK(xa.data[2 * i + 1] == 0.0f, "imaginary part of the input at %zu", i);
        x[i] = xa.data[2 * i];
        m[i] = 1.0f;
      }
      sr_error err;
      sr_op *op = sr_op_fourier(h, w, m, &err);
      CHECK(op != NULL, "%s", err.msg);
      if (!op) break;
      float *ws = sr_alloc(op->ws_floats);
      op->forward(op, x, y, ws);
      double e1 = rel_err(&ks, y, h, w, 0);
      printf("  bart %zux%zu: fftshift 3 + fft -u 3 vs ours: max relative error %.2e", h, w, e1);
      CHECK(e1 < 1e-5, "%zux%zu: bart fftshift + fft -u differs from ours by %g", h, w, e1);
      if (h % 2 == 0 && w % 2 == 0) {
        double e2 = rel_err(&k, y, h, w, 1);
        printf("; fft -u 3 vs ours times the checkerboard: %.2e", e2);
        CHECK(e2 < 1e-5, "%zux%zu: bart fft -u differs from ours times (-1)^(i-h/2+j-w/2) by %g", h, w, e2);
      }
      printf("\n");
      sr_free(ws);
      sr_op_free(op);
    }
    free(xa.data);
    free(k.data);
    free(ks.data);
    sr_free(x);
    sr_free(y);
    sr_free(m);
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0, "%s", cmd);
}

/* ---------------------------------------------------------------- SENSE with a Gaussian prior against bart pics */

static double dot(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* Conjugate gradients on (AᴴA + lam I) x = b over the n real floats of a complex image (the operators' adjoint is
 * for the real inner product, so the normal operator is symmetric there); x starts at 0. Returns the iterations,
 * stopping at ‖r‖ ≤ tol ‖b‖. */
static int cg_normal(const sr_op *op, double lam, const float *b, float *x, size_t n, double tol, int maxit) {
  float *r = sr_alloc(n), *p = sr_alloc(n), *q = sr_alloc(n), *ws = sr_alloc(op->ws_floats + op->n_out + 64);
  memset(x, 0, n * sizeof *x);
  memcpy(r, b, n * sizeof *r);
  memcpy(p, b, n * sizeof *p);
  double rr = dot(r, r, n), bb = rr;
  int it = 0;
  while (it < maxit && rr > tol * tol * bb) {
    op->normal(op, p, q, ws);
    for (size_t i = 0; i < n; i++) q[i] += (float)(lam * p[i]);
    double alpha = rr / dot(p, q, n);
    for (size_t i = 0; i < n; i++) {
      x[i] += (float)(alpha * p[i]);
      r[i] -= (float)(alpha * q[i]);
    }
    double rr2 = dot(r, r, n);
    for (size_t i = 0; i < n; i++) p[i] = (float)(r[i] + rr2 / rr * p[i]);
    rr = rr2;
    it++;
  }
  sr_free(r);
  sr_free(p);
  sr_free(q);
  sr_free(ws);
  return it;
}

/* BART's 4-coil phantom (k-space and sensitivities), every other line plus 8 centre lines kept. bart pics -l2 -r λ
 * minimises ‖P F S x − y‖² + λ‖x‖² (scaling fixed by -w 1); with a Gaussian prior N(0, σp²) and noise σ per real
 * component the posterior mean minimises ‖A x − y‖²/σ² + ‖x‖²/σp², so they agree at λ = σ²/σp². The data go to
 * our operator with the k-space convention of docs/job-format.md (ours = BART's times (−1)^(i−h/2 + j−w/2)). */
TEST(bart_pics_l2_is_the_gaussian_posterior_mean) {
  if (access(BART, X_OK)) {
    printf("  bart: SKIPPED: %s is not installed (Debian package bart; scripts/install-deps.sh installs it)\n", BART);
    return;
  }
  char dir[] = "/tmp/sr_pics_XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  const size_t N = 32, C = 4, P = N * N;
  const double lam = 0.01;
  float *mask = sr_alloc(P);
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < N; j++) mask[i * N + j] = (i % 2 == 0 || (i + 4 >= N / 2 && i < N / 2 + 4)) ? 1.0f : 0.0f;
  CHECK(write_pair(dir, "mask", mask, N, N), "writing the mask");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd %s && " BART " phantom -x %zu -k -s %zu ksp && " BART " phantom -x %zu -S %zu sens && "
           BART " fmac ksp mask us && " BART " pics -d0 -w 1 -i 500 -e -l2 -r %g -p mask us sens out >/dev/null 2>&1",
           dir, N, C, N, C, lam);
  CHECK(system(cmd) == 0, "%s", cmd);
  sr_cfl_array ksp, sens, out;
  read_pair(dir, "ksp", &ksp);
  read_pair(dir, "sens", &sens);
  read_pair(dir, "out", &out);
  CHECK(ksp.data && sens.data && out.data && ksp.count == C * P && sens.count == C * P && out.count == P,
        "bart's files (ksp %zu, sens %zu, out %zu values)", ksp.count, sens.count, out.count);
  if (ksp.data && sens.data && out.data && ksp.count == C * P && sens.count == C * P && out.count == P) {
    /* BART [X, Y, 1, C] column-major is our row-major [C, Y, X]: the same bytes */
    float *y = sr_alloc(2 * C * P), *b = sr_alloc(2 * P), *x = sr_alloc(2 * P);
    for (size_t c = 0; c < C; c++)
      for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
          size_t t = (c * N + i) * N + j;
          float s = ((i + N / 2 + j + N / 2) & 1) ? -1.0f : 1.0f;
          y[2 * t] = s * mask[i * N + j] * ksp.data[2 * t];
          y[2 * t + 1] = s * mask[i * N + j] * ksp.data[2 * t + 1];
        }
    sr_error err;
    sr_op *op = sr_op_sense(C, N, N, sens.data, mask, &err);
    CHECK(op != NULL, "%s", err.msg);
    if (op) {
      float *ws = sr_alloc(op->ws_floats + 64);
      op->adjoint(op, y, b, ws);
      int it = cg_normal(op, lam, b, x, 2 * P, 1e-7, 2000);
      double d = 0, s = 0;
      for (size_t t = 0; t < 2 * P; t++) {
        d += ((double)x[t] - out.data[t]) * ((double)x[t] - out.data[t]);
        s += (double)out.data[t] * out.data[t];
      }
      double nrmse = sqrt(d / s);
      printf("  bart pics -l2 -r %g vs the posterior mean (CG, %d iterations): NRMSE %.2e\n", lam, it, nrmse);
      CHECK(nrmse < 1e-3, "NRMSE %g against bart pics", nrmse);
      sr_free(ws);
      sr_op_free(op);
    }
    sr_free(y);
    sr_free(b);
    sr_free(x);
  }
  free(ksp.data);
  free(sens.data);
  free(out.data);
  sr_free(mask);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0, "%s", cmd);
}
