/* npy.h — NumPy .npy files for float32 arrays: the encoder writes format version 1.0, little-endian '<f4', C
 * order; the decoder reads back exactly that subset (version 1.0 or 2.0 header) and refuses everything else.
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html */
#ifndef SR_NPY_H
#define SR_NPY_H
#include <stddef.h>

/* The bytes of a .npy file holding data (prod(shape) floats, row-major) with the given shape, rank 1 to 4.
 * The header ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", spaces, '\n') is padded so that
 * magic + version + length + header is a multiple of 64 bytes. Returns a malloc'd buffer (caller frees) and
 * its size in *len, or NULL when out of memory or the arguments are invalid (rank outside 1..4, a size that
 * overflows). */
unsigned char *sr_npy_encode(const float *data, int rank, const size_t *shape, size_t *len);

/* Reads a .npy file of buf[0..len): magic, version 1.0 or 2.0, a header dict with exactly the keys descr
 * ('<f4'), fortran_order (False) and shape (a tuple of 1 to 4 non-negative integers), ending in '\n', followed
 * by exactly prod(shape) little-endian float32 values. On success sets *data (malloc'd, caller frees; never
 * NULL, even for an empty array), *rank and shape[0..rank) and returns 0; returns -1 on anything else (and on
 * out of memory), leaving *data NULL. */
int sr_npy_decode(const unsigned char *buf, size_t len, float **data, int *rank, size_t shape[4]);
#endif
