/* job_parse.c — the ONE parser of job documents: JSON text -> sr_problem, with an error naming the field for
 * every way a document can be wrong (types, shapes, ranges, unknown or duplicate keys, NaN, sizes). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "array_json.h"
#include "job.h"
#include "models.h"


/* A generator of the document and the ARRAY that replaces it when the document is materialised. */
typedef struct {
  cJSON *parent, *node, *array; /* array: owned until it replaces node */
} gen_item;

typedef struct {
  const sr_limits *lim;
  sr_error *err;
  sr_problem *pb;
  cJSON *model_sampler;   /* a learned prior's recommended sampler (its metadata), owned; NULL if none */
  sr_job_meta *meta;      /* NULL: the caller wants the problem only */
  gen_item *gen;          /* meta->materialise: the generators met, in document order (owned) */
  size_t ngen;
} parse_ctx;

/* Records the ARRAY a generator made (materialise only); -1 when out of memory. */
static int note_generated(parse_ctx *c, const cJSON *parent, const cJSON *node, const float *buf, size_t h, size_t w) {
  if (!c->meta || !c->meta->materialise) return 0;
  size_t shape[2] = {h, w};
  cJSON *a = sr_jarray_encode(buf, 2, shape, 0, 0);
  gen_item *g = a ? realloc(c->gen, (c->ngen + 1) * sizeof *g) : NULL;
  if (!g) {
    cJSON_Delete(a);
    return -1;
  }
  c->gen = g;
  c->gen[c->ngen++] = (gen_item){(cJSON *)parent, (cJSON *)node, a};
  return 0;
}

/* ---------------------------------------------------------------- small typed getters */

static sr_status check_keys(const cJSON *obj, const char *path, const char *const *allowed, sr_error *err) {
  for (const cJSON *c = obj->child; c; c = c->next) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++) ok |= !strcmp(c->string, *a);
    if (!ok) {
      char f[192];
      snprintf(f, sizeof f, "%s%s%s", path, *path ? "." : "", c->string);
      char list[256] = "";
      for (const char *const *a = allowed; *a; a++) {
        strncat(list, a == allowed ? "" : ", ", sizeof list - strlen(list) - 1);
        strncat(list, *a, sizeof list - strlen(list) - 1);
      }
      return sr_fail(err, SR_EINVAL, f, "is not a known field (known here: %s)", list);
    }
  }
  return SR_OK;
}

static void join(char *out, size_t cap, const char *path, const char *key) {
  /* out = path.key (or key at the top level), truncated to cap */
  size_t o = 0;
  for (const char *p = path; *p && o + 1 < cap; p++) out[o++] = *p;
  if (*path && o + 1 < cap) out[o++] = '.';
  for (const char *p = key; *p && o + 1 < cap; p++) out[o++] = *p;
  out[o] = 0;
}

/* Reads a finite number; returns 1 if present, 0 if absent (out untouched), -1 on error. */
static int get_num(const cJSON *obj, const char *path, const char *key, int required, double *out, sr_error *err) {
  char f[192];
  join(f, sizeof f, path, key);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) {
    if (required) sr_fail(err, SR_EINVAL, f, "is required");
    return required ? -1 : 0;
  }
  if (!cJSON_IsNumber(v)) {
    sr_fail(err, SR_EINVAL, f, "must be a number");
    return -1;
  }
  if (!isfinite(v->valuedouble)) {
    sr_fail(err, SR_EINVAL, f, "must be finite");
    return -1;
  }
  *out = v->valuedouble;
  return 1;
}

static int get_pos(const cJSON *obj, const char *path, const char *key, int required, double *out, sr_error *err) {
  int r = get_num(obj, path, key, required, out, err);
  if (r == 1 && !(*out > 0)) {
    char f[192];
    join(f, sizeof f, path, key);
    sr_fail(err, SR_EINVAL, f, "must be > 0");
    return -1;
  }
  return r;
}

static int get_int(const cJSON *obj, const char *path, const char *key, int required, long lo, long hi, long *out,
                   sr_error *err) {
  double d;
  int r = get_num(obj, path, key, required, &d, err);
  if (r != 1) return r;
  char f[192];
  join(f, sizeof f, path, key);
  if (d != floor(d)) {
    sr_fail(err, SR_EINVAL, f, "must be an integer");
    return -1;
  }
  if (d < (double)lo || d > (double)hi) {
    sr_fail(err, SR_EINVAL, f, "must be between %ld and %ld", lo, hi);
    return -1;
  }
  *out = (long)d;
  return 1;
}

static const cJSON *get_obj(const cJSON *obj, const char *path, const char *key, int required, sr_error *err,
                            int *bad) {
  char f[192];
  join(f, sizeof f, path, key);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  *bad = 0;
  if (!v) {
    if (required) {
      sr_fail(err, SR_EINVAL, f, "is required");
      *bad = 1;
    }
    return NULL;
  }
  if (!cJSON_IsObject(v)) {
    sr_fail(err, SR_EINVAL, f, "must be an object");
    *bad = 1;
    return NULL;
  }
  return v;
}

static const char *get_type(const cJSON *obj, const char *path, sr_error *err) {
  char f[192];
  join(f, sizeof f, path, "type");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
  if (!t) {
    sr_fail(err, SR_EINVAL, f, "is required");
    return NULL;
  }
  if (!cJSON_IsString(t)) {
    sr_fail(err, SR_EINVAL, f, "must be a string");
    return NULL;
  }
  return t->valuestring;
}

/* ---------------------------------------------------------------- document-level checks cJSON does not make */

typedef struct {
  const char *key;
  size_t index;
} key_at;

static int by_key_then_index(const void *pa, const void *pb) {
  const key_at *a = pa, *b = pb;
  int c = strcmp(a->key, b->key);
  return c ? c : (a->index > b->index) - (a->index < b->index);
}

/* The duplicated key of obj whose first occurrence comes first (NULL if none), in O(k log k): a document may
 * hold an object of millions of keys, which a pairwise scan would take hours over. *oom set on failure. */
static const char *first_duplicate(const cJSON *obj, int *oom) {
  size_t k = 0;
  for (const cJSON *c = obj->child; c; c = c->next) k++;
  *oom = 0;
  if (k < 2) return NULL;
  if (k <= 16) {
    for (const cJSON *a = obj->child; a; a = a->next)
      for (const cJSON *b = a->next; b; b = b->next)
        if (!strcmp(a->string, b->string)) return a->string;
    return NULL;
  }
  key_at *ks = malloc(k * sizeof *ks);
  if (!ks) {
    *oom = 1;
    return NULL;
  }
  size_t i = 0;
  for (const cJSON *c = obj->child; c; c = c->next, i++) ks[i] = (key_at){c->string, i};
  qsort(ks, k, sizeof *ks, by_key_then_index);
  const char *dup = NULL;
  size_t dup_at = k;
  for (i = 1; i < k; i++) /* a run of equal keys starts with its first occurrence */
    if (!strcmp(ks[i].key, ks[i - 1].key) && (i < 2 || strcmp(ks[i - 1].key, ks[i - 2].key)) &&
        ks[i - 1].index < dup_at) {
      dup = ks[i - 1].key;
      dup_at = ks[i - 1].index;
    }
  free(ks);
  return dup;
}

static sr_status no_duplicate_keys(const cJSON *v, char *path, size_t cap, sr_error *err) {
  if (cJSON_IsObject(v)) {
    int oom;
    const char *dup = first_duplicate(v, &oom);
    if (oom) return sr_fail(err, SR_ENOMEM, "job", "out of memory");
    if (dup) {
      char f[256];
      snprintf(f, sizeof f, "%s%s%s", path, *path ? "." : "", dup);
      return sr_fail(err, SR_EINVAL, f, "appears more than once in its object");
    }
  }
  size_t len = strlen(path);
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    if (!cJSON_IsObject(c) && !cJSON_IsArray(c)) continue;
    if (cJSON_IsObject(v)) snprintf(path + len, cap - len, "%s%s", len ? "." : "", c->string);
    else snprintf(path + len, cap - len, "[%d]", i);
    sr_status st = no_duplicate_keys(c, path, cap, err);
    path[len] = 0;
    if (st) return st;
  }
  return SR_OK;
}

