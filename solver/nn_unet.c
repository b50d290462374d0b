/* nn_unet.c — the score network of docs/score-model-format.md, run in C: create from a tensor table (validating
 * every name and shape against the architecture in the metadata), then apply to a batch of images many times.
 * Convolutions are matrix products (im2col + BLAS sgemm); GroupNorm, SiLU, nearest upsampling, strided
 * downsampling and single-head attention are plain loops. No allocation after creation: the caller passes a
 * workspace of sr_unet_ws_floats() floats. The tensor data is borrowed (memory-mapped by the loader). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorerecon.h"

#define MAXL 6

typedef struct {
  int cin, cout, k, stride;
  const float *w, *b;
} conv_t;
typedef struct {
  int c, groups;
  const float *g, *b;
} gn_t;
typedef struct {
  int in, out;
  const float *w, *b;
} lin_t;
typedef struct {
  int cin, cout, has_skip;
  gn_t norm1, norm2;
  conv_t conv1, conv2, skip;
  lin_t temb;
} res_t;
typedef struct {
  int c;
  gn_t norm;
  conv_t q, k, v, proj;
} attn_t;

struct sr_unet {
  int L, H, W, groups, E, F, attention;
  int ch[MAXL], hs[MAXL], ws[MAXL];
  const float *tembW;
  lin_t fc1, fc2;
  conv_t conv_in, down[MAXL], up[MAXL], out_conv;
  res_t dres[MAXL], ures[MAXL], mid1, mid2;
  attn_t attn;
  gn_t out_norm;
  double data_scale, data_shift, sigma_min, sigma_max;
  size_t act, col, skips, attnw; /* buffer sizes (floats) for one image */
  long params;
  char name[64];
};

/* ---------------------------------------------------------------- building from the tensor table */

typedef struct {
  const sr_tensor_set *ts;
  sr_error *err;
  long params;
  int bad;
} builder;

static const sr_tensor *find(builder *bd, const char *name, int rank, const size_t *shape) {
  if (bd->bad) return NULL;
  for (size_t i = 0; i < bd->ts->n; i++) {
    const sr_tensor *t = &bd->ts->t[i];
    if (strcmp(t->name, name)) continue;
    int ok = t->rank == rank;
    for (int d = 0; ok && d < rank; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
      char want[64] = "", got[64] = "";
      for (int d = 0; d < rank; d++) snprintf(want + strlen(want), 64 - strlen(want), d ? ",%zu" : "%zu", shape[d]);
      for (int d = 0; d < t->rank && d < 4; d++)
        snprintf(got + strlen(got), 64 - strlen(got), d ? ",%zu" : "%zu", t->shape[d]);
      sr_fail(bd->err, SR_EINVAL, "model", "tensor %s has shape [%s], the architecture needs [%s]", name, got, want);
      bd->bad = 1;
      return NULL;
    }
    bd->params += (long)(t->nbytes / sizeof(float));
    return t;
  }
  sr_fail(bd->err, SR_EINVAL, "model", "tensor %s is missing", name);
  bd->bad = 1;
  return NULL;
}

static const float *get(builder *bd, const char *name, int rank, size_t d0, size_t d1, size_t d2, size_t d3) {
  size_t shape[4] = {d0, d1, d2, d3};
  const sr_tensor *t = find(bd, name, rank, shape);
  return t ? t->data : NULL;
}

static conv_t mk_conv(builder *bd, const char *p, int cin, int cout, int k, int stride) {
  char n[160];
  conv_t c = {cin, cout, k, stride, NULL, NULL};
  snprintf(n, sizeof n, "%s.weight", p);
  c.w = get(bd, n, 4, (size_t)cout, (size_t)cin, (size_t)k, (size_t)k);
  snprintf(n, sizeof n, "%s.bias", p);
  c.b = get(bd, n, 1, (size_t)cout, 0, 0, 0);
  return c;
}

