/* job.h — the job document: its one parser (used by `run` and, later, by POST /v1/jobs), its limits, and the
 * result document writer. */
#ifndef SR_JOB_H
#define SR_JOB_H
#include <cjson/cJSON.h>

#include "scorerecon.h"

/* One table of limits, each checked before the allocation it guards. */
typedef struct {
  size_t max_pixels;          /* values in the image, in an observation, in a mask or kernel */
  long max_samples;           /* num_samples */
  double max_chain_steps;     /* num_samples × sampler steps (correctors and levels included) */
  double max_output_values;   /* values held for samples + trajectories */
  size_t max_doc_bytes;       /* size of the job document */
  size_t max_json_values;     /* JSON values in it, counted before the parse (nested lists cost ~80 B a value) */
  const char *models_dir;     /* where {"type": "score_model", "model": NAME} finds NAME.safetensors (not owned) */
} sr_limits;

void sr_limits_default(sr_limits *lim);

/* Parses and validates a job. On success pb is a complete problem (defaults filled); on failure pb is
 * cleared and err names the field. text need not be NUL-terminated. */
sr_status sr_job_parse(const char *text, size_t len, const sr_limits *lim, sr_problem *pb, sr_error *err);

/* sr_job_parse in two halves, for a caller that supplies fields between them (sr_job_supply):
 * sr_job_read makes the JSON tree of the text after the checks on the text itself (size, NUL bytes, \u0000, the
 * count of JSON values, syntax), errors as sr_job_parse gives them; on success *doc is the tree (caller frees).
 * sr_job_parse_tree validates a tree (duplicate keys, every field) into pb, as sr_job_parse. */
sr_status sr_job_read(const char *text, size_t len, const sr_limits *lim, cJSON **doc, sr_error *err);
sr_status sr_job_parse_tree(const cJSON *doc, const sr_limits *lim, sr_problem *pb, sr_error *err);

/* Supplies a field of the job from outside the document (`scorerecon run --observation FILE` and the like),
 * before sr_job_parse_tree validates it: arr (an ARRAY; taken over, freed on failure too) replaces doc's
 * "observation" or "ground_truth", or the "mask" of the one mask or fourier operator, or the "kernel" of the one
 * blur operator (alone or in a list). path[0..pcap) receives where it went ("operator[1].mask"), the field the
 * parser's errors about it will name. A document or operator too malformed to say is left unchanged (SR_OK: the
 * parser names what is wrong). Returns SR_EINVAL when no operator, or more than one, takes the key, with the
 * reason in why[0..wcap); SR_ENOMEM. */
sr_status sr_job_supply(cJSON *doc, const char *key, cJSON *arr, char *path, size_t pcap, char *why, size_t wcap);

/* The result document (caller owns the cJSON tree). lists: nested lists instead of base64. */
cJSON *sr_result_json(const sr_problem *pb, const sr_result *res, int lists);

/* Takes one result file: its name and bytes; data NULL (len 0) names a file this result does not have (a caller
 * writing over an earlier result removes it). Returns 0, or non-zero with errno set to stop. */
typedef int (*sr_result_put_fn)(void *user, const char *name, const void *data, size_t len);

/* The result files, each handed to put in this order: result.json (the result document; base64 ARRAYs, or nested
 * lists if lists), then mean.npy, mean.png, std.npy, std.png (float32 .npy of the image shape; 8-bit grayscale PNG
 * from min to max), samples.npy ([num_samples, ...shape]) — those the job did not ask for with data NULL. Returns
 * 0, or -1 with errno set at the first put that fails (what put left) or when out of memory (ENOMEM). */
int sr_result_files(const sr_problem *pb, const sr_result *res, int lists, sr_result_put_fn put, void *user);
#endif