/* cJSON cuts strings at an escaped NUL; a key or value holding one is refused instead. */
static int has_escaped_nul(const char *s, size_t len) {
  for (size_t i = 0; i + 5 < len; i++) {
    if (s[i] != '\\') continue;
    if (s[i + 1] == '\\') {
      i++;
      continue;
    }
    if (s[i + 1] == 'u' && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0') return 1;
  }
  return 0;
}

/* An upper bound on the JSON values (parse-tree nodes) of a document, from one pass over its text: every value
 * but the first of its container follows a comma, and each container opens with a bracket. Counted before the
 * parse, so that a body of dense numbers is refused before it costs ~80 bytes of tree per value. */
static size_t json_values_bound(const char *s, size_t len) {
  size_t n = 1;
  int in_string = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (in_string) {
      if (ch == '\\') i++;
      else if (ch == '"') in_string = 0;
    } else if (ch == '"') {
      in_string = 1;
    } else if (ch == ',') {
      n++;
    } else if (ch == '[' || ch == '{') {
      n += 2;
    }
  }
  return n;
}

/* ---------------------------------------------------------------- operators */

static sr_op *parse_one_op(parse_ctx *c, const cJSON *o, const char *path, int is_last, int *is_none) {
  sr_error *err = c->err;
  sr_problem *pb = c->pb;
  char f[192];
  *is_none = 0;
  if (!cJSON_IsObject(o)) {
    sr_fail(err, SR_EINVAL, path, "must be an object with a \"type\" (or a list of them)");
    return NULL;
  }
  const char *type = get_type(o, path, err);
  if (!type) return NULL;
  size_t h = pb->rank == 2 ? pb->shape[0] : 1, w = pb->rank == 2 ? pb->shape[1] : pb->shape[0];
  if (!strcmp(type, "none")) {
    static const char *const k[] = {"type", NULL};
    if (check_keys(o, path, k, err)) return NULL;
    if (strcmp(path, "operator")) {
      sr_fail(err, SR_EINVAL, path, "type none cannot be part of a list");
      return NULL;
    }
    *is_none = 1;
    return NULL;
  }
  if (!strcmp(type, "identity")) {
    static const char *const k[] = {"type", NULL};
    if (check_keys(o, path, k, err)) return NULL;
    sr_op *op = sr_op_identity(pb->rank, pb->shape, err);
    return pb->complex_image ? sr_op_complex(op, err) : op;
  }
  if (!strcmp(type, "mask")) {
    static const char *const k[] = {"type", "mask", NULL};
    if (check_keys(o, path, k, err)) return NULL;
    join(f, sizeof f, path, "mask");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "mask");
    if (!m) {
      sr_fail(err, SR_EINVAL, f, "is required");
      return NULL;
    }
    sr_jarray a;
    if (sr_jarray_decode(m, f, 0, c->lim->max_pixels, &a, err)) return NULL;
    char s1[64], s2[64];
    if (a.rank != pb->rank || memcmp(a.shape, pb->shape, (size_t)pb->rank * sizeof(size_t))) {
      sr_fail(err, SR_EINVAL, f, "shape %s does not match the image shape %s", sr_shape_str(a.rank, a.shape, s1, 64),
              sr_shape_str(pb->rank, pb->shape, s2, 64));
      sr_free(a.data);
      return NULL;
    }
    sr_op *op = sr_op_mask(pb->rank, pb->shape, a.data, err);
    sr_free(a.data);
    return pb->complex_image ? sr_op_complex(op, err) : op;
  }
  if (!strcmp(type, "blur") || !strcmp(type, "fourier") || !strcmp(type, "sense")) {
    int blur = type[0] == 'b', sense = type[0] == 's';
    static const char *const kb[] = {"type", "kernel", NULL}, *const kf[] = {"type", "mask", NULL},
                             *const ks[] = {"type", "sensitivities", "mask", NULL};
    if (check_keys(o, path, blur ? kb : sense ? ks : kf, err)) return NULL;
    if (pb->rank != 2) {
      join(f, sizeof f, path, "type");
      sr_fail(err, SR_EINVAL, f, "%s needs a 2-D image: shape must be [H, W]", type);
      return NULL;
    }
    if (sense && !pb->complex_image) {
      join(f, sizeof f, path, "type");
      sr_fail(err, SR_EINVAL, f, "sense needs a complex image: set image_dtype to \"complex64\"");
      return NULL;
    }
    if (!blur && !is_last && !pb->complex_image) {
      sr_fail(err, SR_EINVAL, path, "fourier must be the last operator of a list (its output is complex)");
      return NULL;
    }
    const char *key = blur ? "kernel" : "mask";
    join(f, sizeof f, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
      sr_fail(err, SR_EINVAL, f, "is required");
      return NULL;
    }
    float *buf = NULL;
    size_t kh = h, kw = w;
    int generated = 0;
    if (cJSON_IsObject(v) && !cJSON_GetObjectItemCaseSensitive(v, "data")) {
      /* generator form */
      const cJSON *g = v->child;
      if (!g || g->next) {
        sr_fail(err, SR_EINVAL, f, "must be an ARRAY or an object with exactly one generator (%s)",
                blur ? "gaussian" : "cartesian or random");
        return NULL;
      }
      char gf[192];
      join(gf, sizeof gf, f, g->string);
      if (!cJSON_IsObject(g)) {
        sr_fail(err, SR_EINVAL, gf, "must be an object");
        return NULL;
      }
      generated = 1;
      if (blur && !strcmp(g->string, "gaussian")) {
        static const char *const k[] = {"sigma", "size", NULL};
        double sigma;
        long size;
        if (check_keys(g, gf, k, err) || get_pos(g, gf, "sigma", 1, &sigma, err) < 0 ||
            get_int(g, gf, "size", 1, 1, (long)(h < w ? h : w), &size, err) < 0)
          return NULL;
        kh = kw = (size_t)size;
        buf = sr_alloc(kh * kw);
        if (buf) sr_gaussian_kernel(sigma, kh, buf);
      } else if (!blur && !strcmp(g->string, "cartesian")) {
        static const char *const k[] = {"acceleration", "center_fraction", "seed", NULL};
        double acc, cf = 0.08;
        long seed = 0;
        if (check_keys(g, gf, k, err) || get_num(g, gf, "acceleration", 1, &acc, err) < 0 ||
            get_num(g, gf, "center_fraction", 0, &cf, err) < 0 ||
            get_int(g, gf, "seed", 0, 0, 9007199254740991L, &seed, err) < 0)
          return NULL;
        char ff[224];
        if (acc < 1) {
          join(ff, sizeof ff, gf, "acceleration");
          sr_fail(err, SR_EINVAL, ff, "must be >= 1");
          return NULL;
        }
        if (cf < 0 || cf > 1) {
          join(ff, sizeof ff, gf, "center_fraction");
          sr_fail(err, SR_EINVAL, ff, "must be between 0 and 1");
          return NULL;
        }
        buf = sr_alloc(h * w);
        if (buf) sr_mask_cartesian(h, w, acc, cf, (uint64_t)seed, buf);
      } else if (!blur && !strcmp(g->string, "random")) {
        static const char *const k[] = {"fraction", "seed", NULL};
        double p;
        long seed = 0;
        if (check_keys(g, gf, k, err) || get_num(g, gf, "fraction", 1, &p, err) < 0 ||
            get_int(g, gf, "seed", 0, 0, 9007199254740991L, &seed, err) < 0)
          return NULL;
        if (!(p > 0 && p <= 1)) {
          char ff[224];
          join(ff, sizeof ff, gf, "fraction");
          sr_fail(err, SR_EINVAL, ff, "must be in (0, 1]");
          return NULL;
        }
        buf = sr_alloc(h * w);
        if (buf) sr_mask_random(h * w, p, (uint64_t)seed, buf);
      } else {
        sr_fail(err, SR_EINVAL, gf, "is not a known generator (%s)", blur ? "gaussian" : "cartesian, random");
        return NULL;
      }
      if (!buf || note_generated(c, o, v, buf, kh, kw)) {
        sr_free(buf);
        sr_fail(err, SR_ENOMEM, f, "out of memory");
        return NULL;
      }
    }
    if (!generated) {
      sr_jarray a;
      if (sr_jarray_decode(v, f, 0, c->lim->max_pixels, &a, err)) return NULL;
      char s1[64], s2[64];
      if (blur && a.rank != 2) {
        sr_fail(err, SR_EINVAL, f, "must be 2-D, got shape %s", sr_shape_str(a.rank, a.shape, s1, 64));
        sr_free(a.data);
        return NULL;
      }
      if (!blur && (a.rank != 2 || a.shape[0] != h || a.shape[1] != w)) {
        sr_fail(err, SR_EINVAL, f, "shape %s does not match the image shape %s", sr_shape_str(a.rank, a.shape, s1, 64),
                sr_shape_str(pb->rank, pb->shape, s2, 64));
        sr_free(a.data);
        return NULL;
      }
      buf = a.data;
      kh = a.shape[0];
      kw = a.shape[1];
    }
    sr_jarray sens = {0};
    if (sense) { /* [coils, H, W] complex; coils × pixels within max_pixels */
      join(f, sizeof f, path, "sensitivities");
      const cJSON *sv = cJSON_GetObjectItemCaseSensitive(o, "sensitivities");
      if (!sv) {
        sr_fail(err, SR_EINVAL, f, "is required ([coils, H, W] complex64)");
        { sr_free(buf); return NULL; }
      }
      if (sr_jarray_decode(sv, f, 1, c->lim->max_pixels, &sens, err)) { sr_free(buf); return NULL; }
      char s1[64];
      if (sens.rank != 3 || sens.shape[1] != h || sens.shape[2] != w) {
        sr_fail(err, SR_EINVAL, f, "shape %s is not [coils, %zu, %zu]", sr_shape_str(sens.rank, sens.shape, s1, 64),
                h, w);
        sr_free(sens.data);
        sr_free(buf);
        return NULL;
      }
    }
    sr_error e2;
    sr_op *op = blur && pb->complex_image ? sr_op_complex(sr_op_blur(h, w, buf, kh, kw, &e2), &e2)
                : blur                    ? sr_op_blur(h, w, buf, kh, kw, &e2)
                : sense                   ? sr_op_sense(sens.shape[0], h, w, sens.data, buf, &e2)
                : pb->complex_image       ? sr_op_fourier_complex(h, w, buf, &e2)
                                          : sr_op_fourier(h, w, buf, &e2);
    sr_free(buf);
    sr_free(sens.data);
    if (!op) sr_fail(err, e2.code, f, "%s", e2.msg + (strncmp(e2.msg, e2.field, strlen(e2.field)) ? 0 :
                                                          strlen(e2.field) + (e2.field[0] ? 1 : 0)));
    return op;
  }
  join(f, sizeof f, path, "type");
  sr_fail(err, SR_EINVAL, f, "\"%.40s\" is not a known operator (none, identity, mask, blur, fourier, sense)", type);
  return NULL;
}