static gn_t mk_gn(builder *bd, const char *p, int c, int groups) {
  char n[160];
  gn_t g = {c, groups, NULL, NULL};
  if (c % groups) {
    sr_fail(bd->err, SR_EINVAL, "model", "%s: %d channels are not divisible by %d groups", p, c, groups);
    bd->bad = 1;
  }
  snprintf(n, sizeof n, "%s.weight", p);
  g.g = get(bd, n, 1, (size_t)c, 0, 0, 0);
  snprintf(n, sizeof n, "%s.bias", p);
  g.b = get(bd, n, 1, (size_t)c, 0, 0, 0);
  return g;
}

static lin_t mk_lin(builder *bd, const char *p, int in, int out) {
  char n[160];
  lin_t l = {in, out, NULL, NULL};
  snprintf(n, sizeof n, "%s.weight", p);
  l.w = get(bd, n, 2, (size_t)out, (size_t)in, 0, 0);
  snprintf(n, sizeof n, "%s.bias", p);
  l.b = get(bd, n, 1, (size_t)out, 0, 0, 0);
  return l;
}

static res_t mk_res(builder *bd, const char *p, int cin, int cout, int groups, int E) {
  char n[160];
  res_t r;
  memset(&r, 0, sizeof r);
  r.cin = cin;
  r.cout = cout;
  snprintf(n, sizeof n, "%s.norm1", p); r.norm1 = mk_gn(bd, n, cin, groups);
  snprintf(n, sizeof n, "%s.conv1", p); r.conv1 = mk_conv(bd, n, cin, cout, 3, 1);
  snprintf(n, sizeof n, "%s.temb_proj", p); r.temb = mk_lin(bd, n, E, cout);
  snprintf(n, sizeof n, "%s.norm2", p); r.norm2 = mk_gn(bd, n, cout, groups);
  snprintf(n, sizeof n, "%s.conv2", p); r.conv2 = mk_conv(bd, n, cout, cout, 3, 1);
  r.has_skip = cin != cout;
  if (r.has_skip) {
    snprintf(n, sizeof n, "%s.skip", p);
    r.skip = mk_conv(bd, n, cin, cout, 1, 1);
  }
  return r;
}

static const char *meta(const sr_tensor_set *ts, const char *key) {
  for (size_t i = 0; i < ts->nmeta; i++)
    if (!strcmp(ts->meta_keys[i], key)) return ts->meta_vals[i];
  return NULL;
}

static int parse_ints(const char *s, int *out, int max) {
  int n = 0;
  while (s && *s && n < max) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v <= 0 || v > 100000) return -1;
    out[n++] = (int)v;
    s = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return -1;
  }
  return n;
}

static int meta_int(builder *bd, const char *key, int *out) {
  const char *v = meta(bd->ts, key);
  if (!v || parse_ints(v, out, 1) != 1) {
    if (!bd->bad) sr_fail(bd->err, SR_EINVAL, "model", "metadata %s is missing or not a positive integer", key);
    bd->bad = 1;
    return -1;
  }
  return 0;
}

static double meta_num(builder *bd, const char *key, double def, int required) {
  const char *v = meta(bd->ts, key);
  if (!v) {
    if (required && !bd->bad) {
      sr_fail(bd->err, SR_EINVAL, "model", "metadata %s is missing", key);
      bd->bad = 1;
    }
    return def;
  }
  char *end;
  double d = strtod(v, &end);
  if (*end || !isfinite(d)) {
    if (!bd->bad) sr_fail(bd->err, SR_EINVAL, "model", "metadata %s is not a number", key);
    bd->bad = 1;
  }
  return d;
}

