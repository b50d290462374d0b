/* models.c — lists and validates the *.safetensors score models of a directory, and holds the one table of
 * default samplers ({"type": "auto"}) (see models.h). */
#include "models.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"

/* ---------------------------------------------------------------- {"type": "auto"}
 * The sampler each prior type gets when the job says {"type": "auto"} or leaves "sampler" out, in the job
 * format (fields left out take that sampler's defaults; smc's particles: max(num_samples, 16)). The constants
 * come from the benchmarks (bench/, docs/samplers.md): change them here and only here. */
static const struct {
  const char *prior;
  const char *op;      /* the job's operator: "none", "identity", "mask", "blur", "fourier", "list", or "*" (any) */
  const char *sampler;
} AUTO_SAMPLERS[] = {
    /* bench/samplers, 10 test images: the best at <= 100 evaluations per sample (docs/quality.md) */
    {"score_model", "blur", "{\"type\": \"diffpir\", \"steps\": 100, \"lambda\": 1, \"zeta\": 0.3}"},
    {"score_model", "list", "{\"type\": \"pc\"}"}, /* no spectral form: the model's recommended pc */
    {"score_model", "*", "{\"type\": \"ddrm\", \"steps\": 100, \"eta\": 0.85, \"eta_b\": 1}"},
    /* exact in the limit, and efficient for these priors: its proposal is exact for a Gaussian
     * (tests/test_grid_samplers.c) */
    {"gaussian", "list", "{\"type\": \"pc\", \"sde\": {\"type\": \"ve\", \"sigma_min\": 0.01, \"sigma_max\": 50}}"},
    {"gaussian", "*", "{\"type\": \"smc\", \"steps\": 200}"},
    {"gmm", "list", "{\"type\": \"pc\", \"sde\": {\"type\": \"ve\", \"sigma_min\": 0.01, \"sigma_max\": 50}}"},
    {"gmm", "*", "{\"type\": \"smc\", \"steps\": 200}"},
    {"tv", "*", "{\"type\": \"mala\"}"},
    {"ising", "*", "{\"type\": \"mh\"}"},
};

cJSON *sr_auto_sampler(const char *prior_type, const char *op_kind) {
  if (!op_kind) op_kind = "*";
  for (size_t i = 0; prior_type && i < sizeof AUTO_SAMPLERS / sizeof AUTO_SAMPLERS[0]; i++)
    if (!strcmp(AUTO_SAMPLERS[i].prior, prior_type) &&
        (!strcmp(AUTO_SAMPLERS[i].op, "*") || !strcmp(AUTO_SAMPLERS[i].op, op_kind)))
      return cJSON_Parse(AUTO_SAMPLERS[i].sampler);
  return NULL;
}

/* A score-model sampler as results show it: "type", the model's VE "sde", then the rest. */
static cJSON *with_model_sde(cJSON *ds, double smin, double smax) {
  if (!ds || cJSON_GetObjectItemCaseSensitive(ds, "sde")) return ds;
  cJSON *full = cJSON_CreateObject(), *sd = cJSON_CreateObject();
  cJSON_AddStringToObject(sd, "type", "ve");
  cJSON_AddNumberToObject(sd, "sigma_min", smin);
  cJSON_AddNumberToObject(sd, "sigma_max", smax);
  for (const cJSON *it = ds->child; it; it = it->next) {
    cJSON_AddItemToObject(full, it->string, cJSON_Duplicate(it, 1));
    if (it == ds->child) cJSON_AddItemToObject(full, "sde", sd);
  }
  cJSON_Delete(ds);
  return full;
}

void sr_sampler_mark_auto(sr_sampler_cfg *s) { s->auto_chosen = 1; }

int sr_sampler_is_auto(const sr_sampler_cfg *s) { return s->auto_chosen; }

/* ---------------------------------------------------------------- the models directory */

#ifndef SR_MODELS_INSTALL_DIR
#define SR_MODELS_INSTALL_DIR "/usr/local/share/scorerecon/models"
#endif

const char *sr_models_dir_resolve(const char *given, char *buf, size_t cap) {
  if (given && *given) return given;
  const char *env = getenv("SCORERECON_MODELS");
  if (env && *env) {
    snprintf(buf, cap, "%s", env);
    return buf;
  }
  struct stat sb;
  if (stat("models", &sb) == 0 && S_ISDIR(sb.st_mode)) return "models";
  return SR_MODELS_INSTALL_DIR;
}