static int parse_operator(parse_ctx *c, const cJSON *v) {
  sr_problem *pb = c->pb;
  if (!v) {
    sr_fail(c->err, SR_EINVAL, "operator", "is required ({\"type\": \"none\"} samples the prior alone)");
    return -1;
  }
  int is_none = 0;
  if (cJSON_IsArray(v)) {
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > 16) {
      sr_fail(c->err, SR_EINVAL, "operator", "list must hold 1 to 16 operators");
      return -1;
    }
    sr_op *ops[16];
    int i = 0;
    for (const cJSON *o = v->child; o; o = o->next, i++) {
      char path[32];
      snprintf(path, sizeof path, "operator[%d]", i);
      ops[i] = parse_one_op(c, o, path, i == n - 1, &is_none);
      if (!ops[i]) {
        for (int j = 0; j < i; j++) sr_op_free(ops[j]);
        return -1;
      }
    }
    pb->op = sr_op_chain(ops, n, c->err);
    return pb->op ? 0 : -1;
  }
  pb->op = parse_one_op(c, v, "operator", 1, &is_none);
  if (is_none) return 1;
  return pb->op ? 0 : -1;
}

/* ---------------------------------------------------------------- priors */

static int parse_doubles(const cJSON *obj, const char *path, const char *key, double *out, size_t cap, size_t *n,
                         sr_error *err) {
  char f[192];
  join(f, sizeof f, path, key);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) return sr_fail(err, SR_EINVAL, f, "is required"), -1;
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || (size_t)cJSON_GetArraySize(v) > cap)
    return sr_fail(err, SR_EINVAL, f, "must be a list of 1 to %zu numbers", cap), -1;
  *n = 0;
  for (const cJSON *e = v->child; e; e = e->next) {
    if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
      char ff[224];
      snprintf(ff, sizeof ff, "%s[%zu]", f, *n);
      return sr_fail(err, SR_EINVAL, ff, "must be a finite number"), -1;
    }
    out[(*n)++] = e->valuedouble;
  }
  return 0;
}

/* ---------------------------------------------------------------- learned priors */

static int parse_score_model(parse_ctx *c, const cJSON *v) {
  sr_error *err = c->err;
  sr_problem *pb = c->pb;
  static const char *const k[] = {"type", "model", NULL};
  if (check_keys(v, "prior", k, err)) return -1;
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "model");
  if (!cJSON_IsString(m)) return sr_fail(err, SR_EINVAL, "prior.model", "must be the name of a model (see `scorerecon "
                                         "models` or GET /v1/models)"), -1;
  size_t h, w;
  pb->prior = sr_model_load_prior(c->lim->models_dir, m->valuestring, &h, &w, &c->model_sampler, err);
  if (!pb->prior) return -1;
  if (pb->rank != 2 || pb->shape[0] != h || pb->shape[1] != w) {
    char s1[64];
    return sr_fail(err, SR_EINVAL, "shape", "%s does not match model %s's image size [%zu,%zu]",
                   sr_shape_str(pb->rank, pb->shape, s1, sizeof s1), m->valuestring, h, w), -1;
  }
  return 0;
}

/* {"type": "ising", "coupling": J, "field": h, "boundary": "free" | "periodic", "values": [a, b]} */
static int parse_ising(parse_ctx *c, const cJSON *v) {
  sr_error *err = c->err;
  sr_problem *pb = c->pb;
  static const char *const k[] = {"type", "coupling", "field", "boundary", "values", NULL};
  double J = 0, field = 0, ab[2] = {-1, 1};
  if (check_keys(v, "prior", k, err) || get_num(v, "prior", "coupling", 1, &J, err) < 0 ||
      get_num(v, "prior", "field", 0, &field, err) < 0)
    return -1;
  int periodic = 0;
  const cJSON *bd = cJSON_GetObjectItemCaseSensitive(v, "boundary");
  if (bd) {
    if (!cJSON_IsString(bd) || (strcmp(bd->valuestring, "free") && strcmp(bd->valuestring, "periodic")))
      return sr_fail(err, SR_EINVAL, "prior.boundary", "must be \"free\" or \"periodic\""), -1;
    periodic = bd->valuestring[0] == 'p';
  }
  const cJSON *vals = cJSON_GetObjectItemCaseSensitive(v, "values");
  if (vals) {
    size_t nv;
    if (!cJSON_IsArray(vals) || cJSON_GetArraySize(vals) != 2)
      return sr_fail(err, SR_EINVAL, "prior.values", "must be a list of two numbers [a, b]: the pixel values of the "
                     "two states"), -1;
    if (parse_doubles(v, "prior", "values", ab, 2, &nv, err)) return -1;
  }
  size_t h = pb->rank == 2 ? pb->shape[0] : 1, w = pb->rank == 2 ? pb->shape[1] : pb->shape[0];
  pb->prior = sr_prior_ising(h, w, J, field, periodic, ab[0], ab[1], err);
  return pb->prior ? 0 : -1;
}

static int parse_prior(parse_ctx *c, const cJSON *v) {
  sr_error *err = c->err;
  sr_problem *pb = c->pb;
  if (!v) return sr_fail(err, SR_EINVAL, "prior", "is required"), -1;
  if (!cJSON_IsObject(v)) return sr_fail(err, SR_EINVAL, "prior", "must be an object with a \"type\""), -1;
  const char *type = get_type(v, "prior", err);
  if (!type) return -1;
  if (!strcmp(type, "gaussian")) {
    static const char *const k[] = {"type", "mean", "std", NULL};
    double m = 0, s = 0;
    if (check_keys(v, "prior", k, err) || get_num(v, "prior", "mean", 0, &m, err) < 0 ||
        get_num(v, "prior", "std", 1, &s, err) < 0)
      return -1;
    pb->prior = sr_prior_gaussian(m, s, err);
  } else if (!strcmp(type, "gmm")) {
    static const char *const k[] = {"type", "weights", "means", "stds", NULL};
    double w[64], m[64], s[64];
    size_t nw, nm, ns;
    if (check_keys(v, "prior", k, err) || parse_doubles(v, "prior", "weights", w, 64, &nw, err) ||
        parse_doubles(v, "prior", "means", m, 64, &nm, err) || parse_doubles(v, "prior", "stds", s, 64, &ns, err))
      return -1;
    if (nm != nw || ns != nw)
      return sr_fail(err, SR_EINVAL, "prior.means", "weights, means and stds must have the same length (%zu, %zu, %zu)",
                     nw, nm, ns), -1;
    pb->prior = sr_prior_gmm(nw, w, m, s, err);
  } else if ((!strcmp(type, "score_model") || !strcmp(type, "ising")) && pb->complex_image) {
    return sr_fail(err, SR_EINVAL, "image_dtype", "complex64 is not supported by prior.type %s (real images only)",
                   type), -1;
  } else if (!strcmp(type, "score_model")) {
    if (parse_score_model(c, v)) return -1;
  } else if (!strcmp(type, "ising")) {
    if (parse_ising(c, v)) return -1;
  } else if (!strcmp(type, "tv")) {
    static const char *const k[] = {"type", "weight", "epsilon", NULL};
    double lam = 0, eps = 0.01;
    if (check_keys(v, "prior", k, err) || get_num(v, "prior", "weight", 1, &lam, err) < 0 ||
        get_num(v, "prior", "epsilon", 0, &eps, err) < 0)
      return -1;
    size_t h = pb->rank == 2 ? pb->shape[0] : 1, w = pb->rank == 2 ? pb->shape[1] : pb->shape[0];
    pb->prior = pb->complex_image ? sr_prior_tv_complex(h, w, lam, eps, err) : sr_prior_tv(h, w, lam, eps, err);
  } else {
    sr_fail(err, SR_EINVAL, "prior.type", "\"%.40s\" is not a known prior (gaussian, gmm, tv, score_model, ising)", type);
    return -1;
  }
  return pb->prior ? 0 : -1;
}