sr_unet *sr_unet_create(const sr_tensor_set *ts, sr_error *err) {
  builder bd = {ts, err, 0, 0};
  const char *fmt = meta(ts, "format");
  if (!fmt || strcmp(fmt, "scorerecon-unet-v1")) {
    sr_fail(err, SR_EINVAL, "model", "metadata format must be scorerecon-unet-v1 (got %s)", fmt ? fmt : "none");
    return NULL;
  }
  sr_unet *u = calloc(1, sizeof *u);
  if (!u) {
    sr_fail(err, SR_ENOMEM, "model", "out of memory");
    return NULL;
  }
  int hw[2];
  const char *is = meta(ts, "image_size");
  if (!is || parse_ints(is, hw, 2) != 2) {
    sr_fail(err, SR_EINVAL, "model", "metadata image_size must be H,W");
    free(u);
    return NULL;
  }
  u->H = hw[0];
  u->W = hw[1];
  const char *chs = meta(ts, "channels");
  u->L = chs ? parse_ints(chs, u->ch, MAXL) : -1;
  if (u->L < 1) {
    sr_fail(err, SR_EINVAL, "model", "metadata channels must be 1 to %d positive integers", MAXL);
    free(u);
    return NULL;
  }
  meta_int(&bd, "groups", &u->groups);
  meta_int(&bd, "embed_dim", &u->E);
  meta_int(&bd, "fourier_features", &u->F);
  const char *at = meta(ts, "attention");
  u->attention = at && !strcmp(at, "1");
  u->data_scale = meta_num(&bd, "data_scale", 1.0, 0);
  u->data_shift = meta_num(&bd, "data_shift", 0.0, 0);
  u->sigma_min = meta_num(&bd, "sigma_min", 0, 1);
  u->sigma_max = meta_num(&bd, "sigma_max", 0, 1);
  const char *name = meta(ts, "name");
  snprintf(u->name, sizeof u->name, "%s", name ? name : "");
  for (int i = 0; i < u->L && !bd.bad; i++)
    if (u->ch[i] > 2048) {
      sr_fail(err, SR_EINVAL, "model", "metadata channels: at most 2048 per level");
      bd.bad = 1;
    }
  if (!bd.bad && (u->E > 1024 || 2 * u->F > 1024)) {
    sr_fail(err, SR_EINVAL, "model", "metadata embed_dim and 2 x fourier_features must be at most 1024");
    bd.bad = 1;
  }
  if (bd.bad) {
    free(u);
    return NULL;
  }
  int L = u->L, G = u->groups, E = u->E;
  char p[96];
  u->tembW = get(&bd, "temb.W", 1, (size_t)u->F, 0, 0, 0);
  u->fc1 = mk_lin(&bd, "temb.fc1", 2 * u->F, E);
  u->fc2 = mk_lin(&bd, "temb.fc2", E, E);
  u->conv_in = mk_conv(&bd, "conv_in", 1, u->ch[0], 3, 1);
  u->hs[0] = u->H;
  u->ws[0] = u->W;
  for (int i = 0; i < L; i++) {
    snprintf(p, sizeof p, "down.%d.res", i);
    u->dres[i] = mk_res(&bd, p, i ? u->ch[i - 1] : u->ch[0], u->ch[i], G, E);
    if (i < L - 1) {
      snprintf(p, sizeof p, "down.%d.down", i);
      u->down[i] = mk_conv(&bd, p, u->ch[i], u->ch[i], 3, 2);
      u->hs[i + 1] = (u->hs[i] - 1) / 2 + 1;
      u->ws[i + 1] = (u->ws[i] - 1) / 2 + 1;
    }
  }
  int cl = u->ch[L - 1];
  u->mid1 = mk_res(&bd, "mid.res1", cl, cl, G, E);
  if (u->attention) {
    u->attn.c = cl;
    u->attn.norm = mk_gn(&bd, "mid.attn.norm", cl, G);
    u->attn.q = mk_conv(&bd, "mid.attn.q", cl, cl, 1, 1);
    u->attn.k = mk_conv(&bd, "mid.attn.k", cl, cl, 1, 1);
    u->attn.v = mk_conv(&bd, "mid.attn.v", cl, cl, 1, 1);
    u->attn.proj = mk_conv(&bd, "mid.attn.proj", cl, cl, 1, 1);
  }
  u->mid2 = mk_res(&bd, "mid.res2", cl, cl, G, E);
  for (int i = L - 1; i >= 0; i--) {
    int hin = i == L - 1 ? u->ch[L - 1] : u->ch[i + 1];
    snprintf(p, sizeof p, "up.%d.res", i);
    u->ures[i] = mk_res(&bd, p, hin + u->ch[i], u->ch[i], G, E);
    if (i > 0) {
      snprintf(p, sizeof p, "up.%d.up", i);
      u->up[i] = mk_conv(&bd, p, u->ch[i], u->ch[i], 3, 1);
    }
  }
  u->out_norm = mk_gn(&bd, "out_norm", u->ch[0], G);
  u->out_conv = mk_conv(&bd, "out_conv", u->ch[0], 1, 3, 1);
  if (!bd.bad && bd.params != 0) {
    /* every tensor of the file must have been used: a stray one means another architecture */
    long total = 0;
    for (size_t i = 0; i < ts->n; i++) total += (long)(ts->t[i].nbytes / sizeof(float));
    if (total != bd.params) {
      sr_fail(err, SR_EINVAL, "model", "the file holds %ld values but the architecture in its metadata uses %ld",
              total, bd.params);
      bd.bad = 1;
    }
  }
  if (bd.bad) {
    free(u);
    return NULL;
  }
  u->params = bd.params;
  /* buffer sizes for one image: the largest activation (incl. concatenations and upsampling), im2col, skips */
  size_t act = 0, col = 0, skips = 0;
  for (int i = 0; i < L; i++) {
    size_t hw_ = (size_t)u->hs[i] * (size_t)u->ws[i];
    int cmax = u->ures[i].cin > u->ch[i] ? u->ures[i].cin : u->ch[i];
    if ((size_t)cmax * hw_ > act) act = (size_t)cmax * hw_;
    if ((size_t)cmax * 9 * hw_ > col) col = (size_t)cmax * 9 * hw_;
    if (i > 0) { /* nearest-upsampled activation of level i lives at level i-1's size (or larger by one) */
      size_t up = (size_t)u->ch[i] * (size_t)(2 * u->hs[i]) * (size_t)(2 * u->ws[i]);
      if (up > act) act = up;
      if ((size_t)u->ch[i] * 9 * (size_t)(2 * u->hs[i]) * (size_t)(2 * u->ws[i]) > col)
        col = (size_t)u->ch[i] * 9 * (size_t)(2 * u->hs[i]) * (size_t)(2 * u->ws[i]);
    }
    skips += sr_stride((size_t)u->ch[i] * hw_);
  }
  u->act = sr_stride(act);
  u->col = sr_stride(col);
  u->skips = skips;
  size_t P = (size_t)u->hs[L - 1] * (size_t)u->ws[L - 1];
  u->attnw = sr_stride(P * P);
  return u;
}

