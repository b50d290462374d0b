/* models.h — the score models installed in a models directory, as JSON (for `scorerecon models` and
 * GET /v1/models), and the one table of default samplers ({"type": "auto"}), which the job parser resolves and
 * the model listing reports. */
#ifndef SR_MODELS_H
#define SR_MODELS_H
#include <cjson/cJSON.h>

#include "scorerecon.h"

/* {"models": [{"name", "file", "bytes", "image_size", "parameters", "channels", "sde", "sigma_min", "sigma_max",
 *  "sampler", "default_sampler"}], "invalid": [...], "models_dir", "default_samplers": {PRIOR_TYPE: SAMPLER}};
 * models that fail to load are listed under "invalid" with the reason. */
cJSON *sr_models_json(const char *dir);

/* Where score models are looked for, in order: the directory given (--models; NULL if none), $SCORERECON_MODELS,
 * ./models when it exists, and the installed location (SR_MODELS_INSTALL_DIR, `make install`). Returns the first
 * that applies (the given one and the variable are returned even when they do not exist, so that the caller can
 * say so); `buf` holds it when it came from the environment. */
const char *sr_models_dir_resolve(const char *given, char *buf, size_t cap);

/* The concrete sampler {"type": "auto"} (and an omitted "sampler") means for a prior type ("gaussian", "gmm",
 * "tv", "score_model", "ising"): a new JSON object in the job format (caller frees), or NULL for a type without
 * one. Fields left out take the sampler's own defaults (docs/job-format.md). op_kind is the job's operator ("none",
 * "identity", "mask", "blur", "fourier", or "list" for a list, which has no spectral form and gets pc); NULL: the
 * prior's general entry. */
cJSON *sr_auto_sampler(const char *prior_type, const char *op_kind);

/* Marks a parsed sampler as chosen by "auto" (the result echoes "auto": true) and asks whether it was. */
void sr_sampler_mark_auto(sr_sampler_cfg *s);
int sr_sampler_is_auto(const sr_sampler_cfg *s);
/* The one place a score model is loaded: DIR/NAME.safetensors (NAME: 1 to 64 letters, digits, '-', '_', '.'; dir
 * NULL: "models") is mapped, its network built and returned as a prior, which owns both (sr_prior_free releases
 * them). *h, *w: the model's image size; *sampler: its recommended sampler from the file's metadata, parsed (a new
 * cJSON object, caller frees; NULL if none). Errors name "prior.model". */
sr_prior *sr_model_load_prior(const char *dir, const char *name, size_t *h, size_t *w, cJSON **sampler,
                              sr_error *err);
#endif