/* ---------------------------------------------------------------- samplers */

static int parse_sde(const cJSON *v, sr_sde *sde, sr_error *err) {
  if (!cJSON_IsObject(v)) return sr_fail(err, SR_EINVAL, "sampler.sde", "must be an object with a \"type\""), -1;
  const char *type = get_type(v, "sampler.sde", err);
  if (!type) return -1;
  const char *p = "sampler.sde";
  if (!strcmp(type, "ve")) {
    static const char *const k[] = {"type", "sigma_min", "sigma_max", NULL};
    sde->kind = SR_SDE_VE;
    sde->sigma_min = 0.01;
    sde->sigma_max = 50;
    sde->T = 1.0;
    if (check_keys(v, p, k, err) || get_pos(v, p, "sigma_min", 0, &sde->sigma_min, err) < 0 ||
        get_pos(v, p, "sigma_max", 0, &sde->sigma_max, err) < 0)
      return -1;
    if (!(sde->sigma_max > sde->sigma_min))
      return sr_fail(err, SR_EINVAL, "sampler.sde.sigma_max", "must be larger than sigma_min"), -1;
  } else if (!strcmp(type, "vp")) {
    static const char *const k[] = {"type", "beta_min", "beta_max", "T", NULL};
    sde->kind = SR_SDE_VP;
    sde->beta_min = 0.1;
    sde->beta_max = 20;
    sde->T = 1.0;
    if (check_keys(v, p, k, err) || get_pos(v, p, "beta_min", 0, &sde->beta_min, err) < 0 ||
        get_pos(v, p, "beta_max", 0, &sde->beta_max, err) < 0 || get_pos(v, p, "T", 0, &sde->T, err) < 0)
      return -1;
    if (sde->beta_max < sde->beta_min)
      return sr_fail(err, SR_EINVAL, "sampler.sde.beta_max", "must be >= beta_min"), -1;
  } else if (!strcmp(type, "drift")) {
    static const char *const k[] = {"type", "mu", "sigma", "T", NULL};
    sde->kind = SR_SDE_DRIFT;
    sde->mu = 0;
    sde->T = 1.0;
    if (check_keys(v, p, k, err) || get_num(v, p, "mu", 0, &sde->mu, err) < 0 ||
        get_pos(v, p, "sigma", 1, &sde->sigma, err) < 0 || get_pos(v, p, "T", 0, &sde->T, err) < 0)
      return -1;
  } else {
    sr_fail(err, SR_EINVAL, "sampler.sde.type", "\"%.40s\" is not a known SDE (ve, vp, drift)", type);
    return -1;
  }
  return 0;
}

/* {"type": "mh", "sweeps", "burn_in", "thinning", "proposal", "temperature": T | {"start", "end"}, "init"} */
static int parse_mh(const cJSON *v, sr_sampler_cfg *s, sr_error *err) {
  static const char *const k[] = {"type", "sweeps", "burn_in", "thinning", "proposal", "temperature", "init", NULL};
  const char *p = "sampler";
  const long BIG = 1000000000L;
  s->kind = SR_SAMPLER_MH;
  if (check_keys(v, p, k, err) || get_int(v, p, "sweeps", 0, 1, BIG, &s->steps, err) < 0 ||
      get_int(v, p, "burn_in", 0, 0, BIG, &s->burn_in, err) < 0 ||
      get_int(v, p, "thinning", 0, 1, BIG, &s->thinning, err) < 0)
    return -1;
  const cJSON *pr = cJSON_GetObjectItemCaseSensitive(v, "proposal");
  if (pr) {
    if (!cJSON_IsString(pr) || (strcmp(pr->valuestring, "single_flip") && strcmp(pr->valuestring, "checkerboard")))
      return sr_fail(err, SR_EINVAL, "sampler.proposal", "must be \"single_flip\" or \"checkerboard\""), -1;
    s->proposal = pr->valuestring[0] == 'c' ? SR_MH_CHECKERBOARD : SR_MH_SINGLE_FLIP;
  }
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(v, "init");
  if (in) {
    if (!cJSON_IsString(in) || (strcmp(in->valuestring, "random") && strcmp(in->valuestring, "observation")))
      return sr_fail(err, SR_EINVAL, "sampler.init", "must be \"random\" or \"observation\""), -1;
    s->init = in->valuestring[0] == 'o' ? SR_MH_INIT_OBSERVATION : SR_MH_INIT_RANDOM;
  }
  const cJSON *tp = cJSON_GetObjectItemCaseSensitive(v, "temperature");
  if (tp && cJSON_IsObject(tp)) {
    static const char *const kt[] = {"start", "end", NULL};
    const char *pt = "sampler.temperature";
    s->temp_end = 1.0;
    if (check_keys(tp, pt, kt, err) || get_pos(tp, pt, "start", 1, &s->temp_start, err) < 0 ||
        get_pos(tp, pt, "end", 0, &s->temp_end, err) < 0)
      return -1;
  } else if (tp) {
    if (get_pos(v, p, "temperature", 0, &s->temp_start, err) < 0) return -1;
    s->temp_end = s->temp_start;
  }
  return 0;
}

static void model_defaults(parse_ctx *c, const cJSON *v, const char *type);

/* sampler.sde of pc, ode, ddrm, diffpir and smc. Left out: a learned prior brings its own noise process, VE over
 * the range it was trained on; otherwise pc and ode need it, and ddrm, diffpir and smc take VE 0.01 … 50. */
static int parse_sampler_sde(parse_ctx *c, const cJSON *v, const char *type, int required) {
  sr_sde *sde = &c->pb->sampler.sde;
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(v, "sde");
  const sr_prior *pr = c->pb->prior;
  if (j) return parse_sde(j, sde, c->err);
  sde->kind = SR_SDE_VE;
  sde->T = 1.0;
  if (pr && pr->trained_sigma[1] > 0) {
    sde->sigma_min = pr->trained_sigma[0];
    sde->sigma_max = pr->trained_sigma[1];
    return 0;
  }
  if (required) return sr_fail(c->err, SR_EINVAL, "sampler.sde", "is required for %s", type), -1;
  sde->sigma_min = 0.01;
  sde->sigma_max = 50;
  return 0;
}

/* An optional number in [lo, hi] (open at lo when lo_open): 1 present, 0 absent, -1 error. */
static int get_in(const cJSON *v, const char *key, double lo, int lo_open, double hi, double *out, sr_error *err) {
  char f[64];
  join(f, sizeof f, "sampler", key);
  double d;
  int r = get_num(v, "sampler", key, 0, &d, err);
  if (r != 1) return r;
  if (!((lo_open ? d > lo : d >= lo) && d <= hi))
    return sr_fail(err, SR_EINVAL, f, "must be in %c%g, %g]", lo_open ? '(' : '[', lo, hi), -1;
  *out = d;
  return 1;
}

/* ddrm, diffpir, smc: `steps` network evaluations on a grid of `sde`; each kind's own fields. Absent fields stay
 * negative: sr_problem_validate fills the defaults. */
