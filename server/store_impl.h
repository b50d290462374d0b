/* store_impl.h — what a store backend provides (store_sqlite.c, store_pg.c); store.c dispatches store.h's calls
 * to it. Each function has the meaning of its store.h namesake; `self` is the backend's own state. */
#ifndef SR_STORE_IMPL_H
#define SR_STORE_IMPL_H
#include "store.h"

typedef struct {
  const char *name;
  void (*close)(void *self);
  sr_store_rc (*insert)(void *self, const char *id, const char *doc, size_t len, const char *idem_key, double now,
                        long queue_max, const sr_labels *labels, const char *notify_url, char existing_id[40]);
  sr_store_rc (*get)(void *self, const char *id, sr_job_row *row);
  sr_store_rc (*get_doc)(void *self, const char *id, char **doc, size_t *len);
  int (*list)(void *self, const char *const *statuses, int nstatus, const sr_labels *with, long before_seq,
              int limit, sr_job_row *rows);
  sr_store_rc (*claim)(void *self, double now, sr_job_row *row, char **doc, size_t *len);
  sr_store_rc (*set_status)(void *self, const char *id, const char *from, const char *to, double now,
                            const char *error, const char *field);
  sr_store_rc (*set_progress)(void *self, const char *id, long step, long total);
  int (*requeue_running)(void *self, double now);
  int (*requeue_expired)(void *self, double now);
  sr_store_rc (*renew)(void *self, const char *id, double now, long step, long total, int *cancel);
  int (*counts)(void *self, long counts[5]);
  int (*prune)(void *self, double before, void (*on_delete)(void *user, const char *id), void *user);
  int (*ok)(void *self);
  sr_store_rc (*delete_finished)(void *self, const char *id);
  int (*writable)(void *self, double now);
  int (*notify_due)(void *self, double now, int max, sr_notify_due *out);
  sr_store_rc (*notify_set)(void *self, const char *id, int state, int attempts, double next);
  /* several nodes: NULL where the backend is one node (store.c then answers as store.h says for SQLite) */
  sr_store_rc (*finish_with_files)(void *self, const char *id, double now, const char *dir, const char *const *names);
  sr_store_rc (*fetch_files)(void *self, const char *id, const char *dir);
  sr_store_rc (*request_cancel)(void *self, const char *id);
  int (*wait_events)(void *self, double timeout_s, sr_store_event_fn on_event, void *user);
} sr_store_ops;

/* Each opens its store; on failure returns NULL with err saying why. */
void *sr_store_sqlite_open(const char *dir, char *err, size_t cap);
void *sr_store_pg_open(const char *conninfo, double lease_s, char *err, size_t cap);
extern const sr_store_ops sr_store_sqlite_ops, sr_store_pg_ops;
#endif
