/* result_write.c — the result document: moments, samples, trajectories, metrics, stats (with convergence
 * diagnostics), the effective sampler settings (defaults filled in) and warnings, each array in the ARRAY
 * encoding; and the result files (that document, .npy or BART .cfl/.hdr, and .png), as the service keeps them and
 * `run --out-dir` writes them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_json.h"
#include "cfl.h"
#include "job.h"
#include "models.h"
#include "npy.h"
#include "png.h"

static void add_num(cJSON *o, const char *k, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
  else cJSON_AddNullToObject(o, k);
}

static void add_sde(cJSON *o, const sr_sde *d) {
  cJSON *sde = cJSON_AddObjectToObject(o, "sde");
  cJSON_AddStringToObject(sde, "type", sr_sde_name(d->kind));
  if (d->kind == SR_SDE_VE) {
    add_num(sde, "sigma_min", d->sigma_min);
    add_num(sde, "sigma_max", d->sigma_max);
  } else if (d->kind == SR_SDE_VP) {
    add_num(sde, "beta_min", d->beta_min);
    add_num(sde, "beta_max", d->beta_max);
    add_num(sde, "T", d->T);
  } else {
    add_num(sde, "mu", d->mu);
    add_num(sde, "sigma", d->sigma);
    add_num(sde, "T", d->T);
  }
}

static cJSON *sampler_json(const sr_sampler_cfg *s) {
  cJSON *o = cJSON_CreateObject();
  switch (s->kind) {
  case SR_SAMPLER_LANGEVIN:
  case SR_SAMPLER_MALA:
    cJSON_AddStringToObject(o, "type", s->kind == SR_SAMPLER_MALA ? "mala" : "langevin");
    add_num(o, "steps", (double)s->steps);
    add_num(o, "burn_in", (double)s->burn_in);
    add_num(o, "thinning", (double)s->thinning);
    add_num(o, "step_size", s->step_size);
    if (s->kind == SR_SAMPLER_MALA) {
      cJSON_AddBoolToObject(o, "adapt", s->adapt);
      add_num(o, "target_accept", s->target_accept);
    }
    break;
  case SR_SAMPLER_ANNEALED:
    cJSON_AddStringToObject(o, "type", "annealed_langevin");
    add_num(o, "sigma_max", s->sigma_max);
    add_num(o, "sigma_min", s->sigma_min);
    add_num(o, "levels", (double)s->levels);
    add_num(o, "steps_per_level", (double)s->steps_per_level);
    add_num(o, "epsilon", s->epsilon);
    cJSON_AddStringToObject(o, "step_rule", s->step_rule == SR_STEP_LIPSCHITZ ? "lipschitz"
                                            : s->step_rule == SR_STEP_SPECTRAL ? "spectral" : "song");
    add_num(o, "final_steps", (double)s->final_steps);
    break;
  case SR_SAMPLER_PC:
  case SR_SAMPLER_ODE:
    cJSON_AddStringToObject(o, "type", s->kind == SR_SAMPLER_PC ? "pc" : "ode");
    add_sde(o, &s->sde);
    add_num(o, "steps", (double)s->steps);
    if (s->kind == SR_SAMPLER_PC) {
      add_num(o, "snr", s->snr);
      add_num(o, "corrector_steps", (double)s->corrector_steps);
      cJSON_AddBoolToObject(o, "denoise", s->denoise);
    } else {
      cJSON_AddStringToObject(o, "method", s->ode_method == 1 ? "euler" : "heun");
    }
    break;
  case SR_SAMPLER_DDRM:
  case SR_SAMPLER_DIFFPIR:
  case SR_SAMPLER_SMC:
    cJSON_AddStringToObject(o, "type", s->kind == SR_SAMPLER_DDRM ? "ddrm" : s->kind == SR_SAMPLER_DIFFPIR ? "diffpir"
                                                                                                          : "smc");
    add_sde(o, &s->sde);
    add_num(o, "steps", (double)s->steps);
    if (s->kind == SR_SAMPLER_DDRM) {
      add_num(o, "eta", s->eta);
      add_num(o, "eta_b", s->eta_b);
    } else if (s->kind == SR_SAMPLER_DIFFPIR) {
      add_num(o, "lambda", s->dp_lambda);
      add_num(o, "zeta", s->zeta);
    } else {
      add_num(o, "particles", (double)s->particles);
      add_num(o, "ess_threshold", s->ess_threshold);
    }
    break;
  case SR_SAMPLER_MH:
    cJSON_AddStringToObject(o, "type", "mh");
    add_num(o, "sweeps", (double)s->steps);
    add_num(o, "burn_in", (double)s->burn_in);
    add_num(o, "thinning", (double)s->thinning);
    cJSON_AddStringToObject(o, "proposal", s->proposal == SR_MH_CHECKERBOARD ? "checkerboard" : "single_flip");
    if (s->temp_start == s->temp_end) {
      add_num(o, "temperature", s->temp_end);
    } else {
      cJSON *t = cJSON_AddObjectToObject(o, "temperature");
      add_num(t, "start", s->temp_start);
      add_num(t, "end", s->temp_end);
    }
    cJSON_AddStringToObject(o, "init", s->init == SR_MH_INIT_OBSERVATION ? "observation" : "random");
    break;
  }
  if (sr_sampler_is_auto(s)) cJSON_AddBoolToObject(o, "auto", 1);
  return o;
}

/* {"a": x, "b": y}, or null unless both are finite (a diagnostic that is not defined for this run) */
static void add_pair(cJSON *o, const char *k, const char *ka, double a, const char *kb, double b) {
  if (!isfinite(a) || !isfinite(b)) {
    cJSON_AddNullToObject(o, k);
    return;
  }
  cJSON *p = cJSON_AddObjectToObject(o, k);
  cJSON_AddNumberToObject(p, ka, a);
  cJSON_AddNumberToObject(p, kb, b);
}

