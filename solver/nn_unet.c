/* nn_unet.c — the score network of docs/score-model-format.md, run in C: create from a tensor table (validating
 * every name and shape against the architecture in the metadata), then apply to a batch of images many times.
 * Convolutions are matrix products (BLAS sgemm): Winograd F(2x2, 3x3) for the 3x3 stride-1 ones, im2col for the
 * rest; GroupNorm, SiLU, nearest upsampling, strided downsampling and single-head attention are plain loops. No
 * allocation after creation: the caller passes a workspace of sr_unet_ws_floats() floats. The tensor data is
 * borrowed (memory-mapped by the loader); only the Winograd-transformed weights are owned. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorerecon.h"

#define MAXL 6

typedef struct {
  int cin, cout, k, stride;
  const float *w, *b;
  const float *wu; /* 3x3 stride 1: Winograd weights U[16][cout][cin] (in sr_unet.wino), else NULL */
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
  double data_scale, data_shift, sigma_min, sigma_max, data_mean, data_std;
  size_t act, col, skips, attnw; /* buffer sizes (floats) for one image */
  float *wino;                   /* owned: the Winograd weights of every 3x3 stride-1 convolution */
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
  conv_t c = {cin, cout, k, stride, NULL, NULL, NULL};
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

/* ---------------------------------------------------------------- Winograd F(2x2, 3x3) (Lavin & Gray 2016)
 * A 3x3 stride-1 convolution makes each 2x2 output tile from a 4x4 input tile d as Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A:
 * 16 products per tile instead of 36. Summed over input channels, the elementwise product becomes 16 matrix
 * products M[ξ] = U[ξ] · V[ξ] (ξ = the 16 positions of the 4x4 tile), which is where the time goes. */

/* The 3x3 stride-1 convolutions that go by Winograd and the image size each runs at; returns how many (at most
 * 64). Not conv_in: with one input channel its 16 products would be of depth 1 (im2col's one has depth 9), and
 * the transforms of the raw input cost accuracy (measured: twice the rounding noise in the score). */
static int wino_convs(sr_unet *u, conv_t **cv, int *hh, int *ww) {
  int n = 0;
#define ADD(c, h_, w_) ((c)->cin >= 4 ? (cv[n] = (c), hh[n] = (h_), ww[n] = (w_), n++) : 0)
  ADD(&u->conv_in, u->H, u->W);
  ADD(&u->out_conv, u->H, u->W);
  for (int i = 0; i < u->L; i++) {
    ADD(&u->dres[i].conv1, u->hs[i], u->ws[i]);
    ADD(&u->dres[i].conv2, u->hs[i], u->ws[i]);
    ADD(&u->ures[i].conv1, u->hs[i], u->ws[i]);
    ADD(&u->ures[i].conv2, u->hs[i], u->ws[i]);
    if (i > 0) ADD(&u->up[i], 2 * u->hs[i], 2 * u->ws[i]); /* runs on the nearest-upsampled activation */
  }
  int l = u->L - 1;
  ADD(&u->mid1.conv1, u->hs[l], u->ws[l]);
  ADD(&u->mid1.conv2, u->hs[l], u->ws[l]);
  ADD(&u->mid2.conv1, u->hs[l], u->ws[l]);
  ADD(&u->mid2.conv2, u->hs[l], u->ws[l]);
#undef ADD
  return n;
}

