/* store_pg.c — the PostgreSQL job store (see store.h), over libpq: several nodes share one database.
 * Three connections per process, each serialised by its own lock: `conn` for the rows (every call but these two),
 * `bulk` for result files (stored with the final status, fetched by nodes that serve them), so that a large
 * transfer never holds up the rows, and `listen` for LISTEN/NOTIFY (only sr_store_wait_events' thread uses it).
 * A lost connection is reset on the next call (the call that found it lost answers SR_STORE_ERROR, logged).
 * Claims take the oldest queued job with SELECT ... FOR UPDATE SKIP LOCKED in one statement, and record this
 * process's worker id and a lease; inserts take a transaction-scoped advisory lock, so that the idempotency key and
 * the queue limit are checked and the row written with no other insert in between (on any node). Every change
 * other nodes care about is announced on channel `scorerecon` (pg_notify, delivered at commit): "q" a job queued,
 * "s ID" a status changed, "c ID" a cancel asked, "d ID" a job deleted. Every statement commits before the call
 * returns (synchronous_commit as the server sets it: on by default). */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_impl.h"

typedef struct {
  PGconn *conn;          /* the rows (under mu) */
  pthread_mutex_t mu;
  PGconn *bulk;          /* result files (under bulk_mu); connected on first use */
  pthread_mutex_t bulk_mu;
  PGconn *listen;        /* LISTEN scorerecon (sr_store_wait_events' one thread); connected on first use */
  char *conninfo;        /* for the two connections made later */
  double lease_s;
  char worker[96];       /* this process: host-pid-random */
  int write_failed;      /* the last write on conn failed (under mu) */
  int last_full;         /* the last failure on conn was SQLSTATE 53100 disk_full (under mu) */
} pg_store;

#define INSERT_LOCK "73160016" /* pg_advisory_xact_lock key of inserts */
#define CHANNEL "scorerecon"   /* LISTEN/NOTIFY */

static const char *SCHEMA =
    "SELECT pg_advisory_lock(73160017);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " seq BIGSERIAL PRIMARY KEY, id TEXT UNIQUE NOT NULL, status TEXT NOT NULL,"
    " created DOUBLE PRECISION NOT NULL, started DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " finished DOUBLE PRECISION NOT NULL DEFAULT 0, idem_key TEXT UNIQUE, doc BYTEA NOT NULL,"
    " error TEXT NOT NULL DEFAULT '', error_field TEXT NOT NULL DEFAULT '',"
    " step BIGINT NOT NULL DEFAULT 0, total BIGINT NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    " labels TEXT NOT NULL DEFAULT '{}', notify_url TEXT, notify_state INTEGER NOT NULL DEFAULT 0,"
    " notify_attempts INTEGER NOT NULL DEFAULT 0, notify_next DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " worker TEXT, lease DOUBLE PRECISION NOT NULL DEFAULT 0);"
    "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS cancel BOOLEAN NOT NULL DEFAULT false;"
    "CREATE INDEX IF NOT EXISTS jobs_status_seq ON jobs(status, seq);"
    "CREATE INDEX IF NOT EXISTS jobs_notify ON jobs(notify_next) WHERE notify_state = 1;"
    "CREATE INDEX IF NOT EXISTS jobs_lease ON jobs(lease) WHERE status = 'running';"
    "CREATE TABLE IF NOT EXISTS labels(k TEXT NOT NULL, v TEXT NOT NULL,"
    " seq BIGINT NOT NULL REFERENCES jobs(seq) ON DELETE CASCADE, PRIMARY KEY(k, v, seq));"
    "CREATE INDEX IF NOT EXISTS labels_seq ON labels(seq);"
    /* result files, a part of at most SR_STORE_PART bytes a row; stored uncompressed (EXTERNAL): floats, base64
     * and PNG hardly compress, and substring-free whole-part reads need no decompression */
    "CREATE TABLE IF NOT EXISTS results(id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, part INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY(id, name, part));"
    "ALTER TABLE results ALTER COLUMN data SET STORAGE EXTERNAL;"
    "CREATE TABLE IF NOT EXISTS probe(k INTEGER PRIMARY KEY, t DOUBLE PRECISION NOT NULL);"
    "SELECT pg_advisory_unlock(73160017);";

#define COLS "seq, id, status, created, started, finished, step, total, error, error_field, attempts, labels, " \
             "notify_url, notify_state, notify_attempts"

static void quiet(void *arg, const char *msg) { (void)arg, (void)msg; } /* "already exists, skipping" */

/* *c usable: reset when lost, connected when absent (the bulk and listen connections); 0 when it is usable. */
static int ready_conn(pg_store *st, PGconn **c, const char *which) {
  if (*c && PQstatus(*c) == CONNECTION_OK) return 0;
  if (*c) PQreset(*c);
  else if ((*c = PQconnectdb(st->conninfo))) PQsetNoticeProcessor(*c, quiet, NULL);
  if (*c && PQstatus(*c) == CONNECTION_OK) {
    if (c == &st->conn) fprintf(stderr, "scorerecon: job store: reconnected to PostgreSQL\n");
    return 0;
  }
  fprintf(stderr, "scorerecon: job store: PostgreSQL unreachable (%s connection): %s", which,
          *c ? PQerrorMessage(*c) : "out of memory\n");
  return -1;
}