void sr_unet_free(sr_unet *u) { free(u); }
long sr_unet_params(const sr_unet *u) { return u->params; }
void sr_unet_info(const sr_unet *u, size_t *h, size_t *w, double *smin, double *smax) {
  *h = (size_t)u->H;
  *w = (size_t)u->W;
  *smin = u->sigma_min;
  *smax = u->sigma_max;
}

/* 4 activation buffers + im2col + skips + attention weights + embedding vectors */
size_t sr_unet_ws_floats(const sr_unet *u) { return 4 * u->act + u->col + u->skips + u->attnw + 4 * 1024; }

/* ---------------------------------------------------------------- layers (one image, CHW) */

/* out[cout, Ho*Wo] = W[cout, cin*k*k] · col + b */
static void conv2d(const conv_t *c, const float *in, int H, int W, float *out, float *col, int *Ho_, int *Wo_) {
  int k = c->k, s = c->stride, pad = k / 2;
  int Ho = (H + 2 * pad - k) / s + 1, Wo = (W + 2 * pad - k) / s + 1;
  int P = Ho * Wo, K = c->cin * k * k;
  const float *B = in;
  if (k != 1 || s != 1) {
    for (int ci = 0; ci < c->cin; ci++)
      for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
          float *row = col + (size_t)((ci * k + ky) * k + kx) * (size_t)P;
          const float *src = in + (size_t)ci * (size_t)(H * W);
          /* output columns whose input column ix = ox·s + kx − pad lies inside [0, W) */
          int ox0 = kx >= pad ? 0 : (pad - kx + s - 1) / s;
          int ox1 = (W - 1 + pad - kx) / s + 1;
          if (ox1 > Wo) ox1 = Wo;
          if (ox0 > ox1) ox0 = ox1;
          for (int oy = 0; oy < Ho; oy++) {
            int iy = oy * s + ky - pad;
            float *r = row + oy * Wo;
            if (iy < 0 || iy >= H) {
              memset(r, 0, (size_t)Wo * sizeof(float));
              continue;
            }
            const float *srow = src + iy * W + kx - pad;
            for (int ox = 0; ox < ox0; ox++) r[ox] = 0.0f;
            if (s == 1) memcpy(r + ox0, srow + ox0, (size_t)(ox1 - ox0) * sizeof(float));
            else
              for (int ox = ox0; ox < ox1; ox++) r[ox] = srow[ox * s];
            for (int ox = ox1; ox < Wo; ox++) r[ox] = 0.0f;
          }
        }
    B = col;
  }
  for (int co = 0; co < c->cout; co++)
    for (int p = 0; p < P; p++) out[(size_t)co * (size_t)P + (size_t)p] = c->b[co];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, P, K, 1.0f, c->w, K, B, P, 1.0f, out, P);
  if (Ho_) *Ho_ = Ho;
  if (Wo_) *Wo_ = Wo;
}