static int parse_grid_sampler(parse_ctx *c, const cJSON *v, const char *type) {
  sr_error *err = c->err;
  sr_sampler_cfg *s = &c->pb->sampler;
  const char *p = "sampler";
  static const char *const kd[] = {"type", "steps", "sde", "eta", "eta_b", NULL};
  static const char *const kp[] = {"type", "steps", "sde", "lambda", "zeta", NULL};
  static const char *const ks[] = {"type", "steps", "sde", "particles", "ess_threshold", NULL};
  s->kind = type[0] == 'd' ? (type[1] == 'd' ? SR_SAMPLER_DDRM : SR_SAMPLER_DIFFPIR) : SR_SAMPLER_SMC;
  const char *const *k = s->kind == SR_SAMPLER_DDRM ? kd : s->kind == SR_SAMPLER_DIFFPIR ? kp : ks;
  if (check_keys(v, p, k, err) || get_int(v, p, "steps", 0, 1, 1000000000L, &s->steps, err) < 0) return -1;
  switch (s->kind) {
  case SR_SAMPLER_DDRM:
    if (get_in(v, "eta", 0, 0, 1, &s->eta, err) < 0 || get_in(v, "eta_b", 0, 0, 1, &s->eta_b, err) < 0) return -1;
    break;
  case SR_SAMPLER_DIFFPIR:
    if (get_pos(v, p, "lambda", 0, &s->dp_lambda, err) < 0 || get_in(v, "zeta", 0, 0, 1, &s->zeta, err) < 0)
      return -1;
    break;
  default: /* smc: at most as many particles as chains may be run (the memory bound) */
    if (get_int(v, p, "particles", 0, 2, c->lim->max_samples < 2 ? 2 : c->lim->max_samples, &s->particles, err) < 0 ||
        get_in(v, "ess_threshold", 0, 1, 1, &s->ess_threshold, err) < 0)
      return -1;
    break;
  }
  return parse_sampler_sde(c, v, type, 0);
}

static int parse_concrete_sampler(parse_ctx *c, const cJSON *v, const char *type);

/* {"type": "auto"} or no "sampler" at all (v NULL): the table's sampler for the prior's type (models.c), with an
 * optional "steps" override (mh: sweeps). */
static int parse_auto_sampler(parse_ctx *c, const cJSON *v) {
  sr_error *err = c->err;
  static const char *const k[] = {"type", "steps", NULL};
  long steps = 0;
  if (v && (check_keys(v, "sampler", k, err) || get_int(v, "sampler", "steps", 0, 1, 1000000000L, &steps, err) < 0))
    return -1;
  const char *prior = c->pb->prior ? c->pb->prior->kind : "";
  const sr_op *op = c->pb->op;
  cJSON *a = sr_auto_sampler(prior, !op ? "none" : !op->to_spec ? "list" : op->kind);
  const cJSON *t = a ? cJSON_GetObjectItemCaseSensitive(a, "type") : NULL;
  if (!cJSON_IsString(t)) {
    cJSON_Delete(a);
    return sr_fail(err, SR_EINVAL, "sampler.type", "auto has no default sampler for prior.type %s: name one",
                   prior), -1;
  }
  if (steps > 0) {
    const char *key = !strcmp(t->valuestring, "mh") ? "sweeps" : "steps";
    cJSON_DeleteItemFromObjectCaseSensitive(a, key);
    cJSON_AddNumberToObject(a, key, (double)steps);
  }
  int r = parse_concrete_sampler(c, a, t->valuestring);
  if (!r) sr_sampler_mark_auto(&c->pb->sampler);
  cJSON_Delete(a);
  return r;
}

static int parse_sampler(parse_ctx *c, const cJSON *v) {
  sr_error *err = c->err;
  const char *p = "sampler";
  if (!v) return parse_auto_sampler(c, NULL);
  if (!cJSON_IsObject(v)) return sr_fail(err, SR_EINVAL, p, "must be an object with a \"type\""), -1;
  const char *type = get_type(v, p, err);
  if (!type) return -1;
  if (!strcmp(type, "auto")) return parse_auto_sampler(c, v);
  return parse_concrete_sampler(c, v, type);
}

static int parse_concrete_sampler(parse_ctx *c, const cJSON *v, const char *type) {
  sr_error *err = c->err;
  sr_sampler_cfg *s = &c->pb->sampler;
  const char *p = "sampler";
  const long BIG = 1000000000L;
  s->burn_in = -1;
  s->corrector_steps = -1;
  if (!strcmp(type, "langevin") || !strcmp(type, "mala")) {
    static const char *const k[] = {"type", "steps", "step_size", "burn_in", "thinning", "adapt", "target_accept",
                                    NULL};
    s->kind = type[0] == 'l' ? SR_SAMPLER_LANGEVIN : SR_SAMPLER_MALA;
    s->adapt = s->kind == SR_SAMPLER_MALA;
    if (check_keys(v, p, k, err) || get_int(v, p, "steps", 0, 1, BIG, &s->steps, err) < 0 ||
        get_pos(v, p, "step_size", 0, &s->step_size, err) < 0 ||
        get_int(v, p, "burn_in", 0, 0, BIG, &s->burn_in, err) < 0 ||
        get_int(v, p, "thinning", 0, 1, BIG, &s->thinning, err) < 0)
      return -1;
    const cJSON *ad = cJSON_GetObjectItemCaseSensitive(v, "adapt");
    if (ad) {
      if (!cJSON_IsBool(ad)) return sr_fail(err, SR_EINVAL, "sampler.adapt", "must be true or false"), -1;
      if (s->kind != SR_SAMPLER_MALA) return sr_fail(err, SR_EINVAL, "sampler.adapt", "applies to mala only"), -1;
      s->adapt = cJSON_IsTrue(ad);
    }
    if (get_num(v, p, "target_accept", 0, &s->target_accept, err) < 0) return -1;
    if (cJSON_GetObjectItemCaseSensitive(v, "target_accept") && s->kind != SR_SAMPLER_MALA)
      return sr_fail(err, SR_EINVAL, "sampler.target_accept", "applies to mala only"), -1;
    if (cJSON_GetObjectItemCaseSensitive(v, "target_accept") && !(s->target_accept > 0 && s->target_accept < 1))
      return sr_fail(err, SR_EINVAL, "sampler.target_accept", "must be in (0, 1)"), -1;
  } else if (!strcmp(type, "annealed_langevin")) {
    static const char *const k[] = {"type", "sigma_max", "sigma_min", "levels", "steps_per_level", "epsilon",
                                    "step_rule", "final_steps", NULL};
    s->kind = SR_SAMPLER_ANNEALED;
    if (c->pb->prior && c->pb->prior->trained_sigma[1] > 0) { /* a learned prior's range, unless given */
      s->sigma_min = c->pb->prior->trained_sigma[0];
      s->sigma_max = c->pb->prior->trained_sigma[1];
    }
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(v, "step_rule");
    if (sr) {
      if (!cJSON_IsString(sr) || (strcmp(sr->valuestring, "song") && strcmp(sr->valuestring, "lipschitz") &&
                                  strcmp(sr->valuestring, "spectral")))
        return sr_fail(err, SR_EINVAL, "sampler.step_rule", "must be \"song\", \"lipschitz\" or \"spectral\""), -1;
      s->step_rule = sr->valuestring[1] == 'i' ? SR_STEP_LIPSCHITZ : sr->valuestring[1] == 'p' ? SR_STEP_SPECTRAL
                                                                                             : SR_STEP_SONG;
    }
    if (check_keys(v, p, k, err) || get_pos(v, p, "sigma_max", 0, &s->sigma_max, err) < 0 ||
        get_pos(v, p, "sigma_min", 0, &s->sigma_min, err) < 0 ||
        get_int(v, p, "levels", 0, 2, BIG, &s->levels, err) < 0 ||
        get_int(v, p, "steps_per_level", 0, 1, BIG, &s->steps_per_level, err) < 0 ||
        get_pos(v, p, "epsilon", 0, &s->epsilon, err) < 0 ||
        get_int(v, p, "final_steps", 0, 0, BIG, &s->final_steps, err) < 0)
      return -1;
    if (s->sigma_max > 0 && s->sigma_min > 0 && !(s->sigma_max > s->sigma_min))
      return sr_fail(err, SR_EINVAL, "sampler.sigma_max", "must be larger than sampler.sigma_min"), -1;
  } else if (!strcmp(type, "pc") || !strcmp(type, "ode")) {
    int pc = type[0] == 'p';
    static const char *const kp[] = {"type", "sde", "steps", "snr", "corrector_steps", "denoise", NULL};
    static const char *const ko[] = {"type", "sde", "steps", "method", NULL};
    s->kind = pc ? SR_SAMPLER_PC : SR_SAMPLER_ODE;
    s->denoise = 1;
    if (check_keys(v, p, pc ? kp : ko, err) || get_int(v, p, "steps", 0, 1, BIG, &s->steps, err) < 0) return -1;
    if (pc && (get_pos(v, p, "snr", 0, &s->snr, err) < 0 ||
               get_int(v, p, "corrector_steps", 0, 0, 1000, &s->corrector_steps, err) < 0))
      return -1;
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(v, "denoise");
    if (dn) {
      if (!cJSON_IsBool(dn)) return sr_fail(err, SR_EINVAL, "sampler.denoise", "must be true or false"), -1;
      s->denoise = cJSON_IsTrue(dn);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "method");
    if (m) {
      if (!cJSON_IsString(m) || (strcmp(m->valuestring, "euler") && strcmp(m->valuestring, "heun")))
        return sr_fail(err, SR_EINVAL, "sampler.method", "must be \"euler\" or \"heun\""), -1;
      s->ode_method = m->valuestring[0] == 'e' ? 1 : 2;
    }
    if (parse_sampler_sde(c, v, type, 1)) return -1;
  } else if (!strcmp(type, "ddrm") || !strcmp(type, "diffpir") || !strcmp(type, "smc")) {
    if (parse_grid_sampler(c, v, type)) return -1;
  } else if (!strcmp(type, "mh")) {
    if (parse_mh(v, s, err)) return -1;
  } else {
    sr_fail(err, SR_EINVAL, "sampler.type",
            "\"%.40s\" is not a known sampler (auto, langevin, mala, annealed_langevin, pc, ode, mh, ddrm, diffpir, "
            "smc)", type);
    return -1;
  }
  model_defaults(c, v, type);
  return 0;
}

