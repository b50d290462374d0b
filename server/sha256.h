/* sha256.h — SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for signing webhook bodies. */
#ifndef SR_SHA256_H
#define SR_SHA256_H
#include <stddef.h>
#include <stdint.h>

void sr_sha256(const void *data, size_t len, uint8_t out[32]);
void sr_hmac_sha256(const void *key, size_t klen, const void *data, size_t len, uint8_t out[32]);
/* out: 65 bytes, lowercase hex and a NUL. */
void sr_hex32(const uint8_t in[32], char out[65]);
#endif