static inline float silu(float v) { return v / (1.0f + expf(-v)); }

/* out = GroupNorm(in) (eps 1e-6), optionally followed by SiLU; in and out may alias. */
static void groupnorm(const gn_t *g, const float *in, int P, float *out, int act) {
  int cg = g->c / g->groups;
  for (int gi = 0; gi < g->groups; gi++) {
    const float *x = in + (size_t)gi * (size_t)cg * (size_t)P;
    size_t m = (size_t)cg * (size_t)P;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < m; i++) s += x[i];
    double mean = s / (double)m;
    for (size_t i = 0; i < m; i++) {
      double d = x[i] - mean;
      s2 += d * d;
    }
    float inv = (float)(1.0 / sqrt(s2 / (double)m + 1e-6)), mf = (float)mean;
    for (int c = 0; c < cg; c++) {
      int ch = gi * cg + c;
      float a = g->g[ch] * inv, b = g->b[ch] - mf * a;
      const float *xc = in + (size_t)ch * (size_t)P;
      float *oc = out + (size_t)ch * (size_t)P;
      if (act)
        for (int p = 0; p < P; p++) oc[p] = silu(a * xc[p] + b);
      else
        for (int p = 0; p < P; p++) oc[p] = a * xc[p] + b;
    }
  }
}

static void linear(const lin_t *l, const float *in, float *out) {
  for (int o = 0; o < l->out; o++) {
    double acc = l->b[o];
    const float *w = l->w + (size_t)o * (size_t)l->in;
    for (int i = 0; i < l->in; i++) acc += (double)w[i] * in[i];
    out[o] = (float)acc;
  }
}

typedef struct {
  float *t0, *t1, *t2, *col, *attnw;
} bufs;