/* U[ξ][co][ci] = (G g Gᵀ)[ξ], g = the 3x3 kernel w[co][ci], G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]] */
static void wino_weights(const conv_t *c, float *U) {
  static const double G[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
  size_t plane = (size_t)c->cout * (size_t)c->cin;
  for (int co = 0; co < c->cout; co++)
    for (int ci = 0; ci < c->cin; ci++) {
      const float *g = c->w + ((size_t)co * (size_t)c->cin + (size_t)ci) * 9;
      double Gg[4][3]; /* G g */
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) Gg[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
          U[(size_t)(i * 4 + j) * plane + (size_t)co * (size_t)c->cin + (size_t)ci] =
              (float)(Gg[i][0] * G[j][0] + Gg[i][1] * G[j][1] + Gg[i][2] * G[j][2]);
    }
}

/* Workspace of one 3x3 convolution on one image: V[16][cin][tiles] and M[16][cout][tiles], tiles = ⌈H/2⌉⌈W/2⌉,
 * plus the input transform's 5 scratch rows (wino_in). */
static size_t wino_floats(const conv_t *c, int H, int W) {
  size_t tiles = (size_t)((H + 1) / 2) * (size_t)((W + 1) / 2);
  return 16 * (size_t)(c->cin + c->cout) * tiles + 5 * ((size_t)W + 4);
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
  u->data_std = meta_num(&bd, "data_std", 0.0, 0);
  u->data_mean = meta_num(&bd, "data_mean", NAN, 0);
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
  /* Winograd weights, transformed once here; V and M share the im2col buffer */
  conv_t *cv[64];
  int ch_[64], cw_[64], nc = wino_convs(u, cv, ch_, cw_);
  size_t nw = 0;
  for (int i = 0; i < nc; i++) {
    nw += 16 * (size_t)cv[i]->cout * (size_t)cv[i]->cin;
    if (wino_floats(cv[i], ch_[i], cw_[i]) > col) col = wino_floats(cv[i], ch_[i], cw_[i]);
  }
  u->wino = malloc(nw * sizeof(float));
  if (!u->wino) {
    sr_fail(err, SR_ENOMEM, "model", "out of memory");
    free(u);
    return NULL;
  }
  for (size_t i = 0, off = 0; i < (size_t)nc; off += 16 * (size_t)cv[i]->cout * (size_t)cv[i]->cin, i++) {
    wino_weights(cv[i], u->wino + off);
    cv[i]->wu = u->wino + off;
  }
  u->act = sr_stride(act);
  u->col = sr_stride(col);
  u->skips = skips;
  size_t P = (size_t)u->hs[L - 1] * (size_t)u->ws[L - 1];
  u->attnw = sr_stride(P * P);
  return u;
}

void sr_unet_free(sr_unet *u) {
  if (u) free(u->wino);
  free(u);
}
long sr_unet_params(const sr_unet *u) { return u->params; }
void sr_unet_info(const sr_unet *u, size_t *h, size_t *w, double *smin, double *smax) {
  *h = (size_t)u->H;
  *w = (size_t)u->W;
  *smin = u->sigma_min;
  *smax = u->sigma_max;
}

void sr_unet_data_stats(const sr_unet *u, double *mean, double *std) {
  double sc = u->data_scale > 0 ? u->data_scale : 1.0;
  *std = u->data_std > 0 ? u->data_std : 1.0 / sc;
  *mean = isfinite(u->data_mean) ? u->data_mean : -u->data_shift / sc;
}

/* Workspace for a batch of `batch` images: 4 activation buffers, im2col and the skips scale with the batch;
 * one image's attention weights and the embedding vectors do not. */
size_t sr_unet_ws_floats(const sr_unet *u, size_t batch) {
  return batch * (4 * u->act + u->col + u->skips) + u->attnw + 4 * 1024;
}

/* ---------------------------------------------------------------- layers, batched
 * An activation of C channels for a batch of B images at P pixels each is stored channel-major, [C][B·P]:
 * channel c of image b is the P floats at c·B·P + b·P. A convolution is then ONE matrix product over the whole
 * batch, W[cout, cin·k·k] · col[cin·k·k, B·P], and a concatenation along channels is a contiguous copy. */

/* Bᵀ applied to n 4-vectors (x0, x1, x2, x3)[i·s] → (x0 − x2, x1 + x2, x2 − x1, x1 − x3)[i]; a function of its
 * own so that restrict lets the compiler vectorise it. */
static inline void bt4(const float *restrict x0, const float *restrict x1, const float *restrict x2,
                       const float *restrict x3, int s, int n, float *restrict y0, float *restrict y1,
                       float *restrict y2, float *restrict y3) {
  for (int i = 0; i < n; i++) {
    y0[i] = x0[i * s] - x2[i * s];
    y1[i] = x1[i * s] + x2[i * s];
    y2[i] = x2[i * s] - x1[i * s];
    y3[i] = x1[i * s] - x3[i * s];
  }
}

/* V[ξ][ci][t] = (Bᵀ d B)[ξ] for the 4x4 patch d of tile t = (b, ty, tx): input rows 2ty−1…2ty+2, columns
 * 2tx−1…2tx+2, zero outside the image. Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]]: first on the 4 rows
 * (whole image rows at once), then on the columns of each tile. scr: 5·(W+4) floats. */
static void wino_in(const float *in, int cin, int B, int H, int W, float *V, float *scr) {
  int th = (H + 1) / 2, tw = (W + 1) / 2, Wp = 2 * tw + 2;
  size_t P = (size_t)H * (size_t)W, T = (size_t)B * (size_t)(th * tw), plane = (size_t)cin * T;
  float *zero = scr, *t[4];
  for (int i = 0; i < 4; i++) t[i] = scr + W + i * Wp; /* t[i][x + 1] = (Bᵀ d)[i] at column x, 0 outside */
  memset(scr, 0, (size_t)(W + 4 * Wp) * sizeof(float));
  for (int ci = 0; ci < cin; ci++)
    for (int b = 0; b < B; b++) {
      const float *src = in + ((size_t)ci * (size_t)B + (size_t)b) * P;
      float *v = V + (size_t)ci * T + (size_t)b * (size_t)(th * tw);
      for (int ty = 0; ty < th; ty++, v += tw) {
        int y = 2 * ty - 1; /* rows y…y+3; only the first (y = −1) and the last two can fall outside */
        const float *restrict d0 = y >= 0 ? src + (size_t)y * (size_t)W : zero;
        const float *restrict d1 = src + (size_t)(y + 1) * (size_t)W;
        const float *restrict d2 = y + 2 < H ? d1 + W : zero, *restrict d3 = y + 3 < H ? d1 + 2 * W : zero;
        bt4(d0, d1, d2, d3, 1, W, t[0] + 1, t[1] + 1, t[2] + 1, t[3] + 1);
        for (int i = 0; i < 4; i++) {
          float *o = v + (size_t)(4 * i) * plane;
          const float *r = t[i];
          bt4(r, r + 1, r + 2, r + 3, 2, tw, o, o + plane, o + 2 * plane, o + 3 * plane);
        }
      }
    }
}

/* out = Aᵀ M A + bias per tile, Aᵀ = [[1,1,1,0],[0,1,−1,−1]], cropped to H x W (odd sizes: the last tile row or
 * column is half used). A row of tiles at a time: Aᵀ m (vectorised over the tiles), then its columns into the
 * two output rows. scr: 10·⌈W/2⌉ floats. */
static void wino_out(const float *M, const float *bias, int cout, int B, int H, int W, float *out, float *scr) {
  int th = (H + 1) / 2, tw = (W + 1) / 2;
  size_t P = (size_t)H * (size_t)W, T = (size_t)B * (size_t)(th * tw), plane = (size_t)cout * T;
  float *s = scr, *row = scr + 8 * tw; /* s[r·4 + j][tx] = (Aᵀ m)[r][j]; row: 2 tw outputs before cropping */
  for (int co = 0; co < cout; co++)
    for (int b = 0; b < B; b++) {
      float *dst = out + ((size_t)co * (size_t)B + (size_t)b) * P, bv = bias[co];
      const float *m = M + (size_t)co * T + (size_t)b * (size_t)(th * tw);
      for (int ty = 0; ty < th; ty++, m += tw) {
        for (int j = 0; j < 4; j++) {
          const float *restrict m0 = m + (size_t)j * plane, *restrict m1 = m0 + 4 * plane,
                                *restrict m2 = m1 + 4 * plane, *restrict m3 = m2 + 4 * plane;
          float *restrict s0 = s + j * tw, *restrict s1 = s + (4 + j) * tw;
          for (int tx = 0; tx < tw; tx++) {
            s0[tx] = m0[tx] + m1[tx] + m2[tx];
            s1[tx] = m1[tx] - m2[tx] - m3[tx];
          }
        }
        for (int r = 0; r < 2 && 2 * ty + r < H; r++) {
          const float *restrict a0 = s + 4 * r * tw, *restrict a1 = a0 + tw, *restrict a2 = a1 + tw,
                                *restrict a3 = a2 + tw;
          float *restrict o = row;
          for (int tx = 0; tx < tw; tx++) {
            o[2 * tx] = a0[tx] + a1[tx] + a2[tx] + bv;
            o[2 * tx + 1] = a1[tx] - a2[tx] - a3[tx] + bv;
          }
          memcpy(dst + (size_t)(2 * ty + r) * (size_t)W, row, (size_t)W * sizeof(float));
        }
      }
    }
}

/* out[cout][B·P] = 3x3 stride-1 convolution of in by Winograd: V = Bᵀ d B, M[ξ] = U[ξ] V[ξ], out = Aᵀ M A + b */
static void conv3x3_wino(const conv_t *c, const float *in, int B, int H, int W, float *out, float *ws) {
  int T = B * ((H + 1) / 2) * ((W + 1) / 2);
  float *V = ws, *M = V + (size_t)16 * (size_t)c->cin * (size_t)T, *scr = M + (size_t)16 * (size_t)c->cout * (size_t)T;
  wino_in(in, c->cin, B, H, W, V, scr);
  for (int xi = 0; xi < 16; xi++)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, T, c->cin, 1.0f,
                c->wu + (size_t)xi * (size_t)c->cout * (size_t)c->cin, c->cin,
                V + (size_t)xi * (size_t)c->cin * (size_t)T, T, 0.0f, M + (size_t)xi * (size_t)c->cout * (size_t)T, T);
  wino_out(M, c->b, c->cout, B, H, W, out, scr);
}

