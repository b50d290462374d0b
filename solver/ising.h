/* ising.h — what the Ising prior shares with the Metropolis–Hastings sampler: its parameters (private to solver/
 * and the tests; the sampler's own pieces are in sampler_mh.h).
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

#endif