/* Runs one statement on connection *c with text parameters (v[i] NULL: SQL NULL; bin >= 0: that parameter is
 * binary, len blen); binout: the result in binary. Returns the result, or NULL after logging why (on the rows'
 * connection, the write flags are set when `write`). */
static PGresult *run_on(pg_store *st, PGconn **c, int write, const char *what, const char *sql, int n,
                        const char *const *v, int bin, int blen, int binout) {
  int rows = c == &st->conn;
  if (ready_conn(st, c, rows ? "rows" : "results")) {
    if (rows) {
      st->last_full = 0;
      if (write) st->write_failed = 1;
    }
    return NULL;
  }
  int lens[16] = {0}, fmts[16] = {0};
  if (bin >= 0 && bin < 16) {
    lens[bin] = blen;
    fmts[bin] = 1;
  }
  PGresult *r = PQexecParams(*c, sql, n, NULL, v, lens, fmts, binout);
  ExecStatusType t = PQresultStatus(r);
  if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
    if (rows && write) st->write_failed = 0;
    return r;
  }
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (rows) {
    st->last_full = state && !strcmp(state, "53100");
    if (write) st->write_failed = 1;
  }
  fprintf(stderr, "scorerecon: job store: %s failed: %s", what, PQerrorMessage(*c));
  PQclear(r);
  return NULL;
}

static PGresult *run(pg_store *st, int write, const char *what, const char *sql, int n, const char *const *v,
                     int bin, int blen) {
  return run_on(st, &st->conn, write, what, sql, n, v, bin, blen, 0);
}

/* Announces kind (+ " " id) to every node (delivered when the current transaction commits; at once outside one).
 * Best effort: a lost notification costs a node at most its polling interval. */
static void announce_on(pg_store *st, PGconn **c, char kind, const char *id) {
  char payload[64];
  snprintf(payload, sizeof payload, id ? "%c %s" : "%c", kind, id);
  const char *v[1] = {payload};
  PQclear(run_on(st, c, 0, "notify", "SELECT pg_notify('" CHANNEL "', $1)", 1, v, -1, 0, 0));
}
static void announce(pg_store *st, char kind, const char *id) { announce_on(st, &st->conn, kind, id); }

static sr_store_rc fail_rc(pg_store *st) { return st->last_full ? SR_STORE_FULL : SR_STORE_ERROR; }

static int cmd(pg_store *st, const char *sql) { /* BEGIN, COMMIT, ROLLBACK */
  PGresult *r = run(st, 1, sql, sql, 0, NULL, -1, 0);
  PQclear(r);
  return r ? 0 : -1;
}

static void rollback(pg_store *st) {
  if (PQtransactionStatus(st->conn) != PQTRANS_IDLE) {
    PGresult *r = PQexec(st->conn, "ROLLBACK");
    PQclear(r);
  }
}

/* An UPDATE or DELETE: OK when it changed a row, NONE when none matched. */
static sr_store_rc write1(pg_store *st, const char *what, const char *sql, int n, const char *const *v) {
  PGresult *r = run(st, 1, what, sql, n, v, -1, 0);
  if (!r) return fail_rc(st);
  sr_store_rc rc = atoi(PQcmdTuples(r)) > 0 ? SR_STORE_OK : SR_STORE_NONE;
  PQclear(r);
  return rc;
}

static const char *val(const PGresult *r, int i, int c) { return PQgetvalue(r, i, c); }

static void read_row(const PGresult *r, int i, sr_job_row *o) {
  memset(o, 0, sizeof *o);
  o->seq = atol(val(r, i, 0));
  snprintf(o->id, sizeof o->id, "%s", val(r, i, 1));
  snprintf(o->status, sizeof o->status, "%s", val(r, i, 2));
  o->created = strtod(val(r, i, 3), NULL);
  o->started = strtod(val(r, i, 4), NULL);
  o->finished = strtod(val(r, i, 5), NULL);
  o->step = atol(val(r, i, 6));
  o->total = atol(val(r, i, 7));
  snprintf(o->error, sizeof o->error, "%s", val(r, i, 8));
  snprintf(o->error_field, sizeof o->error_field, "%s", val(r, i, 9));
  o->attempts = atoi(val(r, i, 10));
  snprintf(o->labels, sizeof o->labels, "%s", PQgetisnull(r, i, 11) ? "{}" : val(r, i, 11));
  snprintf(o->notify_url, sizeof o->notify_url, "%s", val(r, i, 12)); /* "" when NULL */
  o->notify_state = atoi(val(r, i, 13));
  o->notify_attempts = atoi(val(r, i, 14));
}