/* With a learned prior, every numeric field the job leaves out takes the model's recommended value, when the
 * model recommends the same sampler type (the SDE range already defaults to the trained one). */
static void model_defaults(parse_ctx *c, const cJSON *v, const char *type) {
  const cJSON *ms = c->model_sampler, *mt = ms ? cJSON_GetObjectItemCaseSensitive(ms, "type") : NULL;
  if (!cJSON_IsString(mt) || strcmp(mt->valuestring, type)) return;
  sr_sampler_cfg *s = &c->pb->sampler;
  static const char *const keys[] = {"steps", "snr", "corrector_steps", "levels", "steps_per_level", "epsilon", NULL};
  for (const char *const *k = keys; *k; k++) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ms, *k);
    if (cJSON_GetObjectItemCaseSensitive(v, *k) || !cJSON_IsNumber(d) || !(d->valuedouble > 0) ||
        d->valuedouble > 1e9)
      continue;
    if (!strcmp(*k, "steps")) s->steps = (long)d->valuedouble;
    else if (!strcmp(*k, "snr")) s->snr = d->valuedouble;
    else if (!strcmp(*k, "corrector_steps")) s->corrector_steps = (long)d->valuedouble;
    else if (!strcmp(*k, "levels")) s->levels = (long)d->valuedouble;
    else if (!strcmp(*k, "steps_per_level")) s->steps_per_level = (long)d->valuedouble;
    else s->epsilon = d->valuedouble;
  }
}

static long chain_steps(const sr_sampler_cfg *s) {
  switch (s->kind) {
  case SR_SAMPLER_LANGEVIN:
  case SR_SAMPLER_MALA: return s->steps;
  case SR_SAMPLER_ANNEALED: return s->levels * s->steps_per_level + (s->final_steps > 0 ? s->final_steps : 0);
  case SR_SAMPLER_PC: return s->steps * (1 + s->corrector_steps);
  case SR_SAMPLER_ODE: return s->steps * (s->ode_method == 1 ? 1 : 2); /* score evaluations */
  case SR_SAMPLER_MH: return s->steps; /* sweeps */
  case SR_SAMPLER_DDRM:
  case SR_SAMPLER_DIFFPIR:
  case SR_SAMPLER_SMC: return s->steps; /* network evaluations per path */
  }
  return 0;
}

/* ---------------------------------------------------------------- the document */

static int parse_outputs(parse_ctx *c, const cJSON *v) {
  sr_problem *pb = c->pb;
  sr_error *err = c->err;
  pb->want_mean = pb->want_std = 1;
  pb->want_samples = 0;
  if (!v) return 0;
  if (!cJSON_IsArray(v)) return sr_fail(err, SR_EINVAL, "outputs", "must be a list"), -1;
  pb->want_mean = pb->want_std = 0;
  int i = 0;
  for (const cJSON *e = v->child; e; e = e->next, i++) {
    char f[48];
    snprintf(f, sizeof f, "outputs[%d]", i);
    if (cJSON_IsString(e)) {
      const char *s = e->valuestring;
      if (!strcmp(s, "mean")) pb->want_mean = 1;
      else if (!strcmp(s, "std")) pb->want_std = 1;
      else if (!strcmp(s, "samples")) pb->want_samples = 1;
      else return sr_fail(err, SR_EINVAL, f, "\"%.40s\" is not a known output (mean, std, samples, "
                          "{\"trajectories\": {\"every\": k}})", s), -1;
    } else if (cJSON_IsObject(e) && e->child && !e->child->next && !strcmp(e->child->string, "trajectories")) {
      char tf[64];
      snprintf(tf, sizeof tf, "%s.trajectories", f);
      if (!cJSON_IsObject(e->child)) return sr_fail(err, SR_EINVAL, tf, "must be {\"every\": k}"), -1;
      static const char *const k[] = {"every", NULL};
      if (check_keys(e->child, tf, k, err) ||
          get_int(e->child, tf, "every", 1, 1, 1000000000L, &pb->trajectory_every, err) < 0)
        return -1;
    } else {
      return sr_fail(err, SR_EINVAL, f, "must be \"mean\", \"std\", \"samples\" or {\"trajectories\": {\"every\": k}}"),
             -1;
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- labels */

int sr_label_key_ok(const char *key) {
  size_t n = strlen(key);
  if (n < 1 || n > SR_LABEL_KEY_MAX || !((key[0] >= 'a' && key[0] <= 'z') || (key[0] >= '0' && key[0] <= '9')))
    return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = key[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '/' || ch == '-'))
      return 0;
  }
  return 1;
}

int sr_label_value_ok(const char *value) {
  size_t n = strlen(value);
  if (n > SR_LABEL_VALUE_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) return 0;
  return 1;
}

static int by_key(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int parse_labels(parse_ctx *c, const cJSON *v) {
  sr_error *err = c->err;
  if (!v) return 0;
  if (!cJSON_IsObject(v))
    return sr_fail(err, SR_EINVAL, "labels", "must be an object of strings, e.g. {\"project\": \"knee\"}"), -1;
  const char *keys[SR_LABELS_MAX];
  int n = 0;
  for (const cJSON *e = v->child; e; e = e->next) {
    char f[128];
    snprintf(f, sizeof f, "labels.%.60s", e->string);
    if (n == SR_LABELS_MAX) return sr_fail(err, SR_EINVAL, "labels", "holds more than %d labels", SR_LABELS_MAX), -1;
    if (!sr_label_key_ok(e->string))
      return sr_fail(err, SR_EINVAL, f, "is not a label key: 1 to %d of a-z 0-9 . _ / - (starting with a letter or "
                     "digit)", SR_LABEL_KEY_MAX), -1;
    if (!cJSON_IsString(e) || !sr_label_value_ok(e->valuestring))
      return sr_fail(err, SR_EINVAL, f, "must be a string of at most %d characters, without control characters",
                     SR_LABEL_VALUE_MAX), -1;
    keys[n++] = e->string;
  }
  if (!c->meta) return 0;
  qsort(keys, (size_t)n, sizeof *keys, by_key);
  sr_labels *l = &c->meta->labels;
  l->n = n;
  for (int i = 0; i < n; i++) {
    snprintf(l->key[i], sizeof l->key[i], "%s", keys[i]);
    snprintf(l->value[i], sizeof l->value[i], "%s", cJSON_GetObjectItemCaseSensitive(v, keys[i])->valuestring);
  }
  return 0;
}

/* ---------------------------------------------------------------- notify */

int sr_url_host_port(const char *url, char *host, size_t cap, int *port) {
  if (strncmp(url, "http://", 7)) return -1;
  const char *h = url + 7, *end;
  if (*h == '[') { /* [IPv6] */
    end = strchr(h, ']');
    if (!end) return -1;
    h++;
  } else {
    end = h + strcspn(h, ":/");
  }
  size_t n = (size_t)(end - h);
  if (n == 0 || n >= cap) return -1;
  for (size_t i = 0; i < n; i++)
    if (!(isalnum((unsigned char)h[i]) || h[i] == '.' || h[i] == '-' || h[i] == ':')) return -1;
  memcpy(host, h, n);
  host[n] = 0;
  if (*end == ']') end++;
  *port = 80;
  if (*end == ':') {
    char *pe;
    long p = strtol(end + 1, &pe, 10);
    if (pe == end + 1 || p < 1 || p > 65535 || (*pe && *pe != '/')) return -1;
    *port = (int)p;
    end = pe;
  }
  if (*end && *end != '/') return -1;
  for (const char *q = end; *q; q++)
    if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) return -1;
  return 0;
}

/* "notify": {"url": "http://HOST[:PORT]/PATH"}: where the service POSTs the job once it has finished. */
static int parse_notify(parse_ctx *c, const cJSON *v) {
  sr_error *err = c->err;
  if (!v) return 0;
  static const char *const k[] = {"url", NULL};
  if (!cJSON_IsObject(v)) return sr_fail(err, SR_EINVAL, "notify", "must be {\"url\": \"http://host:port/path\"}"), -1;
  if (check_keys(v, "notify", k, err)) return -1;
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(v, "url");
  if (!u) return sr_fail(err, SR_EINVAL, "notify.url", "is required"), -1;
  char host[256];
  int port;
  if (!cJSON_IsString(u) || strlen(u->valuestring) > 512 || sr_url_host_port(u->valuestring, host, sizeof host, &port))
    return sr_fail(err, SR_EINVAL, "notify.url", "must be an http:// URL of at most 512 characters (http://HOST[:PORT]"
                   "/PATH; https is not sent: point it at a relay on the server's --webhook-allow list)"), -1;
  if (c->meta) snprintf(c->meta->notify_url, sizeof c->meta->notify_url, "%s", u->valuestring);
  return 0;
}

cJSON *sr_labels_json(const sr_labels *l) {
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; o && i < l->n; i++) cJSON_AddStringToObject(o, l->key[i], l->value[i]);
  return o;
}

