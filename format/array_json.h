/* array_json.h — the job document's ARRAY encoding: nested JSON lists (complex = [re, im] pairs) or
 * {"dtype": "float32"|"complex64", "shape": [...], "data": "<base64, little-endian, row-major>"}. */
#ifndef SR_ARRAY_JSON_H
#define SR_ARRAY_JSON_H
#include <cjson/cJSON.h>
#include <stddef.h>

#include "scorerecon.h"

typedef struct {
  int rank;
  size_t shape[4];
  int is_complex;
  size_t count;   /* values (a complex value counts once) */
  float *data;    /* count floats, or 2*count for complex; sr_alloc'd, owned by the caller (sr_free) */
} sr_jarray;

/* Decodes v at `field`. want_complex: 0 real, 1 complex. max_count bounds the values before any allocation. */
sr_status sr_jarray_decode(const cJSON *v, const char *field, int want_complex, size_t max_count, sr_jarray *out,
                           sr_error *err);
/* Formats a shape as "[a,b]" into buf. */
const char *sr_shape_str(int rank, const size_t *shape, char *buf, size_t cap);
/* Encodes data (count values, interleaved if complex) as an ARRAY: base64 object, or nested lists if lists. */
cJSON *sr_jarray_encode(const float *data, int rank, const size_t *shape, int is_complex, int lists);

/* The ARRAY (base64 object) of a file's bytes, told apart by their first bytes: a .npy file ('<f4' and '<f8' as
 * float32, '<c8' as complex64; sr_npy_read) or an 8- or 16-bit grayscale PNG (float32 [h, w] in [0, 1];
 * sr_png_decode_gray), with at most max_values values, checked before the array is allocated. name (the file's
 * name) only picks the message for bytes that are neither. Returns SR_OK with *out a new cJSON object (caller
 * frees), or SR_EINVAL (a bad file: empty arrays included), SR_ELIMIT or SR_ENOMEM with *out NULL and a one-line
 * reason in why[0..cap) that does not name the file. */
sr_status sr_jarray_from_file(const unsigned char *buf, size_t len, const char *name, size_t max_values, cJSON **out,
                              char *why, size_t cap);

/* The ARRAY (base64 object) of a BART .cfl/.hdr pair (sr_cfl_read; the dimensions mapped to a row-major shape of
 * rank 1 to 4 as cfl.h says), with at most max_values values. complex64 when want_complex or when an imaginary
 * part is not exactly 0; else float32 of the real parts. Returns and reasons as sr_jarray_from_file. */
sr_status sr_jarray_from_cfl(const char *hdr, size_t hlen, const unsigned char *cfl, size_t clen, int want_complex,
                             size_t max_values, cJSON **out, char *why, size_t cap);

/* Base64 (RFC 4648, standard alphabet, padding required). decode returns -1 on any invalid input. */
char *sr_base64_encode(const unsigned char *in, size_t n);          /* malloc'd, NUL-terminated */
long sr_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap);
size_t sr_base64_decoded_len(const char *in, size_t len);           /* exact, for valid input */
#endif
