/* models.c — lists and validates the *.safetensors score models of a directory, and holds the one table of
 * default samplers ({"type": "auto"}) (see models.h). */
#include "models.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safetensors.h"

/* ---------------------------------------------------------------- {"type": "auto"}
 * The sampler each prior type gets when the job says {"type": "auto"} or leaves "sampler" out, in the job
 * format (fields left out take that sampler's defaults; smc's particles: max(num_samples, 16)). The constants
 * come from the benchmarks (bench/, docs/samplers.md): change them here and only here. */
static const struct {
  const char *prior, *sampler;
  const char *general; /* for an operator without a spectral form (a list), where ddrm/diffpir/smc cannot run */
} AUTO_SAMPLERS[] = {
    {"score_model", "{\"type\": \"ddrm\", \"steps\": 100, \"eta\": 0.85, \"eta_b\": 1}", "{\"type\": \"pc\"}"},
    {"gaussian", "{\"type\": \"smc\", \"steps\": 200}",
     "{\"type\": \"pc\", \"sde\": {\"type\": \"ve\", \"sigma_min\": 0.01, \"sigma_max\": 50}}"},
    {"gmm", "{\"type\": \"smc\", \"steps\": 200}",
     "{\"type\": \"pc\", \"sde\": {\"type\": \"ve\", \"sigma_min\": 0.01, \"sigma_max\": 50}}"},
    {"tv", "{\"type\": \"mala\"}", NULL},
    {"ising", "{\"type\": \"mh\"}", NULL},
};

cJSON *sr_auto_sampler(const char *prior_type, int spectral) {
  for (size_t i = 0; prior_type && i < sizeof AUTO_SAMPLERS / sizeof AUTO_SAMPLERS[0]; i++)
    if (!strcmp(AUTO_SAMPLERS[i].prior, prior_type))
      return cJSON_Parse(!spectral && AUTO_SAMPLERS[i].general ? AUTO_SAMPLERS[i].general : AUTO_SAMPLERS[i].sampler);
  return NULL;
}

void sr_sampler_mark_auto(sr_sampler_cfg *s) { s->auto_chosen = 1; }

int sr_sampler_is_auto(const sr_sampler_cfg *s) { return s->auto_chosen; }

/* ---------------------------------------------------------------- the models directory */

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
    cJSON *a = sr_auto_sampler(AUTO_SAMPLERS[i].prior, 1);
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
        /* what {"type": "auto"} runs with this model: the table's entry over the model's trained noise range */
        cJSON *ds = sr_auto_sampler("score_model", 1);
        if (ds && !cJSON_GetObjectItemCaseSensitive(ds, "sde")) { /* "type", "sde", then the rest, as results show it */
          cJSON *full = cJSON_CreateObject(), *sd = cJSON_CreateObject();
          cJSON_AddStringToObject(sd, "type", "ve");
          cJSON_AddNumberToObject(sd, "sigma_min", smin);
          cJSON_AddNumberToObject(sd, "sigma_max", smax);
          for (const cJSON *it = ds->child; it; it = it->next) {
            cJSON_AddItemToObject(full, it->string, cJSON_Duplicate(it, 1));
            if (it == ds->child) cJSON_AddItemToObject(full, "sde", sd);
          }
          cJSON_Delete(ds);
          ds = full;
        }
        if (ds) cJSON_AddItemToObject(m, "default_sampler", ds);
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