static sr_status parse_doc(parse_ctx *c, const cJSON *doc) {
  sr_problem *pb = c->pb;
  sr_error *err = c->err;
  const sr_limits *lim = c->lim;
  if (!cJSON_IsObject(doc)) return sr_fail(err, SR_EINVAL, "job", "must be a JSON object");
  static const char *const k[] = {"shape", "operator", "noise", "observation", "prior", "sampler", "num_samples",
                                  "seed", "ground_truth", "outputs", "labels", "notify", "image_dtype", NULL};
  if (check_keys(doc, "", k, err)) return SR_EINVAL;
  if (parse_labels(c, cJSON_GetObjectItemCaseSensitive(doc, "labels"))) return SR_EINVAL;
  if (parse_notify(c, cJSON_GetObjectItemCaseSensitive(doc, "notify"))) return SR_EINVAL;
  /* shape */
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(doc, "shape");
  if (!sh) return sr_fail(err, SR_EINVAL, "shape", "is required ([H, W] for an image, [N] for a signal)");
  if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) < 1 || cJSON_GetArraySize(sh) > 2)
    return sr_fail(err, SR_EINVAL, "shape", "must be [H, W] or [N]");
  double total = 1;
  pb->rank = 0;
  for (const cJSON *d = sh->child; d; d = d->next) {
    if (!cJSON_IsNumber(d) || d->valuedouble != floor(d->valuedouble) || d->valuedouble < 1)
      return sr_fail(err, SR_EINVAL, "shape", "must hold positive integers");
    total *= d->valuedouble;
    if (total > (double)lim->max_pixels)
      return sr_fail(err, SR_ELIMIT, "shape", "has more than the limit of %zu pixels", lim->max_pixels);
    pb->shape[pb->rank++] = (size_t)d->valuedouble;
  }
  pb->n = (size_t)total;
  /* image_dtype: a complex image is 2n real unknowns, interleaved (re, im) */
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(doc, "image_dtype");
  if (dt) {
    if (!cJSON_IsString(dt) || (strcmp(dt->valuestring, "float32") && strcmp(dt->valuestring, "complex64")))
      return sr_fail(err, SR_EINVAL, "image_dtype", "must be \"float32\" or \"complex64\"");
    pb->complex_image = !strcmp(dt->valuestring, "complex64");
    if (pb->complex_image) pb->n *= 2;
  }
  /* num_samples, seed */
  long ns = 8, seed = 0;
  if (get_int(doc, "", "num_samples", 0, 1, lim->max_samples, &ns, err) < 0) return SR_EINVAL;
  if (get_int(doc, "", "seed", 0, 0, 9007199254740991L, &seed, err) < 0) return SR_EINVAL;
  pb->num_samples = ns;
  pb->seed = (uint64_t)seed;
  /* operator, noise, observation */
  int none = parse_operator(c, cJSON_GetObjectItemCaseSensitive(doc, "operator"));
  if (none < 0) return err->code;
  const cJSON *noise = cJSON_GetObjectItemCaseSensitive(doc, "noise");
  const cJSON *obs = cJSON_GetObjectItemCaseSensitive(doc, "observation");
  if (none) {
    if (obs) return sr_fail(err, SR_EINVAL, "observation", "must be omitted when operator.type is none");
    if (noise) return sr_fail(err, SR_EINVAL, "noise", "must be omitted when operator.type is none");
  } else {
    int bad;
    const cJSON *nz = get_obj(doc, "", "noise", 1, err, &bad);
    if (bad) return SR_EINVAL;
    static const char *const kn[] = {"sigma", NULL};
    if (check_keys(nz, "noise", kn, err) || get_pos(nz, "noise", "sigma", 1, &pb->noise_sigma, err) < 0)
      return SR_EINVAL;
    if (!obs) return sr_fail(err, SR_EINVAL, "observation", "is required with an operator");
    sr_jarray a;
    sr_status st = sr_jarray_decode(obs, "observation", pb->op->out_complex, lim->max_pixels, &a, err);
    if (st) return st;
    char s1[64], s2[64];
    if (a.rank != pb->op->out_rank || memcmp(a.shape, pb->op->out_shape, (size_t)a.rank * sizeof(size_t))) {
      sr_free(a.data);
      return sr_fail(err, SR_EINVAL, "observation", "shape %s does not match operator output %s",
                     sr_shape_str(a.rank, a.shape, s1, 64), sr_shape_str(pb->op->out_rank, pb->op->out_shape, s2, 64));
    }
    pb->y = a.data;
    if (pb->op->obs_mask) /* unobserved entries are ignored: zero them so they never enter a residual */
      for (size_t i = 0; i < pb->op->n_out; i++) pb->y[i] *= pb->op->obs_mask[i];
  }
  if (parse_prior(c, cJSON_GetObjectItemCaseSensitive(doc, "prior"))) return err->code;
  if (parse_sampler(c, cJSON_GetObjectItemCaseSensitive(doc, "sampler"))) return err->code;
  const cJSON *gt = cJSON_GetObjectItemCaseSensitive(doc, "ground_truth");
  if (gt) {
    sr_jarray a;
    sr_status st = sr_jarray_decode(gt, "ground_truth", pb->complex_image, lim->max_pixels, &a, err);
    if (st) return st;
    char s1[64], s2[64];
    if (a.rank != pb->rank || memcmp(a.shape, pb->shape, (size_t)a.rank * sizeof(size_t))) {
      sr_free(a.data);
      return sr_fail(err, SR_EINVAL, "ground_truth", "shape %s does not match the image shape %s",
                     sr_shape_str(a.rank, a.shape, s1, 64), sr_shape_str(pb->rank, pb->shape, s2, 64));
    }
    pb->ground_truth = a.data;
  }
  if (parse_outputs(c, cJSON_GetObjectItemCaseSensitive(doc, "outputs"))) return err->code;
  sr_status st = sr_problem_validate(pb, err);
  if (st && sr_sampler_is_auto(&pb->sampler) && !strncmp(err->field, "sampler", 7)) {
    /* the job did not name this sampler: say where it came from */
    char f[sizeof err->field], m[sizeof err->msg];
    snprintf(f, sizeof f, "%s", err->field);
    snprintf(m, sizeof m, "%s", err->msg + (strncmp(err->msg, f, strlen(f)) ? 0 : strlen(f) + 1));
    return sr_fail(err, st, f, "%s (chosen by sampler type auto for prior.type %s; name a sampler)", m,
                   pb->prior->kind);
  }
  if (st) return st;
  /* work and memory limits, on the effective (defaulted) settings. smc moves its particles, not num_samples
   * chains: its work is particles × steps (the num_samples results are drawn from the particles). */
  if (pb->sampler.kind == SR_SAMPLER_SMC) {
    if (pb->sampler.particles > lim->max_samples)
      return sr_fail(err, SR_EINVAL, "sampler.particles", "(%ld) must be at most %ld, the limit for num_samples",
                     pb->sampler.particles, lim->max_samples);
    double work = (double)pb->sampler.particles * (double)chain_steps(&pb->sampler);
    if (work > lim->max_chain_steps)
      return sr_fail(err, SR_ELIMIT, "sampler.particles", "× sampler.steps = %.0f exceeds the limit of %.0f "
                     "chain-steps", work, lim->max_chain_steps);
  } else {
    double work = (double)pb->num_samples * (double)chain_steps(&pb->sampler);
    if (work > lim->max_chain_steps)
      return sr_fail(err, SR_ELIMIT, "num_samples", "× sampler steps = %.0f exceeds the limit of %.0f chain-steps",
                     work, lim->max_chain_steps);
  }
  double outv = (pb->want_samples ? (double)pb->num_samples * (double)pb->n : 0.0);
  /* the same length sr_run will allocate */
  outv += (double)pb->num_samples * (double)sr_trajectory_len(&pb->sampler, pb->trajectory_every) * (double)pb->n;
  if (outv > lim->max_output_values)
    return sr_fail(err, SR_ELIMIT, "outputs", "would hold %.0f values (samples and trajectories), over the limit "
                   "of %.0f", outv, lim->max_output_values);
  return SR_OK;
}

