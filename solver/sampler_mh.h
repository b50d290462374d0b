/* sampler_mh.h — the Metropolis–Hastings sampler's pieces (solver/sampler_mh.c), exposed for the tests: its
 * per-run and per-chain state, how it computes energy changes, and single flips with their probabilities. Private
 * to solver/ and the tests. */
#ifndef SR_SAMPLER_MH_H
#define SR_SAMPLER_MH_H

#include "scorerecon.h"

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
