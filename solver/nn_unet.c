/* nn_unet.c — the score network of docs/score-model-format.md, run in C: create from a tensor table (validating
 * every name and shape against the architecture in the metadata), then apply to a batch of images many times.
 * Convolutions are matrix products (sr__gemm, nn_gemm.c): Winograd for the 3x3 stride-1 ones, F(4x4, 3x3) at 7 x 7
 * and above (its arithmetic in nn_wino4.inc), F(2x2, 3x3) below (wino_tile), im2col for the rest; GroupNorm, SiLU,
 * nearest upsampling, strided downsampling and single-head attention are plain loops. No allocation after
 * creation: the caller passes a workspace of sr_unet_ws_floats() floats. The tensor data is borrowed
 * (memory-mapped by the loader); only the packed (and Winograd-transformed) weights are owned. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "nn_gemm.h"
#include "scorerecon.h"

#define MAXL 6

typedef struct {
  int cin, cout, k, stride;
  const float *w, *b;
  const float *wp; /* the weights packed for sr__gemm (in sr_unet.packed): with wm, the Winograd U[ξ] (cout x cin)
                    * for ξ < (m+2)², one after another, sr__gemm_packed_floats(cout, cin) each; else W (cout x
                    * cin·k·k) */
  int wm;          /* 3x3 stride 1 by Winograd: the output tile, m = 2 for F(2x2, 3x3) or 4 for F(4x4, 3x3)
                    * (wino_tile); 0: im2col */
  int isa;         /* the transforms' vector path: 0 baseline, 1 AVX2, 2 AVX-512F (sr_cpu_path at creation) */
  int gpath;       /* the products' path (sr__gemm_path at creation) */
} conv_t;
typedef struct {
  int c, groups;
  const float *g, *b;
  int isa; /* the vector path of groupnorm (as conv_t.isa) */
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
  float *packed;                 /* owned: every convolution's weights packed for sr__gemm (conv_t.wp) */
  long params;
  char name[64];
};

/* ---------------------------------------------------------------- building from the tensor table */

typedef struct {
  const sr_tensor_set *ts;
  sr_error *err;
  long params;
  int bad;
  int isa;   /* the vector path of the kernels (conv_t.isa) */
  int gpath; /* the products' (conv_t.gpath) */
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
  conv_t c = {cin, cout, k, stride, NULL, NULL, NULL, 0, bd->isa, bd->gpath};
  snprintf(n, sizeof n, "%s.weight", p);
  c.w = get(bd, n, 4, (size_t)cout, (size_t)cin, (size_t)k, (size_t)k);
  snprintf(n, sizeof n, "%s.bias", p);
  c.b = get(bd, n, 1, (size_t)cout, 0, 0, 0);
  return c;
}

