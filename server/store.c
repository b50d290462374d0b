/* store.c — the job store's one interface (store.h), dispatched to its backend: SQLite (store_sqlite.c, the
 * default) or PostgreSQL (store_pg.c), chosen by the store URL. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

struct sr_store {
  const sr_store_ops *ops;
  void *self;
};

int sr_store_url_shared(const char *url) {
  return url && (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11));
}

int sr_store_open(sr_store **out, const char *url, const char *data_dir, double lease_s, char *err, size_t cap) {
  *out = NULL;
  sr_store *st = calloc(1, sizeof *st);
  if (!st) return snprintf(err, cap, "out of memory"), -1;
  if (!url || !*url || !strncmp(url, "sqlite:", 7)) {
    const char *dir = url && url[0] && url[7] ? url + 7 : data_dir;
    st->ops = &sr_store_sqlite_ops;
    st->self = sr_store_sqlite_open(dir, err, cap);
  } else if (sr_store_url_shared(url)) {
    st->ops = &sr_store_pg_ops;
    st->self = sr_store_pg_open(url, lease_s, err, cap);
  } else {
    snprintf(err, cap, "--store %s: not sqlite:DIR or postgresql://...", url);
  }
  if (!st->self) {
    free(st);
    return -1;
  }
  *out = st;
  return 0;
}

void sr_store_close(sr_store *st) {
  if (!st) return;
  st->ops->close(st->self);
  free(st);
}

const char *sr_store_backend(const sr_store *st) { return st->ops->name; }

sr_store_rc sr_store_insert(sr_store *st, const char *id, const char *doc, size_t len, const char *idem_key, double now,
                            long queue_max, const sr_labels *labels, const char *notify_url, char existing_id[40]) {
  return st->ops->insert(st->self, id, doc, len, idem_key, now, queue_max, labels, notify_url, existing_id);
}
sr_store_rc sr_store_get(sr_store *st, const char *id, sr_job_row *row) { return st->ops->get(st->self, id, row); }
sr_store_rc sr_store_get_doc(sr_store *st, const char *id, char **doc, size_t *len) {
  return st->ops->get_doc(st->self, id, doc, len);
}
int sr_store_list(sr_store *st, const char *const *statuses, int nstatus, const sr_labels *with, long before_seq,
                  int limit, sr_job_row *rows) {
  return st->ops->list(st->self, statuses, nstatus, with, before_seq, limit, rows);
}
sr_store_rc sr_store_claim(sr_store *st, double now, sr_job_row *row, char **doc, size_t *len) {
  return st->ops->claim(st->self, now, row, doc, len);
}
sr_store_rc sr_store_set_status(sr_store *st, const char *id, const char *from, const char *to, double now,
                                const char *error, const char *field) {
  return st->ops->set_status(st->self, id, from, to, now, error, field);
}
sr_store_rc sr_store_set_progress(sr_store *st, const char *id, long step, long total) {
  return st->ops->set_progress(st->self, id, step, total);
}
int sr_store_requeue_running(sr_store *st, double now) { return st->ops->requeue_running(st->self, now); }
int sr_store_requeue_expired(sr_store *st, double now) { return st->ops->requeue_expired(st->self, now); }
sr_store_rc sr_store_renew(sr_store *st, const char *id, double now, long step, long total, int *cancel) {
  *cancel = 0;
  return st->ops->renew(st->self, id, now, step, total, cancel);
}
int sr_store_counts(sr_store *st, long counts[5]) { return st->ops->counts(st->self, counts); }
int sr_store_prune(sr_store *st, double before, void (*on_delete)(void *user, const char *id), void *user) {
  return st->ops->prune(st->self, before, on_delete, user);
}
int sr_store_ok(sr_store *st) { return st->ops->ok(st->self); }
sr_store_rc sr_store_delete_finished(sr_store *st, const char *id) { return st->ops->delete_finished(st->self, id); }
int sr_store_writable(sr_store *st, double now) { return st->ops->writable(st->self, now); }
int sr_store_notify_due(sr_store *st, double now, int max, sr_notify_due *out) {
  return st->ops->notify_due(st->self, now, max, out);
}
sr_store_rc sr_store_notify_set(sr_store *st, const char *id, int state, int attempts, double next) {
  return st->ops->notify_set(st->self, id, state, attempts, next);
}

int sr_store_shares_results(const sr_store *st) { return st->ops->fetch_files != NULL; }
sr_store_rc sr_store_finish_with_files(sr_store *st, const char *id, double now, const char *dir,
                                       const char *const *names) {
  if (!st->ops->finish_with_files) return st->ops->set_status(st->self, id, "running", "succeeded", now, NULL, NULL);
  return st->ops->finish_with_files(st->self, id, now, dir, names);
}
sr_store_rc sr_store_fetch_files(sr_store *st, const char *id, const char *dir) {
  return st->ops->fetch_files ? st->ops->fetch_files(st->self, id, dir) : SR_STORE_NONE;
}
sr_store_rc sr_store_request_cancel(sr_store *st, const char *id) {
  return st->ops->request_cancel ? st->ops->request_cancel(st->self, id) : SR_STORE_NONE;
}
int sr_store_wait_events(sr_store *st, double timeout_s, sr_store_event_fn on_event, void *user) {
  return st->ops->wait_events ? st->ops->wait_events(st->self, timeout_s, on_event, user) : -2;
}