cJSON *sr_result_json(const sr_problem *pb, const sr_result *res, int lists) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON *sh = cJSON_AddArrayToObject(o, "shape");
  for (int i = 0; i < pb->rank; i++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)pb->shape[i]));
  cJSON_AddNumberToObject(o, "num_samples", (double)pb->num_samples);
  const int cx = pb->complex_image; /* mean, samples and trajectories complex; std real (one value per pixel) */
  if (res->mean && pb->want_mean) cJSON_AddItemToObject(o, "mean", sr_jarray_encode(res->mean, pb->rank, pb->shape, cx, lists));
  if (res->std && pb->want_std) cJSON_AddItemToObject(o, "std", sr_jarray_encode(res->std, pb->rank, pb->shape, 0, lists));
  if (res->samples) {
    size_t s[5] = {(size_t)pb->num_samples};
    memcpy(s + 1, pb->shape, (size_t)pb->rank * sizeof(size_t));
    cJSON_AddItemToObject(o, "samples", sr_jarray_encode(res->samples, pb->rank + 1, s, cx, lists));
  }
  if (res->trajectories) {
    cJSON *t = cJSON_AddObjectToObject(o, "trajectories");
    cJSON_AddNumberToObject(t, "every", (double)pb->trajectory_every);
    cJSON *times = cJSON_AddArrayToObject(t, "times");
    for (long k = 0; k < res->traj_len; k++) cJSON_AddItemToArray(times, cJSON_CreateNumber(res->traj_times[k]));
    size_t s[4] = {(size_t)pb->num_samples, (size_t)res->traj_len};
    memcpy(s + 2, pb->shape, (size_t)pb->rank * sizeof(size_t)); /* [S, T, ...image] */
    cJSON_AddItemToObject(t, "data", sr_jarray_encode(res->trajectories, 2 + pb->rank, s, cx, lists));
  }
  if (res->metrics.have) {
    cJSON *m = cJSON_AddObjectToObject(o, "metrics");
    add_num(m, "psnr", res->metrics.psnr);
    add_num(m, "ssim", res->metrics.ssim);
    add_num(m, "nrmse", res->metrics.nrmse);
    /* one draw in all (one chain keeping one state) has no spread: its std is 0 by construction, not a measurement */
    int one_draw = pb->sampler.kind != SR_SAMPLER_SMC && (double)pb->num_samples * (double)res->kept_per_chain < 2;
    if (one_draw) cJSON_AddNullToObject(m, "coverage95");
    else add_num(m, "coverage95", res->metrics.coverage95);
  }
  cJSON *st = cJSON_AddObjectToObject(o, "stats");
  add_num(st, "score_evals", (double)res->score_evals);
  add_num(st, "operator_applications", (double)res->op_applies);
  add_num(st, "seconds", res->seconds);
  add_num(st, "kept_per_chain", (double)res->kept_per_chain);
  if (res->accept_rate >= 0) add_num(st, "acceptance_rate", res->accept_rate);
  if (pb->sampler.kind == SR_SAMPLER_LANGEVIN || pb->sampler.kind == SR_SAMPLER_MALA)
    add_num(st, "step_size", res->step_size);
  if (pb->sampler.kind == SR_SAMPLER_MH)
    add_num(st, "flips_per_second", res->seconds > 0 ? (double)res->proposals / res->seconds : NAN);
  /* split-R̂ and ESS of the pixel means; null where not defined (e.g. one independent draw per chain) */
  add_pair(st, "rhat", "max", res->rhat_max, "median", res->rhat_median);
  add_pair(st, "ess", "min", res->ess_min, "median", res->ess_median);
  if (pb->sampler.kind == SR_SAMPLER_SMC) {
    add_num(st, "particles", (double)res->particles);
    add_num(st, "resamples", (double)res->resamples);
    add_num(st, "log_evidence", res->log_evidence);
    cJSON *eh = cJSON_AddArrayToObject(st, "ess_history");
    for (long k = 0; res->ess_history && k < res->ess_len; k++) {
      double e = res->ess_history[k];
      cJSON_AddItemToArray(eh, isfinite(e) ? cJSON_CreateNumber(e) : cJSON_CreateNull());
    }
  }
  cJSON_AddItemToObject(o, "sampler", sampler_json(&pb->sampler));
  cJSON *w = cJSON_AddArrayToObject(o, "warnings");
  const int cap = (int)(sizeof res->warnings / sizeof res->warnings[0]);
  int nw = res->nwarnings < 0 ? 0 : res->nwarnings > cap ? cap : res->nwarnings;
  for (int i = 0; i < nw; i++) {
    char buf[sizeof res->warnings[0] + 1];
    snprintf(buf, sizeof buf, "%.*s", (int)sizeof res->warnings[0], res->warnings[i]);
    cJSON_AddItemToArray(w, cJSON_CreateString(buf));
  }
  return o;
}

