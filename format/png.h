/* png.h — an image as an 8-bit grayscale PNG, written in memory with libpng. */
#ifndef SR_PNG_H
#define SR_PNG_H
#include <stddef.h>

/* The PNG bytes of the h x w row-major image `data`, 8-bit grayscale, non-interlaced. Values are mapped
 * linearly from [min, max] of the finite values to [0, 255] (rounded to nearest); a constant image (or one
 * with no finite value) is all 0; NaN and -Inf become 0, +Inf 255. h and w must be 1 to 2^31 - 1.
 * Returns a malloc'd buffer (caller frees) with its size in *len, or NULL on invalid arguments, out of memory
 * or a libpng error. Reentrant: no global state. */
unsigned char *sr_png_encode_gray(const float *data, size_t h, size_t w, size_t *len);
#endif
