/* store_sqlite.c — the SQLite job store (see store.h; the default backend, one node). Durability: WAL + synchronous=FULL, every state change its own
 * transaction; claims run in BEGIN IMMEDIATE so two workers never take the same job. */
#include "store_impl.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sq_store sq_store;
struct sq_store {
  sqlite3 *db;
  pthread_mutex_t mu;
  int write_failed;   /* the last write failed (under mu); cleared by the next write that succeeds */
};

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS jobs("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT UNIQUE NOT NULL,"
    " status TEXT NOT NULL,"
    " created REAL NOT NULL, started REAL NOT NULL DEFAULT 0, finished REAL NOT NULL DEFAULT 0,"
    " idem_key TEXT UNIQUE,"
    " doc BLOB NOT NULL,"
    " error TEXT NOT NULL DEFAULT '', error_field TEXT NOT NULL DEFAULT '',"
    " step INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS jobs_status_seq ON jobs(status, seq);"
    "CREATE TABLE IF NOT EXISTS probe(k INTEGER PRIMARY KEY, t REAL NOT NULL);"
    /* labels: for ?label=k:v (the index), and as JSON on the job's row (to show them) */
    "CREATE TABLE IF NOT EXISTS labels(k TEXT NOT NULL, v TEXT NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY(k, v, seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS labels_seq ON labels(seq);";

#define COLS "seq, id, status, created, started, finished, step, total, error, error_field, attempts, labels, " \
             "notify_url, notify_state, notify_attempts"

static void read_row(sqlite3_stmt *s, sr_job_row *r) {
  memset(r, 0, sizeof *r);
  r->seq = sqlite3_column_int64(s, 0);
  snprintf(r->id, sizeof r->id, "%s", (const char *)sqlite3_column_text(s, 1));
  snprintf(r->status, sizeof r->status, "%s", (const char *)sqlite3_column_text(s, 2));
  r->created = sqlite3_column_double(s, 3);
  r->started = sqlite3_column_double(s, 4);
  r->finished = sqlite3_column_double(s, 5);
  r->step = sqlite3_column_int64(s, 6);
  r->total = sqlite3_column_int64(s, 7);
  const unsigned char *e = sqlite3_column_text(s, 8), *f = sqlite3_column_text(s, 9);
  snprintf(r->error, sizeof r->error, "%s", e ? (const char *)e : "");
  snprintf(r->error_field, sizeof r->error_field, "%s", f ? (const char *)f : "");
  r->attempts = sqlite3_column_int(s, 10);
  const unsigned char *l = sqlite3_column_text(s, 11);
  snprintf(r->labels, sizeof r->labels, "%s", l ? (const char *)l : "{}");
  const unsigned char *u = sqlite3_column_text(s, 12);
  snprintf(r->notify_url, sizeof r->notify_url, "%s", u ? (const char *)u : "");
  r->notify_state = sqlite3_column_int(s, 13);
  r->notify_attempts = sqlite3_column_int(s, 14);
}

/* A database from an earlier version gets the columns added since (older jobs: no labels, no webhook). */
static int add_columns(sqlite3 *db, char **msg) {
  static const char *const cols[][2] = {{"labels", "TEXT NOT NULL DEFAULT '{}'"},
                                        {"notify_url", "TEXT"},
                                        {"notify_state", "INTEGER NOT NULL DEFAULT 0"},
                                        {"notify_attempts", "INTEGER NOT NULL DEFAULT 0"},
                                        {"notify_next", "REAL NOT NULL DEFAULT 0"}};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    sqlite3_stmt *s = NULL;
    int has = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('jobs') WHERE name = ?", -1, &s, NULL) == SQLITE_OK) {
      sqlite3_bind_text(s, 1, cols[i][0], -1, SQLITE_STATIC);
      has = sqlite3_step(s) == SQLITE_ROW;
    }
    sqlite3_finalize(s);
    char sql[160];
    snprintf(sql, sizeof sql, "ALTER TABLE jobs ADD COLUMN %s %s", cols[i][0], cols[i][1]);
    if (!has && sqlite3_exec(db, sql, NULL, NULL, msg) != SQLITE_OK) return -1;
  }
  /* the webhooks still to send (a partial index: it holds only those) */
  return sqlite3_exec(db, "CREATE INDEX IF NOT EXISTS jobs_notify ON jobs(notify_next) WHERE notify_state = 1", NULL,
                      NULL, msg) != SQLITE_OK;
}

