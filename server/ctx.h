/* ctx.h — the service's context: configuration, the store, workers, running jobs, long-poll waiters and
 * metrics. Everything a request handler or worker touches lives here; there is no other mutable global. */
#ifndef SR_CTX_H
#define SR_CTX_H
#include <pthread.h>
#include <stdatomic.h>

#include "config.h"
#include "job.h"
#include "store.h"

struct MHD_Daemon;
struct MHD_Connection;


/* A job being run by a worker: progress and the cancel flag, read by handlers. */
typedef struct sr_running {
  char id[40];
  atomic_long step, total;
  atomic_int cancel;
  struct sr_running *next;
} sr_running;

/* A suspended GET /v1/jobs/{id}?wait=S. */
typedef struct sr_waiter {
  struct MHD_Connection *conn;
  char id[40];
  double deadline;
  struct sr_waiter *next;
} sr_waiter;

#define SR_HIST_BUCKETS 10
extern const double sr_job_seconds_bounds[SR_HIST_BUCKETS]; /* constant table */
#define SR_CLAIM_BUCKETS 11
extern const double sr_claim_seconds_bounds[SR_CLAIM_BUCKETS]; /* constant table */

typedef struct sr_server sr_server;

struct sr_server {
  sr_server_config cfg;
  sr_fft_planner *fft;      /* the process's one FFT planner (cfg.fft_plan), owned */
  sr_store *store;
  struct MHD_Daemon *mhd;
  pthread_t *worker_tids;
  int nworkers;
  pthread_t janitor_tid;     /* serve.c's janitor */
  int janitor_started;
  pthread_mutex_t mu;       /* guards running, waiters; with work_cv / status_cv */
  pthread_cond_t work_cv;   /* a job was queued, or we are stopping */
  pthread_cond_t status_cv; /* some job changed status */
  atomic_int stopping;
  atomic_int workers_up;
  sr_running *running;
  sr_waiter *waiters;
  struct sr_stream *streams; /* events.c: open event streams (guarded by mu) */
  int nstreams;
  pthread_t notify_tid;      /* webhooks.c: the sender thread */
  int notify_started;
  pthread_cond_t notify_cv;  /* a job finished: the sender looks (with mu) */
  int notify_kick;
  struct sr_conn *conns;    /* http.c: open connections, for the request deadline (guarded by mu) */
  /* metrics */
  atomic_long http_by_code[600];
  atomic_long job_hist[SR_HIST_BUCKETS + 1];
  atomic_long job_seconds_milli;
  atomic_long jobs_finished;
  atomic_long score_evals;
  atomic_long claim_hist[SR_CLAIM_BUCKETS + 1]; /* seconds a successful claim took (the store's round trip) */
  atomic_long claim_micros;
  atomic_long fetch_seq;     /* names the temporary directories of result fetches */
  pthread_t events_tid;      /* jobs.c: the thread that hears other nodes (several nodes only) */
  int events_started;
  /* called after every status change of job `id` (from any thread; NULL: nobody listens). serve.c points it at
   * the HTTP layer's long-poll wake-up, so that jobs.c and http.c do not call each other. */
  void (*on_status)(sr_server *srv, const char *id);
};


/* jobs.c: the workers (the janitor that calls sr_jobs_prune and the HTTP layer's timers lives in serve.c) */
int sr_jobs_start(sr_server *srv);
void sr_jobs_stop(sr_server *srv);               /* interrupts running jobs (they go back to queued) and joins */
void sr_jobs_notify(sr_server *srv);             /* a job was queued */
typedef enum {
  SR_CANCEL_STORE_FULL = -2, /* the store could not write (a full disk) */
  SR_CANCEL_ERROR = -1,      /* the store failed */
  SR_CANCEL_DONE = 0,        /* it was queued: now cancelled */
  SR_CANCEL_ASKED = 1,       /* it is running: it stops at its next sampler step */
  SR_CANCEL_FINAL = 2,       /* it is final already (succeeded, failed, cancelled) */
} sr_cancel_rc;
sr_cancel_rc sr_jobs_cancel(sr_server *srv, const char *id);
int sr_jobs_progress(sr_server *srv, const char *id, long *step, long *total);  /* 1 if running here */
void sr_status_changed(sr_server *srv, const char *id);                        /* wakes waiters */
void sr_result_dir(const sr_server *srv, const char *id, char *out, size_t cap);
void sr_jobs_remove_result(sr_server *srv, const char *id); /* this node's files of job id (logged if it cannot) */
void sr_jobs_prune(sr_server *srv);
void sr_jobs_renew_leases(sr_server *srv);     /* extends the store's lease on every job running here */
int sr_jobs_local_result(sr_server *srv, const char *id); /* the result's files here (fetched if need be): 0 */
void sr_jobs_sweep_results(sr_server *srv);    /* drops copies of results whose job is gone (several nodes) */
int sr_jobs_listen_start(sr_server *srv);      /* hears other nodes' events (several nodes; else nothing) */
void sr_jobs_listen_stop(sr_server *srv);
double sr_data_dir_free(const sr_server *srv);  /* bytes free to us on the data directory's file system, -1 unknown */
double sr_now(void);

/* http.c */
int sr_http_start(sr_server *srv, char *err, size_t cap);
void sr_http_stop(sr_server *srv);
void sr_http_resume_waiters(sr_server *srv, const char *id, int all_expired_or_any);
/* Closes connections whose request (headers and body) has not fully arrived within conn_timeout_s of the
 * connection opening or its previous request ending, plus one second per 64 KiB of body received: a client that
 * trickles bytes never goes idle, so libmicrohttpd's idle timeout alone does not stop it. Called by serve.c's
 * janitor. */
void sr_http_reap_slow(sr_server *srv);
#endif
