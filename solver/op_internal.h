/* op_internal.h — read access to an operator's structure, for samplers that exploit it (solver/sampler_mh.c).
 * Private to solver/. */
#ifndef SR_OP_INTERNAL_H
#define SR_OP_INTERNAL_H

#include "scorerecon.h"

/* A blur's kernel, normalised to sum 1 (kh x kw, centre (kh/2, kw/2)); NULL if op is not a blur. */
const double *sr__op_blur_kernel(const sr_op *op, size_t *kh, size_t *kw);
/* A chain's members in application order (ops[0] first); 0 if op is not a chain. */
int sr__op_chain_members(const sr_op *op, sr_op *const **ops);

#endif