/* One result file of an array: name.ext as the format says. */
/* cx: data holds complex values (interleaved re, im): '<c8' .npy, complex .cfl (a .png is handed magnitudes) */
static unsigned char *array_file(const char *ext, const float *data, int rank, const size_t *shape, size_t samples,
                                 int cx, size_t *len) {
  size_t count = 1;
  for (int i = 0; i < rank; i++) count *= shape[i];
  if (!strcmp(ext, "npy")) return cx ? sr_npy_encode_complex(data, rank, shape, len) : sr_npy_encode(data, rank, shape, len);
  if (!strcmp(ext, "cfl")) return sr_cfl_encode(data, count, cx, len);
  if (!strcmp(ext, "png")) /* images only: [h, w], or a 1-D image as one row */
    return sr_png_encode_gray(data, rank == 2 ? shape[0] : 1, rank == 2 ? shape[1] : shape[0], len);
  /* hdr: the samples' index, the leading dimension here, becomes BART's last (15); the image's dimensions keep
   * their order (reversed), so the bytes are those of the row-major [S, ...shape] all the same */
  size_t dims[SR_CFL_MAX_DIMS];
  sr_cfl_dims(samples ? rank - 1 : rank, samples ? shape + 1 : shape, dims);
  if (samples) dims[SR_CFL_MAX_DIMS - 1] = samples;
  return (unsigned char *)sr_cfl_hdr_encode(dims, len);
}

int sr_result_files(const sr_problem *pb, const sr_result *res, int lists, sr_files_format fmt, sr_result_put_fn put,
                    void *user) {
  cJSON *doc = sr_result_json(pb, res, lists);
  char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
  cJSON_Delete(doc);
  if (!text) return errno = ENOMEM, -1;
  int rc = put(user, "result.json", text, strlen(text));
  free(text);
  size_t s[5] = {(size_t)pb->num_samples};
  memcpy(s + 1, pb->shape, (size_t)pb->rank * sizeof(size_t));
  struct {
    const char *name;
    const float *data;
    int rank;
    const size_t *shape;
    int cx;
  } arrays[3] = {{"mean", pb->want_mean ? res->mean : NULL, pb->rank, pb->shape, pb->complex_image},
                 {"std", pb->want_std ? res->std : NULL, pb->rank, pb->shape, 0},
                 {"samples", res->samples, pb->rank + 1, s, pb->complex_image}};
  float *mag = NULL; /* a complex mean's .png shows its magnitude */
  if (arrays[0].data && pb->complex_image) {
    size_t P = pb->n / 2;
    if (!(mag = malloc((P ? P : 1) * sizeof *mag))) return errno = ENOMEM, -1;
    for (size_t p = 0; p < P; p++) mag[p] = (float)hypot(res->mean[2 * p], res->mean[2 * p + 1]);
  }
  /* the array in one format (the other's names handed as absent), and a .png of the images (mean, std), 8-bit
   * from their min to max */
  static const char *const exts[] = {"npy", "hdr", "cfl", "png"};
  for (int i = 0; i < 3 && rc == 0; i++) {
    for (int e = 0; e < 4 && rc == 0; e++) {
      if (e == 3 && i == 2) continue;
      char name[32];
      size_t len = 0;
      snprintf(name, sizeof name, "%s.%s", arrays[i].name, exts[e]);
      if (!arrays[i].data || (e == 0 && fmt != SR_FILES_NPY) || ((e == 1 || e == 2) && fmt != SR_FILES_CFL)) {
        rc = put(user, name, NULL, 0); /* not asked for, or not this format: no such file */
        continue;
      }
      int png = e == 3, cx = arrays[i].cx && !png;
      unsigned char *b = array_file(exts[e], png && i == 0 && mag ? mag : arrays[i].data, arrays[i].rank,
                                    arrays[i].shape, i == 2 ? (size_t)pb->num_samples : 0, cx, &len);
      if (!b) errno = ENOMEM;
      rc = b ? put(user, name, b, len) : -1;
      int err = errno; /* what put left, whatever free does */
      free(b);
      errno = err;
    }
  }
  free(mag);
  return rc ? -1 : 0;
}
