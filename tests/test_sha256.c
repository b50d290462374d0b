/* test_sha256.c — SHA-256 (FIPS 180-4 examples) and HMAC-SHA256 (RFC 4231 test cases 1, 2 and 6), which sign
 * the service's webhooks. */
#include <string.h>

#include "sha256.h"
#include "test.h"

static void hex_is(const uint8_t d[32], const char *want, const char *what) {
  char h[65];
  sr_hex32(d, h);
  CHECK(!strcmp(h, want), "%s: %s, want %s", what, h, want);
}

TEST(sha256_vectors) {
  uint8_t d[32];
  sr_sha256("abc", 3, d);
  hex_is(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256(abc)");
  sr_sha256("", 0, d);
  hex_is(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256()");
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* two blocks after padding */
  sr_sha256(m, strlen(m), d);
  hex_is(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "sha256(448 bits)");
}

TEST(hmac_sha256_rfc4231) {
  uint8_t d[32], key[131];
  memset(key, 0x0b, 20);
  sr_hmac_sha256(key, 20, "Hi There", 8, d);
  hex_is(d, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "RFC 4231 case 1");
  sr_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
  hex_is(d, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "RFC 4231 case 2");
  memset(key, 0xaa, 131);
  const char *m = "Test Using Larger Than Block-Size Key - Hash Key First";
  sr_hmac_sha256(key, 131, m, strlen(m), d);
  hex_is(d, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", "RFC 4231 case 6 (long key)");
}
