/* test_unet.c — the C score network against PyTorch: the tiny model tests/data/tiny-unet.safetensors and the
 * reference outputs tests/data/tiny-unet-ref.bin (both written by tools/make_test_model.py from the PyTorch model
 * of tools/scoremodel.py) must agree to relative error < 1e-4, at its 12 x 12 and, through Winograd F(4x4, 3x3),
 * at 28 x 28 (tests/data/tiny-unet-ref28.bin); and the loader's validation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "scorerecon.h"
#include "test.h"

#define MODEL "tests/data/tiny-unet.safetensors"
#define REF "tests/data/tiny-unet-ref.bin"

typedef struct {
  char name[32];
  int rank;
  unsigned dims[4];
  float *data;
  size_t count;
} ref_entry;

static int read_ref_file(const char *path, ref_entry *e, int max) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  char magic[8];
  unsigned n = 0;
  int got = 0;
  if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "SRREF1\0\0", 8) || fread(&n, 4, 1, f) != 1) goto out;
  for (unsigned i = 0; i < n && got < max; i++) {
    unsigned ln, r;
    ref_entry *x = &e[got];
    memset(x, 0, sizeof *x);
    if (fread(&ln, 4, 1, f) != 1 || ln >= sizeof x->name || fread(x->name, 1, ln, f) != ln) break;
    if (fread(&r, 4, 1, f) != 1 || r > 4 || fread(x->dims, 4, r, f) != r) break;
    x->rank = (int)r;
    x->count = 1;
    for (unsigned d = 0; d < r; d++) x->count *= x->dims[d];
    x->data = malloc(x->count * sizeof(float));
    if (!x->data || fread(x->data, 4, x->count, f) != x->count) break;
    got++;
  }
out:
  fclose(f);
  return got;
}

static int read_ref(ref_entry *e, int max) { return read_ref_file(REF, e, max); }

static const ref_entry *entry(const ref_entry *e, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(e[i].name, name)) return &e[i];
  return NULL;
}

TEST(unet_matches_pytorch_reference) {
  sr_safetensors file;
  sr_error err;
  CHECK(sr_safetensors_open(MODEL, &file, &err) == SR_OK, "%s", err.msg);
  if (!file.map) return;
  sr_unet *u = sr_unet_create(&file.set, &err);
  CHECK(u != NULL, "%s", err.msg);
  ref_entry e[32];
  int n = read_ref(e, 32);
  const ref_entry *x = entry(e, n, "x"), *sig = entry(e, n, "sigma"), *score = entry(e, n, "score");
  CHECK(x && sig && score, "reference file lacks x, sigma or score (%d entries)", n);
  if (u && x && sig && score) {
    size_t h, w;
    double smin, smax;
    sr_unet_info(u, &h, &w, &smin, &smax);
    size_t npix = h * w, sn = sr_stride(npix);
    float *in = sr_alloc(sn), *out = sr_alloc(sn), *ws = sr_alloc(sr_unet_ws_floats(u, 3));
    for (unsigned b = 0; b < sig->count; b++) {
      memcpy(in, x->data + b * npix, npix * sizeof(float));
      sr_unet_score(u, in, 1, sn, sig->data[b], out, ws);
      double maxref = 0, maxdiff = 0;
      for (size_t i = 0; i < npix; i++) {
        double r = score->data[b * npix + i];
        maxref = fmax(maxref, fabs(r));
        maxdiff = fmax(maxdiff, fabs(r - out[i]));
      }
      CHECK(maxdiff <= 1e-4 * maxref, "image %u (sigma %g): max |C - PyTorch| = %.3g, max |PyTorch| = %.3g", b,
            sig->data[b], maxdiff, maxref);
      printf("    12 x 12, sigma %g: max |C - PyTorch| / max |PyTorch| = %.2g\n", sig->data[b], maxdiff / maxref);
    }
    /* the batched call (images `stride` apart) gives the same as one by one */
    float *in3 = sr_alloc(3 * sn), *out3 = sr_alloc(3 * sn);
    for (int b = 0; b < 3; b++) memcpy(in3 + b * sn, x->data + (size_t)b * npix, npix * sizeof(float));
    sr_unet_score(u, in3, 3, sn, sig->data[1], out3, ws);
    memcpy(in, x->data + 2 * npix, npix * sizeof(float));
    sr_unet_score(u, in, 1, sn, sig->data[1], out, ws);
    /* bit-identical: every product is one fma chain per output whatever the matrix width (solver/nn_gemm.c) */
    CHECK(!memcmp(out, out3 + 2 * sn, npix * sizeof(float)), "the batch's third image differs from it alone");
    sr_free(in); sr_free(out); sr_free(ws); sr_free(in3); sr_free(out3);
  }
  for (int i = 0; i < n; i++) free(e[i].data);
  sr_unet_free(u);
  sr_safetensors_close(&file);
}