/* out[cout][B·Po] = W · im2col(in) + b (Winograd for 3x3 stride 1) */
static void conv2d(const conv_t *c, const float *in, int B, int H, int W, float *out, float *col) {
  if (c->wu) {
    conv3x3_wino(c, in, B, H, W, out, col);
    return;
  }
  int k = c->k, s = c->stride, pad = k / 2;
  int Ho = (H + 2 * pad - k) / s + 1, Wo = (W + 2 * pad - k) / s + 1;
  size_t P = (size_t)H * (size_t)W, Po = (size_t)Ho * (size_t)Wo, N = (size_t)B * Po;
  int K = c->cin * k * k;
  const float *Bm = in;
  if (k != 1 || s != 1) {
    /* output columns whose input column ix = ox·s + kx − pad lies inside [0, W) */
    for (int ci = 0; ci < c->cin; ci++)
      for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
          float *row = col + (size_t)((ci * k + ky) * k + kx) * N;
          int ox0 = kx >= pad ? 0 : (pad - kx + s - 1) / s;
          int ox1 = (W - 1 + pad - kx) / s + 1;
          if (ox1 > Wo) ox1 = Wo;
          if (ox0 > ox1) ox0 = ox1;
          for (int b = 0; b < B; b++) {
            const float *src = in + (size_t)ci * (size_t)B * P + (size_t)b * P;
            float *rb = row + (size_t)b * Po;
            for (int oy = 0; oy < Ho; oy++) {
              int iy = oy * s + ky - pad;
              float *r = rb + oy * Wo;
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
        }
    Bm = col;
  }
  for (int co = 0; co < c->cout; co++) {
    float *o = out + (size_t)co * N, bv = c->b[co];
    for (size_t p = 0; p < N; p++) o[p] = bv;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, (int)N, K, 1.0f, c->w, K, Bm, (int)N, 1.0f, out,
              (int)N);
}

/* SiLU(v) = v·sigmoid(v) with exp(−v) from exp_neg() below: a polynomial the compiler vectorises, unlike
 * libm's expf; relative error < 2e-7 over the range that matters (|v| < 87). */
static inline float exp_neg(float v) {
  /* e^−v = 2^n · e^r, n = round(−v/ln2), r = −v − n ln2 in [−ln2/2, ln2/2]; degree-6 Taylor for e^r */
  /* clamp |−v| to 87 on its bits (ordered as the magnitudes are): a float compare may trap (-ftrapping-math), so
   * the compiler would not vectorise a loop around it; integer compares it does */
  union { float f; int32_t i; } tc = {-v};
  int32_t mag = tc.i & 0x7fffffff;
  tc.i = (tc.i & (int32_t)0x80000000) | (mag > 0x42ae0000 ? 0x42ae0000 : mag); /* 0x42ae0000 = 87.0f */
  float t = tc.f;
  /* round to nearest by the 1.5·2^23 trick: vectorises without SSE4.1's roundps */
  float n = (t * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = t - n * 0.693145751953125f - n * 1.42860682030941723212e-6f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667163e-1f + r * (4.1666667908e-2f +
                                                  r * (8.3333337680e-3f + r * 1.3888889225e-3f)))));
  union { float f; int32_t i; } sc;
  sc.i = ((int32_t)n + 127) << 23;
  return p * sc.f;
}
static inline float silu(float v) { return v / (1.0f + exp_neg(v)); }

