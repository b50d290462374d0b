/* dense.h — small dense linear algebra for the oracles: the matrix of an operator, Cholesky, whitening, and the
 * exact law of affine Gaussian recursions x' = M x + c + sqrt(q) z (which every sampler is, for a Gaussian prior
 * and a linear operator, up to the snr-rule corrector). All double, row-major n×n. */
#ifndef SR_TEST_DENSE_H
#define SR_TEST_DENSE_H
#include <stddef.h>

#include "scorerecon.h"

typedef struct {
  size_t n;
  double *mean;   /* n */
  double *cov;    /* n*n */
} gauss_law;

/* G = AᵀA (n×n) and aty = Aᵀy, built by applying the operator to unit vectors. */
void dense_normal(const sr_op *op, const float *y, double *G, double *aty);
/* Exact posterior for prior N(m, s² I): precision I/s² + G/σ². */
void dense_posterior(size_t n, const double *G, const double *aty, double m, double s, double sigma, gauss_law *out);
int dense_cholesky(size_t n, double *a); /* in place, lower; returns -1 if not positive definite */
void law_alloc(gauss_law *g, size_t n);
void law_free(gauss_law *g);
/* One affine step: mean ← M mean + c; cov ← M cov Mᵀ + q I. */
void law_step(gauss_law *g, const double *M, const double *c, double q, double *tmp);
/* The same with a full noise covariance: cov ← M cov Mᵀ + Q (Q n×n; NULL = none). */
void law_step_cov(gauss_law *g, const double *M, const double *c, const double *Q, double *tmp);

/* Relative distance of a's mean per-component variance from b's (trace ratio − 1). */
double law_var_bias(const gauss_law *a, const gauss_law *b);

/* Whitens S samples (rows of n floats, stride n) with the law and checks, within Monte-Carlo error, that the
 * whitened components are N(0, 1): pooled mean and variance at 4.5 standard errors, each component at 5.5
 * (family-wise over the suite's ~300 checks and n components). Returns the number of failed checks. */
int check_samples_against_law(const float *samples, size_t S, const gauss_law *g, const char *what);
#endif