void *sr_store_sqlite_open(const char *dir, char *err, size_t cap) {
  char path[4096];
  snprintf(path, sizeof path, "%s/scorerecon.db", dir);
  sq_store *st = calloc(1, sizeof *st);
  if (!st) return snprintf(err, cap, "out of memory"), NULL;
  if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
      SQLITE_OK) {
    snprintf(err, cap, "cannot open %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
    sqlite3_close(st->db);
    free(st);
    return NULL;
  }
  sqlite3_busy_timeout(st->db, 5000);
  char *msg = NULL;
  if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg) != SQLITE_OK ||
      sqlite3_exec(st->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK || add_columns(st->db, &msg)) {
    snprintf(err, cap, "cannot set up %s: %s", path, msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(st->db);
    free(st);
    return NULL;
  }
  pthread_mutex_init(&st->mu, NULL);
  return st;
}

static void sq_close(void *self_) {
  sq_store *st = self_;
  sqlite3_close(st->db);
  pthread_mutex_destroy(&st->mu);
  free(st);
}

/* After a failed write: SR_STORE_FULL when the file system is full (SQLite maps ENOSPC to SQLITE_FULL), else
 * SR_STORE_ERROR; logged once per failure, so a full disk names itself in the server log. */
static sr_store_rc write_error(sq_store *st, const char *what) {
  int code = sqlite3_errcode(st->db);
  st->write_failed = 1;
  fprintf(stderr, "scorerecon: job store: %s failed: %s\n", what, sqlite3_errmsg(st->db));
  return code == SQLITE_FULL ? SR_STORE_FULL : SR_STORE_ERROR;
}

/* COMMIT, or ROLLBACK when the commit itself fails (a full disk fails here, at the WAL append): a failed COMMIT
 * leaves the transaction open, and the next BEGIN would fail for ever. Returns 0 or a write_error code. */
static sr_store_rc commit(sq_store *st, const char *what) {
  if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
    st->write_failed = 0;
    return SR_STORE_OK;
  }
  sr_store_rc rc = write_error(st, what);
  if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* Runs one bound UPDATE or DELETE and finalizes it: OK when it changed a row, NONE when none matched. */
static sr_store_rc step_write(sq_store *st, sqlite3_stmt *s, const char *what) {
  sr_store_rc rc;
  if (sqlite3_step(s) == SQLITE_DONE) {
    rc = sqlite3_changes(st->db) > 0 ? SR_STORE_OK : SR_STORE_NONE;
    st->write_failed = 0;
  } else {
    rc = write_error(st, what);
  }
  sqlite3_finalize(s);
  return rc;
}

/* The job document of column col, copied (malloc'd, NUL-terminated: the caller frees it). */
static int copy_doc(sqlite3_stmt *s, int col, char **doc, size_t *len) {
  *len = (size_t)sqlite3_column_bytes(s, col);
  *doc = malloc(*len + 1);
  if (!*doc) return -1;
  memcpy(*doc, sqlite3_column_blob(s, col), *len);
  (*doc)[*len] = 0;
  return 0;
}

static void rollback(sq_store *st) {
  if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static sqlite3_stmt *prep(sq_store *st, const char *sql) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return NULL;
  return s;
}

