/* mh_kernels.h — the rows of the mh checkerboard sweep, portable and AVX-512 (solver/mh_kernels.c). v512 nonzero
 * takes the AVX-512 (F, BW, VL) path, which only a CPU that has it may ask for (sr_cpu_path); both paths make the
 * same decisions. A row flips site j with probability p = EJ[s nb + 4] · (s > 0 ? Fp : Fm)[j] (nb: the four
 * neighbours' spin sum, EJ[m + 4] = exp(−2βJ m)), iff u + ½ < p 2^31 with the top 31 bits u of word u[j]; both
 * return the flips made. Private to solver/. */
#ifndef SR_MH_KERNELS_H
#define SR_MH_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* One row of colour class c in the spin layout with halo (row[−1], row[w] and the rows up, dn around it): the
 * sites with col[j] == c decide from their unchanged neighbours; the new row goes to out (w spins). */
long sr__mh_row(int v512, const signed char *row, const signed char *up, const signed char *dn,
                const unsigned char *col, int c, const double *Fp, const double *Fm, const double *EJ,
                const uint32_t *u, size_t w, signed char *out);
/* One row of the two-colour compact layout, updated in place: self[t] against the other colour's rows above and
 * below (up[t], dn[t]) and its own row's mid[t], mid[t + 1], the halo offset applied by the caller. */
long sr__mh_crow(int v512, signed char *self, const signed char *up, const signed char *dn, const signed char *mid,
                 const double *Fp, const double *Fm, const double *EJ, const uint32_t *u, size_t cnt);

#endif
