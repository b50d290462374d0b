/* prior_score_model.c — a learned prior: the score of every noised marginal comes from the U-Net (nn_unet.c),
 * trained for x_σ = x + σ z. Other marginals map onto it: x_t = α x0 + shift + σ z means (x_t − shift)/α is x0
 * noised by σ/α, so  ∇ log p_t(x) = (1/α) s_θ((x − shift)/α, σ/α).  Below the trained σ_min the score is taken
 * at σ_min (the network is not defined at 0): such a prior has no level-0 score or log density, so it serves
 * annealed_langevin, pc and ode, not langevin or mala. The prior owns the network and, through `release`, the
 * memory the network's tensors live in. */
#include <math.h>
#include <stdlib.h>

#include "scorerecon.h"

typedef struct {
  sr_unet *net;
  double smin;
  size_t ws;
  void (*release)(void *);
  void *release_arg;
} sm_impl;

static void sm_score(const sr_prior *p, const float *x, size_t batch, size_t n, sr_noise nl, float *out, float *ws) {
  const sm_impl *m = p->impl;
  size_t sn = sr_stride(n);
  double s = nl.sigma / nl.alpha;
  if (!(s >= m->smin)) s = m->smin;
  if (nl.alpha == 1.0 && nl.shift == 0.0) {
    sr_unet_score(m->net, x, batch, sn, s, out, ws);
    return;
  }
  /* x̂ = (x − shift)/α into out (as scratch), score there, then scale by 1/α */
  const float ia = (float)(1.0 / nl.alpha), sh = (float)nl.shift;
  for (size_t b = 0; b < batch; b++)
    for (size_t i = 0; i < n; i++) out[b * sn + i] = (x[b * sn + i] - sh) * ia;
  sr_unet_score(m->net, out, batch, sn, s, out, ws);
  for (size_t b = 0; b < batch; b++)
    for (size_t i = 0; i < n; i++) out[b * sn + i] *= ia;
}

static void sm_destroy(sr_prior *p) {
  sm_impl *m = p->impl;
  if (!m) return;
  sr_unet_free(m->net);
  if (m->release) m->release(m->release_arg);
  free(m);
}

sr_prior *sr_prior_score_model(sr_unet *net, void (*release)(void *), void *release_arg, sr_error *err) {
  sr_prior *p = calloc(1, sizeof *p);
  sm_impl *m = calloc(1, sizeof *m);
  if (!p || !m) {
    free(p);
    free(m);
    sr_unet_free(net);
    if (release) release(release_arg);
    sr_fail(err, SR_ENOMEM, "prior", "out of memory");
    return NULL;
  }
  size_t h, w;
  double smax;
  sr_unet_info(net, &h, &w, &m->smin, &smax);
  m->net = net;
  m->release = release;
  m->release_arg = release_arg;
  p->kind = "score_model";
  p->trained_sigma[0] = m->smin;
  p->trained_sigma[1] = smax;
  double sd;
  sr_unet_data_stats(net, &p->mean0, &sd);
  p->var0 = sd * sd;
  p->has_marginals = 1;
  p->lipschitz = INFINITY;
  p->ws_floats = sr_unet_ws_floats(net, 1); /* B × this serves a batch of B (sr_unet_ws_floats) */
  p->batch = SR_SCORE_MODEL_BATCH;
  p->score = sm_score;
  p->logp = NULL;
  p->sample = NULL;
  p->destroy = sm_destroy;
  p->impl = m;
  return p;
}