/* out = (conv2(silu(gn2(conv1(silu(gn1(x))) + temb))) + skip(x)) / √2 ; out must not alias x */
static void resblock(const res_t *r, const float *x, int H, int W, const float *silu_emb, float *out, bufs *b) {
  int P = H * W;
  float tproj[2048];
  groupnorm(&r->norm1, x, P, b->t1, 1);
  conv2d(&r->conv1, b->t1, H, W, b->t2, b->col, NULL, NULL);
  linear(&r->temb, silu_emb, tproj);
  for (int c = 0; c < r->cout; c++)
    for (int p = 0; p < P; p++) b->t2[(size_t)c * (size_t)P + (size_t)p] += tproj[c];
  groupnorm(&r->norm2, b->t2, P, b->t2, 1);
  conv2d(&r->conv2, b->t2, H, W, out, b->col, NULL, NULL);
  const float *skip = x;
  if (r->has_skip) {
    conv2d(&r->skip, x, H, W, b->t1, b->col, NULL, NULL);
    skip = b->t1;
  }
  const float is2 = (float)(1.0 / sqrt(2.0));
  size_t n = (size_t)r->cout * (size_t)P;
  for (size_t i = 0; i < n; i++) out[i] = (out[i] + skip[i]) * is2;
}

/* x ← (x + proj(v softmax(qᵀk/√c)ᵀ)) / √2, in place */
static void attention(const attn_t *a, float *x, int H, int W, bufs *b) {
  int P = H * W, c = a->c;
  float *n = b->t0, *q = b->t1, *k = b->t2, *v = b->col, *w = b->attnw;
  groupnorm(&a->norm, x, P, n, 0);
  conv2d(&a->q, n, H, W, q, NULL, NULL, NULL);
  conv2d(&a->k, n, H, W, k, NULL, NULL, NULL);
  conv2d(&a->v, n, H, W, v, NULL, NULL, NULL);
  /* w[i][j] = Σ_c q[c][i] k[c][j] / √c, softmax over j */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, P, c, (float)(1.0 / sqrt((double)c)), q, P, k, P, 0.0f,
              w, P);
  for (int i = 0; i < P; i++) {
    float *row = w + (size_t)i * (size_t)P, mx = row[0];
    for (int j = 1; j < P; j++) mx = row[j] > mx ? row[j] : mx;
    double s = 0;
    for (int j = 0; j < P; j++) s += (row[j] = expf(row[j] - mx));
    float is = (float)(1.0 / s);
    for (int j = 0; j < P; j++) row[j] *= is;
  }
  /* out[c][i] = Σ_j v[c][j] w[i][j] */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, P, P, 1.0f, v, P, w, P, 0.0f, n, P);
  conv2d(&a->proj, n, H, W, q, NULL, NULL, NULL);
  const float is2 = (float)(1.0 / sqrt(2.0));
  for (size_t i = 0; i < (size_t)c * (size_t)P; i++) x[i] = (x[i] + q[i]) * is2;
}

/* ---------------------------------------------------------------- forward */

