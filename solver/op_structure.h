/* op_structure.h — how AᵀA factors for a whole operator, read from what its members say they are
 * (sr_op.structure): the pixel-local shortcuts a sampler may take (solver/sampler_mh.c computes its energy
 * changes with them). Private to solver/. */
#ifndef SR_OP_STRUCTURE_H
#define SR_OP_STRUCTURE_H

#include "scorerecon.h"

#define SR_FACTORS_MAX 64 /* members looked at: a longer chain is SR_NORMAL_GENERAL */

typedef enum {
  SR_NORMAL_DIAGONAL = 1, /* no operator, or diagonals only (masks, identities, 1x1 kernels): AᵀA = D, 0/1 */
  SR_NORMAL_LOCAL,        /* A = D_out K D_in, K circular convolutions: A e_k is K's stencil placed at k, masked */
  SR_NORMAL_CIRCULANT,    /* A = F K D_in, F a masked DFT last: AᵀA = D_in Q D_in, Q = (F K)ᵀ (F K) circulant */
  SR_NORMAL_GENERAL       /* anything else */
} sr_normal_kind;

/* A's members in application order, flattened through chains: [0, p1) diagonal, [p1, p2) convolutions (or
 * identities), then diagonals (DIAGONAL, LOCAL) or one Fourier, m[n − 1] (CIRCULANT). */
typedef struct {
  sr_normal_kind kind;
  int n, p1, p2;
  sr_op *m[SR_FACTORS_MAX];
} sr_op_factors;

/* Factors op (NULL: no measurement, SR_NORMAL_DIAGONAL with no members). */
void sr__op_factor(const sr_op *op, sr_op_factors *f);
/* d (n values) = the 0/1 product of the diagonal members [from, to) (identities are 1). */
void sr__op_factors_diag(const sr_op_factors *f, int from, int to, size_t n, double *d);
/* out = Sᵀ S x in float, S = members [from, to) applied forward then adjoint back; -1 when out of memory. */
int sr__op_factors_normal(const sr_op_factors *f, int from, int to, const float *x, float *out);
/* The combined circular kernel of the convolutions [p1, p2) on an h x w image: ker[di w + dj] is its weight at
 * offset (di, dj) wrapped into [0, h) x [0, w) (a blur's element (i, j) sits at (i − kh/2, j − kw/2));
 * -1 when out of memory. */
int sr__op_factors_kernel(const sr_op_factors *f, size_t h, size_t w, double *ker);

#endif
