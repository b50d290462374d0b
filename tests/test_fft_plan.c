/* test_fft_plan.c — the FFT planner (solver/fft_plan.c): tuned plans from a wisdom file give the same bits run
 * after run (the run that measured included), estimate mode keeps the construction's plans, a tuned operator
 * computes what the ESTIMATE one does (to rounding), and a wisdom file FFTW cannot read is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scorerecon.h"
#include "test.h"

/* A small ULA job on op (fourier or blur; or sense when sense is set), Gaussian prior, 2 chains. */
static sr_op *make_op(int kind, size_t h, size_t w) {
  sr_error err;
  float *m = sr_alloc(h * w);
  sr_op *op = NULL;
  if (kind == 0) {
    sr_mask_cartesian(h, w, 3.0, 0.1, 3, m);
    op = sr_op_fourier(h, w, m, &err);
  } else if (kind == 1) {
    float k[25];
    sr_gaussian_kernel(1.0, 5, k);
    op = sr_op_blur(h, w, k, 5, 5, &err);
  } else {
    sr_mask_cartesian(h, w, 2.0, 0.2, 3, m);
    float *s = sr_alloc(2 * 2 * h * w);
    for (size_t i = 0; i < 2 * h * w; i++) {
      s[2 * i] = (float)(0.5 + 0.4 * ((i * 37) % 11) / 11.0);
      s[2 * i + 1] = (float)(0.1 * ((i * 13) % 7) / 7.0);
    }
    op = sr_op_sense(2, h, w, s, m, &err);
    sr_free(s);
  }
  sr_free(m);
  return op;
}

static float *run_job(int kind, size_t h, size_t w, sr_fft_planner *pl) {
  sr_problem pb;
  sr_error err;
  sr_problem_init(&pb);
  pb.rank = 2;
  pb.shape[0] = h;
  pb.shape[1] = w;
  pb.complex_image = kind == 2;
  pb.n = (kind == 2 ? 2 : 1) * h * w;
  pb.op = make_op(kind, h, w);
  CHECK(pb.op != NULL, "op");
  if (!pb.op) return NULL;
  sr_status st = sr_op_plan_fft(pb.op, pl, &err);
  CHECK(st == SR_OK, "plan: %s", err.msg);
  pb.noise_sigma = 0.1;
  pb.prior = sr_prior_gaussian(0.0, 1.0, &err);
  pb.y = sr_alloc(pb.op->n_out);
  for (size_t i = 0; i < pb.op->n_out; i++)
    pb.y[i] = (pb.op->obs_mask ? pb.op->obs_mask[i] : 1.0f) * (float)((i * 7919) % 101) / 101.0f;
  pb.sampler.kind = SR_SAMPLER_LANGEVIN;
  pb.sampler.steps = 60;
  pb.sampler.burn_in = 10;
  pb.num_samples = 2;
  pb.seed = 11;
  pb.threads = 1;
  pb.want_mean = pb.want_std = 1;
  st = sr_problem_validate(&pb, &err);
  CHECK(st == SR_OK, "validate: %s", err.msg);
  sr_result res;
  st = sr_run(&pb, &res, NULL, NULL, &err);
  CHECK(st == SR_OK, "run: %s", err.msg);
  float *out = malloc(2 * pb.n * sizeof(float));
  memcpy(out, res.mean, pb.n * sizeof(float));
  memcpy(out + pb.n, res.std, (kind == 2 ? h * w : pb.n) * sizeof(float));
  sr_result_clear(&res);
  sr_problem_clear(&pb);
  return out;
}

static long file_size(const char *p) {
  struct stat st;
  return stat(p, &st) ? -1 : (long)st.st_size;
}

