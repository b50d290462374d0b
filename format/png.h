/* png.h — images as grayscale PNGs in memory, with libpng: written 8-bit (min to max), read 8- or 16-bit (scaled
 * to [0, 1]). */
#ifndef SR_PNG_H
#define SR_PNG_H
#include <stddef.h>

#include "scorerecon.h"

/* The PNG bytes of the h x w row-major image `data`, 8-bit grayscale, non-interlaced. Values are mapped
 * linearly from [min, max] of the finite values to [0, 255] (rounded to nearest); a constant image (or one
 * with no finite value) is all 0; NaN and -Inf become 0, +Inf 255. h and w must be 1 to 2^31 - 1.
 * Returns a malloc'd buffer (caller frees) with its size in *len, or NULL on invalid arguments, out of memory
 * or a libpng error. Reentrant: no global state. */
unsigned char *sr_png_encode_gray(const float *data, size_t h, size_t w, size_t *len);

/* Reads an 8- or 16-bit grayscale PNG of buf[0..len) (interlaced or not; other chunks ignored) into *data: h x w
 * floats, row-major, each sample v as v / 255 or v / 65535, in [0, 1]. Every other colour type and bit depth is
 * refused, and so is an image of more than max_pixels pixels, before it is allocated. Returns SR_OK with *data
 * malloc'd (caller frees), *h and *w set; or SR_EINVAL (not a PNG, another format, truncated, corrupt: libpng's
 * message), SR_ELIMIT or SR_ENOMEM with *data NULL and a one-line reason in why[0..cap) (why may be NULL).
 * Reentrant: no global state. */
sr_status sr_png_decode_gray(const unsigned char *buf, size_t len, size_t max_pixels, float **data, size_t *h,
                             size_t *w, char *why, size_t cap);
#endif
