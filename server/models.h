/* models.h — the score models installed in a models directory, as JSON (for `scorerecon models` and
 * GET /v1/models). */
#ifndef SR_MODELS_H
#define SR_MODELS_H
#include <cjson/cJSON.h>

/* {"models": [{"name", "file", "bytes", "image_size", "parameters", "channels", "sde", "sigma_min", "sigma_max",
 *  "sampler"}], "models_dir"}; models that fail to load are listed under "invalid" with the reason. */
cJSON *sr_models_json(const char *dir);
#endif
