/* store.h — the durable job store, the one interface the service uses; it does not know the backend:
 * store_sqlite.c (one SQLite database, WAL, synchronous=FULL, under the data directory: the default) or
 * store_pg.c (PostgreSQL over libpq, shared by several nodes). Rows hold the job document and its state; results
 * are files the jobs module writes (and fsyncs) before the row that points to them commits. Each store has one
 * connection, serialised by its own mutex.
 *
 * Leases: a claim records this process's worker id (random per process) and a lease expiry (now + lease_s);
 * sr_store_renew extends it while the job runs; sr_store_requeue_expired returns jobs whose lease ran out to the
 * queue; a change from `running` holds only while this process still holds the lease. The SQLite store is one
 * node: it requeues every running job at start and its leases never expire. */
#ifndef SR_STORE_H
#define SR_STORE_H
#include <stddef.h>

#include "job.h"

typedef struct sr_store sr_store;

/* What a store call answers. Negative: it failed; the store is unchanged. */
typedef enum {
  SR_STORE_FULL = -2,       /* the file system is full: the write did not happen; retry once space is back */
  SR_STORE_ERROR = -1,      /* the database failed (logged) */
  SR_STORE_OK = 0,          /* done (found, inserted, claimed, changed, deleted) */
  SR_STORE_NONE = 1,        /* no such job, none queued, or not in the status asked for */
  SR_STORE_EXISTING = 2,    /* insert: the Idempotency-Key was used with this very body: existing_id is that job */
  SR_STORE_KEY_REUSED = 3,  /* insert: the Idempotency-Key was used with another body */
  SR_STORE_QUEUE_FULL = 4,  /* insert: queue_max jobs are queued already */
} sr_store_rc;

typedef struct {
  long seq;
  char id[40];
  char status[16];       /* queued running succeeded failed cancelled */
  double created, started, finished;   /* unix seconds, 0 = not yet */
  long step, total;      /* last persisted progress */
  char error[320];
  char error_field[128];
  int attempts;
  char labels[4608];     /* the job's labels as a JSON object ("{}": none) */
  char notify_url[513];  /* its webhook ("" none) */
  int notify_state;      /* SR_NOTIFY_* */
  int notify_attempts;   /* deliveries tried */
} sr_job_row;

enum { SR_NOTIFY_NONE = 0, SR_NOTIFY_PENDING = 1, SR_NOTIFY_DELIVERED = 2, SR_NOTIFY_FAILED = 3 };

/* A webhook due: a finished job whose notification is pending and whose next try has come. */
typedef struct {
  char id[40];
  char url[513];
  int attempts;
} sr_notify_due;

/* Opens the store `url`: NULL, "" or "sqlite:DIR" (DIR empty: data_dir) opens (creating) DIR/scorerecon.db;
 * "postgresql://..." or "postgres://..." connects to PostgreSQL (the schema is created if absent). lease_s: the
 * lease a claim takes. On success *out is set; on failure err holds the reason. */
int sr_store_open(sr_store **out, const char *url, const char *data_dir, double lease_s, char *err, size_t cap);
const char *sr_store_backend(const sr_store *st);   /* "sqlite" or "postgresql" */
int sr_store_url_shared(const char *url);   /* 1: `url` names a store several nodes share (postgresql://...) */
void sr_store_close(sr_store *st);

/* Inserts a queued job. With an idempotency key already used: EXISTING (existing_id filled) when the stored
 * document is byte-identical, KEY_REUSED when it differs (whether or not the queue is full). Otherwise QUEUE_FULL
 * when queue_max > 0 jobs are already queued, or OK. One transaction throughout. */
sr_store_rc sr_store_insert(sr_store *st, const char *id, const char *doc, size_t len, const char *idem_key, double now,
                    long queue_max, const sr_labels *labels, const char *notify_url, char existing_id[40]);
sr_store_rc sr_store_get(sr_store *st, const char *id, sr_job_row *row);    /* OK, NONE (absent) or an error */
/* The job's document as submitted (malloc'd, NUL-terminated, caller frees). */
sr_store_rc sr_store_get_doc(sr_store *st, const char *id, char **doc, size_t *len);
/* Jobs newest first, before_seq > 0 for the page after it; statuses: up to 5 status names to match any of (nstatus 0:
 * every status); with: labels the jobs must all carry (NULL or n 0: any; at most SR_LIST_LABELS). */
#define SR_LIST_LABELS 4
int sr_store_list(sr_store *st, const char *const *statuses, int nstatus, const sr_labels *with, long before_seq,
                  int limit, sr_job_row *rows);
/* Moves the oldest queued job to running and returns its document (malloc'd, caller frees); NONE: nothing queued;
 * an error when the claim could not be committed (the job stays queued). */
