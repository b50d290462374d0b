/* le.h — float32 to and from 4 little-endian bytes, whatever the host order: the byte order of .npy and BART's
 * .cfl files, shared by their codecs. */
#ifndef SR_LE_H
#define SR_LE_H
#include <stdint.h>
#include <string.h>

static inline void sr_put_f32le(unsigned char *p, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  p[0] = (unsigned char)u;
  p[1] = (unsigned char)(u >> 8);
  p[2] = (unsigned char)(u >> 16);
  p[3] = (unsigned char)(u >> 24);
}

static inline float sr_get_f32le(const unsigned char *p) {
  uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
#endif
