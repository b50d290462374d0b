/* ising.h — what the Ising prior shares with the Metropolis–Hastings sampler (private to solver/ and the tests).
 *
 * The prior carries no score: its parameters are read here by the sampler, which works in spin units
 * s ∈ {−1, +1} with pixels x = c0 + c1 s, c0 = (a + b)/2, c1 = (b − a)/2. The bond convention is every site's
 * right and down neighbour (free: inside the lattice; periodic: wrapping), so a periodic side of 2 holds each
 * bond twice and a periodic side of 1 (a bond of a site with itself, a constant) holds none. */
#ifndef SR_ISING_H
#define SR_ISING_H

#include "scorerecon.h"

typedef struct {
  size_t h, w;
  double J, field;
  int periodic;
  double a, b;      /* pixel values of s = −1 and s = +1 */
} sr_ising_params;

static inline const sr_ising_params *sr__ising(const sr_prior *p) {
  return p && p->discrete ? (const sr_ising_params *)p->impl : NULL;
}

/* ---- the sampler's pieces, exposed for the tests (solver/sampler_mh.c) */

typedef struct sr_mh_shared sr_mh_shared; /* per run: the likelihood's structure, read by every chain */
typedef struct sr_mh_chain sr_mh_chain;   /* per thread: one chain's state and buffers */

/* How the likelihood's energy change is computed (docs/samplers.md, "mh"). */
typedef enum {
  SR_MH_FIELD = 1,     /* none / identity / mask: a per-site field, O(1) per proposal; checkerboard allowed */
  SR_MH_LOCAL,         /* masks, blurs, masks: the residual y − Ax, O(kernel) per proposal */
  SR_MH_GRAM_SHIFT,    /* input masks, blurs, fourier: Aᵀ(y − Ax), O(1) per proposal, O(n) per accepted flip */
  SR_MH_GRAM_GENERIC   /* anything else: as above, one AᵀA application per accepted flip */
} sr_mh_mode;

sr_status sr__mh_prepare(const sr_problem *pb, sr_mh_shared **out, sr_error *err);
void sr__mh_release(sr_mh_shared *sh);
sr_mh_mode sr__mh_mode(const sr_mh_shared *sh);
sr_mh_chain *sr__mh_chain_new(const sr_mh_shared *sh);
void sr__mh_chain_free(sr_mh_chain *ch);
/* Sets the chain's spins (n values ±1) and inverse temperature; rebuilds the residual or gradient and fields. */
void sr__mh_chain_set(sr_mh_chain *ch, const signed char *spins, double beta);
/* The probability with which the sampler flips site k from the chain's current state: min(1, exp(−β ΔE)),
 * with ΔE computed incrementally exactly as in the sweeps. */
double sr__mh_flip_prob(const sr_mh_chain *ch, size_t k);
/* Flips site k, updating the residual or gradient incrementally. */
void sr__mh_chain_flip(sr_mh_chain *ch, size_t k);
/* The acceptance function itself. */
double sr__mh_accept(double dE, double beta);
/* Colour classes of the checkerboard sweep: 2 (i + j mod 2), or 3 where a periodic side is odd. */
int sr__mh_colours(const sr_mh_shared *sh, const unsigned char **colour);

#endif