/* The same model at 28 x 28 (tools/make_test_model.py --ref28; PyTorch in float64): its 28 x 28, 14 x 14 and 7 x 7
 * levels run Winograd F(4x4, 3x3), so this is F(4x4)'s oracle, with the same tolerance as the
 * 12 x 12 test (F(4x4)'s float32 error per layer is about 1e-5 of the output's maximum, docs/performance.md). */
TEST(unet_matches_pytorch_reference_at_28_through_winograd_f4) {
  sr_safetensors file;
  sr_error err;
  CHECK(sr_safetensors_open(MODEL, &file, &err) == SR_OK, "%s", err.msg);
  if (!file.map) return;
  sr_tensor_set set = file.set;
  const char **vals = malloc(set.nmeta * sizeof *vals);
  for (size_t i = 0; i < set.nmeta; i++)
    vals[i] = strcmp(set.meta_keys[i], "image_size") ? set.meta_vals[i] : "28,28";
  set.meta_vals = vals;
  sr_unet *u = sr_unet_create(&set, &err);
  CHECK(u != NULL, "%s", err.msg);
  ref_entry e[8];
  int n = read_ref_file("tests/data/tiny-unet-ref28.bin", e, 8);
  const ref_entry *x = entry(e, n, "x"), *sig = entry(e, n, "sigma"), *score = entry(e, n, "score");
  CHECK(x && sig && score && x->count == 2 * 784, "tests/data/tiny-unet-ref28.bin lacks x, sigma or score");
  if (u && x && sig && score && x->count == 2 * 784) {
    size_t sn = sr_stride(784);
    float *in = sr_alloc(sn), *out = sr_alloc(sn), *ws = sr_alloc(sr_unet_ws_floats(u, 1));
    for (unsigned b = 0; b < sig->count; b++) {
      memcpy(in, x->data + b * 784, 784 * sizeof(float));
      sr_unet_score(u, in, 1, sn, sig->data[b], out, ws);
      double maxref = 0, maxdiff = 0;
      for (size_t i = 0; i < 784; i++) {
        maxref = fmax(maxref, fabs(score->data[b * 784 + i]));
        maxdiff = fmax(maxdiff, fabs(score->data[b * 784 + i] - out[i]));
      }
      CHECK(maxdiff <= 1e-4 * maxref, "28 x 28, image %u (sigma %g): max |C - PyTorch| = %.3g, max |PyTorch| = %.3g",
            b, sig->data[b], maxdiff, maxref);
      printf("    28 x 28, sigma %g: max |C - PyTorch| / max |PyTorch| = %.2g\n", sig->data[b], maxdiff / maxref);
    }
    sr_free(in); sr_free(out); sr_free(ws);
  }
  for (int i = 0; i < n; i++) free(e[i].data);
  sr_unet_free(u);
  free(vals);
  sr_safetensors_close(&file);
}