static const char *meta(const sr_safetensors *f, const char *k) {
  for (size_t i = 0; i < f->nmeta; i++)
    if (!strcmp(f->keys[i], k)) return f->vals[i];
  return NULL;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

cJSON *sr_models_json(const char *dir) {
  cJSON *o = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(o, "models");
  cJSON *bad = cJSON_AddArrayToObject(o, "invalid");
  cJSON_AddStringToObject(o, "models_dir", dir);
  cJSON *defaults = cJSON_AddObjectToObject(o, "default_samplers");
  for (size_t i = 0; i < sizeof AUTO_SAMPLERS / sizeof AUTO_SAMPLERS[0]; i++) {
    if (strcmp(AUTO_SAMPLERS[i].op, "*")) continue; /* the prior's general entry; by operator: each model */
    cJSON *a = sr_auto_sampler(AUTO_SAMPLERS[i].prior, NULL);
    if (a) cJSON_AddItemToObject(defaults, AUTO_SAMPLERS[i].prior, a);
  }
  DIR *d = opendir(dir);
  if (!d) return o;
  char *names[256];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 256) {
    size_t l = strlen(e->d_name);
    if (l > 12 && !strcmp(e->d_name + l - 12, ".safetensors") && e->d_name[0] != '.') names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(names[i]) - 12), names[i]);
    sr_safetensors f;
    sr_error err;
    sr_unet *net = NULL;
    if (sr_safetensors_open(path, &f, &err) == SR_OK) {
      net = sr_unet_create(&f.set, &err);
      if (net) {
        cJSON *m = cJSON_CreateObject();
        size_t h, w;
        double smin, smax;
        sr_unet_info(net, &h, &w, &smin, &smax);
        struct stat sb;
        cJSON_AddStringToObject(m, "name", name);
        cJSON_AddStringToObject(m, "file", names[i]);
        cJSON_AddNumberToObject(m, "bytes", stat(path, &sb) ? 0 : (double)sb.st_size);
        cJSON *is = cJSON_AddArrayToObject(m, "image_size");
        cJSON_AddItemToArray(is, cJSON_CreateNumber((double)h));
        cJSON_AddItemToArray(is, cJSON_CreateNumber((double)w));
        cJSON_AddNumberToObject(m, "parameters", (double)sr_unet_params(net));
        const char *ch = meta(&f, "channels"), *sde = meta(&f, "sde"), *smp = meta(&f, "sampler");
        cJSON_AddStringToObject(m, "channels", ch ? ch : "");
        cJSON_AddStringToObject(m, "sde", sde ? sde : "ve");
        cJSON_AddNumberToObject(m, "sigma_min", smin);
        cJSON_AddNumberToObject(m, "sigma_max", smax);
        cJSON *sj = smp ? cJSON_Parse(smp) : NULL;
        if (sj) cJSON_AddItemToObject(m, "sampler", sj);
        /* what {"type": "auto"} runs with this model: the table's entry over the model's trained noise range, and
         * the entries for particular operators */
        cJSON *ds = with_model_sde(sr_auto_sampler("score_model", NULL), smin, smax);
        cJSON *byop = cJSON_CreateObject();
        for (size_t k = 0; k < sizeof AUTO_SAMPLERS / sizeof AUTO_SAMPLERS[0]; k++)
          if (!strcmp(AUTO_SAMPLERS[k].prior, "score_model") && strcmp(AUTO_SAMPLERS[k].op, "*"))
            cJSON_AddItemToObject(byop, AUTO_SAMPLERS[k].op,
                                  with_model_sde(cJSON_Parse(AUTO_SAMPLERS[k].sampler), smin, smax));
        if (ds) cJSON_AddItemToObject(m, "default_sampler", ds);
        cJSON_AddItemToObject(m, "default_sampler_by_operator", byop);
        cJSON_AddItemToArray(arr, m);
        sr_unet_free(net);
      }
      sr_safetensors_close(&f);
    }
    if (!net) {
      cJSON *b = cJSON_CreateObject();
      cJSON_AddStringToObject(b, "file", names[i]);
      cJSON_AddStringToObject(b, "error", err.msg);
      cJSON_AddItemToArray(bad, b);
    }
    free(names[i]);
  }
  return o;
}

/* ---------------------------------------------------------------- loading one model */

static void release_model_file(void *arg) {
  sr_safetensors_close(arg);
  free(arg);
}

sr_prior *sr_model_load_prior(const char *dir, const char *name, size_t *h, size_t *w, cJSON **sampler,
                              sr_error *err) {
  *sampler = NULL;
  size_t nl = strlen(name);
  int ok = nl >= 1 && nl <= 64 && name[0] != '.';
  for (size_t i = 0; ok && i < nl; i++) /* a name, never a path */
    ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
         name[i] == '-' || name[i] == '_' || name[i] == '.';
  if (!ok) {
    sr_fail(err, SR_EINVAL, "prior.model", "must be 1 to 64 letters, digits, '-', '_' or '.'");
    return NULL;
  }
  char path[1400];
  snprintf(path, sizeof path, "%s/%s.safetensors", dir ? dir : "models", name);
  if (access(path, R_OK)) {
    sr_fail(err, SR_EINVAL, "prior.model", "\"%s\" is not an installed model (no %s)", name, path);
    return NULL;
  }
  sr_safetensors *file = calloc(1, sizeof *file);
  if (!file) {
    sr_fail(err, SR_ENOMEM, "prior.model", "out of memory");
    return NULL;
  }
  sr_error e2;
  if (sr_safetensors_open(path, file, &e2)) {
    free(file);
    sr_fail(err, e2.code, "prior.model", "%s", e2.msg);
    return NULL;
  }
  sr_unet *net = sr_unet_create(&file->set, &e2);
  if (!net) {
    release_model_file(file);
    sr_fail(err, e2.code, "prior.model", "%s: %s", name, e2.msg);
    return NULL;
  }
  double smin, smax;
  sr_unet_info(net, h, w, &smin, &smax);
  const char *rec = meta(file, "sampler");
  sr_prior *p = sr_prior_score_model(net, release_model_file, file, err); /* owns net and file from here */
  if (p && rec) *sampler = cJSON_Parse(rec);
  return p;
}
