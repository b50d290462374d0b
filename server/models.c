/* models.c — lists and validates the *.safetensors score models of a directory (see models.h). */
#include "models.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safetensors.h"

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