TEST(unet_loader_rejects_bad_files_and_shapes) {
  sr_safetensors file;
  sr_error err;
  CHECK(sr_safetensors_open("tests/data/no-such-model.safetensors", &file, &err) != SR_OK &&
            strstr(err.msg, "cannot open"), "missing file: %s", err.msg);
  /* a truncated copy */
  FILE *f = fopen(MODEL, "rb");
  char *buf = malloc(1 << 20);
  size_t len = f ? fread(buf, 1, 1 << 20, f) : 0;
  if (f) fclose(f);
  char tmp[] = "/tmp/sr-trunc-XXXXXX";
  int fd = mkstemp(tmp);
  FILE *t = fdopen(fd, "wb");
  fwrite(buf, 1, len - 100, t);
  fclose(t);
  CHECK(sr_safetensors_open(tmp, &file, &err) != SR_OK && strstr(err.msg, "truncated"), "truncated: %s", err.msg);
  remove(tmp);
  free(buf);
  /* a tensor whose shape the architecture does not expect, and a missing one */
  CHECK(sr_safetensors_open(MODEL, &file, &err) == SR_OK, "%s", err.msg);
  if (!file.map) return;
  sr_tensor *copy = malloc(file.n * sizeof *copy);
  memcpy(copy, file.tensors, file.n * sizeof *copy);
  sr_tensor_set set = file.set;
  set.t = copy;
  for (size_t i = 0; i < file.n; i++)
    if (!strcmp(copy[i].name, "conv_in.bias")) copy[i].shape[0] += 1;
  CHECK(sr_unet_create(&set, &err) == NULL && strstr(err.msg, "conv_in.bias"), "bad shape: %s", err.msg);
  memcpy(copy, file.tensors, file.n * sizeof *copy);
  set.n = file.n - 1;
  for (size_t i = 0; i < file.n; i++)
    if (!strcmp(copy[i].name, "out_conv.weight")) copy[i] = copy[file.n - 1];
  CHECK(sr_unet_create(&set, &err) == NULL && strstr(err.msg, "missing"), "missing tensor: %s", err.msg);
  free(copy);
  sr_safetensors_close(&file);
}

#include "job.h"

static sr_status parse_with_models(const char *doc, sr_problem *pb, sr_error *err) {
  sr_limits lim;
  sr_limits_default(&lim);
  lim.models_dir = "tests/data";
  return sr_job_parse(doc, strlen(doc), &lim, pb, err);
}

#define SM_JOB(shape, prior, sampler)                                                                             \
  "{\"shape\": " shape ", \"operator\": {\"type\": \"none\"}, \"prior\": " prior ", \"sampler\": " sampler        \
  ", \"num_samples\": 11, \"seed\": 4, \"outputs\": [\"mean\", \"std\", \"samples\"]}"

