/* fixture.h — the small test problems the sampler tests share: an operator of a named kind, a Gaussian prior
 * N(m, s²), an observation drawn from the prior and the noise, and the dense AᵀA and Aᵀy of the oracles. */
#ifndef SR_TEST_FIXTURE_H
#define SR_TEST_FIXTURE_H
#include "scorerecon.h"

typedef struct {
  sr_problem pb;
  double m, s;    /* prior */
  double *G, *aty;
} fixture;

/* kind: identity, mask, blur, fourier, fourier_odd, chain or none. */
void fixture_make(fixture *f, const char *kind, double sigma);
void fixture_free(fixture *f);
/* The fixtures' own reproducible generator (uniform in [0, 1), standard normal). */
double urand(void);
double nrand(void);
/* Restarts the generator (the same problem for the same seed, whatever ran before). */
void fixture_seed(unsigned long seed);
#endif
