/* pngcheck FILE — decodes an 8-bit grayscale PNG with libpng and prints "WIDTH HEIGHT MIN MAX" of its
 * pixels. FILE "-" reads stdin. Exit status 1 (with a line on stderr) when the file cannot be read or decoded,
 * or is not 8-bit grayscale without alpha; 2 on a usage error. Used by the service's end-to-end test. */
#include <libpng16/png.h> /* not <png.h>: the build's -Iserver makes that name server/png.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: pngcheck FILE.png\n");
    return 2;
  }
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  int ok = strcmp(argv[1], "-") ? png_image_begin_read_from_file(&img, argv[1])
                                : png_image_begin_read_from_stdio(&img, stdin);
  if (!ok) {
    fprintf(stderr, "pngcheck: %s: %s\n", argv[1], img.message);
    png_image_free(&img);
    return 1;
  }
  /* the file's own format: gray, no alpha, no colour map, 8 bits (16-bit files report FLAG_LINEAR) */
  if (img.format != PNG_FORMAT_GRAY) {
    fprintf(stderr, "pngcheck: %s: not an 8-bit grayscale PNG (libpng format %#x)\n", argv[1],
            (unsigned)img.format);
    png_image_free(&img);
    return 1;
  }
  size_t size = PNG_IMAGE_SIZE(img);
  png_bytep px = malloc(size ? size : 1);
  if (!px) {
    fprintf(stderr, "pngcheck: out of memory\n");
    png_image_free(&img);
    return 1;
  }
  if (!png_image_finish_read(&img, NULL, px, 0, NULL)) {
    fprintf(stderr, "pngcheck: %s: %s\n", argv[1], img.message);
    free(px);
    png_image_free(&img);
    return 1;
  }
  unsigned lo = 255, hi = 0;
  for (size_t i = 0; i < size; i++) {
    if (px[i] < lo) lo = px[i];
    if (px[i] > hi) hi = px[i];
  }
  printf("%u %u %u %u\n", (unsigned)img.width, (unsigned)img.height, lo, hi);
  free(px);
  png_image_free(&img);
  return 0;
}