static sr_store_rc sq_insert(void *self_, const char *id, const char *doc, size_t len, const char *idem_key, double now,
                    long queue_max, const sr_labels *labels, const char *notify_url, char existing_id[40]) {
  sq_store *st = self_;
  int rc = SR_STORE_ERROR;
  pthread_mutex_lock(&st->mu);
  if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    rc = write_error(st, "BEGIN (insert)");
    pthread_mutex_unlock(&st->mu);
    return rc;
  }
  if (idem_key) {
    sqlite3_stmt *q = prep(st, "SELECT id, doc FROM jobs WHERE idem_key = ?");
    if (!q) goto out;
    sqlite3_bind_text(q, 1, idem_key, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW) {
      snprintf(existing_id, 40, "%s", (const char *)sqlite3_column_text(q, 0));
      const void *d = sqlite3_column_blob(q, 1);
      size_t dl = (size_t)sqlite3_column_bytes(q, 1);
      rc = (dl == len && (len == 0 || memcmp(d, doc, len) == 0)) ? SR_STORE_EXISTING : SR_STORE_KEY_REUSED;
    }
    sqlite3_finalize(q);
    if (r != SQLITE_ROW && r != SQLITE_DONE) goto out;
    if (rc != SR_STORE_ERROR) goto out;
  }
  if (queue_max > 0) { /* in the same transaction: concurrent submissions cannot overfill the queue */
    sqlite3_stmt *q = prep(st, "SELECT count(*) FROM jobs WHERE status = 'queued'");
    if (!q) goto out;
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW && sqlite3_column_int64(q, 0) >= queue_max) rc = SR_STORE_QUEUE_FULL;
    sqlite3_finalize(q);
    if (r != SQLITE_ROW || rc == SR_STORE_QUEUE_FULL) goto out;
  }
  cJSON *lj = labels ? sr_labels_json(labels) : cJSON_CreateObject();
  char *ltext = lj ? cJSON_PrintUnformatted(lj) : NULL;
  cJSON_Delete(lj);
  sqlite3_stmt *s = ltext ? prep(st, "INSERT INTO jobs(id, status, created, idem_key, doc, labels, notify_url, "
                                     "notify_state) VALUES(?, 'queued', ?, ?, ?, ?, ?, ?)") : NULL;
  if (s) {
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 2, now);
    if (idem_key) sqlite3_bind_text(s, 3, idem_key, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 3);
    sqlite3_bind_blob(s, 4, doc, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, ltext, -1, SQLITE_STATIC);
    int notify = notify_url && *notify_url;
    if (notify) sqlite3_bind_text(s, 6, notify_url, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 6);
    sqlite3_bind_int(s, 7, notify ? SR_NOTIFY_PENDING : SR_NOTIFY_NONE);
    rc = sqlite3_step(s) == SQLITE_DONE ? SR_STORE_OK : write_error(st, "insert");
    sqlite3_finalize(s);
  }
  long long seq = sqlite3_last_insert_rowid(st->db);
  for (int i = 0; rc == SR_STORE_OK && labels && i < labels->n; i++) {
    sqlite3_stmt *q = prep(st, "INSERT INTO labels(k, v, seq) VALUES(?, ?, ?)");
    if (!q) {
      rc = SR_STORE_ERROR;
      break;
    }
    sqlite3_bind_text(q, 1, labels->key[i], -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, labels->value[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, seq);
    if (sqlite3_step(q) != SQLITE_DONE) rc = write_error(st, "insert (labels)");
    sqlite3_finalize(q);
  }
  free(ltext);
out:
  if (rc == SR_STORE_OK) rc = commit(st, "insert");
  else rollback(st);
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static sr_store_rc sq_get(void *self_, const char *id, sr_job_row *row) {
  sq_store *st = self_;
  sr_store_rc rc = SR_STORE_ERROR;
  pthread_mutex_lock(&st->mu);
  sqlite3_stmt *s = prep(st, "SELECT " COLS " FROM jobs WHERE id = ?");
  if (s) {
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      read_row(s, row);
      rc = SR_STORE_OK;
    } else if (r == SQLITE_DONE) {
      rc = SR_STORE_NONE;
    }
    sqlite3_finalize(s);
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static int sq_list(void *self_, const char *const *statuses, int nstatus, const sr_labels *with, long before_seq,
                  int limit, sr_job_row *rows) {
  sq_store *st = self_;
  int n = -1;
  pthread_mutex_lock(&st->mu);
  /* status IN (?4, ...) with one placeholder per status, so that the planner uses the (status, seq) index */
  static const char *const in[6] = {"", "status IN (?4) AND ", "status IN (?4, ?5) AND ", "status IN (?4, ?5, ?6) AND ",
                                    "status IN (?4, ?5, ?6, ?7) AND ", "status IN (?4, ?5, ?6, ?7, ?8) AND "};
  if (nstatus < 0 || nstatus > 5) nstatus = 0;
  int nl = with ? with->n : 0;
  if (nl > SR_LIST_LABELS) nl = SR_LIST_LABELS;
  /* each label k:v: the job's seq among those the (k, v, seq) key lists */
  char sql[1024], lab[512] = "";
  for (int i = 0; i < nl; i++) {
    size_t o = strlen(lab);
    snprintf(lab + o, sizeof lab - o, "seq IN (SELECT seq FROM labels WHERE k = ?%d AND v = ?%d) AND ", 10 + 2 * i,
             11 + 2 * i);
  }
  snprintf(sql, sizeof sql, "SELECT " COLS " FROM jobs WHERE %s%sseq < ?2 ORDER BY seq DESC LIMIT ?3", in[nstatus],
           lab);
  sqlite3_stmt *s = prep(st, sql);
  if (s) {
    for (int i = 0; i < nstatus; i++) sqlite3_bind_text(s, 4 + i, statuses[i], -1, SQLITE_STATIC);
    for (int i = 0; i < nl; i++) {
      sqlite3_bind_text(s, 10 + 2 * i, with->key[i], -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 11 + 2 * i, with->value[i], -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 2, before_seq > 0 ? before_seq : (long)9e18);
    sqlite3_bind_int(s, 3, limit);
    n = 0;
    int r = SQLITE_DONE;
    while (n < limit && (r = sqlite3_step(s)) == SQLITE_ROW) read_row(s, &rows[n++]);
    if (r != SQLITE_ROW && r != SQLITE_DONE) { /* a read error (a corrupt page): an error, never a short list */
      fprintf(stderr, "scorerecon: job store: listing failed: %s\n", sqlite3_errmsg(st->db));
      n = -1;
    }
    sqlite3_finalize(s);
  }
  pthread_mutex_unlock(&st->mu);
  return n;
}

static sr_store_rc sq_claim(void *self_, double now, sr_job_row *row, char **doc, size_t *len) {
  sq_store *st = self_;
  sr_store_rc rc = SR_STORE_ERROR;
  *doc = NULL;
  pthread_mutex_lock(&st->mu);
  if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    rc = write_error(st, "BEGIN (claim)");
    goto unlock;
  }
  sqlite3_stmt *s = prep(st, "SELECT " COLS ", doc FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1");
  if (!s) goto done;
  int r = sqlite3_step(s);
  if (r == SQLITE_DONE) {
    rc = SR_STORE_NONE;
  } else if (r == SQLITE_ROW) {
    read_row(s, row);
    if (copy_doc(s, 15, doc, len) == 0) rc = SR_STORE_OK;
  }
  sqlite3_finalize(s);
  if (rc == SR_STORE_OK) {
    sqlite3_stmt *u = prep(st, "UPDATE jobs SET status = 'running', started = ?, attempts = attempts + 1, step = 0 "
                               "WHERE id = ?");
    if (!u) rc = SR_STORE_ERROR;
    else {
      sqlite3_bind_double(u, 1, now);
      sqlite3_bind_text(u, 2, row->id, -1, SQLITE_STATIC);
      if (sqlite3_step(u) != SQLITE_DONE) rc = write_error(st, "claim");
      sqlite3_finalize(u);
    }
    /* the claim holds only once COMMIT succeeds: a full disk fails there, and the job must stay queued */
    if (rc == SR_STORE_OK) rc = commit(st, "claim");
    if (rc == SR_STORE_OK) {
      snprintf(row->status, sizeof row->status, "running");
      row->started = now;
      row->attempts++;
    }
  }
done:
  if (rc != SR_STORE_OK) {
    free(*doc);
    *doc = NULL;
    rollback(st);
  }
unlock:
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static sr_store_rc sq_set_status(void *self_, const char *id, const char *from, const char *to, double now,
                                const char *error, const char *field) {
  sq_store *st = self_;
  sr_store_rc rc = SR_STORE_ERROR;
  pthread_mutex_lock(&st->mu);
  int final = strcmp(to, "queued") && strcmp(to, "running");
  sqlite3_stmt *s = prep(st, from ? "UPDATE jobs SET status = ?1, finished = ?2, error = ?3, error_field = ?4 "
                                    "WHERE id = ?5 AND status = ?6"
                                  : "UPDATE jobs SET status = ?1, finished = ?2, error = ?3, error_field = ?4 "
                                    "WHERE id = ?5");
  if (s) {
    sqlite3_bind_text(s, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 2, final ? now : 0.0);
    sqlite3_bind_text(s, 3, error ? error : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, field ? field : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, id, -1, SQLITE_STATIC);
    if (from) sqlite3_bind_text(s, 6, from, -1, SQLITE_STATIC);
    rc = step_write(st, s, "status update");
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static sr_store_rc sq_set_progress(void *self_, const char *id, long step, long total) {
  sq_store *st = self_;
  sr_store_rc rc = SR_STORE_ERROR;
  pthread_mutex_lock(&st->mu);
  sqlite3_stmt *s = prep(st, "UPDATE jobs SET step = ?, total = ? WHERE id = ?");
  if (s) {
    sqlite3_bind_int64(s, 1, step);
    sqlite3_bind_int64(s, 2, total);
    sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
    rc = step_write(st, s, "progress update");
    if (rc == SR_STORE_NONE) rc = SR_STORE_OK; /* no such job (any more): nothing to record */
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static int sq_requeue_running(void *self_, double now) {
  (void)now;
  sq_store *st = self_;
  pthread_mutex_lock(&st->mu);
  int n = -1;
  if (sqlite3_exec(st->db, "UPDATE jobs SET status = 'queued', step = 0 WHERE status = 'running'", NULL, NULL,
                   NULL) == SQLITE_OK)
    n = sqlite3_changes(st->db);
  pthread_mutex_unlock(&st->mu);
  return n;
}

static int sq_counts(void *self_, long counts[5]) {
  sq_store *st = self_;
  static const char *names[5] = {"queued", "running", "succeeded", "failed", "cancelled"};
  memset(counts, 0, 5 * sizeof(long));
  int rc = -1;
  pthread_mutex_lock(&st->mu);
  sqlite3_stmt *s = prep(st, "SELECT status, count(*) FROM jobs GROUP BY status");
  if (s) {
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
      const char *name = (const char *)sqlite3_column_text(s, 0);
      for (int i = 0; i < 5; i++)
        if (name && !strcmp(name, names[i])) counts[i] = sqlite3_column_int64(s, 1);
    }
    if (r == SQLITE_DONE) rc = 0;
    else fprintf(stderr, "scorerecon: job store: counting failed: %s\n", sqlite3_errmsg(st->db));
    sqlite3_finalize(s);
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static int sq_prune(void *self_, double before, void (*on_delete)(void *user, const char *id), void *user) {
  sq_store *st = self_;
  int n = 0;
  pthread_mutex_lock(&st->mu);
  sqlite3_stmt *s = prep(st, "SELECT id FROM jobs WHERE status IN ('succeeded','failed','cancelled') "
                             "AND finished > 0 AND finished < ? LIMIT 1000");
  if (s) {
    sqlite3_bind_double(s, 1, before);
    while (sqlite3_step(s) == SQLITE_ROW) {
      const char *id = (const char *)sqlite3_column_text(s, 0);
      if (on_delete) on_delete(user, id);
      sqlite3_stmt *d = prep(st, "DELETE FROM jobs WHERE id = ?");
      if (d) {
        sqlite3_bind_text(d, 1, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(d) == SQLITE_DONE) n++;
        sqlite3_finalize(d);
      }
    }
    sqlite3_finalize(s);
  }
  if (n > 0) /* the labels of the jobs just deleted */
    sqlite3_exec(st->db, "DELETE FROM labels WHERE seq NOT IN (SELECT seq FROM jobs)", NULL, NULL, NULL);
  pthread_mutex_unlock(&st->mu);
  return n;
}

/* Ready means the store answers a real read through the table and its index, not only "SELECT 1". */
static int sq_ok(void *self_) {
  sq_store *st = self_;
  pthread_mutex_lock(&st->mu);
  int ok = sqlite3_exec(st->db, "SELECT count(*) FROM jobs INDEXED BY jobs_status_seq WHERE status >= ''; "
                                "SELECT count(*) FROM jobs NOT INDEXED", NULL, NULL, NULL) == SQLITE_OK;
  pthread_mutex_unlock(&st->mu);
  return ok;
}

static sr_store_rc sq_delete_finished(void *self_, const char *id) {
  sq_store *st = self_;
  sr_store_rc rc = SR_STORE_ERROR;
  pthread_mutex_lock(&st->mu);
  sqlite3_stmt *l = prep(st, "DELETE FROM labels WHERE seq = (SELECT seq FROM jobs WHERE id = ? AND status IN "
                             "('succeeded','failed','cancelled'))");
  if (l) {
    sqlite3_bind_text(l, 1, id, -1, SQLITE_STATIC);
    if (step_write(st, l, "delete (labels)") < 0) {
      pthread_mutex_unlock(&st->mu);
      return SR_STORE_ERROR;
    }
  }
  sqlite3_stmt *s = prep(st, "DELETE FROM jobs WHERE id = ? AND status IN ('succeeded','failed','cancelled')");
  if (s) {
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = step_write(st, s, "delete");
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

/* Writable: after a failed write, one small real write must commit again before the store counts as writable
 * (readiness asks this; a full disk shows here until space is back, with no restart). */
static int sq_writable(void *self_, double now) {
  sq_store *st = self_;
  pthread_mutex_lock(&st->mu);
  if (st->write_failed) {
    sqlite3_stmt *s = NULL;
    int ok = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
             (s = prep(st, "INSERT OR REPLACE INTO probe(k, t) VALUES(1, ?)")) != NULL;
    if (ok) {
      sqlite3_bind_double(s, 1, now);
      ok = sqlite3_step(s) == SQLITE_DONE;
    }
    sqlite3_finalize(s);
    if (ok && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) st->write_failed = 0;
    else rollback(st);
  }
  int writable = !st->write_failed;
  pthread_mutex_unlock(&st->mu);
  return writable;
}

static sr_store_rc sq_get_doc(void *self_, const char *id, char **doc, size_t *len) {
  sq_store *st = self_;
  sr_store_rc rc = SR_STORE_ERROR;
  *doc = NULL;
  pthread_mutex_lock(&st->mu);
  sqlite3_stmt *s = prep(st, "SELECT doc FROM jobs WHERE id = ?");
  if (s) {
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      if (copy_doc(s, 0, doc, len) == 0) rc = SR_STORE_OK;
    } else if (r == SQLITE_DONE) {
      rc = SR_STORE_NONE;
    }
    sqlite3_finalize(s);
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

static int sq_notify_due(void *self_, double now, int max, sr_notify_due *out) {
  sq_store *st = self_;
  int n = -1;
  pthread_mutex_lock(&st->mu);
  sqlite3_stmt *s = prep(st, "SELECT id, notify_url, notify_attempts FROM jobs WHERE notify_state = 1 AND status IN "
                             "('succeeded','failed','cancelled') AND notify_next <= ? ORDER BY notify_next LIMIT ?");
  if (s) {
    sqlite3_bind_double(s, 1, now);
    sqlite3_bind_int(s, 2, max);
    n = 0;
    while (n < max && sqlite3_step(s) == SQLITE_ROW) {
      snprintf(out[n].id, sizeof out[n].id, "%s", (const char *)sqlite3_column_text(s, 0));
      snprintf(out[n].url, sizeof out[n].url, "%s", (const char *)sqlite3_column_text(s, 1));
      out[n].attempts = sqlite3_column_int(s, 2);
      n++;
    }
    sqlite3_finalize(s);
  }
  pthread_mutex_unlock(&st->mu);
  return n;
}

static sr_store_rc sq_notify_set(void *self_, const char *id, int state, int attempts, double next) {
  sq_store *st = self_;
  sr_store_rc rc = SR_STORE_ERROR;
  pthread_mutex_lock(&st->mu);
  sqlite3_stmt *s = prep(st, "UPDATE jobs SET notify_state = ?, notify_attempts = ?, notify_next = ? WHERE id = ?");
  if (s) {
    sqlite3_bind_int(s, 1, state);
    sqlite3_bind_int(s, 2, attempts);
    sqlite3_bind_double(s, 3, next);
    sqlite3_bind_text(s, 4, id, -1, SQLITE_STATIC);
    rc = step_write(st, s, "webhook state");
  }
  pthread_mutex_unlock(&st->mu);
  return rc;
}

/* One node: leases never expire and are not renewed (requeue_running at start covers a crash). */
static int sq_requeue_expired(void *self_, double now) {
  (void)self_, (void)now;
  return 0;
}

static sr_store_rc sq_renew(void *self_, const char *id, double now, long step, long total, int *cancel) {
  (void)self_, (void)id, (void)now, (void)step, (void)total, (void)cancel;
  return SR_STORE_OK;
}

const sr_store_ops sr_store_sqlite_ops = {
    "sqlite", sq_close, sq_insert, sq_get, sq_get_doc, sq_list, sq_claim, sq_set_status, sq_set_progress,
    sq_requeue_running, sq_requeue_expired, sq_renew, sq_counts, sq_prune, sq_ok, sq_delete_finished, sq_writable,
    sq_notify_due, sq_notify_set, NULL, NULL, NULL, NULL};
