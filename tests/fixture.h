/* fixture.h — the small test problems the sampler tests share: an operator of a named kind, a Gaussian prior
 * N(m, s²), an observation drawn from the prior and the noise, and the dense AᵀA and Aᵀy of the oracles. */
#ifndef SR_TEST_FIXTURE_H
#define SR_TEST_FIXTURE_H
#include "dense.h"
#include "scorerecon.h"

typedef struct {
  sr_problem pb;
  double m, s;    /* prior */
  double *G, *aty;
} fixture;

/* kind: identity, mask, blur, fourier, fourier_odd, chain or none; or on a complex image (2n real unknowns):
 * complex_identity, complex_fourier or sense (3 coils). */
void fixture_make(fixture *f, const char *kind, double sigma);
void fixture_free(fixture *f);
/* The fixtures' own reproducible generator (uniform in [0, 1), standard normal). */
double urand(void);
double nrand(void);
/* The exact posterior of the fixture's problem under the prior N(m, s²) (the prior itself without an operator). */
void fixture_posterior(const fixture *f, double m, double s, gauss_law *g);
/* Validates and runs the problem, recording a test failure (with the library's message) when either fails;
 * returns 1 on success. */
int fixture_run(sr_problem *pb, sr_result *res);
/* The exact posterior of one pixel under a two-component GMM prior observed as y0 with noise sigma: component
 * weights pw, means pm and variances pv. */
void gmm2_posterior(const double w[2], const double mu[2], const double sd[2], double sigma, double y0, double pw[2],
                    double pm[2], double pv[2]);
/* Restarts the generator (the same problem for the same seed, whatever ran before). */
void fixture_seed(unsigned long seed);
/* The generator's state, for a test that must leave the problems of the tests after it as they were
 * (fixture_seed(state) restores it). */
unsigned long fixture_state(void);
#endif