static gn_t mk_gn(builder *bd, const char *p, int c, int groups) {
  char n[160];
  gn_t g = {c, groups, NULL, NULL, bd->isa};
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

/* The output tile of a 3x3 stride-1 convolution at H x W: F(4x4, 3x3) (36 products per 16 outputs, against
 * F(2x2, 3x3)'s 16 per 4) where both sides are at least SR_NN_WINO4_MIN, F(2x2, 3x3) below. Measured on the
 * fashion-mnist model: F(4x4) pays at 28 x 28 and 14 x 14, and since the products are sr__gemm's (whose 16 x 16
 * blocks run the 16 columns of 4 images' 2 x 2 tiles well; OpenBLAS did not) at 7 x 7 too: 10–12% more evaluations
 * a second at batch 4. The shape alone decides, never the machine or the thread count, so neither changes the
 * bits. F(4x4)'s rounding (a few 1e-6 of the output, tests/test_unet.c) is within the PyTorch oracles' 1e-4. */
#ifndef SR_NN_WINO4_MIN
#define SR_NN_WINO4_MIN 7
#endif
static int wino_tile(int H, int W) { return H >= SR_NN_WINO4_MIN && W >= SR_NN_WINO4_MIN ? 4 : 2; }

/* U[ξ][co][ci] = (G g Gᵀ)[ξ], ξ = n·i + j over the n x n tile (n = m + 2), g = the 3x3 kernel w[co][ci]; in
 * double, rounded once. F(2x2): G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]; F(4x4) (points 0, ±1, ±2, ∞):
 * G = [[¼,0,0],[−⅙,−⅙,−⅙],[−⅙,⅙,−⅙],[1/24,1/12,⅙],[1/24,−1/12,⅙],[0,0,1]]. */
static void wino_weights(const conv_t *c, float *U) {
  static const double G2[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
  static const double G4[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  const double(*G)[3] = c->wm == 4 ? G4 : G2;
  int n = c->wm + 2;
  size_t plane = (size_t)c->cout * (size_t)c->cin;
  for (int co = 0; co < c->cout; co++)
    for (int ci = 0; ci < c->cin; ci++) {
      const float *g = c->w + ((size_t)co * (size_t)c->cin + (size_t)ci) * 9;
      double Gg[6][3]; /* G g */
      for (int i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) Gg[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
      for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
          U[(size_t)(i * n + j) * plane + (size_t)co * (size_t)c->cin + (size_t)ci] =
              (float)(Gg[i][0] * G[j][0] + Gg[i][1] * G[j][1] + Gg[i][2] * G[j][2]);
    }
}

static size_t wino_in_scr(int H, int W);
static size_t wino4_scr(int H, int W);

/* Workspace of one 3x3 convolution on one image: V[n²][cin][tiles] and M[n²][cout][tiles], tiles = ⌈H/m⌉⌈W/m⌉,
 * n = m + 2, plus the transforms' scratch (the split planes, which also hold the output transform's). */
static size_t wino_floats(const conv_t *c, int H, int W) {
  int m = c->wm, n = m + 2;
  size_t tiles = (size_t)((H + m - 1) / m) * (size_t)((W + m - 1) / m);
  return (size_t)(n * n) * (size_t)(c->cin + c->cout) * tiles + (m == 4 ? wino4_scr(H, W) : wino_in_scr(H, W));
}

/* Every convolution of the network (at most 96); returns how many. */
static int all_convs(sr_unet *u, conv_t **cv) {
  int n = 0;
  cv[n++] = &u->conv_in;
  cv[n++] = &u->out_conv;
  res_t *rs[2 * MAXL + 2];
  int nr = 0;
  for (int i = 0; i < u->L; i++) {
    rs[nr++] = &u->dres[i];
    rs[nr++] = &u->ures[i];
    if (i < u->L - 1) cv[n++] = &u->down[i];
    if (i > 0) cv[n++] = &u->up[i];
  }
  rs[nr++] = &u->mid1;
  rs[nr++] = &u->mid2;
  for (int i = 0; i < nr; i++) {
    cv[n++] = &rs[i]->conv1;
    cv[n++] = &rs[i]->conv2;
    if (rs[i]->has_skip) cv[n++] = &rs[i]->skip;
  }
  if (u->attention) {
    cv[n++] = &u->attn.q;
    cv[n++] = &u->attn.k;
    cv[n++] = &u->attn.v;
    cv[n++] = &u->attn.proj;
  }
  return n;
}

/* Floats of a convolution's packed weights (conv_t.wp). */
static size_t packed_floats(const conv_t *c) {
  if (c->wm) return (size_t)((c->wm + 2) * (c->wm + 2)) * sr__gemm_packed_floats(c->cout, c->cin);
  return sr__gemm_packed_floats(c->cout, c->cin * c->k * c->k);
}

sr_unet *sr_unet_create(const sr_tensor_set *ts, sr_error *err) {
  unsigned path = sr_cpu_path();
  builder bd = {ts, err, 0, 0, path & SR_CPU_AVX512F ? 2 : path & SR_CPU_AVX2 ? 1 : 0, sr__gemm_path()};
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
  /* Winograd tiles; V and M share the im2col buffer */
  conv_t *cv[64];
  int ch_[64], cw_[64], nc = wino_convs(u, cv, ch_, cw_);
  for (int i = 0; i < nc; i++) {
    cv[i]->wm = wino_tile(ch_[i], cw_[i]);
    if (wino_floats(cv[i], ch_[i], cw_[i]) > col) col = wino_floats(cv[i], ch_[i], cw_[i]);
  }
  /* every convolution's weights packed once here (Winograd ones transformed first) */
  conv_t *all[96];
  int na = all_convs(u, all);
  size_t np = 0, ut = 0;
  for (int i = 0; i < na; i++) {
    np += packed_floats(all[i]);
    if (all[i]->wm) {
      size_t t = (size_t)((all[i]->wm + 2) * (all[i]->wm + 2)) * (size_t)all[i]->cout * (size_t)all[i]->cin;
      ut = t > ut ? t : ut;
    }
  }
  u->packed = malloc(np * sizeof(float));
  float *U = malloc((ut ? ut : 1) * sizeof(float));
  if (!u->packed || !U) {
    free(U);
    free(u->packed);
    sr_fail(err, SR_ENOMEM, "model", "out of memory");
    free(u);
    return NULL;
  }
  for (size_t i = 0, off = 0; i < (size_t)na; off += packed_floats(all[i]), i++) {
    conv_t *c = all[i];
    float *wp = u->packed + off;
    if (c->wm) {
      size_t plane = (size_t)c->cout * (size_t)c->cin, pp = sr__gemm_packed_floats(c->cout, c->cin);
      wino_weights(c, U);
      for (int xi = 0; xi < (c->wm + 2) * (c->wm + 2); xi++)
        sr__gemm_pack(c->cout, c->cin, U + (size_t)xi * plane, (size_t)c->cin, wp + (size_t)xi * pp);
    } else {
      int K = c->cin * c->k * c->k;
      sr__gemm_pack(c->cout, K, c->w, (size_t)K, wp);
    }
    c->wp = wp;
  }
  free(U);
  u->act = sr_stride(act);
  u->col = sr_stride(col);
  u->skips = skips;
  size_t P = (size_t)u->hs[L - 1] * (size_t)u->ws[L - 1];
  /* attention's scratch: the weights w and wᵀ (P x P), α qᵀ and v packed for sr__gemm */
  u->attnw = 2 * sr_stride(P * P) + sr_stride(sr__gemm_packed_floats((int)P, u->ch[L - 1])) +
             sr_stride(sr__gemm_packed_floats(u->ch[L - 1], (int)P));
  return u;
}

void sr_unet_free(sr_unet *u) {
  if (u) free(u->packed);
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

/* always_inline: the scalar helpers of groupnorm are compiled into each ISA's copy of it (a callee whose ISA is a
 * subset of the caller's may be inlined into it) */
#define SR_NN_INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------- the Winograd transforms
 * The transforms only add and subtract, so every vector path gives the bits of the baseline one: each output is
 * the same sum in the same order whatever the vector width (no product, so nothing to contract into an FMA).
 * F(4x4, 3x3) (sides ≥ 7: every layer of a 28 x 28 model) has portable, AVX2 and AVX-512F paths from one text
 * (nn_wino4.inc), picked at sr_unet_create by sr_cpu_path() (SR_RNG_PATH=scalar / avx2 caps it, which is how
 * tests/test_unet.c compares the paths). F(2x2, 3x3), for the layers below 7 x 7 only, is the portable C below;
 * its AVX2 and AVX-512 copies went when F(4x4) took the 7 x 7 layers (2026-12-06). */

/* V[ξ][ci][t] = (Bᵀ d B)[ξ] for the 4x4 patch d of tile t = (b, ty, tx): input rows 2ty−1…2ty+2, columns
 * 2tx−1…2tx+2, zero outside the image. Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]], applied first to the
 * 4 rows, then to the 4 columns: (x0, x1, x2, x3) → (x0 − x2, x1 + x2, x2 − x1, x1 − x3).
 * Columns 2tx−1…2tx+2 of tile tx are, in the zero-padded row p (p[x+1] = d[x]), p[2tx] … p[2tx+3]. Each image
 * plane is first split into its even and odd padded columns, E[Y][k] = p[2k] = d[y][2k−1] and O[Y][k] = p[2k+1] =
 * d[y][2k] (Y = y + 1, zero outside the image); then tile tx reads E[tx], O[tx], E[tx+1], O[tx+1], unit-stride
 * loads for every tile at once. (The former code went through a row buffer written and read back at an odd
 * offset with stride 2: a store-forwarding stall per load, the hottest instruction of the network.) Row pass and
 * column pass are done in registers, tile by tile; the values equal the former row-then-column order's.
 * scr: wino_in_scr() floats. */
static size_t wino_in_scr(int H, int W) {
  size_t th = (size_t)(H + 1) / 2, tw = (size_t)(W + 1) / 2;
  return 2 * (2 * th + 2) * (tw + 1); /* E and O, R x S each (wino_in_base) */
}

static void wino_in_base(const float *in, int cin, int B, size_t cs, int H, int W, float *V, float *scr) {
  int th = (H + 1) / 2, tw = (W + 1) / 2, S = tw + 1, R = 2 * th + 2;
  size_t P = (size_t)H * (size_t)W, T = (size_t)B * (size_t)(th * tw), plane = (size_t)cin * T;
  float *E = scr, *O = scr + (size_t)R * (size_t)S;
  /* written below only where inside the image: the rest stays zero for every plane */
  memset(scr, 0, 2 * (size_t)R * (size_t)S * sizeof(float));
  int nO = tw, nE = W / 2; /* O[k] = d[2k] for 2k < W; E[k] = d[2k−1] for 1 ≤ k, 2k − 1 < W */
  for (int ci = 0; ci < cin; ci++)
    for (int b = 0; b < B; b++) {
      const float *src = in + (size_t)ci * cs + (size_t)b * P;
      for (int y = 0; y < H; y++) {
        const float *restrict d = src + (size_t)y * (size_t)W;
        float *restrict e = E + (size_t)(y + 1) * (size_t)S, *restrict o = O + (size_t)(y + 1) * (size_t)S;
        for (int k = 0; k < nO; k++) o[k] = d[2 * k];
        for (int k = 1; k <= nE; k++) e[k] = d[2 * k - 1];
      }
      float *v = V + (size_t)ci * T + (size_t)b * (size_t)(th * tw);
      for (int ty = 0; ty < th; ty++, v += tw) {
        const float *restrict e0 = E + (size_t)(2 * ty) * (size_t)S, *restrict e1 = e0 + S, *restrict e2 = e1 + S,
                              *restrict e3 = e2 + S;
        const float *restrict o0 = O + (size_t)(2 * ty) * (size_t)S, *restrict o1 = o0 + S, *restrict o2 = o1 + S,
                              *restrict o3 = o2 + S;
        float *restrict v0 = v, *restrict v1 = v0 + plane, *restrict v2 = v1 + plane, *restrict v3 = v2 + plane,
                        *restrict v4 = v3 + plane, *restrict v5 = v4 + plane, *restrict v6 = v5 + plane,
                        *restrict v7 = v6 + plane, *restrict v8 = v7 + plane, *restrict v9 = v8 + plane,
                        *restrict v10 = v9 + plane, *restrict v11 = v10 + plane, *restrict v12 = v11 + plane,
                        *restrict v13 = v12 + plane, *restrict v14 = v13 + plane, *restrict v15 = v14 + plane;
        for (int tx = 0; tx < tw; tx++) {
          /* the row pass at columns 2tx (E at tx), 2tx+1 (O at tx), 2tx+2 (E at tx+1), 2tx+3 (O at tx+1) */
          float a0 = e0[tx] - e2[tx], a1 = e1[tx] + e2[tx], a2 = e2[tx] - e1[tx], a3 = e1[tx] - e3[tx];
          float b0 = o0[tx] - o2[tx], b1 = o1[tx] + o2[tx], b2 = o2[tx] - o1[tx], b3 = o1[tx] - o3[tx];
          float c0 = e0[tx + 1] - e2[tx + 1], c1 = e1[tx + 1] + e2[tx + 1], c2 = e2[tx + 1] - e1[tx + 1],
                c3 = e1[tx + 1] - e3[tx + 1];
          float d0 = o0[tx + 1] - o2[tx + 1], d1 = o1[tx + 1] + o2[tx + 1], d2 = o2[tx + 1] - o1[tx + 1],
                d3 = o1[tx + 1] - o3[tx + 1];
          /* the column pass of row i: (a, b, c, d)_i → (a − c, b + c, c − b, b − d)_i at ξ = 4i … 4i+3 */
          v0[tx] = a0 - c0, v1[tx] = b0 + c0, v2[tx] = c0 - b0, v3[tx] = b0 - d0;
          v4[tx] = a1 - c1, v5[tx] = b1 + c1, v6[tx] = c1 - b1, v7[tx] = b1 - d1;
          v8[tx] = a2 - c2, v9[tx] = b2 + c2, v10[tx] = c2 - b2, v11[tx] = b2 - d2;
          v12[tx] = a3 - c3, v13[tx] = b3 + c3, v14[tx] = c3 - b3, v15[tx] = b3 - d3;
        }
      }
    }
}

/* out = Aᵀ M A + bias per tile, Aᵀ = [[1,1,1,0],[0,1,−1,−1]], cropped to H x W (odd sizes: the last tile row or
 * column is half used). For tile tx, s_rj = (Aᵀ m)[r][j] (r = 0, 1), with m_ij = M[4i+j]: s_0j = m_0j + m_1j +
 * m_2j, s_1j = m_1j − m_2j − m_3j; the outputs of row r are s_r0 + s_r1 + s_r2 + b and s_r1 − s_r2 − s_r3 + b,
 * summed in this order. Computed in registers and stored straight into the output rows. scr: W floats (the
 * second row of a half-used last tile row goes there). */
static void wino_out_base(const float *M, const float *bias, int cout, int B, size_t cs, int H, int W, float *out,
                          float *scr) {
  int th = (H + 1) / 2, tw = (W + 1) / 2, full = W / 2;
  size_t P = (size_t)H * (size_t)W, T = (size_t)B * (size_t)(th * tw), plane = (size_t)cout * T;
  for (int co = 0; co < cout; co++)
    for (int b = 0; b < B; b++) {
      float *dst = out + (size_t)co * cs + (size_t)b * P;
      const float bv = bias[co];
      const float *m = M + (size_t)co * T + (size_t)b * (size_t)(th * tw);
      for (int ty = 0; ty < th; ty++, m += tw) {
        const float *restrict m0 = m, *restrict m1 = m0 + plane, *restrict m2 = m1 + plane, *restrict m3 = m2 + plane,
                              *restrict m4 = m3 + plane, *restrict m5 = m4 + plane, *restrict m6 = m5 + plane,
                              *restrict m7 = m6 + plane, *restrict m8 = m7 + plane, *restrict m9 = m8 + plane,
                              *restrict m10 = m9 + plane, *restrict m11 = m10 + plane, *restrict m12 = m11 + plane,
                              *restrict m13 = m12 + plane, *restrict m14 = m13 + plane, *restrict m15 = m14 + plane;
        float *restrict r0 = dst + (size_t)(2 * ty) * (size_t)W;
        float *restrict r1 = 2 * ty + 1 < H ? r0 + W : scr;
        for (int tx = 0; tx < tw; tx++) {
          float s00 = (m0[tx] + m4[tx]) + m8[tx], s01 = (m1[tx] + m5[tx]) + m9[tx], s02 = (m2[tx] + m6[tx]) + m10[tx],
                s03 = (m3[tx] + m7[tx]) + m11[tx];
          float s10 = (m4[tx] - m8[tx]) - m12[tx], s11 = (m5[tx] - m9[tx]) - m13[tx],
                s12 = (m6[tx] - m10[tx]) - m14[tx], s13 = (m7[tx] - m11[tx]) - m15[tx];
          float y00 = ((s00 + s01) + s02) + bv, y01 = ((s01 - s02) - s03) + bv;
          float y10 = ((s10 + s11) + s12) + bv, y11 = ((s11 - s12) - s13) + bv;
          if (tx < full) {
            r0[2 * tx] = y00, r0[2 * tx + 1] = y01;
            r1[2 * tx] = y10, r1[2 * tx + 1] = y11;
          } else { /* W odd: the last tile's second column lies outside */
            r0[2 * tx] = y00;
            r1[2 * tx] = y10;
          }
        }
      }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The vector paths' attributes and lane masks (masked-out lanes load zero and are never stored, so no tile or
 * column is special). */
#define SR_T512 __attribute__((target("avx512f")))
#define SR_T256 __attribute__((target("avx2")))

SR_T512 static inline __mmask16 m16(int n) {
  return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

SR_T256 static inline __m256i m8(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#endif

/* ---------------------------------------------------------------- Winograd F(4x4, 3x3)
 * Each 4x4 output tile from the 6x6 input tile d at rows 4ty−1 … 4ty+4, columns 4tx−1 … 4tx+4 (zero outside the
 * image): Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, 36 products per tile, by the transforms of nn_wino4.inc. Each image
 * plane is first split into 36 arrays of nt = th·tw floats over the tiles t = ty·tw + tx (p the zero-padded plane,
 * p[Y][X] = d[Y−1][X−1]; r < 4 the row's phase, i < 6 the tile's column): Z[r][i][t] = p[4ty + r][4tx + i], the
 * tile's rows 0 … 3, and Z[4 + r][i][t] = p[4ty + 4 + r][4tx + i] (r < 2), its rows 4 and 5. The tile rows of
 * every tile are then unit-stride arrays over t (as in wino_in_avx512), so the vector paths run on full vectors;
 * and since a plane's arrays are exactly its nt tiles long, the planes of a group lie end to end (plane g's tiles
 * at g·nt): at 7 x 7 (nt = 4) four planes fill a vector (wino4_group). The split and the placement of the outputs
 * only copy. */

/* Planes transformed together: as many as fill 16 lanes (1 from 16 tiles a plane up). */
static int wino4_group(int nt) { return nt < 16 ? 16 / nt : 1; }

static size_t wino4_scr(int H, int W) {
  size_t nt = (size_t)((H + 3) / 4) * (size_t)((W + 3) / 4);
  return 72 * nt * (size_t)wino4_group((int)nt); /* two groups' split; the output tiles Q[16][G·nt] fit in it */
}

/* The split of the plane src into Z (36 arrays A floats apart, zero where never written; the plane's tiles from
 * index 0): padded row Y = 4k + r goes to tile row k as its row r (k < th), and to tile row k − 1 as its row 4 + r
 * (r < 2, k ≥ 1). */
static void wino4_split(const float *src, int H, int W, int th, int tw, size_t A, float *Z) {
  for (int y = 0; y < H; y++) {
    const float *restrict d = src + (size_t)y * (size_t)W;
    int Y = y + 1, r = Y & 3, k = Y >> 2;
    for (int h = 0; h < 2; h++) {
      if (h ? r >= 2 || k < 1 : k >= th) continue;
      float *row = Z + (size_t)(6 * (h ? 4 + r : r)) * A + (size_t)(h ? k - 1 : k) * (size_t)tw;
      for (int i = 0; i < 6; i++) { /* X = 4tx + i is d's column 4tx + i − 1: inside for i == 0 ? 1 : 0 ≤ tx < t1 */
        float *restrict z = row + (size_t)i * A;
        int t1 = (W + 4 - i) / 4 < tw ? (W + 4 - i) / 4 : tw;
        for (int tx = i == 0; tx < t1; tx++) z[tx] = d[4 * tx + i - 1];
      }
    }
  }
}

#define WF(name) name##_base
#define WT
#define VT float
#define MT int
#define VW 1
#define VMASK(n) 0
#define VLD(m, p) ((void)(m), *(p))
#define VST(m, p, v) ((void)(m), *(p) = (v))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMULC(v, c) ((v) * (c))
#define VSET1(x) (x)
#include "nn_wino4.inc"
#if defined(__x86_64__) && defined(__GNUC__)
#define WF(name) name##_avx512
#define WT SR_T512
#define VT __m512
#define MT __mmask16
#define VW 16
#define VMASK(n) m16(n)
#define VLD(m, p) _mm512_maskz_loadu_ps(m, p)
#define VST(m, p, v) _mm512_mask_storeu_ps(p, m, v)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMULC(v, c) _mm512_mul_ps(v, _mm512_set1_ps(c))
#define VSET1(x) _mm512_set1_ps(x)
#include "nn_wino4.inc"
#define WF(name) name##_avx2
#define WT SR_T256
#define VT __m256
#define MT __m256i
#define VW 8
#define VMASK(n) m8(n)
#define VLD(m, p) _mm256_maskload_ps(p, m)
#define VST(m, p, v) _mm256_maskstore_ps(p, m, v)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMULC(v, c) _mm256_mul_ps(v, _mm256_set1_ps(c))
#define VSET1(x) _mm256_set1_ps(x)
#include "nn_wino4.inc"
#endif

#if defined(__x86_64__) && defined(__GNUC__)
/* wino4_split by permutes: 64 columns of the padded row p (p[X] = d[X − 1], masked loads give the zeros around
 * the image) are split into its four phases ph_r[k] = p[4k + r] (two rounds of even/odd selection), and
 * Z[·][i] = ph_i for i < 4, Z[·][4] and Z[·][5] = ph_0 and ph_1 one tile on (p[4tx + 4], p[4tx + 5]). */
SR_T512 static void wino4_split_avx512(const float *src, int H, int W, int th, int tw, size_t A, float *Z) {
  const __m512i iev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i iod = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int y = 0; y < H; y++) {
    const float *d = src + (size_t)y * (size_t)W;
    int Y = y + 1, r = Y & 3, k = Y >> 2, nrow = 0;
    float *rows[2]; /* as wino4_split: tile row k's row r, tile row k − 1's row 4 + r */
    if (k < th) rows[nrow++] = Z + (size_t)(6 * r) * A + (size_t)k * (size_t)tw;
    if (r < 2 && k >= 1) rows[nrow++] = Z + (size_t)(6 * (4 + r)) * A + (size_t)(k - 1) * (size_t)tw;
    if (W < 16) { /* the padded row p[0 … 15] is one vector: one load, each phase one permute (lanes k ≥ 4 zero) */
      __m512 v = _mm512_maskz_loadu_ps(m16(W + 1) & 0xfffe, d - 1);
      __m512 ph[4];
      for (int i = 0; i < 4; i++)
        ph[i] = _mm512_maskz_permutexvar_ps(0x000f, _mm512_add_epi32(_mm512_slli_epi32(lane, 2), _mm512_set1_epi32(i)), v);
      __mmask16 m = m16(tw), m1 = m16(tw + 1) & 0xfffe;
      for (int h = 0; h < nrow; h++) {
        float *row = rows[h];
        for (int i = 0; i < 4; i++) _mm512_mask_storeu_ps(row + (size_t)i * A, m, ph[i]);
        _mm512_mask_storeu_ps(row + 4 * A - 1, m1, ph[0]);
        _mm512_mask_storeu_ps(row + 5 * A - 1, m1, ph[1]);
      }
      continue;
    }
    for (int k0 = 0; k0 <= tw; k0 += 16) { /* ph_r[k0 … k0+15]: p[4k0 … 4k0+63] */
      __m512 v[4];
      for (int j = 0; j < 4; j++) {
        int X0 = 4 * k0 + 16 * j; /* p[X0 + l] = d[X0 + l − 1]: inside for 0 ≤ X0 + l − 1 < W */
        v[j] = _mm512_maskz_loadu_ps(m16(W + 1 - X0) & (X0 ? 0xffff : 0xfffe), d + X0 - 1);
      }
      __m512 e0 = _mm512_permutex2var_ps(v[0], iev, v[1]), o0 = _mm512_permutex2var_ps(v[0], iod, v[1]);
      __m512 e1 = _mm512_permutex2var_ps(v[2], iev, v[3]), o1 = _mm512_permutex2var_ps(v[2], iod, v[3]);
      __m512 ph0 = _mm512_permutex2var_ps(e0, iev, e1), ph2 = _mm512_permutex2var_ps(e0, iod, e1);
      __m512 ph1 = _mm512_permutex2var_ps(o0, iev, o1), ph3 = _mm512_permutex2var_ps(o0, iod, o1);
      __mmask16 m = m16(tw - k0), m1 = m16(tw + 1 - k0) & (k0 ? 0xffff : 0xfffe);
      for (int h = 0; h < nrow; h++) {
        float *row = rows[h];
        _mm512_mask_storeu_ps(row + k0, m, ph0);
        _mm512_mask_storeu_ps(row + A + k0, m, ph1);
        _mm512_mask_storeu_ps(row + 2 * A + k0, m, ph2);
        _mm512_mask_storeu_ps(row + 3 * A + k0, m, ph3);
        _mm512_mask_storeu_ps(row + 4 * A + k0 - 1, m1, ph0);
        _mm512_mask_storeu_ps(row + 5 * A + k0 - 1, m1, ph1);
      }
    }
  }
}

/* row[4tx + j] = q[j·nt + tx] for 4tx + j < W (the placement of wino4_out; nt: Q's row stride): 16 tiles' four
 * outputs interleaved by two rounds of permutes */
SR_T512 static void wino4_place_avx512(const float *q, size_t nt, int tw, int W, float *row) {
  const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i ihi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int k0 = 0; k0 < tw; k0 += 16) {
    __mmask16 m = m16(tw - k0);
    __m512 q0 = _mm512_maskz_loadu_ps(m, q + k0), q1 = _mm512_maskz_loadu_ps(m, q + nt + k0),
           q2 = _mm512_maskz_loadu_ps(m, q + 2 * nt + k0), q3 = _mm512_maskz_loadu_ps(m, q + 3 * nt + k0);
    __m512 alo = _mm512_permutex2var_ps(q0, ilo, q2), ahi = _mm512_permutex2var_ps(q0, ihi, q2); /* q0 q2 pairs */
    __m512 blo = _mm512_permutex2var_ps(q1, ilo, q3), bhi = _mm512_permutex2var_ps(q1, ihi, q3); /* q1 q3 pairs */
    int n = W - 4 * k0;
    _mm512_mask_storeu_ps(row + 4 * k0, m16(n), _mm512_permutex2var_ps(alo, ilo, blo));
    _mm512_mask_storeu_ps(row + 4 * k0 + 16, m16(n - 16), _mm512_permutex2var_ps(alo, ihi, blo));
    _mm512_mask_storeu_ps(row + 4 * k0 + 32, m16(n - 32), _mm512_permutex2var_ps(ahi, ilo, bhi));
    _mm512_mask_storeu_ps(row + 4 * k0 + 48, m16(n - 48), _mm512_permutex2var_ps(ahi, ihi, bhi));
  }
}
#endif

/* V[36][cin][B·nt] = Bᵀ d B of every tile of every plane (as wino_in, for F(4x4)). Plane q = ci·B + b has its tiles
 * at q·nt of each V[ξ] row, so a group of G planes (wino4_group) is G·nt tiles end to end there as in the split.
 * The split of group q + G is written before group q's tiles are read, in two alternating buffers, so no load
 * waits on a recent store. */
static void wino4_in(int isa, const float *in, int cin, int B, size_t cs, int H, int W, float *V, float *scr) {
  int th = (H + 3) / 4, tw = (W + 3) / 4, nt = th * tw, G = wino4_group(nt);
  size_t P = (size_t)H * (size_t)W, plane = (size_t)cin * (size_t)B * (size_t)nt, A = (size_t)G * (size_t)nt;
  void (*tiles)(const float *, size_t, int, float *, size_t) = wino4_in_tiles_base;
#if defined(__x86_64__) && defined(__GNUC__)
  if (isa == 2) tiles = wino4_in_tiles_avx512;
  if (isa == 1) tiles = wino4_in_tiles_avx2;
#endif
  void (*split)(const float *, int, int, int, int, size_t, float *) = wino4_split;
#if defined(__x86_64__) && defined(__GNUC__)
  if (isa == 2) split = wino4_split_avx512;
#endif
  memset(scr, 0, 72 * A * sizeof(float));
  int nq = cin * B;
  for (int q = -G; q < nq; q += G) {
    int qn = q + G; /* the next group: planes qn … qn + G − 1 (fewer at the end) */
    for (int g = 0; g < G && qn + g < nq; g++)
      split(in + (size_t)((qn + g) / B) * cs + (size_t)((qn + g) % B) * P, H, W, th, tw, A,
            scr + (size_t)((qn / G) & 1) * 36 * A + (size_t)g * (size_t)nt);
    if (q >= 0)
      tiles(scr + (size_t)((q / G) & 1) * 36 * A, A, (nq - q < G ? nq - q : G) * nt, V + (size_t)q * (size_t)nt, plane);
  }
}

/* out = Aᵀ M A + bias per tile (as wino_out, for F(4x4)), cropped to H x W: the 16 outputs of every tile of a
 * group of planes (G images of one output channel) into Q[16][G·nt], then placed. */
static void wino4_out(int isa, const float *M, const float *bias, int cout, int B, size_t cs, int H, int W,
                      float *out, float *scr) {
  int th = (H + 3) / 4, tw = (W + 3) / 4, nt = th * tw, G = wino4_group(nt);
  size_t P = (size_t)H * (size_t)W, T = (size_t)B * (size_t)nt, plane = (size_t)cout * T;
  void (*tiles)(const float *, size_t, int, float, float *) = wino4_out_tiles_base;
#if defined(__x86_64__) && defined(__GNUC__)
  if (isa == 2) tiles = wino4_out_tiles_avx512;
  if (isa == 1) tiles = wino4_out_tiles_avx2;
#endif
  const float *Q = scr;
  for (int co = 0; co < cout; co++)
    for (int b0 = 0; b0 < B; b0 += G) {
      int ng = B - b0 < G ? B - b0 : G;
      size_t qs = (size_t)ng * (size_t)nt; /* Q's row stride */
      tiles(M + (size_t)co * T + (size_t)b0 * (size_t)nt, plane, (int)qs, bias[co], scr);
      for (int g = 0; g < ng; g++) {
        float *dst = out + (size_t)co * cs + (size_t)(b0 + g) * P;
        for (int y = 0; y < H; y++) { /* row y = 4ty + r: output (r, j) of tile (ty, tx) at column 4tx + j */
          const float *restrict q = Q + (size_t)(4 * (y & 3)) * qs + (size_t)g * (size_t)nt + (size_t)(y >> 2) * (size_t)tw;
          float *restrict row = dst + (size_t)y * (size_t)W;
#if defined(__x86_64__) && defined(__GNUC__)
          if (isa == 2) {
            wino4_place_avx512(q, qs, tw, W, row);
            continue;
          }
#endif
          for (int j = 0; j < 4; j++)
            for (int tx = 0; 4 * tx + j < W; tx++) row[4 * tx + j] = q[(size_t)j * qs + (size_t)tx];
        }
      }
    }
}

/* V and M of one block of images stay below this many bytes, so that the transforms write them and the products
 * read them in L2 (1 MiB of the 2 MiB a core has here; 1.25 MiB is the least a recent x86 core has). At batch 4
 * the whole batch at once did not fit: at 28 x 28 with 96 input channels V alone is 4.8 MB, and the input
 * transform then ran at the speed of memory. A fixed constant, not the machine's cache size, so the work is the
 * same everywhere (the bits do not depend on it: sr__gemm's outputs are one fma chain each, whatever N). */
#ifndef SR_NN_WINO_BLOCK_BYTES
#define SR_NN_WINO_BLOCK_BYTES (1u << 20)
#endif

/* out[cout][B·P] = 3x3 stride-1 convolution of in by Winograd F(m x m, 3x3), n = m + 2: V = Bᵀ d B,
 * M[ξ] = U[ξ] V[ξ] (ξ < n²), out = Aᵀ M A + b, a block of nb images at a time (V[n²][cin][nb·tiles],
 * M[n²][cout][nb·tiles]). */
static void conv3x3_wino(const conv_t *c, const float *in, int B, int H, int W, float *out, float *ws) {
  int m = c->wm, nn = (m + 2) * (m + 2), tpi = ((H + m - 1) / m) * ((W + m - 1) / m);
  size_t P = (size_t)H * (size_t)W, per = (size_t)nn * sizeof(float) * (size_t)(c->cin + c->cout) * (size_t)tpi;
  int nb = (int)(SR_NN_WINO_BLOCK_BYTES / per);
  nb = nb < 1 ? 1 : nb > B ? B : nb;
  size_t pp = sr__gemm_packed_floats(c->cout, c->cin);
  for (int b0 = 0; b0 < B; b0 += nb) {
    int n = B - b0 < nb ? B - b0 : nb, T = n * tpi;
    float *V = ws, *M = V + (size_t)nn * (size_t)c->cin * (size_t)T, *scr = M + (size_t)nn * (size_t)c->cout * (size_t)T;
    if (m == 4) wino4_in(c->isa, in + (size_t)b0 * P, c->cin, n, (size_t)B * P, H, W, V, scr);
    else wino_in_base(in + (size_t)b0 * P, c->cin, n, (size_t)B * P, H, W, V, scr);
    for (int xi = 0; xi < nn; xi++)
      sr__gemm(c->gpath, c->cout, T, c->cin, c->wp + (size_t)xi * pp, V + (size_t)xi * (size_t)c->cin * (size_t)T,
               (size_t)T, M + (size_t)xi * (size_t)c->cout * (size_t)T, (size_t)T, NULL);
    if (m == 4) wino4_out(c->isa, M, c->b, c->cout, n, (size_t)B * P, H, W, out + (size_t)b0 * P, scr);
    else wino_out_base(M, c->b, c->cout, n, (size_t)B * P, H, W, out + (size_t)b0 * P, scr);
  }
}

/* out[cout][B·Po] = W · im2col(in) + b (Winograd for 3x3 stride 1) */
static void conv2d(const conv_t *c, const float *in, int B, int H, int W, float *out, float *col) {
  if (c->wm) {
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
  sr__gemm(c->gpath, c->cout, (int)N, K, c->wp, Bm, N, out, N, c->b);
}

/* SiLU(v) = v·sigmoid(v) with exp(−v) from exp_neg() below: a polynomial the compiler vectorises, unlike
 * libm's expf; relative error < 2e-7 over the range that matters (|v| < 87). */
SR_NN_INLINE float exp_neg(float v) {
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
SR_NN_INLINE float silu(float v) { return v / (1.0f + exp_neg(v)); }

/* Σ (x + v_c) over channels c0 … c0+cg−1 of one image into 16 partial sums, element i of a channel into partial
 * i mod 16 (the vector loop keeps them in registers across channels: no horizontal sum per channel); with dev,
 * Σ (x + v_c − m)². v: a constant per channel (the resblock's time embedding) or NULL (0). */
SR_NN_INLINE void group_sum16(const float *x, size_t cs, int c0, int cg, size_t P, const float *add, float m,
                              int dev, float a[16]) {
  for (int j = 0; j < 16; j++) a[j] = 0.0f;
  for (int c = c0; c < c0 + cg; c++) {
    const float *restrict xc = x + (size_t)c * cs;
    float v = add ? add[c] : 0.0f;
    size_t i = 0;
    if (dev)
      for (; i + 16 <= P; i += 16)
        for (int j = 0; j < 16; j++) {
          float d = (xc[i + j] + v) - m;
          a[j] += d * d;
        }
    else
      for (; i + 16 <= P; i += 16)
        for (int j = 0; j < 16; j++) a[j] += xc[i + j] + v;
    for (; i < P; i++) {
      float d = (xc[i] + v) - m;
      a[i & 15] += dev ? d * d : xc[i] + v;
    }
  }
}
SR_NN_INLINE double sum16(const float a[16]) {
  float b[8];
  for (int j = 0; j < 8; j++) b[j] = a[j] + a[j + 8];
  return (double)(((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7])));
}

/* o = s (x + v) + t, then SiLU if act; o may be x (then both name one restrict pointer: in-place use is defined) */
SR_NN_INLINE void gn_apply(const float *restrict x, float *restrict o, size_t P, float s, float v, float t, int act) {
  if (act)
    for (size_t p = 0; p < P; p++) o[p] = silu(s * (x[p] + v) + t);
  else
    for (size_t p = 0; p < P; p++) o[p] = s * (x[p] + v) + t;
}
SR_NN_INLINE void gn_apply_inplace(float *restrict x, size_t P, float s, float v, float t, int act) {
  if (act)
    for (size_t p = 0; p < P; p++) x[p] = silu(s * (x[p] + v) + t);
  else
    for (size_t p = 0; p < P; p++) x[p] = s * (x[p] + v) + t;
}

/* out = GroupNorm(in + add) (eps 1e-6) per image, optionally followed by SiLU; add: a constant per channel or
 * NULL; in and out may alias. Mean first, then Σ (x − mean)², as a float sum of 16 partials per group. */
SR_NN_INLINE void groupnorm_body(const gn_t *g, const float *in, int B, size_t P, float *out, int act,
                                 const float *add) {
  int cg = g->c / g->groups;
  size_t N = (size_t)B * P;
  float a[16];
  for (int b = 0; b < B; b++)
    for (int c0 = 0; c0 < g->c; c0 += cg) {
      const float *x = in + (size_t)b * P;
      group_sum16(x, N, c0, cg, P, add, 0.0f, 0, a);
      double m = (double)cg * (double)P;
      float mf = (float)(sum16(a) / m);
      group_sum16(x, N, c0, cg, P, add, mf, 1, a);
      float inv = (float)(1.0 / sqrt(sum16(a) / m + 1e-6));
      for (int k = c0; k < c0 + cg; k++) {
        float s = g->g[k] * inv, v = add ? add[k] : 0.0f, t = g->b[k] - mf * s;
        const float *xc = in + (size_t)k * N + (size_t)b * P;
        float *oc = out + (size_t)k * N + (size_t)b * P;
        if (xc == oc) gn_apply_inplace(oc, P, s, v, t, act);
        else gn_apply(xc, oc, P, s, v, t, act);
      }
    }
}

/* The norm and SiLU compiled three times, as the transforms are dispatched (conv_t.isa). Here gcc vectorises the
 * one body for each ISA: every lane does the scalar code's operations in its order (no -ffast-math, and
 * -ffp-contract=off keeps a·x + b two roundings: `objdump -d build/solver/nn_unet.o | grep vfm` prints nothing),
 * and group_sum16 keeps its 16 partial sums, so all paths give the same bits (tests/test_unet.c compares them). */
static void groupnorm_base(const gn_t *g, const float *in, int B, size_t P, float *out, int act,
                           const float *add) {
  groupnorm_body(g, in, B, P, out, act, add);
}
#if defined(__x86_64__) && defined(__GNUC__)
SR_T256 static void groupnorm_avx2(const gn_t *g, const float *in, int B, size_t P, float *out, int act,
                                   const float *add) {
  groupnorm_body(g, in, B, P, out, act, add);
}
SR_T512 static void groupnorm_avx512(const gn_t *g, const float *in, int B, size_t P, float *out, int act,
                                   const float *add) {
  groupnorm_body(g, in, B, P, out, act, add);
}
#endif
static void groupnorm(const gn_t *g, const float *in, int B, size_t P, float *out, int act, const float *add) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (g->isa == 2) return groupnorm_avx512(g, in, B, P, out, act, add);
  if (g->isa == 1) return groupnorm_avx2(g, in, B, P, out, act, add);
#endif
  groupnorm_base(g, in, B, P, out, act, add);
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
  groupnorm(&r->norm1, x, B, P, b->t1, 1, NULL);
  conv2d(&r->conv1, b->t1, B, H, W, b->t2, b->col);
  linear(&r->temb, silu_emb, tproj);
  groupnorm(&r->norm2, b->t2, B, P, b->t2, 1, tproj); /* GroupNorm(h + temb) */
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
  size_t PP = sr_stride((size_t)P * (size_t)P);
  float *wt = w + PP, *pa = wt + PP, *pv = pa + sr_stride(sr__gemm_packed_floats(P, c));
  const float alpha = (float)(1.0 / sqrt((double)c));
  groupnorm(&a->norm, x, B, (size_t)P, n, 0, NULL);
  conv2d(&a->q, n, B, H, W, q, NULL);
  conv2d(&a->k, n, B, H, W, k, NULL);
  conv2d(&a->v, n, B, H, W, v, NULL);
  for (int im = 0; im < B; im++) {
    size_t o = (size_t)im * (size_t)P;
    /* w[i][j] = Σ_c (q[c][i] / √c) k[c][j], softmax over j */
    sr__gemm_pack_t(P, c, q + o, (size_t)N, pa);
    for (size_t i = 0; i < sr__gemm_packed_floats(P, c); i++) pa[i] *= alpha;
    sr__gemm(a->q.gpath, P, P, c, pa, k + o, (size_t)N, w, (size_t)P, NULL);
    for (int i = 0; i < P; i++) {
      float *row = w + (size_t)i * (size_t)P, mx = row[0];
      for (int j = 1; j < P; j++) mx = row[j] > mx ? row[j] : mx;
      double s = 0;
      for (int j = 0; j < P; j++) s += (row[j] = expf(row[j] - mx));
      float is = (float)(1.0 / s);
      for (int j = 0; j < P; j++) row[j] *= is;
    }
    /* out[c][i] = Σ_j v[c][j] w[i][j] = (v wᵀ)[c][i] */
    for (int i = 0; i < P; i++)
      for (int j = 0; j < P; j++) wt[(size_t)j * (size_t)P + (size_t)i] = w[(size_t)i * (size_t)P + (size_t)j];
    sr__gemm_pack(c, P, v + o, (size_t)N, pv);
    sr__gemm(a->q.gpath, c, P, P, pv, wt, (size_t)P, n + o, (size_t)N, NULL);
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
  /* No activation is copied but the skips into the concatenations: each resblock of the way down writes straight
   * into its skip store (the downsampling reads it there), and the way up builds each concatenation [h; skip] in
   * t0, its first part written there by the operation before (mid2, or the crop after the upsampling conv). */
  float *skip[MAXL];
  float *sp = skip0;
  for (int i = 0; i < L; i++) {
    int H = u->hs[i], W = u->ws[i];
    skip[i] = sp;
    resblock(&u->dres[i], h, B, H, W, semb, sp, &b);
    sp += Bs * sr_stride((size_t)u->ch[i] * (size_t)(H * W));
    if (i < L - 1) conv2d(&u->down[i], skip[i], B, H, W, h, b.col);
  }
  int Hl = u->hs[L - 1], Wl = u->ws[L - 1];
  resblock(&u->mid1, skip[L - 1], B, Hl, Wl, semb, h, &b);
  if (u->attention) attention(&u->attn, h, B, Hl, Wl, &b); /* scratch t0, t1, t2, col, attnw */
  resblock(&u->mid2, h, B, Hl, Wl, semb, b.t0, &b);
  for (int i = L - 1; i >= 0; i--) {
    int H = u->hs[i], W = u->ws[i];
    size_t P = (size_t)(H * W), N = Bs * P;
    int ch_h = i == L - 1 ? u->ch[L - 1] : u->ch[i + 1];
    /* concat(h, skip) along channels in t0 (h is there already), then the resblock into h */
    memcpy(b.t0 + (size_t)ch_h * N, skip[i], (size_t)u->ch[i] * N * sizeof(float));
    resblock(&u->ures[i], b.t0, B, H, W, semb, h, &b);
    if (i > 0) { /* nearest ×2, 3x3 conv, crop to level i−1's size, into t0 (the next concatenation's first part) */
      size_t H2 = 2 * (size_t)H, W2 = 2 * (size_t)W, P2 = H2 * W2, c = (size_t)u->ch[i];
      size_t Ht = (size_t)u->hs[i - 1], Wt = (size_t)u->ws[i - 1], Pt = Ht * Wt;
      /* each source row twice, each value twice (a loop the compiler vectorises, unlike y/2 and x/2 indexing) */
      for (size_t r = 0; r < c * Bs * (size_t)H; r++) {
        const float *restrict src = h + r * (size_t)W;
        float *restrict dst = b.t0 + r * 2 * W2;
        for (size_t xx = 0; xx < (size_t)W; xx++) dst[2 * xx] = dst[2 * xx + 1] = src[xx];
        memcpy(dst + W2, dst, W2 * sizeof(float));
      }
      conv2d(&u->up[i], b.t0, B, (int)H2, (int)W2, b.t2, b.col);
      for (size_t ci = 0; ci < c; ci++)
        for (size_t im = 0; im < Bs; im++)
          for (size_t y = 0; y < Ht; y++)
            memcpy(b.t0 + (ci * Bs + im) * Pt + y * Wt, b.t2 + (ci * Bs + im) * P2 + y * W2, Wt * sizeof(float));
    }
  }
  groupnorm(&u->out_norm, h, B, npix, b.t0, 1, NULL);
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
 * (2·M·N·K each, the usual convention): Winograd does 2.25x (F(2x2)) to 4x (F(4x4)) fewer multiplications in
 * the 3x3 convolutions, so the rate this gives is an effective one. Norms, activations and the embedding (< 1%
 * here) are left out. */
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