sr_store_rc sr_store_claim(sr_store *st, double now, sr_job_row *row, char **doc, size_t *len);
/* Sets a final (or queued again) status. Only a job in `from` status (NULL = any) is changed: OK, or NONE. With
 * from "running", only while this process holds the job's lease: a worker whose lease expired (and whose job
 * another node took over) gets NONE, and nothing changes. */
sr_store_rc sr_store_set_status(sr_store *st, const char *id, const char *from, const char *to, double now,
                        const char *error, const char *field);
sr_store_rc sr_store_set_progress(sr_store *st, const char *id, long step, long total);
/* At start: jobs left running by a crash go back to the queue; returns how many. SQLite (one node): every
 * running job; PostgreSQL: those whose lease has expired (other nodes may be running the rest). */
int sr_store_requeue_running(sr_store *st, double now);
/* Running jobs whose lease expired before `now` go back to the queue (their next claim counts one more attempt);
 * returns how many, or -1. SQLite: 0 (one node; leases do not expire). */
int sr_store_requeue_expired(sr_store *st, double now);
/* Extends this process's lease on a running job to now + lease_s and records its progress (step of total), so
 * that every node shows it: OK, or NONE when the lease is lost. *cancel is set to 1 when another node asked to
 * stop the job (sr_store_request_cancel), else 0. */
sr_store_rc sr_store_renew(sr_store *st, const char *id, double now, long step, long total, int *cancel);
/* counts[0..4] = queued running succeeded failed cancelled */
int sr_store_counts(sr_store *st, long counts[5]);
/* Deletes finished jobs that finished before `before`; for each, calls on_delete(user, id) first. */
int sr_store_prune(sr_store *st, double before, void (*on_delete)(void *user, const char *id), void *user);
int sr_store_ok(sr_store *st);   /* 1 if a read through the table and its index succeeds */
/* Deletes a job row that is succeeded, failed or cancelled: OK, or NONE (absent or not finished). */
sr_store_rc sr_store_delete_finished(sr_store *st, const char *id);
/* 1 unless the last write failed and a small probe write still fails (then 0). */
int sr_store_writable(sr_store *st, double now);
/* Up to max webhooks due at `now`, oldest first; returns how many, or -1. */
int sr_store_notify_due(sr_store *st, double now, int max, sr_notify_due *out);
/* A delivery's outcome: state SR_NOTIFY_*, attempts so far, and when to try again (pending). */
sr_store_rc sr_store_notify_set(sr_store *st, const char *id, int state, int attempts, double next);

/* ---- several nodes (PostgreSQL); the SQLite store (one node) answers as noted */

/* 1 when result files are kept in the store, so that any node serves any result (PostgreSQL); 0 when the files in
 * the data directory of the node that ran the job are the result (SQLite). */
int sr_store_shares_results(const sr_store *st);
/* Finishes a running job as `succeeded` and stores its result files dir/names[i] (names ends with NULL) with it,
 * in one transaction and only while this process holds the job's lease: OK; NONE (the lease was lost: nothing is
 * stored, another node's outcome stands); an error (nothing stored: try again). The files are read and sent a part
 * (SR_STORE_PART bytes) at a time. SQLite: the status change alone. */
#define SR_STORE_PART (1 << 20)
sr_store_rc sr_store_finish_with_files(sr_store *st, const char *id, double now, const char *dir,
                                       const char *const *names);
/* Writes job id's stored result files into dir (which it creates; each file written a part at a time and fsynced),
 * from one consistent snapshot: OK; NONE (no files stored for it: not succeeded, or gone); an error. dir may hold
 * partial files after a failure: the caller removes it. SQLite: NONE. */
sr_store_rc sr_store_fetch_files(sr_store *st, const char *id, const char *dir);
/* Asks the node running job id to stop it (it learns at once by an event, or at its next lease renewal): OK (it is
 * running: asked), NONE (it is not running). SQLite: NONE (the one node stops its own jobs). */
sr_store_rc sr_store_request_cancel(sr_store *st, const char *id);
/* What other nodes did, as they did it (PostgreSQL LISTEN/NOTIFY on its own connection; one thread calls this):
 * waits up to timeout_s and calls on_event(user, kind, id) for each event: 'q' a job was queued (id ""), 's' job id
 * changed status, 'c' stopping job id was asked, 'd' job id was deleted. Returns the number of events, 0 when none
 * came, -1 when the listening connection is down (logged; the next call reconnects: events in between are lost, so
 * the caller then looks at everything), -2 at once when the store has no events (SQLite: one node). */
typedef void (*sr_store_event_fn)(void *user, char kind, const char *id);
int sr_store_wait_events(sr_store *st, double timeout_s, sr_store_event_fn on_event, void *user);
#endif