sr_status sr_job_read(const char *text, size_t len, const sr_limits *lim, cJSON **out, sr_error *err) {
  *out = NULL;
  if (err) memset(err, 0, sizeof *err);
  if (len > lim->max_doc_bytes)
    return sr_fail(err, SR_ELIMIT, "job", "document is %zu bytes, over the limit of %zu", len, lim->max_doc_bytes);
  if (memchr(text, 0, len)) return sr_fail(err, SR_EINVAL, "job", "document contains a NUL byte");
  if (has_escaped_nul(text, len)) return sr_fail(err, SR_EINVAL, "job", "strings must not contain \\u0000");
  size_t values = json_values_bound(text, len);
  if (values > lim->max_json_values)
    return sr_fail(err, SR_ELIMIT, "job", "holds about %zu JSON values, over the limit of %zu: send large arrays "
                   "as base64 ARRAYs ({\"dtype\": \"float32\", \"shape\": [...], \"data\": \"BASE64\"}, "
                   "see docs/job-format.md), not as nested lists", values, lim->max_json_values);
  /* parsed in place: no copy of the text (a request's memory stays a small multiple of its body) */
  const char *end = NULL;
  cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (doc && end) { /* only white space may follow the value */
    const char *p = end;
    while (p < text + len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p < text + len) {
      cJSON_Delete(doc);
      doc = NULL;
      end = p;
    }
  }
  if (!doc) {
    size_t off = end && end >= text ? (size_t)(end - text) : 0, line = 1, col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
      if (text[i] == '\n') { line++; col = 1; } else col++;
    }
    return sr_fail(err, SR_ESYNTAX, "job", "is not valid JSON (line %zu, column %zu)", line, col);
  }
  *out = doc;
  return SR_OK;
}

sr_status sr_job_parse_tree(cJSON *doc, const sr_limits *lim, sr_problem *pb, sr_error *err, sr_job_meta *meta) {
  sr_problem_init(pb);
  if (err) memset(err, 0, sizeof *err);
  if (meta) {
    meta->doc = NULL;
    memset(&meta->labels, 0, sizeof meta->labels);
    meta->notify_url[0] = 0;
  }
  char path[512] = "";
  parse_ctx c = {lim, err, pb, NULL, meta, NULL, 0};
  sr_status st = no_duplicate_keys(doc, path, sizeof path, err);
  if (!st) st = parse_doc(&c, doc);
  for (size_t i = 0; i < c.ngen; i++) { /* materialise: each generator becomes its ARRAY */
    if (!st) {
      cJSON_ReplaceItemInObjectCaseSensitive(c.gen[i].parent, c.gen[i].node->string, c.gen[i].array);
      c.gen[i].array = NULL;
    }
    cJSON_Delete(c.gen[i].array);
  }
  free(c.gen);
  if (!st && meta && meta->materialise) {
    meta->doc = cJSON_PrintUnformatted(doc);
    if (!meta->doc) st = sr_fail(err, SR_ENOMEM, "job", "out of memory");
  }
  cJSON_Delete(c.model_sampler);
  if (st) sr_problem_clear(pb);
  return st;
}

sr_status sr_job_parse_meta(const char *text, size_t len, const sr_limits *lim, sr_problem *pb, sr_error *err,
                            sr_job_meta *meta) {
  cJSON *doc;
  sr_status st = sr_job_read(text, len, lim, &doc, err);
  if (st) {
    sr_problem_init(pb);
    if (meta) {
      meta->doc = NULL;
      memset(&meta->labels, 0, sizeof meta->labels);
      meta->notify_url[0] = 0;
    }
    return st;
  }
  st = sr_job_parse_tree(doc, lim, pb, err, meta);
  cJSON_Delete(doc);
  return st;
}

sr_status sr_job_parse(const char *text, size_t len, const sr_limits *lim, sr_problem *pb, sr_error *err) {
  return sr_job_parse_meta(text, len, lim, pb, err, NULL);
}

/* ---------------------------------------------------------------- fields supplied from outside the document */

/* The operator types that take each key a file may supply (parse_one_op reads them), as the error says them. */
static const struct {
  const char *key, *types[4], *who;
} OP_KEYS[] = {{"mask", {"mask", "fourier", "sense", NULL}, "mask, fourier and sense operators"},
               {"kernel", {"blur", NULL}, "blur operators"},
               {"sensitivities", {"sense", NULL}, "sense operators"}};

/* Puts arr at obj.key, replacing what is there (never a second key); takes arr. */
static sr_status put_key(cJSON *obj, const char *key, cJSON *arr, char *why, size_t wcap) {
  cJSON_bool ok = cJSON_GetObjectItemCaseSensitive(obj, key) ? cJSON_ReplaceItemInObjectCaseSensitive(obj, key, arr)
                                                             : cJSON_AddItemToObject(obj, key, arr);
  if (ok) return SR_OK;
  cJSON_Delete(arr);
  snprintf(why, wcap, "out of memory");
  return SR_ENOMEM;
}

sr_status sr_job_supply(cJSON *doc, const char *key, cJSON *arr, char *path, size_t pcap, char *why, size_t wcap) {
  snprintf(path, pcap, "%s", key);
  why[0] = 0;
  /* a document that is not an object, or an operator that is malformed, is left as it is: the parser says what
   * is wrong with it */
  if (!strcmp(key, "observation") || !strcmp(key, "ground_truth")) {
    if (!cJSON_IsObject(doc)) return cJSON_Delete(arr), SR_OK;
    return put_key(doc, key, arr, why, wcap);
  }
  size_t k = 0;
  while (k < sizeof OP_KEYS / sizeof *OP_KEYS && strcmp(OP_KEYS[k].key, key)) k++;
  if (k == sizeof OP_KEYS / sizeof *OP_KEYS) {
    cJSON_Delete(arr);
    snprintf(why, wcap, "%s is not a field a file can supply", key);
    return SR_EINVAL;
  }
  cJSON *op = cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "operator") : NULL;
  int list = cJSON_IsArray(op), n = 0, takers = 0;
  cJSON *taker = NULL;
  char types[256] = "", where[256] = "";
  for (cJSON *o = list ? op->child : op; o; o = list ? o->next : NULL, n++) {
    const cJSON *t = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "type") : NULL;
    if (!cJSON_IsString(t)) return cJSON_Delete(arr), SR_OK;
    int takes = 0;
    for (const char *const *ty = OP_KEYS[k].types; *ty; ty++) takes |= !strcmp(t->valuestring, *ty);
    char at[32] = "operator";
    if (list) snprintf(at, sizeof at, "operator[%d]", n);
    snprintf(types + strlen(types), sizeof types - strlen(types), "%s%.40s", n ? ", " : "", t->valuestring);
    if (takes) {
      snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s", takers ? ", " : "", at);
      if (!takers++) {
        taker = o;
        snprintf(path, pcap, "%s.%s", at, key);
      }
    }
  }
  if (n == 0) return cJSON_Delete(arr), SR_OK; /* no operator, or an empty list */
  if (takers == 1) return put_key(taker, key, arr, why, wcap);
  cJSON_Delete(arr);
  if (takers == 0)
    snprintf(why, wcap, "the job's operator (%s) takes no %s: %s do", types, key, OP_KEYS[k].who);
  else
    snprintf(why, wcap, "%d operators of the job take a %s (%s): give it in the job document instead", takers, key,
             where);
  return SR_EINVAL;
}