/* Σ x and Σ (x − m)² in 8 interleaved partial sums, so the loops vectorise without -ffast-math. */
static float sum8(const float *x, size_t n) {
  float a[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) a[j] += x[i + j];
  for (; i < n; i++) a[i & 7] += x[i];
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}
static float dev8(const float *x, size_t n, float m) {
  float a[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) a[j] += (x[i + j] - m) * (x[i + j] - m);
  for (; i < n; i++) a[i & 7] += (x[i] - m) * (x[i] - m);
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* out = GroupNorm(in) (eps 1e-6) per image, optionally followed by SiLU; in and out may alias. */
static void groupnorm(const gn_t *g, const float *in, int B, size_t P, float *out, int act) {
  int cg = g->c / g->groups;
  size_t N = (size_t)B * P;
  for (int b = 0; b < B; b++)
    for (int gi = 0; gi < g->groups; gi++) {
      double s = 0, s2 = 0;
      for (int c = 0; c < cg; c++) s += sum8(in + (size_t)(gi * cg + c) * N + (size_t)b * P, P);
      double m = (double)cg * (double)P, mean = s / m;
      float mf = (float)mean;
      for (int c = 0; c < cg; c++) s2 += dev8(in + (size_t)(gi * cg + c) * N + (size_t)b * P, P, mf);
      float inv = (float)(1.0 / sqrt(s2 / m + 1e-6));
      for (int c = 0; c < cg; c++) {
        int ch = gi * cg + c;
        float a = g->g[ch] * inv, bb = g->b[ch] - mf * a;
        const float *xc = in + (size_t)ch * N + (size_t)b * P;
        float *oc = out + (size_t)ch * N + (size_t)b * P;
        if (act)
          for (size_t p = 0; p < P; p++) oc[p] = silu(a * xc[p] + bb);
        else
          for (size_t p = 0; p < P; p++) oc[p] = a * xc[p] + bb;
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
static void resblock(const res_t *r, const float *x, int B, int H, int W, const float *silu_emb, float *out,
                     bufs *b) {
  size_t P = (size_t)H * (size_t)W, N = (size_t)B * P;
  float tproj[2048];
  groupnorm(&r->norm1, x, B, P, b->t1, 1);
  conv2d(&r->conv1, b->t1, B, H, W, b->t2, b->col);
  linear(&r->temb, silu_emb, tproj);
  for (int c = 0; c < r->cout; c++) {
    float *t = b->t2 + (size_t)c * N, v = tproj[c];
    for (size_t p = 0; p < N; p++) t[p] += v;
  }
  groupnorm(&r->norm2, b->t2, B, P, b->t2, 1);
  conv2d(&r->conv2, b->t2, B, H, W, out, b->col);
  const float *skip = x;
  if (r->has_skip) {
    conv2d(&r->skip, x, B, H, W, b->t1, b->col);
    skip = b->t1;
  }
  const float is2 = (float)(1.0 / sqrt(2.0));
  size_t n = (size_t)r->cout * N;
  for (size_t i = 0; i < n; i++) out[i] = (out[i] + skip[i]) * is2;
}

/* x ← (x + proj(v softmax(qᵀk/√c)ᵀ)) / √2 per image, in place */
static void attention(const attn_t *a, float *x, int B, int H, int W, bufs *b) {
  int P = H * W, c = a->c, N = B * P;
  float *n = b->t0, *q = b->t1, *k = b->t2, *v = b->col, *w = b->attnw;
  groupnorm(&a->norm, x, B, (size_t)P, n, 0);
  conv2d(&a->q, n, B, H, W, q, NULL);
  conv2d(&a->k, n, B, H, W, k, NULL);
  conv2d(&a->v, n, B, H, W, v, NULL);
  for (int im = 0; im < B; im++) {
    size_t o = (size_t)im * (size_t)P;
    /* w[i][j] = Σ_c q[c][i] k[c][j] / √c, softmax over j */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, P, c, (float)(1.0 / sqrt((double)c)), q + o, N, k + o,
                N, 0.0f, w, P);
    for (int i = 0; i < P; i++) {
      float *row = w + (size_t)i * (size_t)P, mx = row[0];
      for (int j = 1; j < P; j++) mx = row[j] > mx ? row[j] : mx;
      double s = 0;
      for (int j = 0; j < P; j++) s += (row[j] = expf(row[j] - mx));
      float is = (float)(1.0 / s);
      for (int j = 0; j < P; j++) row[j] *= is;
    }
    /* out[c][i] = Σ_j v[c][j] w[i][j] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, P, P, 1.0f, v + o, N, w, P, 0.0f, n + o, N);
  }
  conv2d(&a->proj, n, B, H, W, q, NULL);
  const float is2 = (float)(1.0 / sqrt(2.0));
  for (size_t i = 0; i < (size_t)c * (size_t)N; i++) x[i] = (x[i] + q[i]) * is2;
}

/* ---------------------------------------------------------------- forward */

/* out (batch × H·W) = ∇_x log p_σ(x) in data units, for images x in data units; the whole batch goes through
 * each layer at once. x and out may alias (all of x is read before out is written). */
void sr_unet_score(const sr_unet *u, const float *x, size_t batch, size_t stride, double sigma, float *out,
                   float *ws) {
  int L = u->L, B = (int)batch;
  size_t Bs = batch;
  bufs b = {ws, ws + Bs * u->act, ws + 2 * Bs * u->act, ws + 4 * Bs * u->act,
            ws + Bs * (4 * u->act + u->col + u->skips)};
  float *h = ws + 3 * Bs * u->act, *skip0 = ws + Bs * (4 * u->act + u->col);
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
  for (size_t im = 0; im < Bs; im++)
    for (size_t p = 0; p < npix; p++) b.t1[im * npix + p] = ds * x[im * stride + p] + dsh;
  conv2d(&u->conv_in, b.t1, B, u->H, u->W, h, b.col);
  float *skip[MAXL];
  float *sp = skip0;
  for (int i = 0; i < L; i++) {
    int H = u->hs[i], W = u->ws[i];
    size_t n = (size_t)u->ch[i] * Bs * (size_t)(H * W);
    resblock(&u->dres[i], h, B, H, W, semb, b.t0, &b);
    skip[i] = sp;
    memcpy(sp, b.t0, n * sizeof(float));
    sp += Bs * sr_stride((size_t)u->ch[i] * (size_t)(H * W));
    if (i < L - 1) conv2d(&u->down[i], b.t0, B, H, W, h, b.col);
    else memcpy(h, b.t0, n * sizeof(float));
  }
  int Hl = u->hs[L - 1], Wl = u->ws[L - 1];
  size_t nl = (size_t)u->ch[L - 1] * Bs * (size_t)(Hl * Wl);
  resblock(&u->mid1, h, B, Hl, Wl, semb, b.t0, &b);
  memcpy(h, b.t0, nl * sizeof(float));
  if (u->attention) attention(&u->attn, h, B, Hl, Wl, &b); /* scratch t0, t1, t2, col, attnw */
  resblock(&u->mid2, h, B, Hl, Wl, semb, b.t0, &b);
  memcpy(h, b.t0, nl * sizeof(float));
  for (int i = L - 1; i >= 0; i--) {
    int H = u->hs[i], W = u->ws[i];
    size_t P = (size_t)(H * W), N = Bs * P;
    int ch_h = i == L - 1 ? u->ch[L - 1] : u->ch[i + 1];
    /* concat(h, skip) along channels into t0, then the resblock into h */
    memcpy(b.t0, h, (size_t)ch_h * N * sizeof(float));
    memcpy(b.t0 + (size_t)ch_h * N, skip[i], (size_t)u->ch[i] * N * sizeof(float));
    resblock(&u->ures[i], b.t0, B, H, W, semb, h, &b);
    if (i > 0) { /* nearest ×2, 3x3 conv, crop to level i−1's size */
      size_t H2 = 2 * (size_t)H, W2 = 2 * (size_t)W, P2 = H2 * W2, c = (size_t)u->ch[i];
      size_t Ht = (size_t)u->hs[i - 1], Wt = (size_t)u->ws[i - 1], Pt = Ht * Wt;
      for (size_t ci = 0; ci < c; ci++)
        for (size_t im = 0; im < Bs; im++) {
          const float *src = h + ci * N + im * P;
          float *dst = b.t0 + (ci * Bs + im) * P2;
          for (size_t y = 0; y < H2; y++)
            for (size_t xx = 0; xx < W2; xx++) dst[y * W2 + xx] = src[(y / 2) * (size_t)W + xx / 2];
        }
      conv2d(&u->up[i], b.t0, B, (int)H2, (int)W2, b.t2, b.col);
      for (size_t ci = 0; ci < c; ci++)
        for (size_t im = 0; im < Bs; im++)
          for (size_t y = 0; y < Ht; y++)
            memcpy(h + (ci * Bs + im) * Pt + y * Wt, b.t2 + (ci * Bs + im) * P2 + y * W2, Wt * sizeof(float));
    }
  }
  groupnorm(&u->out_norm, h, B, npix, b.t0, 1);
  conv2d(&u->out_conv, b.t0, B, u->H, u->W, b.t1, b.col);
  for (size_t im = 0; im < Bs; im++)
    for (size_t p = 0; p < npix; p++) out[im * stride + p] = oscale * b.t1[im * npix + p];
}

/* ---------------------------------------------------------------- work per evaluation */

static double conv_flops(const conv_t *c, double Po) { return 2.0 * c->cout * c->cin * c->k * c->k * Po; }
static double res_flops(const res_t *r, double P) {
  return conv_flops(&r->conv1, P) + conv_flops(&r->conv2, P) + (r->has_skip ? conv_flops(&r->skip, P) : 0.0);
}

/* Floating-point operations of one image's forward pass counted as direct convolutions and attention products
 * (2·M·N·K each, the usual convention): Winograd does 2.25x fewer multiplications in the 3x3 convolutions, so
 * the rate this gives is an effective one. Norms, activations and the embedding (< 1% here) are left out. */
double sr_unet_flops(const sr_unet *u) {
  int L = u->L;
  double P0 = (double)u->hs[0] * u->ws[0];
  double f = conv_flops(&u->conv_in, P0) + conv_flops(&u->out_conv, P0);
  for (int i = 0; i < L; i++) {
    double P = (double)u->hs[i] * u->ws[i];
    f += res_flops(&u->dres[i], P) + res_flops(&u->ures[i], P);
    if (i < L - 1) f += conv_flops(&u->down[i], (double)u->hs[i + 1] * u->ws[i + 1]);
    if (i > 0) f += conv_flops(&u->up[i], 4.0 * P);
  }
  double Pl = (double)u->hs[L - 1] * u->ws[L - 1];
  f += res_flops(&u->mid1, Pl) + res_flops(&u->mid2, Pl);
  if (u->attention) f += 4.0 * 2.0 * u->attn.c * u->attn.c * Pl + 2.0 * 2.0 * Pl * Pl * u->attn.c;
  return f;
}