/* A bytea column (text format, hex) as the document: malloc'd, NUL-terminated. */
static int copy_doc(const PGresult *r, int i, int c, char **doc, size_t *len) {
  size_t n = 0;
  unsigned char *b = PQunescapeBytea((const unsigned char *)val(r, i, c), &n);
  if (!b) return -1;
  *doc = malloc(n + 1);
  if (*doc) {
    memcpy(*doc, b, n);
    (*doc)[n] = 0;
    *len = n;
  }
  PQfreemem(b);
  return *doc ? 0 : -1;
}

static void num(char *out, double x) { snprintf(out, 32, "%.17g", x); }

void *sr_store_pg_open(const char *conninfo, double lease_s, char *err, size_t cap) {
  pg_store *st = calloc(1, sizeof *st);
  if (!st) return snprintf(err, cap, "out of memory"), NULL;
  st->lease_s = lease_s > 0 ? lease_s : 30;
  st->conninfo = strdup(conninfo);
  st->conn = st->conninfo ? PQconnectdb(conninfo) : NULL;
  if (!st->conn || PQstatus(st->conn) != CONNECTION_OK) {
    snprintf(err, cap, "cannot connect to the PostgreSQL store: %s",
             st->conn ? PQerrorMessage(st->conn) : "out of memory");
    size_t l = strlen(err);
    if (l && err[l - 1] == '\n') err[l - 1] = 0;
    PQfinish(st->conn);
    free(st->conninfo);
    free(st);
    return NULL;
  }
  PQsetNoticeProcessor(st->conn, quiet, NULL);
  PGresult *r = PQexec(st->conn, SCHEMA);
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
    snprintf(err, cap, "cannot set up the PostgreSQL store: %s", PQerrorMessage(st->conn));
    PQclear(r);
    PQfinish(st->conn);
    free(st->conninfo);
    free(st);
    return NULL;
  }
  PQclear(r);
  char host[48] = "host";
  gethostname(host, sizeof host - 1);
  unsigned long long rnd = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(&rnd, sizeof rnd, 1, f) != 1) rnd = (unsigned long long)getpid() * 2654435761u;
  if (f) fclose(f);
  snprintf(st->worker, sizeof st->worker, "%s-%ld-%08llx", host, (long)getpid(), rnd & 0xffffffffull);
  pthread_mutex_init(&st->mu, NULL);
  pthread_mutex_init(&st->bulk_mu, NULL);
  fprintf(stderr, "scorerecon: job store: PostgreSQL, worker id %s, lease %g s\n", st->worker, st->lease_s);
  return st;
}

static void pg_close(void *self) {
  pg_store *st = self;
  PQfinish(st->conn);
  if (st->bulk) PQfinish(st->bulk);
  if (st->listen) PQfinish(st->listen);
  pthread_mutex_destroy(&st->mu);
  pthread_mutex_destroy(&st->bulk_mu);
  free(st->conninfo);
  free(st);
}