TEST(score_model_prior_in_jobs) {
  sr_problem pb;
  sr_error err;
  /* a bare {"type": "pc"} is complete: the SDE and steps come from the model's metadata */
  CHECK(parse_with_models(SM_JOB("[12,12]", "{\"type\": \"score_model\", \"model\": \"tiny-unet\"}",
                                 "{\"type\": \"pc\"}"), &pb, &err) == SR_OK, "%s", err.msg);
  CHECK(pb.sampler.sde.kind == SR_SDE_VE && pb.sampler.sde.sigma_max == 25 && pb.sampler.steps == 20,
        "model defaults not applied: sde %d smax %g steps %ld", pb.sampler.sde.kind, pb.sampler.sde.sigma_max,
        pb.sampler.steps);
  sr_result r1, r2;
  pb.threads = 1;
  CHECK(sr_run(&pb, &r1, NULL, NULL, &err) == SR_OK, "%s", err.msg);
  pb.threads = 2;
  CHECK(sr_run(&pb, &r2, NULL, NULL, &err) == SR_OK, "%s", err.msg);
  if (r1.samples && r2.samples) {
    int finite = 1;
    for (size_t i = 0; i < 11 * 144; i++) finite &= isfinite(r1.samples[i]);
    CHECK(finite, "non-finite samples");
    CHECK(!memcmp(r1.samples, r2.samples, 11 * 144 * sizeof(float)), "1 and 2 threads differ (batches of 3, 3, 3, 2)");
  }
  sr_result_clear(&r1);
  sr_result_clear(&r2);
  sr_problem_clear(&pb);
  /* the new samplers batch chains (ddrm, diffpir) and particles (smc: 11 particles in groups of 3) the same way */
  const char *samplers[] = {"{\"type\": \"ddrm\", \"steps\": 6}", "{\"type\": \"diffpir\", \"steps\": 6}",
                            "{\"type\": \"smc\", \"steps\": 6, \"particles\": 11, \"ess_threshold\": 1}"};
  for (int k = 0; k < 3; k++) {
    const char *doc[3] = {SM_JOB("[12,12]", "{\"type\": \"score_model\", \"model\": \"tiny-unet\"}", "%s")};
    char buf[1024];
    snprintf(buf, sizeof buf, doc[0], samplers[k]);
    if (parse_with_models(buf, &pb, &err) != SR_OK) {
      CHECK(0, "%s: %s", samplers[k], err.msg);
      continue;
    }
    pb.threads = 1;
    sr_status s1 = sr_run(&pb, &r1, NULL, NULL, &err);
    pb.threads = 2;
    sr_status s2 = sr_run(&pb, &r2, NULL, NULL, &err);
    CHECK(s1 == SR_OK && s2 == SR_OK, "%s: %s", samplers[k], err.msg);
    if (s1 == SR_OK && s2 == SR_OK)
      CHECK(!memcmp(r1.samples, r2.samples, 11 * 144 * sizeof(float)) && !memcmp(r1.mean, r2.mean, 144 * 4),
            "%s: 1 and 2 threads differ", samplers[k]);
    sr_result_clear(&r1);
    sr_result_clear(&r2);
    sr_problem_clear(&pb);
  }
  /* a job's own fields win over the model's */
  CHECK(parse_with_models(SM_JOB("[12,12]", "{\"type\": \"score_model\", \"model\": \"tiny-unet\"}",
                                 "{\"type\": \"pc\", \"steps\": 7}"), &pb, &err) == SR_OK && pb.sampler.steps == 7,
        "job steps: %ld %s", pb.sampler.steps, err.msg);
  sr_problem_clear(&pb);
  struct {
    const char *doc, *field, *msg;
  } bad[] = {
      {SM_JOB("[12,12]", "{\"type\": \"score_model\", \"model\": \"nope\"}", "{\"type\": \"pc\"}"), "prior.model",
       "not an installed model"},
      {SM_JOB("[12,12]", "{\"type\": \"score_model\", \"model\": \"../data/tiny-unet\"}", "{\"type\": \"pc\"}"),
       "prior.model", "letters, digits"},
      {SM_JOB("[12,12]", "{\"type\": \"score_model\"}", "{\"type\": \"pc\"}"), "prior.model", "name of a model"},
      {SM_JOB("[28,28]", "{\"type\": \"score_model\", \"model\": \"tiny-unet\"}", "{\"type\": \"pc\"}"), "shape",
       "does not match model tiny-unet"},
      {SM_JOB("[12,12]", "{\"type\": \"score_model\", \"model\": \"tiny-unet\"}", "{\"type\": \"langevin\"}"),
       "sampler.type", "noise level 0"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sr_status st = parse_with_models(bad[i].doc, &pb, &err);
    CHECK(st != SR_OK && !strcmp(err.field, bad[i].field) && strstr(err.msg, bad[i].msg), "case %zu: %s (%s)", i,
          err.msg, err.field);
  }
}

static void close_file(void *f) { sr_safetensors_close(f); }

/* ∇ log p_t(x) = (1/α) s_θ((x − shift)/α, σ/α) for a VP or drift marginal. */
/* An observation in the wrong units (0–255 for a model of [0, 1] data) is run but flagged in the warnings. */
TEST(score_model_warns_about_data_outside_its_units) {
  for (int scale255 = 0; scale255 < 2; scale255++) {
    char doc[4096];
    size_t len = (size_t)snprintf(doc, sizeof doc, "{\"shape\": [12, 12], \"operator\": {\"type\": \"identity\"}, "
                                  "\"noise\": {\"sigma\": 0.1}, \"observation\": [");
    for (int r = 0; r < 12; r++) {
      len += (size_t)snprintf(doc + len, sizeof doc - len, "%s[", r ? "," : "");
      for (int q = 0; q < 12; q++)
        len += (size_t)snprintf(doc + len, sizeof doc - len, "%s%g", q ? "," : "",
                                ((r * 12 + q) % 3 ? 0.2 : 0.7) * (scale255 ? 255 : 1));
      len += (size_t)snprintf(doc + len, sizeof doc - len, "]");
    }
    len += (size_t)snprintf(doc + len, sizeof doc - len, "], \"prior\": {\"type\": \"score_model\", \"model\": "
                            "\"tiny-unet\"}, \"sampler\": {\"type\": \"ddrm\", \"steps\": 3}, \"num_samples\": 2}");
    sr_problem pb;
    sr_error err;
    sr_limits lim;
    sr_limits_default(&lim);
    lim.models_dir = "tests/data";
    sr_status st = sr_job_parse(doc, len, &lim, &pb, &err);
    CHECK(st == SR_OK, "%s", err.msg);
    if (st) continue;
    sr_result res;
    CHECK(sr_run(&pb, &res, NULL, NULL, &err) == SR_OK, "%s", err.msg);
    int warned = 0;
    for (int w = 0; w < res.nwarnings; w++) warned |= strstr(res.warnings[w], "not in the units") != NULL;
    CHECK(warned == scale255, "%s observation: warning %d", scale255 ? "0-255" : "0-1", warned);
    sr_result_clear(&res);
    sr_problem_clear(&pb);
  }
}

TEST(score_model_prior_maps_other_marginals) {
  sr_safetensors *file = calloc(1, sizeof *file);
  sr_error err;
  CHECK(sr_safetensors_open(MODEL, file, &err) == SR_OK, "%s", err.msg);
  if (!file->map) {
    free(file);
    return;
  }
  sr_unet *net = sr_unet_create(&file->set, &err);
  sr_safetensors f2;
  sr_safetensors_open(MODEL, &f2, &err);
  sr_unet *ref = sr_unet_create(&f2.set, &err);
  sr_prior *p = sr_prior_score_model(net, close_file, file, &err);
  size_t n = 144, sn = sr_stride(n);
  float *x = sr_alloc(sn), *xs = sr_alloc(sn), *a = sr_alloc(sn), *b = sr_alloc(sn);
  float *ws = sr_alloc(p->ws_floats);
  for (size_t i = 0; i < n; i++) x[i] = (float)(0.3 + 0.5 * sin((double)i));
  sr_noise nl = {0.8, 0.1, 0.4};
  p->score(p, x, 1, n, nl, a, ws);
  for (size_t i = 0; i < n; i++) xs[i] = (float)((x[i] - 0.1) / 0.8);
  sr_unet_score(ref, xs, 1, sn, 0.4 / 0.8, b, ws);
  double d = 0, m = 0;
  for (size_t i = 0; i < n; i++) {
    d = fmax(d, fabs(a[i] - b[i] / 0.8));
    m = fmax(m, fabs(b[i] / 0.8));
  }
  /* The two inputs are two roundings of (x − 0.1)/0.8 (float here, double then float there): they differ by an ulp,
   * which the Winograd F(4x4) layers' rounding (a few 1e-6 of the output: the PyTorch oracles above) turns into a
   * difference of that order: the tolerance is the PyTorch oracles' (1e-4 of the max). A wrong map (shift or scale
   * missed: the score off by 20% or more) is far above it. */
  CHECK(d <= 1e-4 * m, "mapped score differs by %g of %g", d, m);
  sr_prior_free(p);
  free(file);
  sr_unet_free(ref);
  sr_safetensors_close(&f2);
  sr_free(x); sr_free(xs); sr_free(a); sr_free(b); sr_free(ws);
}

/* The shipped model on real data: the first two Fashion-MNIST test images (tests/data, the model never saw the
 * test split), 60% of the pixels missing, σ_y = 0.01, through the job parser and a short pc run (60 steps, 4
 * chains). Floors: PSNR 6 dB above zero-filling and SSIM 0.5. A broken or untrained network scores far below them,
 * the trained one clears them by a margin. */
#define SHIPPED "models/fashion-mnist.safetensors"
TEST(shipped_model_inpaints_fashion_mnist) {
  FILE *f = fopen("tests/data/fashion-mnist-t10k-0-3.u8", "rb");
  unsigned char px[2 * 784];
  CHECK(f && fread(px, 1, sizeof px, f) == sizeof px, "tests/data/fashion-mnist-t10k-0-3.u8 is missing");
  if (f) fclose(f);
  FILE *m = fopen(SHIPPED, "rb");
  CHECK(m != NULL, "%s is missing (tools/train_score.py writes it)", SHIPPED);
  if (!m) return;
  fclose(m);
  size_t cap = 64 * 1024;
  char *doc = malloc(cap);
  float mask[784], z[784];
  static const char *const samplers[2] = {"{\"type\": \"pc\", \"steps\": 60}", "{\"type\": \"ddrm\", \"steps\": 30}"};
  for (int run = 0; run < 4; run++) {
    int im = run % 2;
    const char *sampler = samplers[run / 2];
    sr_mask_random(784, 0.4, (uint64_t)(77 + im), mask);
    sr_rng r = sr_rng_make(99, (uint64_t)im);
    sr_rng_normals(&r, 0, z, 784);
    size_t len = 0;
    /* three 28×28 nested lists: mask, observation (0 where unobserved), ground truth */
    for (int part = 0; part < 3; part++) {
      static const char *head[3] = {"{\"shape\": [28, 28], \"operator\": {\"type\": \"mask\", \"mask\": ",
                                    "}, \"observation\": ", ", \"ground_truth\": "};
      len += (size_t)snprintf(doc + len, cap - len, "%s[", head[part]);
      for (int y = 0; y < 28; y++) {
        len += (size_t)snprintf(doc + len, cap - len, "%s[", y ? "," : "");
        for (int x = 0; x < 28; x++) {
          int i = y * 28 + x;
          double truth = px[im * 784 + i] / 255.0;
          double v = part == 0 ? mask[i] : part == 1 ? mask[i] * (truth + 0.01 * z[i]) : truth;
          len += (size_t)snprintf(doc + len, cap - len, "%s%.6g", x ? "," : "", v);
        }
        len += (size_t)snprintf(doc + len, cap - len, "]");
      }
      len += (size_t)snprintf(doc + len, cap - len, "]");
    }
    len += (size_t)snprintf(doc + len, cap - len,
                            ", \"noise\": {\"sigma\": 0.01}, \"prior\": {\"type\": \"score_model\", \"model\": "
                            "\"fashion-mnist\"}, \"sampler\": %s, \"num_samples\": 4, \"seed\": 5, "
                            "\"outputs\": [\"mean\", \"std\"]}", sampler);
    CHECK(len < cap, "job document too long");
    sr_limits lim;
    sr_limits_default(&lim);
    lim.models_dir = "models";
    sr_problem pb;
    sr_error err;
    CHECK(sr_job_parse(doc, len, &lim, &pb, &err) == SR_OK, "%s", err.msg);
    sr_result res;
    CHECK(sr_run(&pb, &res, NULL, NULL, &err) == SR_OK, "%s", err.msg);
    /* zero-filled PSNR for the comparison */
    float zf[784], gt[784];
    for (int i = 0; i < 784; i++) {
      gt[i] = (float)(px[im * 784 + i] / 255.0);
      zf[i] = mask[i] * gt[i];
    }
    double pz = sr_psnr(zf, gt, 784);
    /* pc 60: measured 21.24 / 17.78 dB, SSIM 0.600 / 0.883 (zero-filled 12.05 / 5.60 dB); a random network: -26 dB,
     * SSIM 0 */
    CHECK(res.metrics.have && res.metrics.psnr > pz + 6.0 && res.metrics.ssim > 0.5,
          "image %d, %s: learned mean PSNR %.2f dB (zero-filled %.2f dB), SSIM %.3f", im, sampler, res.metrics.psnr,
          pz, res.metrics.ssim);
    printf("    image %d, %s: learned mean PSNR %.2f dB, SSIM %.3f, coverage %.1f%% (zero-filled %.2f dB)\n", im,
           sampler, res.metrics.psnr, res.metrics.ssim, 100 * res.metrics.coverage95, pz);
    sr_result_clear(&res);
    sr_problem_clear(&pb);
  }
  free(doc);
}

/* The network's vector paths (the Winograd transforms and the norms, solver/nn_unet.c: baseline, AVX2, AVX-512F,
 * picked by sr_cpu_path and capped by SR_RNG_PATH) give the baseline's bits: they do the same operations in the
 * same order, lane by lane. The tiny model's weights do not depend on the image size, so it runs here at sizes
 * that give odd tile counts, half-used last tiles and rows longer than one vector (37 x 35: 18 tiles a row). Paths
 * this CPU lacks fall back to narrower ones, which then compare equal trivially. On every path, each image scored
 * alone gives the bits it has in the batch. */
TEST(unet_vector_paths_give_the_baseline_bits) {
  sr_safetensors file;
  sr_error err;
  CHECK(sr_safetensors_open(MODEL, &file, &err) == SR_OK, "%s", err.msg);
  if (!file.map) return;
  const sr_tensor_set *ts = &file.set;
  const char **vals = malloc(ts->nmeta * sizeof *vals);
  size_t isz = ts->nmeta;
  for (size_t i = 0; i < ts->nmeta; i++) {
    vals[i] = ts->meta_vals[i];
    if (!strcmp(ts->meta_keys[i], "image_size")) isz = i;
  }
  CHECK(isz < ts->nmeta, "the tiny model has no image_size");
  const char *saved = getenv("SR_RNG_PATH");
  char *keep = saved ? strdup(saved) : NULL;
  /* 28 x 28, 37 x 35 and 66 x 70 go through F(4x4, 3x3) at their first levels (66 x 70: more than 16 tiles a row, so
   * the AVX-512 split and placement take several vectors a row); the rest through F(2x2, 3x3) */
  static const char *const sizes[] = {NULL, "37,35", "28,28", "5,7", "2,33", "66,70"};
  static const char *const paths[] = {"scalar", "avx2", NULL}; /* NULL: everything this CPU has */
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes && isz < ts->nmeta; si++) {
    sr_tensor_set set = *ts;
    if (sizes[si]) vals[isz] = sizes[si];
    set.meta_vals = vals;
    float *ref = NULL, *x = NULL, *out = NULL, *ws = NULL;
    size_t sn = 0, npix = 0;
    const size_t B = 3;
    for (size_t pi = 0; pi < sizeof paths / sizeof *paths; pi++) {
      if (paths[pi]) setenv("SR_RNG_PATH", paths[pi], 1);
      else unsetenv("SR_RNG_PATH");
      sr_unet *u = sr_unet_create(&set, &err);
      CHECK(u != NULL, "size %s: %s", vals[isz], err.msg);
      if (!u) break;
      size_t h, w;
      double smin, smax;
      sr_unet_info(u, &h, &w, &smin, &smax);
      if (!x) {
        npix = h * w;
        sn = sr_stride(npix);
        x = sr_alloc(B * sn), out = sr_alloc(B * sn), ref = sr_alloc(B * sn);
        ws = sr_alloc(sr_unet_ws_floats(u, B));
        sr_rng r = sr_rng_make(3, si);
        for (size_t b = 0; b < B; b++) sr_rng_normals(&r, b, x + b * sn, npix);
      }
      for (int k = 0; k < 2; k++) { /* two noise levels: the embedding changes every resblock's input */
        double sigma = k ? 0.03 : 2.0;
        sr_unet_score(u, x, B, sn, sigma, out, ws);
        if (pi == 0 && k == 0) memcpy(ref, out, B * sn * sizeof(float));
        if (k == 0) {
          size_t diff = 0;
          for (size_t b = 0; b < B; b++) diff += memcmp(ref + b * sn, out + b * sn, npix * sizeof(float)) != 0;
          CHECK(diff == 0, "size %s, path %s: %zu of %zu images differ from the baseline path's bits", vals[isz],
                paths[pi] ? paths[pi] : "native", diff, B);
          /* and an image's score does not depend on its batch: every product is a chain per output (nn_gemm.c) */
          float *one = sr_alloc(sn);
          for (size_t b = 0; b < B; b++) {
            sr_unet_score(u, x + b * sn, 1, sn, sigma, one, ws);
            CHECK(!memcmp(one, out + b * sn, npix * sizeof(float)), "size %s, path %s: image %zu alone differs from "
                  "its bits in a batch of %zu", vals[isz], paths[pi] ? paths[pi] : "native", b, B);
          }
          sr_free(one);
        }
        double m = 0;
        for (size_t b = 0; b < B; b++)
          for (size_t i = 0; i < npix; i++) m = fmax(m, fabs(out[b * sn + i]));
        CHECK(isfinite(m) && m > 0, "size %s: score max %g", vals[isz], m);
      }
      sr_unet_free(u);
    }
    sr_free(x); sr_free(out); sr_free(ref); sr_free(ws);
  }
  if (keep) setenv("SR_RNG_PATH", keep, 1);
  else unsetenv("SR_RNG_PATH");
  free(keep);
  free(vals);
  sr_safetensors_close(&file);
}
