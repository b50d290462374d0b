/* config.h — the service's configuration, plain data: what `scorerecon serve` is told by its flags and
 * environment variables (server/options.c holds the table of them, with their defaults and ranges). */
#ifndef SR_CONFIG_H
#define SR_CONFIG_H
#include <stddef.h>

#include "job.h"

/* The largest bearer token a --token-file may hold (bytes, after trailing white space is stripped). */
#define SR_TOKEN_MAX 4096

typedef struct {
  char host[256];
  int port;
  char data_dir[1024];
  char store_url[1024];     /* "" or sqlite:DIR: SQLite in the data dir (DIR); postgresql://...: PostgreSQL */
  double lease_s;           /* a claim's lease (PostgreSQL store): renewed while the job runs */
  char models_dir[1024];
  char token[SR_TOKEN_MAX + 1]; /* empty = no authentication; a longer token file is refused at start */
  char webhook_secret[SR_TOKEN_MAX + 1]; /* the HMAC key of webhook signatures (--webhook-secret-file) */
  char webhook_allow[1024];     /* HOST or HOST:PORT, comma-separated: where "notify" may point ("" none) */
  char role[16];            /* "both" (default), "api" (no workers) or "worker" (no /v1 API): several nodes only */
  double poll_s;            /* an idle worker looks at the queue at least this often (events wake it sooner) */
  int workers;              /* jobs run at once (0 with role api) */
  int job_threads;          /* threads inside one job (sr_run) */
  int http_threads;         /* libmicrohttpd thread pool */
  long queue_max;           /* queued jobs before 429 */
  double retention_s;       /* finished jobs are pruned after this many seconds (0 = keep) */
  unsigned conn_timeout_s, max_connections, per_ip_connections;
  int max_wait_s;           /* ?wait= upper bound */
  int max_event_streams;    /* open GET /v1/jobs/{id}/events streams in all (503 above) */
  size_t min_free_bytes;    /* free space the data dir keeps: below it POST answers 507 and /readyz 503 */
  char fft_plan[1024];      /* "estimate" or "tuned" (docs/performance.md "Tuned plans") */
  char fft_wisdom[1024];    /* tuned plans' wisdom file; "" = DATA_DIR/fftw-wisdom */
  sr_limits limits;         /* job limits; limits.max_doc_bytes is the request body limit */
} sr_server_config;
#endif