/* out (batch × H·W) = ∇_x log p_σ(x) in data units, for images x in data units. */
void sr_unet_score(const sr_unet *u, const float *x, size_t batch, size_t stride, double sigma, float *out,
                   float *ws) {
  int L = u->L;
  bufs b = {ws, ws + u->act, ws + 2 * u->act, ws + 4 * u->act, ws + 4 * u->act + u->col + u->skips};
  float *h = ws + 3 * u->act, *skip0 = ws + 4 * u->act + u->col;
  float *emb = b.attnw + u->attnw, *emb2 = emb + 1024, *semb = emb2 + 1024;
  double su = u->data_scale * sigma, ls = log(su);
  /* noise embedding: [sin(2π W log σ_u), cos(2π W log σ_u)] → fc1 → SiLU → fc2; resblocks see SiLU(emb) */
  for (int f = 0; f < u->F; f++) {
    double a = 2.0 * M_PI * u->tembW[f] * ls;
    emb[f] = (float)sin(a);
    emb[u->F + f] = (float)cos(a);
  }
  linear(&u->fc1, emb, emb2);
  for (int e = 0; e < u->E; e++) emb2[e] = silu(emb2[e]);
  linear(&u->fc2, emb2, emb);
  for (int e = 0; e < u->E; e++) semb[e] = silu(emb[e]);
  const float ds = (float)u->data_scale, dsh = (float)u->data_shift;
  const float oscale = (float)(u->data_scale / su);
  size_t npix = (size_t)u->H * (size_t)u->W;
  for (size_t im = 0; im < batch; im++) {
    const float *xi = x + im * stride;
    for (size_t p = 0; p < npix; p++) b.t1[p] = ds * xi[p] + dsh;
    conv2d(&u->conv_in, b.t1, u->H, u->W, h, b.col, NULL, NULL);
    float *skip[MAXL];
    float *sp = skip0;
    for (int i = 0; i < L; i++) {
      int H = u->hs[i], W = u->ws[i];
      resblock(&u->dres[i], h, H, W, semb, b.t0, &b);
      skip[i] = sp;
      memcpy(sp, b.t0, (size_t)u->ch[i] * (size_t)(H * W) * sizeof(float));
      sp += sr_stride((size_t)u->ch[i] * (size_t)(H * W));
      if (i < L - 1) conv2d(&u->down[i], b.t0, H, W, h, b.col, NULL, NULL);
      else memcpy(h, b.t0, (size_t)u->ch[i] * (size_t)(H * W) * sizeof(float));
    }
    int Hl = u->hs[L - 1], Wl = u->ws[L - 1];
    size_t nl = (size_t)u->ch[L - 1] * (size_t)(Hl * Wl);
    resblock(&u->mid1, h, Hl, Wl, semb, b.t0, &b);
    memcpy(h, b.t0, nl * sizeof(float));
    if (u->attention) attention(&u->attn, h, Hl, Wl, &b); /* scratch t0, t1, t2, col, attnw */
    resblock(&u->mid2, h, Hl, Wl, semb, b.t0, &b);
    memcpy(h, b.t0, nl * sizeof(float));
    for (int i = L - 1; i >= 0; i--) {
      int H = u->hs[i], W = u->ws[i], P = H * W;
      int ch_h = i == L - 1 ? u->ch[L - 1] : u->ch[i + 1];
      /* concat(h, skip) along channels into t0, then the resblock into h */
      memcpy(b.t0, h, (size_t)ch_h * (size_t)P * sizeof(float));
      memcpy(b.t0 + (size_t)ch_h * (size_t)P, skip[i], (size_t)u->ch[i] * (size_t)P * sizeof(float));
      resblock(&u->ures[i], b.t0, H, W, semb, h, &b);
      if (i > 0) { /* nearest ×2, 3x3 conv, crop to level i−1's size */
        int H2 = 2 * H, W2 = 2 * W, c = u->ch[i];
        for (int ci = 0; ci < c; ci++)
          for (int y = 0; y < H2; y++)
            for (int xx = 0; xx < W2; xx++)
              b.t0[((size_t)ci * (size_t)H2 + (size_t)y) * (size_t)W2 + (size_t)xx] =
                  h[((size_t)ci * (size_t)H + (size_t)(y / 2)) * (size_t)W + (size_t)(xx / 2)];
        conv2d(&u->up[i], b.t0, H2, W2, b.t2, b.col, NULL, NULL);
        int Ht = u->hs[i - 1], Wt = u->ws[i - 1];
        for (int ci = 0; ci < c; ci++)
          for (int y = 0; y < Ht; y++)
            memcpy(h + ((size_t)ci * (size_t)Ht + (size_t)y) * (size_t)Wt,
                   b.t2 + ((size_t)ci * (size_t)H2 + (size_t)y) * (size_t)W2, (size_t)Wt * sizeof(float));
      }
    }
    groupnorm(&u->out_norm, h, (int)npix, b.t0, 1);
    conv2d(&u->out_conv, b.t0, u->H, u->W, b.t1, b.col, NULL, NULL);
    float *oi = out + im * stride;
    for (size_t p = 0; p < npix; p++) oi[p] = oscale * b.t1[p];
  }
}