static sr_store_rc pg_insert(void *self, const char *id, const char *doc, size_t len, const char *idem_key,
                             double now, long queue_max, const sr_labels *labels, const char *notify_url,
                             char existing_id[40]) {
  pg_store *st = self;
  sr_store_rc rc = SR_STORE_ERROR;
  pthread_mutex_lock(&st->mu);
  if (cmd(st, "BEGIN")) {
    rc = fail_rc(st);
    goto unlock;
  }
  PGresult *r = run(st, 1, "insert (lock)", "SELECT pg_advisory_xact_lock(" INSERT_LOCK ")", 0, NULL, -1, 0);
  if (!r) goto out;
  PQclear(r);
  if (idem_key) {
    const char *v[1] = {idem_key};
    r = run(st, 0, "insert (key)", "SELECT id, doc FROM jobs WHERE idem_key = $1", 1, v, -1, 0);
    if (!r) goto out;
    int found = PQntuples(r) > 0;
    if (found) {
      snprintf(existing_id, 40, "%s", val(r, 0, 0));
      char *d = NULL;
      size_t dl = 0;
      if (copy_doc(r, 0, 1, &d, &dl) == 0)
        rc = (dl == len && (len == 0 || memcmp(d, doc, len) == 0)) ? SR_STORE_EXISTING : SR_STORE_KEY_REUSED;
      free(d);
    }
    PQclear(r);
    if (found) goto out;
  }
  if (queue_max > 0) { /* under the insert lock: concurrent submissions (any node) cannot overfill the queue */
    r = run(st, 0, "insert (count)", "SELECT count(*) FROM jobs WHERE status = 'queued'", 0, NULL, -1, 0);
    if (!r) goto out;
    long queued = atol(val(r, 0, 0));
    PQclear(r);
    if (queued >= queue_max) {
      rc = SR_STORE_QUEUE_FULL;
      goto out;
    }
  }
  cJSON *lj = labels ? sr_labels_json(labels) : cJSON_CreateObject();
  char *ltext = lj ? cJSON_PrintUnformatted(lj) : NULL;
  cJSON_Delete(lj);
  if (!ltext) goto out;
  char created[32], state[8];
  num(created, now);
  int notify = notify_url && *notify_url;
  snprintf(state, sizeof state, "%d", notify ? SR_NOTIFY_PENDING : SR_NOTIFY_NONE);
  const char *v[7] = {id, created, idem_key, doc, ltext, notify ? notify_url : NULL, state};
  r = run(st, 1, "insert",
          "INSERT INTO jobs(id, status, created, idem_key, doc, labels, notify_url, notify_state) "
          "VALUES($1, 'queued', $2, $3, $4, $5, $6, $7) RETURNING seq", 7, v, 3, (int)len);
  free(ltext);
  if (!r) {
    rc = fail_rc(st);
    goto out;
  }
  char seq[32];
  snprintf(seq, sizeof seq, "%s", val(r, 0, 0));
  PQclear(r);
  rc = SR_STORE_OK;
  for (int i = 0; labels && i < labels->n; i++) {
    const char *lv[3] = {labels->key[i], labels->value[i], seq};
    r = run(st, 1, "insert (labels)", "INSERT INTO labels(k, v, seq) VALUES($1, $2, $3)", 3, lv, -1, 0);
    if (!r) {
      rc = fail_rc(st);
      break;
    }
    PQclear(r);
  }
out:
  if (rc == SR_STORE_OK) {
    announce(st, 'q', NULL); /* delivered with the commit: idle workers on every node wake */
    if (cmd(st, "COMMIT")) rc = fail_rc(st);
  }
  rollback(st);
unlock:
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static sr_store_rc pg_get(void *self, const char *id, sr_job_row *row) {
  pg_store *st = self;
  pthread_mutex_lock(&st->mu);
  const char *v[1] = {id};
  PGresult *r = run(st, 0, "get", "SELECT " COLS " FROM jobs WHERE id = $1", 1, v, -1, 0);
  sr_store_rc rc = SR_STORE_ERROR;
  if (r) {
    rc = PQntuples(r) > 0 ? SR_STORE_OK : SR_STORE_NONE;
    if (rc == SR_STORE_OK) read_row(r, 0, row);
    PQclear(r);
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static sr_store_rc pg_get_doc(void *self, const char *id, char **doc, size_t *len) {
  pg_store *st = self;
  *doc = NULL;
  pthread_mutex_lock(&st->mu);
  const char *v[1] = {id};
  PGresult *r = run(st, 0, "get (document)", "SELECT doc FROM jobs WHERE id = $1", 1, v, -1, 0);
  sr_store_rc rc = SR_STORE_ERROR;
  if (r) {
    if (PQntuples(r) == 0) rc = SR_STORE_NONE;
    else if (copy_doc(r, 0, 0, doc, len) == 0) rc = SR_STORE_OK;
    PQclear(r);
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static int pg_list(void *self, const char *const *statuses, int nstatus, const sr_labels *with, long before_seq,
                   int limit, sr_job_row *rows) {
  pg_store *st = self;
  if (nstatus < 0 || nstatus > 5) nstatus = 0;
  int nl = with ? with->n : 0;
  if (nl > SR_LIST_LABELS) nl = SR_LIST_LABELS;
  char before[32], lim[32], sql[1536], where[1024] = "";
  snprintf(before, sizeof before, "%ld", before_seq > 0 ? before_seq : (long)9e18);
  snprintf(lim, sizeof lim, "%d", limit);
  const char *v[2 + 5 + 2 * SR_LIST_LABELS] = {before, lim};
  int n = 2;
  if (nstatus > 0) {
    strcat(where, "status IN (");
    for (int i = 0; i < nstatus; i++) {
      v[n++] = statuses[i];
      size_t o = strlen(where);
      snprintf(where + o, sizeof where - o, "%s$%d", i ? ", " : "", n);
    }
    strcat(where, ") AND ");
  }
  for (int i = 0; i < nl; i++) {
    v[n++] = with->key[i];
    v[n++] = with->value[i];
    size_t o = strlen(where);
    snprintf(where + o, sizeof where - o, "seq IN (SELECT seq FROM labels WHERE k = $%d AND v = $%d) AND ", n - 1,
             n);
  }
  snprintf(sql, sizeof sql, "SELECT " COLS " FROM jobs WHERE %sseq < $1 ORDER BY seq DESC LIMIT $2", where);
  pthread_mutex_lock(&st->mu);
  PGresult *r = run(st, 0, "listing", sql, n, v, -1, 0);
  int got = -1;
  if (r) {
    got = PQntuples(r) < limit ? PQntuples(r) : limit;
    for (int i = 0; i < got; i++) read_row(r, i, &rows[i]);
    PQclear(r);
  }
  pthread_mutex_unlock(&st->mu);
  return got;
}

/* One statement, its own transaction: the oldest queued job no other claim has locked becomes ours. */
static sr_store_rc pg_claim(void *self, double now, sr_job_row *row, char **doc, size_t *len) {
  pg_store *st = self;
  *doc = NULL;
  char t[32], lease[32];
  num(t, now);
  num(lease, now + st->lease_s);
  const char *v[3] = {t, st->worker, lease};
  pthread_mutex_lock(&st->mu);
  PGresult *r = run(st, 1, "claim",
                    "UPDATE jobs SET status = 'running', started = $1, attempts = attempts + 1, step = 0, "
                    "worker = $2, lease = $3, cancel = false WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' "
                    "ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " COLS ", doc", 3, v, -1, 0);
  sr_store_rc rc = r ? SR_STORE_NONE : fail_rc(st);
  if (r && PQntuples(r) > 0) {
    read_row(r, 0, row);
    if (copy_doc(r, 0, 15, doc, len) == 0) {
      rc = SR_STORE_OK;
      announce(st, 's', row->id);
    } else { /* out of memory: give it back */
      const char *b[2] = {row->id, st->worker};
      PGresult *u = run(st, 1, "claim (undo)", "UPDATE jobs SET status = 'queued', attempts = attempts - 1, "
                        "worker = NULL, lease = 0 WHERE id = $1 AND worker = $2", 2, b, -1, 0);
      PQclear(u);
      rc = SR_STORE_ERROR;
    }
  }
  PQclear(r);
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static sr_store_rc pg_set_status(void *self, const char *id, const char *from, const char *to, double now,
                                 const char *error, const char *field) {
  pg_store *st = self;
  int final = strcmp(to, "queued") && strcmp(to, "running");
  char t[32];
  num(t, final ? now : 0.0);
  const char *v[7] = {to, t, error ? error : "", field ? field : "", id, from, st->worker};
  const char *sql =
      !from ? "UPDATE jobs SET status = $1, finished = $2, error = $3, error_field = $4, worker = NULL, lease = 0 "
              "WHERE id = $5"
      : strcmp(from, "running")
          ? "UPDATE jobs SET status = $1, finished = $2, error = $3, error_field = $4, worker = NULL, lease = 0 "
            "WHERE id = $5 AND status = $6"
          /* only while we hold the lease: a late result of a worker that lost it is refused */
          : "UPDATE jobs SET status = $1, finished = $2, error = $3, error_field = $4, worker = NULL, lease = 0 "
            "WHERE id = $5 AND status = $6 AND worker = $7";
  pthread_mutex_lock(&st->mu);
  sr_store_rc rc = write1(st, "status update", sql, !from ? 5 : strcmp(from, "running") ? 6 : 7, v);
  if (rc == SR_STORE_OK) {
    announce(st, 's', id);
    if (!strcmp(to, "queued")) announce(st, 'q', NULL);
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static sr_store_rc pg_set_progress(void *self, const char *id, long step, long total) {
  pg_store *st = self;
  char s[32], t[32];
  snprintf(s, sizeof s, "%ld", step);
  snprintf(t, sizeof t, "%ld", total);
  const char *v[4] = {s, t, id, st->worker};
  pthread_mutex_lock(&st->mu);
  sr_store_rc rc = write1(st, "progress update", "UPDATE jobs SET step = $1, total = $2 WHERE id = $3 AND worker = $4",
                          4, v);
  pthread_mutex_unlock(&st->mu);
  return rc == SR_STORE_NONE ? SR_STORE_OK : rc; /* a lost lease: the new holder's progress stays */
}

static int pg_requeue_expired(void *self, double now) {
  pg_store *st = self;
  char t[32];
  num(t, now);
  const char *v[1] = {t};
  pthread_mutex_lock(&st->mu);
  PGresult *r = run(st, 1, "requeue",
                    "UPDATE jobs SET status = 'queued', step = 0, worker = NULL, lease = 0, cancel = false "
                    "WHERE status = 'running' AND lease < $1 RETURNING id", 1, v, -1, 0);
  int n = r ? PQntuples(r) : -1;
  for (int i = 0; i < n; i++) announce(st, 's', val(r, i, 0));
  if (n > 0) announce(st, 'q', NULL);
  PQclear(r);
  pthread_mutex_unlock(&st->mu);
  return n;
}

/* Other nodes may be running their jobs: only expired leases go back (ours from a crash, once they expire). */
static int pg_requeue_running(void *self, double now) { return pg_requeue_expired(self, now); }

static sr_store_rc pg_renew(void *self, const char *id, double now, long step, long total, int *cancel) {
  pg_store *st = self;
  char t[32], s[32], n[32];
  num(t, now + st->lease_s);
  snprintf(s, sizeof s, "%ld", step);
  snprintf(n, sizeof n, "%ld", total);
  const char *v[5] = {t, id, st->worker, s, n};
  pthread_mutex_lock(&st->mu);
  PGresult *r = run(st, 1, "lease renewal", "UPDATE jobs SET lease = $1, step = $4, total = $5 WHERE id = $2 AND "
                    "worker = $3 AND status = 'running' RETURNING cancel", 5, v, -1, 0);
  sr_store_rc rc = r ? (PQntuples(r) > 0 ? SR_STORE_OK : SR_STORE_NONE) : fail_rc(st);
  if (rc == SR_STORE_OK) *cancel = val(r, 0, 0)[0] == 't';
  PQclear(r);
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static int pg_counts(void *self, long counts[5]) {
  static const char *names[5] = {"queued", "running", "succeeded", "failed", "cancelled"};
  pg_store *st = self;
  memset(counts, 0, 5 * sizeof(long));
  pthread_mutex_lock(&st->mu);
  PGresult *r = run(st, 0, "counting", "SELECT status, count(*) FROM jobs GROUP BY status", 0, NULL, -1, 0);
  int rc = r ? 0 : -1;
  for (int i = 0; r && i < PQntuples(r); i++)
    for (int k = 0; k < 5; k++)
      if (!strcmp(val(r, i, 0), names[k])) counts[k] = atol(val(r, i, 1));
  PQclear(r);
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static int pg_prune(void *self, double before, void (*on_delete)(void *user, const char *id), void *user) {
  pg_store *st = self;
  char t[32];
  num(t, before);
  const char *v[1] = {t};
  int n = 0;
  pthread_mutex_lock(&st->mu);
  PGresult *r = run(st, 0, "prune", "SELECT id FROM jobs WHERE status IN ('succeeded','failed','cancelled') "
                    "AND finished > 0 AND finished < $1 LIMIT 1000", 1, v, -1, 0);
  for (int i = 0; r && i < PQntuples(r); i++) {
    const char *id = val(r, i, 0);
    if (on_delete) on_delete(user, id); /* this node's result files (others prune their own when they run it) */
    const char *d[1] = {id};
    if (write1(st, "prune (delete)", "DELETE FROM jobs WHERE id = $1", 1, d) == SR_STORE_OK) {
      announce(st, 'd', id); /* every node drops its copy of the result files */
      n++;
    }
  }
  PQclear(r);
  pthread_mutex_unlock(&st->mu);
  return n;
}

static int pg_ok(void *self) {
  pg_store *st = self;
  pthread_mutex_lock(&st->mu);
  PGresult *r = run(st, 0, "readiness", "SELECT count(*) FROM jobs WHERE status >= ''", 0, NULL, -1, 0);
  PQclear(r);
  pthread_mutex_unlock(&st->mu);
  return r != NULL;
}

static sr_store_rc pg_delete_finished(void *self, const char *id) {
  pg_store *st = self;
  const char *v[1] = {id};
  pthread_mutex_lock(&st->mu);
  sr_store_rc rc = write1(st, "delete", "DELETE FROM jobs WHERE id = $1 AND status IN ('succeeded','failed',"
                          "'cancelled')", 1, v); /* its labels and results go with it (ON DELETE CASCADE) */
  if (rc == SR_STORE_OK) announce(st, 'd', id);
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static int pg_writable(void *self, double now) {
  pg_store *st = self;
  pthread_mutex_lock(&st->mu);
  if (st->write_failed) {
    char t[32];
    num(t, now);
    const char *v[1] = {t};
    PGresult *r = run(st, 1, "probe write", "INSERT INTO probe(k, t) VALUES(1, $1) ON CONFLICT (k) DO UPDATE SET "
                      "t = excluded.t", 1, v, -1, 0);
    PQclear(r);
  }
  int w = !st->write_failed;
  pthread_mutex_unlock(&st->mu);
  return w;
}

static int pg_notify_due(void *self, double now, int max, sr_notify_due *out) {
  pg_store *st = self;
  char t[32], m[16];
  num(t, now);
  snprintf(m, sizeof m, "%d", max);
  const char *v[2] = {t, m};
  pthread_mutex_lock(&st->mu);
  /* the deliveries are claimed for 60 s (longer than a delivery may take): two nodes never send the same one;
   * the sender's notify_set sets the real next try */
  PGresult *r = run(st, 1, "webhooks due", "UPDATE jobs SET notify_next = $1::float8 + 60 WHERE seq IN (SELECT seq "
                    "FROM jobs WHERE notify_state = 1 AND status IN ('succeeded','failed','cancelled') AND "
                    "notify_next <= $1::float8 ORDER BY notify_next LIMIT $2 FOR UPDATE SKIP LOCKED) "
                    "RETURNING id, notify_url, notify_attempts", 2, v, -1, 0);
  int n = -1;
  if (r) {
    n = PQntuples(r) < max ? PQntuples(r) : max;
    for (int i = 0; i < n; i++) {
      snprintf(out[i].id, sizeof out[i].id, "%s", val(r, i, 0));
      snprintf(out[i].url, sizeof out[i].url, "%s", val(r, i, 1));
      out[i].attempts = atoi(val(r, i, 2));
    }
    PQclear(r);
  }
  pthread_mutex_unlock(&st->mu);
  return n;
}

static sr_store_rc pg_notify_set(void *self, const char *id, int state, int attempts, double next) {
  pg_store *st = self;
  char s[16], a[16], t[32];
  snprintf(s, sizeof s, "%d", state);
  snprintf(a, sizeof a, "%d", attempts);
  num(t, next);
  const char *v[4] = {s, a, t, id};
  pthread_mutex_lock(&st->mu);
  sr_store_rc rc = write1(st, "webhook state", "UPDATE jobs SET notify_state = $1, notify_attempts = $2, "
                          "notify_next = $3 WHERE id = $4", 4, v);
  pthread_mutex_unlock(&st->mu);
  return rc;
}

/* ---------------------------------------------------------------- several nodes */

static sr_store_rc pg_request_cancel(void *self, const char *id) {
  pg_store *st = self;
  const char *v[1] = {id};
  pthread_mutex_lock(&st->mu);
  sr_store_rc rc = write1(st, "cancel request", "UPDATE jobs SET cancel = true WHERE id = $1 AND status = 'running'",
                          1, v);
  if (rc == SR_STORE_OK) announce(st, 'c', id); /* its node stops it at once; else at its next renewal */
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static int bulk_cmd(pg_store *st, const char *sql) {
  PGresult *r = run_on(st, &st->bulk, 0, sql, sql, 0, NULL, -1, 0, 0);
  PQclear(r);
  return r ? 0 : -1;
}

static void bulk_rollback(pg_store *st) {
  if (st->bulk && PQstatus(st->bulk) == CONNECTION_OK && PQtransactionStatus(st->bulk) != PQTRANS_IDLE)
    PQclear(PQexec(st->bulk, "ROLLBACK"));
}

/* Stores dir/name as rows of at most SR_STORE_PART bytes (inside the caller's transaction); 0 or -1. */
static int put_file(pg_store *st, const char *id, const char *dir, const char *name, char *buf) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "scorerecon: job store: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  int rc = 0;
  for (int part = 0;; part++) {
    size_t got = 0;
    while (got < SR_STORE_PART) {
      ssize_t k = read(fd, buf + got, SR_STORE_PART - got);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        if (k < 0) rc = -1;
        break;
      }
      got += (size_t)k;
    }
    if (rc || (got == 0 && part > 0)) break; /* an empty file is one empty part */
    char p[16];
    snprintf(p, sizeof p, "%d", part);
    const char *v[4] = {id, name, p, buf};
    PGresult *r = run_on(st, &st->bulk, 0, "result upload", "INSERT INTO results(id, name, part, data) "
                         "VALUES($1, $2, $3, $4)", 4, v, 3, (int)got, 0);
    if (!r) rc = -1;
    PQclear(r);
    if (rc || got < SR_STORE_PART) break;
  }
  close(fd);
  return rc;
}

/* The parts go in first; the conditional status change last: the job row is locked only for that, so lease renewals
 * are never held up by an upload, and a lease lost meanwhile (0 rows) rolls the parts back. */
static sr_store_rc pg_finish_with_files(void *self, const char *id, double now, const char *dir,
                                        const char *const *names) {
  pg_store *st = self;
  char *buf = malloc(SR_STORE_PART);
  if (!buf) return SR_STORE_ERROR;
  sr_store_rc rc = SR_STORE_ERROR;
  pthread_mutex_lock(&st->bulk_mu);
  if (bulk_cmd(st, "BEGIN")) goto out;
  const char *d[1] = {id};
  PGresult *r = run_on(st, &st->bulk, 0, "result upload", "DELETE FROM results WHERE id = $1", 1, d, -1, 0, 0);
  if (!r) goto out;
  PQclear(r);
  for (int i = 0; names[i]; i++)
    if (put_file(st, id, dir, names[i], buf)) goto out;
  char t[32];
  num(t, now);
  const char *v[3] = {t, id, st->worker};
  r = run_on(st, &st->bulk, 0, "status update (with results)",
             "UPDATE jobs SET status = 'succeeded', finished = $1, error = '', error_field = '', worker = NULL, "
             "lease = 0 WHERE id = $2 AND status = 'running' AND worker = $3", 3, v, -1, 0, 0);
  if (!r) goto out;
  int changed = atoi(PQcmdTuples(r)) > 0;
  PQclear(r);
  if (!changed) {
    rc = SR_STORE_NONE; /* the lease was lost: the rollback below drops the parts */
    goto out;
  }
  announce_on(st, &st->bulk, 's', id);
  if (bulk_cmd(st, "COMMIT") == 0) rc = SR_STORE_OK;
out:
  bulk_rollback(st);
  pthread_mutex_unlock(&st->bulk_mu);
  free(buf);
  return rc;
}

static int fsync_close(int fd) {
  int rc = fsync(fd);
  return close(fd) || rc ? -1 : 0;
}

/* One snapshot (REPEATABLE READ): the list of parts, then each part alone (binary, so no hex text in between):
 * at most one part in memory. */
static sr_store_rc pg_fetch_files(void *self, const char *id, const char *dir) {
  pg_store *st = self;
  sr_store_rc rc = SR_STORE_ERROR;
  int fd = -1;
  char cur[64] = "";
  pthread_mutex_lock(&st->bulk_mu);
  if (bulk_cmd(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) goto out;
  const char *v[1] = {id};
  PGresult *list = run_on(st, &st->bulk, 0, "result download", "SELECT name, part FROM results WHERE id = $1 "
                          "ORDER BY name, part", 1, v, -1, 0, 0);
  if (!list) goto out;
  if (PQntuples(list) == 0) {
    rc = SR_STORE_NONE;
    PQclear(list);
    goto out;
  }
  if (mkdir(dir, 0755) && errno != EEXIST) {
    fprintf(stderr, "scorerecon: cannot create %s: %s\n", dir, strerror(errno));
    PQclear(list);
    goto out;
  }
  int bad = 0;
  for (int i = 0; i < PQntuples(list) && !bad; i++) {
    const char *name = val(list, i, 0);
    if (strcmp(name, cur)) { /* the next file */
      if (fd >= 0 && fsync_close(fd)) bad = 1;
      fd = -1;
      if (bad || strchr(name, '/') || name[0] == '.' || strlen(name) >= sizeof cur) {
        bad = 1;
        break;
      }
      snprintf(cur, sizeof cur, "%s", name);
      char path[2048];
      snprintf(path, sizeof path, "%s/%s", dir, name);
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) {
        fprintf(stderr, "scorerecon: cannot write %s: %s\n", path, strerror(errno));
        bad = 1;
        break;
      }
    }
    const char *pv[3] = {id, name, val(list, i, 1)};
    PGresult *r = run_on(st, &st->bulk, 0, "result download", "SELECT data FROM results WHERE id = $1 AND "
                         "name = $2 AND part = $3", 3, pv, -1, 0, 1);
    if (!r || PQntuples(r) != 1) {
      bad = 1;
    } else {
      const char *p = PQgetvalue(r, 0, 0);
      size_t left = (size_t)PQgetlength(r, 0, 0);
      while (left && !bad) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          fprintf(stderr, "scorerecon: cannot write the result %s of job %s: %s\n", name, id, strerror(errno));
          bad = 1;
          break;
        }
        p += w;
        left -= (size_t)w;
      }
    }
    PQclear(r);
  }
  PQclear(list);
  if (fd >= 0 && fsync_close(fd)) bad = 1;
  fd = -1;
  if (!bad) rc = SR_STORE_OK;
out:
  if (fd >= 0) close(fd);
  bulk_rollback(st);
  pthread_mutex_unlock(&st->bulk_mu);
  return rc;
}

static int pg_wait_events(void *self, double timeout_s, sr_store_event_fn on_event, void *user) {
  pg_store *st = self;
  if (!st->listen || PQstatus(st->listen) != CONNECTION_OK) {
    if (st->listen) {
      PQfinish(st->listen);
      st->listen = NULL;
    }
    st->listen = PQconnectdb(st->conninfo);
    PGresult *r = st->listen && PQstatus(st->listen) == CONNECTION_OK ? PQexec(st->listen, "LISTEN " CHANNEL) : NULL;
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
      fprintf(stderr, "scorerecon: job store: cannot listen for other nodes' events: %s",
              st->listen ? PQerrorMessage(st->listen) : "out of memory\n");
      if (st->listen) PQfinish(st->listen);
      st->listen = NULL;
      return -1;
    }
    PQsetNoticeProcessor(st->listen, quiet, NULL);
  }
  struct pollfd pfd = {PQsocket(st->listen), POLLIN, 0};
  int pr = poll(&pfd, 1, (int)(timeout_s * 1000));
  if (pr < 0 && errno != EINTR) return -1;
  if (pr > 0 && !PQconsumeInput(st->listen)) {
    fprintf(stderr, "scorerecon: job store: the events connection was lost: %s", PQerrorMessage(st->listen));
    PQfinish(st->listen);
    st->listen = NULL;
    return -1;
  }
  int n = 0;
  for (PGnotify *e; (e = PQnotifies(st->listen)); PQfreemem(e)) {
    const char *p = e->extra ? e->extra : "";
    if (p[0] && (p[1] == 0 || p[1] == ' ')) {
      on_event(user, p[0], p[1] ? p + 2 : "");
      n++;
    }
  }
  return n;
}

const sr_store_ops sr_store_pg_ops = {
    "postgresql", pg_close, pg_insert, pg_get, pg_get_doc, pg_list, pg_claim, pg_set_status, pg_set_progress,
    pg_requeue_running, pg_requeue_expired, pg_renew, pg_counts, pg_prune, pg_ok, pg_delete_finished, pg_writable,
    pg_notify_due, pg_notify_set, pg_finish_with_files, pg_fetch_files, pg_request_cancel, pg_wait_events};
