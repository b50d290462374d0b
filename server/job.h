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

/* Labels: "labels": {"key": "value"} — at most SR_LABELS_MAX; a key is 1 to 63 of [a-z0-9._/-] starting with a
 * letter or digit; a value 0 to 127 printable characters (no control characters). The solver never sees them. */
#define SR_LABELS_MAX 16
#define SR_LABEL_KEY_MAX 63
#define SR_LABEL_VALUE_MAX 127
typedef struct {
  int n;
  char key[SR_LABELS_MAX][SR_LABEL_KEY_MAX + 1];   /* sorted by key */
  char value[SR_LABELS_MAX][SR_LABEL_VALUE_MAX + 1];
} sr_labels;

/* What the service needs of a job document besides the problem. */
typedef struct {
  int materialise;   /* in: set doc to the document with every generator ({"random": ...}, {"cartesian": ...},
                      * {"gaussian": ...}) replaced by the ARRAY it generates, so the job can be reproduced as is */
  char *doc;         /* out (materialise): malloc'd JSON text, the caller frees it */
  sr_labels labels;  /* out: the job's labels */
  char notify_url[513]; /* out: "notify": {"url": ...} ("" none): the service POSTs the finished job there */
} sr_job_meta;

/* host and port of an http:// URL the parser accepted (host without brackets); 0, or -1 if it is not one. */
int sr_url_host_port(const char *url, char *host, size_t cap, int *port);

/* sr_job_parse that also fills meta (NULL: none). */
sr_status sr_job_parse_meta(const char *text, size_t len, const sr_limits *lim, sr_problem *pb, sr_error *err,
                            sr_job_meta *meta);
/* 1 if key / value are valid label text (the rules above). */
int sr_label_key_ok(const char *key);
int sr_label_value_ok(const char *value);
/* The labels as a JSON object (a new tree, caller frees). */
cJSON *sr_labels_json(const sr_labels *l);
/* sr_job_parse in two halves, for a caller that supplies fields between them (sr_job_supply):
 * sr_job_read makes the JSON tree of the text after the checks on the text itself (size, NUL bytes, \u0000, the
 * count of JSON values, syntax), errors as sr_job_parse gives them; on success *doc is the tree (caller frees).
 * sr_job_parse_tree validates a tree (duplicate keys, every field) into pb, as sr_job_parse_meta (meta NULL: none;
 * materialising rewrites the tree). */
sr_status sr_job_read(const char *text, size_t len, const sr_limits *lim, cJSON **doc, sr_error *err);
sr_status sr_job_parse_tree(cJSON *doc, const sr_limits *lim, sr_problem *pb, sr_error *err, sr_job_meta *meta);

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

/* How the result files hold the arrays: .npy, or BART .cfl/.hdr pairs (`run --out-format cfl`). */
typedef enum { SR_FILES_NPY, SR_FILES_CFL } sr_files_format;

/* The result files, each handed to put in this order: result.json (the result document; base64 ARRAYs, or nested
 * lists if lists), then for mean, std and samples the array file(s), and a .png for mean and std: float32 .npy of
 * the image shape (samples.npy [num_samples, ...shape]), or with SR_FILES_CFL a BART pair NAME.hdr, NAME.cfl
 * (complex64, imaginary parts 0; the image's dimensions reversed, as cfl.h maps them, samples with the sample
 * index as BART's last dimension, 15); 8-bit grayscale PNG from min to max. Files the job did not ask for, and
 * the other format's, are handed with data NULL. Returns 0, or -1 with errno set at the first put that fails
 * (what put left) or when out of memory (ENOMEM). */
int sr_result_files(const sr_problem *pb, const sr_result *res, int lists, sr_files_format fmt, sr_result_put_fn put,
                    void *user);
#endif
