/* npy.h — NumPy .npy files: the encoder writes float32 (or complex64) arrays (format version 1.0, little-endian '<f4', C order);
 * the reader takes little-endian, C-ordered float32 '<f4', float64 '<f8' (rounded to float32) and complex64 '<c8'
 * (version 1.0 or 2.0 header) and says why it refuses anything else.
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html */
#ifndef SR_NPY_H
#define SR_NPY_H
#include <stddef.h>

#include "scorerecon.h"

/* The bytes of a .npy file holding data (prod(shape) floats, row-major) with the given shape, rank 1 to 4.
 * The header ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", spaces, '\n') is padded so that
 * magic + version + length + header is a multiple of 64 bytes. Returns a malloc'd buffer (caller frees) and
 * its size in *len, or NULL when out of memory or the arguments are invalid (rank outside 1..4, a size that
 * overflows). */
unsigned char *sr_npy_encode(const float *data, int rank, const size_t *shape, size_t *len);
/* The same for complex64 ('<c8'): data holds prod(shape) interleaved (re, im) pairs. */
unsigned char *sr_npy_encode_complex(const float *data, int rank, const size_t *shape, size_t *len);

/* An array read from a .npy file. */
typedef struct {
  int rank;          /* 1 to 4 */
  size_t shape[4];   /* shape[0..rank); the rest 0 */
  size_t count;      /* prod(shape): values (a complex value counts once) */
  int is_complex;    /* 1 for '<c8': data holds interleaved (re, im) pairs */
  char descr[16];    /* the file's dtype: "<f4", "<f8" or "<c8" */
  float *data;       /* count floats (2 * count if complex); malloc'd, owned by the caller (free) */
} sr_npy_array;

/* Reads a .npy file of buf[0..len): magic, version 1.0 or 2.0, a header dict with exactly the keys descr ('<f4',
 * '<f8' or '<c8'), fortran_order (False) and shape (a tuple of 1 to 4 non-negative integers), ending in '\n',
 * followed by exactly prod(shape) little-endian values. '<f8' values are rounded to float32 (one beyond its range
 * is refused). The value count is checked against max_values before anything is allocated. On success fills
 * *out and returns SR_OK; otherwise returns SR_EINVAL (a bad file: big-endian, another dtype, fortran_order True,
 * truncated, trailing bytes, malformed header), SR_ELIMIT (over max_values) or SR_ENOMEM, with out->data NULL and
 * a one-line reason in why[0..cap) (why may be NULL). */
sr_status sr_npy_read(const unsigned char *buf, size_t len, size_t max_values, sr_npy_array *out, char *why,
                      size_t cap);

/* The '<f4' subset of sr_npy_read (anything else is refused), without a limit. On success sets *data (malloc'd,
 * caller frees; never NULL, even for an empty array), *rank and shape[0..rank) (the rest 0) and returns 0;
 * returns -1 on anything else (and on out of memory), leaving *data NULL. */
int sr_npy_decode(const unsigned char *buf, size_t len, float **data, int *rank, size_t shape[4]);
#endif
