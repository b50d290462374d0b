/* problems.c — the shared set-up of bench/quality.c and bench/samplers.c (see problems.h). Not a program: the
 * Makefile leaves it out of the bench_NAME pattern and links its object into the benches that use it. */
#include "problems.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const problem problems[NPROBLEMS] = {{"fourier", 0.01}, {"blur", 0.02}, {"inpaint", 0.01}};

float *bench_load_images(const char *file, int count) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "gzip -dc %s/%s", DATA, file);
  FILE *f = popen(cmd, "r");
  if (!f) return NULL;
  unsigned char hdr[16];
  float *out = NULL;
  if (fread(hdr, 1, 16, f) == 16 && hdr[2] == 8 && hdr[3] == 3) {
    int n = (hdr[4] << 24) | (hdr[5] << 16) | (hdr[6] << 8) | hdr[7];
    if (count > n) count = n;
    out = malloc((size_t)count * NPIX * sizeof(float));
    unsigned char px[NPIX];
    for (int i = 0; out && i < count; i++) {
      if (fread(px, 1, NPIX, f) != NPIX) {
        free(out);
        out = NULL;
        break;
      }
      for (int p = 0; p < NPIX; p++) out[(size_t)i * NPIX + p] = (float)px[p] / 255.0f;
    }
  }
  pclose(f);
  return out;
}

sr_op *bench_make_op(const char *prob, int image, sr_error *err) {
  float m[NPIX];
  size_t shape[2] = {H, W};
  if (!strcmp(prob, "fourier")) {
    sr_mask_cartesian(H, W, 4.0, 0.08, (uint64_t)image, m);
    return sr_op_fourier(H, W, m, err);
  }
  if (!strcmp(prob, "blur")) {
    float k[81];
    sr_gaussian_kernel(1.5, 9, k);
    return sr_op_blur(H, W, k, 9, 9, err);
  }
  sr_mask_random(NPIX, 0.4, (uint64_t)image, m);
  return sr_op_mask(2, shape, m, err);
}

void bench_observe(const sr_op *op, const float *x, double sy, int image, float *y, float *ws) {
  op->forward(op, x, y, ws);
  float *z = sr_alloc(op->n_out);
  sr_rng r = sr_rng_make(20261123, (uint64_t)image);
  sr_rng_normals(&r, 0, z, op->n_out);
  for (size_t i = 0; i < op->n_out; i++) {
    y[i] += (float)sy * z[i];
    if (op->obs_mask && op->obs_mask[i] == 0.0f) y[i] = 0.0f;
  }
  sr_free(z);
}

double bench_t975(int v) {
  static const double t[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
                             2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086};
  if (v < 1) return INFINITY;
  return v <= 20 ? t[v] : 1.95996 + 2.4 / v;
}

double bench_z_predictive(int S) { return bench_t975(S - 1) * sqrt(1.0 + 1.0 / S); }

sr_prior *bench_score_prior(const sr_safetensors *file, sr_error *err) {
  sr_unet *net = sr_unet_create(&file->set, err);
  return net ? sr_prior_score_model(net, NULL, NULL, err) : NULL;
}

int bench_problem_setup(sr_problem *pb, sr_op *op, const float *y, double sy, int image, int threads) {
  sr_problem_init(pb);
  pb->rank = 2;
  pb->shape[0] = H;
  pb->shape[1] = W;
  pb->n = NPIX;
  pb->op = op;
  pb->noise_sigma = sy;
  pb->y = sr_alloc(op->n_out);
  if (!pb->y) return -1;
  memcpy(pb->y, y, op->n_out * sizeof(float));
  pb->seed = 1000 + (uint64_t)image;
  pb->threads = threads;
  pb->want_mean = pb->want_std = 1;
  return 0;
}

sr_sde bench_model_sde(const sr_unet *net) {
  sr_sde sde;
  memset(&sde, 0, sizeof sde);
  size_t h, w;
  sr_unet_info(net, &h, &w, &sde.sigma_min, &sde.sigma_max);
  sde.kind = SR_SDE_VE;
  sde.T = 1.0;
  return sde;
}
