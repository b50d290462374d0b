/* cfl.h — BART's .cfl/.hdr pairs (https://mrirecon.github.io/bart/): the .hdr is text, a "# Dimensions" line then
 * up to 16 sizes separated by spaces (BART writes 16, trailing 1s); the .cfl is raw little-endian complex64
 * (float re, float im) in column-major order: dimension 0 varies fastest.
 *
 * The mapping to scorerecon's row-major arrays: the bytes stay as they are and the dimensions are reversed. A BART
 * image of dimensions [X, Y] (dim 0 "read" x, what `bart show` prints along a line; dim 1 y, its lines) stored
 * column-major is the row-major array [Y, X], our [h, w] with h = Y and w = X. Trailing 1s are dropped first, so
 * BART [X, Y, 1, ..., 1] is [h, w] and BART [N] a 1-D [N]. */
#ifndef SR_CFL_H
#define SR_CFL_H
#include <stddef.h>

#include "scorerecon.h"

#define SR_CFL_MAX_DIMS 16

/* A BART array. */
typedef struct {
  int ndims;                     /* the sizes the header lists, 1 to 16 */
  size_t dims[SR_CFL_MAX_DIMS];  /* dims[0] varies fastest; 1 beyond ndims */
  size_t count;                  /* prod(dims): complex values */
  float *data;                   /* 2 * count floats, interleaved (re, im); malloc'd, owned by the caller (free) */
} sr_cfl_array;

/* Reads the .hdr text[0..len): the line after "# Dimensions" holds 1 to 16 sizes, each at least 1; other "#"
 * sections (BART's "# Command", "# Files", "# Creator") are ignored. prod(sizes) is checked against max_values as
 * it is formed (no overflow). Fills ndims and dims (1 beyond ndims) and returns SR_OK, or SR_EINVAL (malformed,
 * no dimensions, a size of 0) or SR_ELIMIT with a one-line reason in why[0..cap). */
sr_status sr_cfl_hdr_parse(const char *text, size_t len, size_t max_values, int *ndims, size_t dims[SR_CFL_MAX_DIMS],
                           char *why, size_t cap);

/* Reads a pair: the header as sr_cfl_hdr_parse, then exactly 8 * prod(dims) bytes of .cfl (a shorter one is
 * truncated, a longer one has bytes its header does not account for: both refused with the sizes). The data is
 * allocated only after both checks. Returns SR_OK with *out filled, or SR_EINVAL, SR_ELIMIT or SR_ENOMEM with
 * out->data NULL and a reason in why. */
sr_status sr_cfl_read(const char *hdr, size_t hlen, const unsigned char *cfl, size_t clen, size_t max_values,
                      sr_cfl_array *out, char *why, size_t cap);

/* The row-major shape of BART dimensions: trailing 1s dropped (one kept at least), and 1s after the first two
 * (BART's Z of a 2-D image, its single map set), the rest reversed into shape[0..rank): [X, Y, 1, C] gives
 * [C, Y, X]. Returns the rank, or -1 when more than max_rank dimensions remain. */
int sr_cfl_shape(int ndims, const size_t *dims, int max_rank, size_t *shape);

/* The BART dimensions of a row-major shape (rank 1 to 16): reversed, then 1s up to 16. */
void sr_cfl_dims(int rank, const size_t *shape, size_t dims[SR_CFL_MAX_DIMS]);

/* The .hdr text of dims[0..16): "# Dimensions\n" and the 16 sizes, as BART writes it. malloc'd, NUL-terminated,
 * its length in *len; NULL when out of memory. */
char *sr_cfl_hdr_encode(const size_t dims[SR_CFL_MAX_DIMS], size_t *len);

/* The .cfl bytes of count values: complex (interleaved re, im) if is_complex, else real with imaginary parts 0.
 * malloc'd (8 * count bytes, *len), NULL when out of memory or the size overflows. */
unsigned char *sr_cfl_encode(const float *data, size_t count, int is_complex, size_t *len);

/* The base of a pair's path: "BASE.cfl" and "BASE.hdr" give BASE, anything else itself. Returns 0, or -1 when
 * it does not fit in base[0..cap). */
int sr_cfl_base(const char *path, char *base, size_t cap);
#endif
