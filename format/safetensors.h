/* safetensors.h — reads a .safetensors file: the JSON header is parsed with cJSON (which the solver never sees),
 * the data is memory-mapped, and the result is the solver's plain sr_tensor_set. */
#ifndef SR_SAFETENSORS_H
#define SR_SAFETENSORS_H
#include "scorerecon.h"

typedef struct {
  void *map;
  size_t size;
  sr_tensor *tensors;
  char **names;
  size_t n;
  char **keys, **vals;
  size_t nmeta;
  sr_tensor_set set;   /* views of the above; valid until sr_safetensors_close */
} sr_safetensors;

/* Opens and validates (dtype F32, shapes, offsets inside the file, no overlaps, 4-byte alignment). */
sr_status sr_safetensors_open(const char *path, sr_safetensors *st, sr_error *err);
void sr_safetensors_close(sr_safetensors *st);
#endif