TEST(fft_tuned_plans_reproducible) {
  char dir[] = "/tmp/sr_fft_test_XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  char wf[64];
  snprintf(wf, sizeof wf, "%s/wisdom", dir);
  sr_error err;
  for (int kind = 0; kind < 3; kind++) {
    size_t h = 24, w = kind == 2 ? 20 : 30 + 2 * (size_t)kind, n = (kind == 2 ? 3 : 2) * h * w;
    sr_fft_planner *est = sr_fft_planner_create(SR_FFT_ESTIMATE, NULL, &err);
    float *a = run_job(kind, h, w, NULL), *b = run_job(kind, h, w, est);
    CHECK(a && b && !memcmp(a, b, n * sizeof(float)), "kind %d: estimate mode changed the bits", kind);
    sr_fft_planner_free(est);
    /* first tuned run measures (the file grows), the second plans from the file alone */
    sr_fft_planner *pl = sr_fft_planner_create(SR_FFT_TUNED, wf, &err);
    CHECK(pl != NULL, "planner: %s", err.msg);
    long s0 = file_size(wf);
    float *t1 = run_job(kind, h, w, pl);
    long s1 = file_size(wf);
    CHECK(s1 > 0 && s1 != s0, "kind %d: the wisdom file did not get the size (%ld -> %ld)", kind, s0, s1);
    sr_fft_planner_free(pl);
    pl = sr_fft_planner_create(SR_FFT_TUNED, wf, &err);
    float *t2 = run_job(kind, h, w, pl);
    CHECK(file_size(wf) == s1, "kind %d: the second run re-measured", kind);
    CHECK(t1 && t2 && !memcmp(t1, t2, n * sizeof(float)), "kind %d: two tuned runs differ", kind);
    /* same posterior up to rounding */
    double d = 0;
    for (size_t i = 0; t1 && a && i < n; i++) d = fmax(d, fabs((double)t1[i] - a[i]));
    CHECK(d < 1e-3, "kind %d: tuned vs estimate max |diff| %g", kind, d);
    /* after tuned planning the wisdom is forgotten: ESTIMATE plans are ESTIMATE's again */
    float *c = run_job(kind, h, w, NULL);
    CHECK(a && c && !memcmp(a, c, n * sizeof(float)), "kind %d: ESTIMATE bits changed after tuned planning", kind);
    sr_fft_planner_free(pl);
    free(a); free(b); free(c); free(t1); free(t2);
  }
  int measured = -1;
  sr_fft_planner *pl = sr_fft_planner_create(SR_FFT_TUNED, wf, &err);
  CHECK(sr_fft_planner_prepare(pl, 24, 30, 0, &measured, &err) == SR_OK && measured == 0, "prepare: %d", measured);
  CHECK(sr_fft_planner_prepare(pl, 16, 18, 1, &measured, &err) == SR_OK && measured == 2, "prepare: %d", measured);
  sr_fft_planner_free(pl);
  char lk[80];
  snprintf(lk, sizeof lk, "%s.lock", wf);
  unlink(wf);
  unlink(lk);
  rmdir(dir);
}

TEST(fft_wisdom_errors) {
  char dir[] = "/tmp/sr_fft_test_XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  char wf[64];
  snprintf(wf, sizeof wf, "%s/wisdom", dir);
  FILE *f = fopen(wf, "w");
  fputs("(not wisdom)\n", f);
  fclose(f);
  sr_error err;
  sr_fft_planner *pl = sr_fft_planner_create(SR_FFT_TUNED, wf, &err);
  CHECK(pl == NULL && err.code == SR_EINVAL && !strcmp(err.field, "fft_wisdom") && strstr(err.msg, wf),
        "corrupt file: %s", err.msg);
  pl = sr_fft_planner_create(SR_FFT_TUNED, NULL, &err);
  CHECK(pl == NULL && err.code == SR_EINVAL, "tuned needs a file");
  CHECK(sr_fft_mode_parse("tuned") == SR_FFT_TUNED && sr_fft_mode_parse("estimate") == SR_FFT_ESTIMATE &&
        sr_fft_mode_parse("patient") == -1, "mode names");
  /* a file that goes bad after the start: the plan fails, and the op keeps working plans */
  unlink(wf);
  pl = sr_fft_planner_create(SR_FFT_TUNED, wf, &err);
  CHECK(pl != NULL, "missing file is fine: %s", pl ? "" : err.msg);
  f = fopen(wf, "w");
  fputs("garbage", f);
  fclose(f);
  sr_op *op = make_op(0, 8, 8);
  CHECK(sr_op_plan_fft(op, pl, &err) == SR_EINVAL, "plan with a corrupt file");
  float x[64] = {1}, y[128];
  float *wsa = sr_alloc(op->ws_floats);
  op->forward(op, x, y, wsa); /* still the ESTIMATE plans */
  CHECK(fabs(y[2 * (4 * 8 + 4)] - 0.125f) < 1e-6, "DC after a failed re-plan: %g", y[2 * (4 * 8 + 4)]);
  sr_free(wsa);
  sr_op_free(op);
  sr_fft_planner_free(pl);
  unlink(wf);
  rmdir(dir);
}
