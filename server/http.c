/* http.c — the HTTP API on libmicrohttpd: routing, request bodies under a size limit, authentication,
 * problem+json errors (RFC 9457), long-polls by suspend/resume, result files, health and Prometheus metrics.
 * The job document goes through the one parser (sr_job_parse) exactly as `scorerecon run` reads it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "array_json.h"
#include "ctx.h"
#include "events.h"
#include "job_view.h"
#include "models.h"
#include "webhooks.h"

#define PROBLEM_BASE "urn:scorerecon:problem:"

/* One open connection (MHD's socket context), listed in srv->conns under srv->mu for sr_http_reap_slow. */
typedef struct sr_conn {
  int fd;
  double since;          /* the connection opened, or its previous request ended (under srv->mu) */
  atomic_size_t body;    /* body bytes of the current request so far */
  atomic_int answering;  /* the whole request is in: being answered, or suspended for ?wait= */
  int reaped;            /* shut down once already (under srv->mu) */
  struct sr_conn *prev, *next;
} sr_conn;

typedef struct {
  sr_server *srv;
  char *body;
  size_t len, cap;
  int too_large;
  int waiting;        /* suspended for ?wait= (at least once) */
  double wait_deadline;   /* ?wait=: when to answer at the latest */
  char seen_status[16];   /* ?wait=: the status when the request arrived */
  int counted;
  int no_body;        /* answered on its headers: any body bytes that still come are dropped, never kept */
} req_state;

/* ---------------------------------------------------------------- responses */

static enum MHD_Result send_buf(sr_server *srv, struct MHD_Connection *c, unsigned code, const char *ctype,
                                char *buf, size_t len, const char *hname, const char *hval) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(buf);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", ctype);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  if (hname) MHD_add_response_header(r, hname, hval);
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  if (code < 600) atomic_fetch_add(&srv->http_by_code[code], 1);
  return ret;
}

/* A file, streamed by libmicrohttpd from fd (which it closes): memory does not grow with the file or the readers. */
static enum MHD_Result send_fd(sr_server *srv, struct MHD_Connection *c, int fd, size_t len, const char *ctype,
                               const char *disposition) {
  struct MHD_Response *r = MHD_create_response_from_fd(len, fd);
  if (!r) {
    close(fd);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", ctype);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  if (disposition) MHD_add_response_header(r, "Content-Disposition", disposition);
  enum MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  atomic_fetch_add(&srv->http_by_code[200], 1);
  return ret;
}

static enum MHD_Result send_json(sr_server *srv, struct MHD_Connection *c, unsigned code, cJSON *doc,
                                 const char *hname, const char *hval) {
  char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
  cJSON_Delete(doc);
  if (!s) return MHD_NO;
  return send_buf(srv, c, code, "application/json", s, strlen(s), hname, hval);
}

static const char *reason(unsigned code) {
  switch (code) {
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 409: return "Conflict";
  case 413: return "Content Too Large";
  case 415: return "Unsupported Media Type";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  case 507: return "Insufficient Storage";
  }
  return "Error";
}

/* application/problem+json with type, title, status, detail and (when known) the offending field. */
static enum MHD_Result problem(sr_server *srv, struct MHD_Connection *c, unsigned code, const char *slug,
                               const char *detail, const char *field, const char *hname, const char *hval) {
  cJSON *p = cJSON_CreateObject();
  char type[128];
  snprintf(type, sizeof type, PROBLEM_BASE "%s", slug);
  cJSON_AddStringToObject(p, "type", type);
  cJSON_AddStringToObject(p, "title", reason(code));
  cJSON_AddNumberToObject(p, "status", code);
  cJSON_AddStringToObject(p, "detail", detail);
  if (field && *field) cJSON_AddStringToObject(p, "field", field);
  char *s = cJSON_PrintUnformatted(p);
  cJSON_Delete(p);
  if (!s) return MHD_NO;
  return send_buf(srv, c, code, "application/problem+json", s, strlen(s), hname, hval);
}

/* ---------------------------------------------------------------- helpers */

static enum MHD_Result too_large(sr_server *srv, struct MHD_Connection *c) {
  char d[256];
  snprintf(d, sizeof d, "the body is larger than the limit of %zu bytes (--max-body); send images as base64 ARRAYs "
           "(4/3 byte per byte of float32), never as nested lists", srv->cfg.limits.max_doc_bytes);
  return problem(srv, c, 413, "body-too-large", d, NULL, "Connection", "close");
}

/* The 413 for a body that passes the limit while it streams in (chunked, or longer than its Content-Length).
 * libmicrohttpd cannot queue a response while it hands the handler body bytes, and answers only after the last
 * chunk; so the answer is written to the socket here (nothing else of this request has been sent on it: the
 * previous response was complete before this request's body was read), and the connection is then closed. */
static void too_large_now(sr_server *srv, struct sr_conn *k) {
  atomic_fetch_add(&srv->http_by_code[413], 1);
  if (!k || k->fd < 0) return;
  char body[384], msg[640];
  int bl = snprintf(body, sizeof body, "{\"type\":\"" PROBLEM_BASE "body-too-large\",\"title\":\"Content Too Large\","
                    "\"status\":413,\"detail\":\"the body is larger than the limit of %zu bytes (--max-body); send "
                    "images as base64 ARRAYs (4/3 byte per byte of float32), never as nested lists\"}",
                    srv->cfg.limits.max_doc_bytes);
  int ml = snprintf(msg, sizeof msg, "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Type: "
                    "application/problem+json\r\nCache-Control: no-store\r\nContent-Length: %d\r\n\r\n%s", bl, body);
  if (ml > 0 && (size_t)ml < sizeof msg) {
    ssize_t w = send(k->fd, msg, (size_t)ml, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w; /* a client that does not read its answer loses it; the connection closes either way */
    shutdown(k->fd, SHUT_WR);
  }
}

/* Can the store take a write of about `need` bytes? Free space on the data dir's file system above
 * --min-free-space, and the store's last write did not fail (or a probe write commits again). */
static int storage_ok(sr_server *srv, double need) {
  double avail = sr_data_dir_free(srv);
  if (avail >= 0 && (avail <= (double)srv->cfg.min_free_bytes + need || avail == 0)) return 0;
  return sr_store_writable(srv->store, sr_now());
}

static enum MHD_Result insufficient_storage(sr_server *srv, struct MHD_Connection *c) {
  return problem(srv, c, 507, "insufficient-storage", "the data directory's file system is full (or below "
                 "--min-free-space): the job was not stored; retry later", NULL, "Retry-After", "30");
}

static int valid_id(const char *s, size_t n) {
  if (n != 32) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
  return 1;
}

static int new_id(char out[33]) {
  unsigned char b[16];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) return -1;
  for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
  return 0;
}

/* Constant-time for equal lengths; the length itself is not secret. */
static int token_ok(const sr_server *srv, struct MHD_Connection *c) {
  if (!srv->cfg.token[0]) return 1;
  const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (!h || strncasecmp(h, "Bearer ", 7)) return 0; /* the scheme name is case-insensitive (RFC 9110 §11.1) */
  const char *got = h + 7, *want = srv->cfg.token;
  size_t gl = strlen(got), wl = strlen(want);
  unsigned char diff = gl != wl;
  for (size_t i = 0; i < wl; i++) diff |= (unsigned char)(want[i] ^ (i < gl ? got[i] : 0));
  return diff == 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; }
    else return 0;
    if (k >= n - i) return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += k + 1;
  }
  return 1;
}

static int query_long(struct MHD_Connection *c, const char *key, long lo, long hi, long def, long *out) {
  const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
  if (!v) {
    *out = def;
    return 0;
  }
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (!*v || *end || errno || x < lo || x > hi) return -1;
  *out = x;
  return 0;
}

/* ---------------------------------------------------------------- slow clients */

static sr_conn *conn_of(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  sr_server *srv = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    sr_conn *k = calloc(1, sizeof *k);
    *socket_context = k;
    if (!k) return; /* not tracked: only MHD's idle timeout applies to it */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    k->fd = ci ? ci->connect_fd : -1;
    pthread_mutex_lock(&srv->mu);
    k->since = sr_now();
    k->next = srv->conns;
    if (srv->conns) srv->conns->prev = k;
    srv->conns = k;
    pthread_mutex_unlock(&srv->mu);
  } else if (*socket_context) { /* MHD_CONNECTION_NOTIFY_CLOSED comes before MHD closes the socket */
    sr_conn *k = *socket_context;
    pthread_mutex_lock(&srv->mu);
    if (k->prev) k->prev->next = k->next;
    else srv->conns = k->next;
    if (k->next) k->next->prev = k->prev;
    pthread_mutex_unlock(&srv->mu);
    free(k);
    *socket_context = NULL;
  }
}

void sr_http_reap_slow(sr_server *srv) {
  double now = sr_now(), limit = (double)srv->cfg.conn_timeout_s;
  pthread_mutex_lock(&srv->mu);
  for (sr_conn *k = srv->conns; k; k = k->next) {
    if (k->reaped || k->fd < 0 || atomic_load(&k->answering)) continue;
    if (now - k->since > limit + (double)atomic_load(&k->body) / 65536.0) {
      shutdown(k->fd, SHUT_RDWR); /* MHD sees the end of the stream and closes the connection itself */
      k->reaped = 1;
    }
  }
  pthread_mutex_unlock(&srv->mu);
}

/* ---------------------------------------------------------------- long-polls */

void sr_http_resume_waiters(sr_server *srv, const char *id, int expired) {
  double now = sr_now();
  int stopping = atomic_load(&srv->stopping);
  pthread_mutex_lock(&srv->mu);
  for (sr_waiter **p = &srv->waiters; *p;) {
    sr_waiter *w = *p;
    /* id NULL and not `expired`: every waiter (the store's events were lost for a while) */
    if (stopping || (id && !strcmp(w->id, id)) || (expired && now >= w->deadline) || (!id && !expired)) {
      *p = w->next;
      MHD_resume_connection(w->conn);
      free(w);
    } else {
      p = &w->next;
    }
  }
  pthread_mutex_unlock(&srv->mu);
}

/* ---------------------------------------------------------------- handlers */

static enum MHD_Result get_job(sr_server *srv, struct MHD_Connection *c, req_state *rs, const char *id) {
  sr_job_row row;
  sr_store_rc rc = sr_store_get(srv->store, id, &row);
  if (rc == SR_STORE_NONE) return problem(srv, c, 404, "not-found", "no job with this id", "id", NULL, NULL);
  if (rc != SR_STORE_OK) return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  long wait;
  if (query_long(c, "wait", 0, srv->cfg.max_wait_s, 0, &wait))
  {
    char d[128];
    snprintf(d, sizeof d, "wait must be an integer number of seconds from 0 to %d (this server's --max-wait)",
             srv->cfg.max_wait_s);
    return problem(srv, c, 400, "bad-query", d, "wait", NULL, NULL);
  }
  double now = sr_now();
  if (wait > 0 && !rs->waiting) { /* the first call: remember what the client has seen */
    rs->wait_deadline = now + (double)wait;
    snprintf(rs->seen_status, sizeof rs->seen_status, "%s", row.status);
  }
  /* Hold the answer while the status is still the one first seen. A resumed call may find it unchanged: waiters
   * are woken for every change of their job, also for one this request had already seen (a worker announces
   * "running" only after the store says so), or by a lost race; then it waits again, until its own deadline. */
  if (wait > 0 && !sr_job_terminal(row.status) && !strcmp(row.status, rs->seen_status) && now < rs->wait_deadline &&
      !atomic_load(&srv->stopping)) {
    sr_waiter *w = calloc(1, sizeof *w);
    if (w) {
      rs->waiting = 1;
      w->conn = c;
      snprintf(w->id, sizeof w->id, "%s", id);
      w->deadline = rs->wait_deadline;
      MHD_suspend_connection(c);
      pthread_mutex_lock(&srv->mu);
      w->next = srv->waiters;
      srv->waiters = w;
      pthread_mutex_unlock(&srv->mu);
      /* the status may have changed between the read and the suspension */
      sr_job_row again;
      if (sr_store_get(srv->store, id, &again) != SR_STORE_OK || strcmp(again.status, row.status))
        sr_http_resume_waiters(srv, id, 0);
      return MHD_YES;
    }
  }
  return send_json(srv, c, 200, sr_job_view(srv, &row), NULL, NULL);
}

/* ?status= and ?label=k:v may repeat: the statuses named, each once; the labels (all must match); what was bad. */
typedef struct {
  const char *names[5];
  int n, bad;
  sr_labels labels;
  int bad_label;
} status_filter;

static enum MHD_Result collect_status(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  status_filter *f = cls;
  if (!strcmp(key, "label")) {
    const char *colon = value ? strchr(value, ':') : NULL;
    size_t kl = colon ? (size_t)(colon - value) : 0;
    if (!colon || kl > SR_LABEL_KEY_MAX || f->labels.n == SR_LIST_LABELS) {
      f->bad_label = 1;
      return MHD_YES;
    }
    sr_labels *l = &f->labels;
    memcpy(l->key[l->n], value, kl);
    l->key[l->n][kl] = 0;
    snprintf(l->value[l->n], sizeof l->value[l->n], "%s", colon + 1);
    if (!sr_label_key_ok(l->key[l->n]) || !sr_label_value_ok(colon + 1)) f->bad_label = 1;
    else l->n++;
    return MHD_YES;
  }
  if (strcmp(key, "status")) return MHD_YES;
  static const char *const all[5] = {"queued", "running", "succeeded", "failed", "cancelled"};
  int which = -1;
  for (int i = 0; i < 5; i++)
    if (value && !strcmp(value, all[i])) which = i;
  if (which < 0) {
    f->bad = 1;
    return MHD_YES;
  }
  for (int i = 0; i < f->n; i++)
    if (f->names[i] == all[which]) return MHD_YES;
  f->names[f->n++] = all[which];
  return MHD_YES;
}

static enum MHD_Result list_jobs(sr_server *srv, struct MHD_Connection *c) {
  long limit, cursor;
  status_filter sf;
  memset(&sf, 0, sizeof sf);
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_status, &sf);
  if (query_long(c, "limit", 1, 1000, 50, &limit))
    return problem(srv, c, 400, "bad-query", "limit must be an integer from 1 to 1000", "limit", NULL, NULL);
  if (query_long(c, "cursor", 1, 9000000000000000000L, 0, &cursor))
    return problem(srv, c, 400, "bad-query", "cursor must be a value of next_cursor from an earlier page",
                   "cursor", NULL, NULL);
  if (sf.bad)
    return problem(srv, c, 400, "bad-query", "status must be queued, running, succeeded, failed or cancelled "
                   "(repeat it for several)", "status", NULL, NULL);
  if (sf.bad_label)
    return problem(srv, c, 400, "bad-query", "label must be KEY:VALUE with a label key and value (docs/job-format.md, "
                   "Labels), at most 4 of them (all must match)", "label", NULL, NULL);
  sr_job_row *rows = calloc((size_t)limit, sizeof *rows);
  if (!rows) return problem(srv, c, 500, "internal", "out of memory", NULL, NULL, NULL);
  int n = sr_store_list(srv->store, sf.names, sf.n, &sf.labels, cursor, (int)limit, rows);
  if (n < 0) {
    free(rows);
    return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  }
  cJSON *o = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(o, "jobs");
  for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, sr_job_view(srv, &rows[i]));
  if (n == limit && n > 0) {
    char b[32];
    snprintf(b, sizeof b, "%ld", rows[n - 1].seq);
    cJSON_AddStringToObject(o, "next_cursor", b);
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  free(rows);
  return send_json(srv, c, 200, o, NULL, NULL);
}

static enum MHD_Result post_job(sr_server *srv, struct MHD_Connection *c, req_state *rs) {
  if (rs->too_large) return too_large(srv, c);
  if (atomic_load(&srv->stopping))
    return problem(srv, c, 503, "shutting-down", "the server is shutting down", NULL, "Retry-After", "5");
  if (rs->len == 0) return problem(srv, c, 400, "malformed-json", "the body is empty", "job", NULL, NULL);
  if (!utf8_valid((const unsigned char *)rs->body, rs->len))
    return problem(srv, c, 400, "malformed-json", "the body is not valid UTF-8", "job", NULL, NULL);
  const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
  if (key) {
    size_t kl = strlen(key);
    int ok = kl >= 1 && kl <= 255;
    for (size_t i = 0; ok && i < kl; i++) ok = key[i] > 32 && key[i] < 127;
    if (!ok)
      return problem(srv, c, 400, "bad-header", "Idempotency-Key must be 1 to 255 printable ASCII characters",
                     "Idempotency-Key", NULL, NULL);
  }
  /* the row (the body) plus as much again for the WAL, before a parse that would be wasted */
  if (!storage_ok(srv, 2.0 * (double)rs->len)) return insufficient_storage(srv, c);
  sr_problem pb;
  sr_error err;
  sr_job_meta meta = {0};
  sr_status st = sr_job_parse_meta(rs->body, rs->len, &srv->cfg.limits, &pb, &err, &meta);
  if (st) {
    int syntax = st == SR_ESYNTAX;
    if (st == SR_ENOMEM) return problem(srv, c, 503, "out-of-memory", err.msg, err.field, "Retry-After", "5");
    return problem(srv, c, syntax ? 400 : 422,
                   syntax ? "malformed-json" : st == SR_ELIMIT ? "limit-exceeded" : "invalid-job", err.msg,
                   err.field, NULL, NULL);
  }
  sr_problem_clear(&pb);
  char why[256];
  if (meta.notify_url[0] && !sr_webhook_allowed(&srv->cfg, meta.notify_url, why, sizeof why))
    return problem(srv, c, 422, "invalid-job", why, "notify.url", NULL, NULL);
  char id[33], existing[40] = "";
  if (new_id(id)) return problem(srv, c, 500, "internal", "no randomness for a job id", NULL, NULL, NULL);
  /* a retry of an accepted job (same key, same body) gets its job even when the queue is full */
  sr_store_rc rc =
      sr_store_insert(srv->store, id, rs->body, rs->len, key, sr_now(), srv->cfg.queue_max, &meta.labels,
                      meta.notify_url, existing);
  if (rc == SR_STORE_FULL) return insufficient_storage(srv, c);
  if (rc < 0) return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  if (rc == SR_STORE_QUEUE_FULL)
    return problem(srv, c, 429, "queue-full", "the queue is full; retry later", NULL, "Retry-After", "10");
  if (rc == SR_STORE_KEY_REUSED)
    return problem(srv, c, 422, "idempotency-key-reused", "this Idempotency-Key was used with another body",
                   "Idempotency-Key", NULL, NULL);
  const char *jid = rc == SR_STORE_EXISTING ? existing : id;
  sr_job_row row; /* read before a worker is woken: a new job answers as queued */
  if (sr_store_get(srv->store, jid, &row) != SR_STORE_OK)
    return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  if (rc == SR_STORE_OK) sr_jobs_notify(srv);
  char loc[64];
  snprintf(loc, sizeof loc, "/v1/jobs/%s", jid);
  return send_json(srv, c, 202, sr_job_view(srv, &row), "Location", loc);
}

/* DELETE: a queued job is cancelled (200), a running one is stopped (200, or 202 while it stops); a finished one
 * (succeeded, failed, cancelled) is purged, its row and its files (204). */
static enum MHD_Result delete_job(sr_server *srv, struct MHD_Connection *c, const char *id) {
  sr_job_row row;
  sr_store_rc rc = sr_store_get(srv->store, id, &row);
  if (rc == SR_STORE_NONE) return problem(srv, c, 404, "not-found", "no job with this id", "id", NULL, NULL);
  if (rc != SR_STORE_OK) return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  if (sr_job_terminal(row.status)) {
    sr_store_rc dr = sr_store_delete_finished(srv->store, id);
    if (dr == SR_STORE_FULL) return insufficient_storage(srv, c);
    if (dr < 0) return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
    if (dr == SR_STORE_NONE) return problem(srv, c, 404, "not-found", "no job with this id", "id", NULL, NULL); /* raced */
    sr_jobs_remove_result(srv, id); /* after the row: a row never points at files that are gone */
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, 204, r);
    MHD_destroy_response(r);
    atomic_fetch_add(&srv->http_by_code[204], 1);
    return ret;
  }
  sr_cancel_rc cr = sr_jobs_cancel(srv, id);
  if (cr == SR_CANCEL_ASKED) { /* running: it stops within one sampler step; wait for that, a few seconds at most */
    double until = sr_now() + 5;
    pthread_mutex_lock(&srv->mu);
    while (sr_now() < until) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 50 * 1000 * 1000;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&srv->status_cv, &srv->mu, &ts);
      pthread_mutex_unlock(&srv->mu);
      int done = sr_store_get(srv->store, id, &row) == SR_STORE_OK && sr_job_terminal(row.status);
      pthread_mutex_lock(&srv->mu);
      if (done) break;
    }
    pthread_mutex_unlock(&srv->mu);
  } else if (cr == SR_CANCEL_STORE_FULL) {
    return insufficient_storage(srv, c);
  } else if (cr < 0) {
    return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  }
  /* SR_CANCEL_FINAL: it finished between the read and the cancel: answer with what it is now (a second DELETE
   * purges it) */
  if (sr_store_get(srv->store, id, &row) != SR_STORE_OK)
    return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  return send_json(srv, c, sr_job_terminal(row.status) ? 200 : 202, sr_job_view(srv, &row), NULL, NULL);
}

/* Replaces every ARRAY object in the tree with nested lists. */
static int to_lists(cJSON *v) {
  for (cJSON *ch = v->child; ch; ch = ch->next) {
    if (cJSON_IsObject(ch) && cJSON_GetObjectItemCaseSensitive(ch, "dtype") &&
        cJSON_GetObjectItemCaseSensitive(ch, "data")) {
      const cJSON *dt = cJSON_GetObjectItemCaseSensitive(ch, "dtype");
      int cplx = cJSON_IsString(dt) && !strcmp(dt->valuestring, "complex64");
      sr_jarray a;
      sr_error e;
      if (sr_jarray_decode(ch, "result", cplx, (size_t)1 << 40, &a, &e)) return -1;
      cJSON *l = sr_jarray_encode(a.data, a.rank, a.shape, cplx, 1);
      sr_free(a.data);
      if (!l) return -1;
      if (ch->string) cJSON_ReplaceItemInObjectCaseSensitive(v, ch->string, l);
      else return -1;
      ch = l;
    } else if (cJSON_IsObject(ch) || cJSON_IsArray(ch)) {
      if (to_lists(ch)) return -1;
    }
  }
  return 0;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct stat sb;
  if (fstat(fileno(f), &sb) || sb.st_size < 0) {
    fclose(f);
    return NULL;
  }
  char *buf = malloc((size_t)sb.st_size + 1);
  if (buf && fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) {
    buf[sb.st_size] = 0;
    *len = (size_t)sb.st_size;
  }
  return buf;
}

static enum MHD_Result get_result(sr_server *srv, struct MHD_Connection *c, const char *id, const char *file) {
  sr_job_row row;
  sr_store_rc rc = sr_store_get(srv->store, id, &row);
  if (rc == SR_STORE_NONE) return problem(srv, c, 404, "not-found", "no job with this id", "id", NULL, NULL);
  if (rc != SR_STORE_OK) return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  if (strcmp(row.status, "succeeded")) {
    char d[128];
    snprintf(d, sizeof d, "the job is %s: a result exists only once it has succeeded", row.status);
    return problem(srv, c, 409, "no-result", d, "id", NULL, NULL);
  }
  char dir[1536], path[1800];
  sr_result_dir(srv, id, dir, sizeof dir);
  if (sr_jobs_local_result(srv, id)) /* several nodes: another node ran it; its files come from the store */
    return problem(srv, c, 503, "store", "the result cannot be fetched from the job store now (see the server log)",
                   NULL, "Retry-After", "1");
  if (!file) {
    const char *enc = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "encoding");
    if (enc && strcmp(enc, "lists") && strcmp(enc, "base64"))
      return problem(srv, c, 400, "bad-query", "encoding must be base64 or lists", "encoding", NULL, NULL);
    snprintf(path, sizeof path, "%s/result.json", dir);
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
      if (fd >= 0) close(fd);
      fprintf(stderr, "scorerecon: job %s succeeded but %s is missing\n", id, path);
      return problem(srv, c, 500, "missing-result", "the result file is missing from the data directory", NULL, NULL,
                     NULL);
    }
    if (!enc || !strcmp(enc, "base64")) /* streamed from the file: no copy in memory, however many readers */
      return send_fd(srv, c, fd, (size_t)sb.st_size, "application/json", NULL);
    /* nested lists cost a parse-tree node per value: bounded like a job document's (--max-json-values); base64
     * holds 3/16 of a float32 per byte of the file, an upper bound on the values */
    double values = (double)sb.st_size * 3.0 / 16.0;
    if (values > (double)srv->cfg.limits.max_json_values) {
      close(fd);
      char d[320];
      snprintf(d, sizeof d, "this result holds up to %.0f values; encoding=lists is served for at most %zu "
               "(--max-json-values): use encoding=base64 or the .npy files", values, srv->cfg.limits.max_json_values);
      return problem(srv, c, 400, "bad-query", d, "encoding", NULL, NULL);
    }
    size_t len = (size_t)sb.st_size;
    char *text = malloc(len + 1);
    size_t got = 0;
    while (text && got < len) {
      ssize_t k = read(fd, text + got, len - got);
      if (k <= 0) break;
      got += (size_t)k;
    }
    close(fd);
    cJSON *doc = text && got == len ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!doc || to_lists(doc)) {
      cJSON_Delete(doc);
      return problem(srv, c, 500, "internal", "cannot re-encode the result", NULL, NULL, NULL);
    }
    return send_json(srv, c, 200, doc, NULL, NULL);
  }
  static const char *const allowed[] = {"mean.npy", "std.npy", "samples.npy", "mean.png", "std.png", NULL};
  int ok = 0;
  for (const char *const *a = allowed; *a; a++) ok |= !strcmp(*a, file);
  if (!ok)
    return problem(srv, c, 404, "not-found", "results are mean.npy, std.npy, samples.npy, mean.png and std.png",
                   NULL, NULL, NULL);
  snprintf(path, sizeof path, "%s/%s", dir, file);
  int fd = open(path, O_RDONLY);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb)) {
    if (fd >= 0) close(fd);
    /* not asked for (404), or asked for and gone from the disk (500, as for result.json): the result document
     * holds the output exactly when the job asked for it */
    char rpath[1800], key[16];
    snprintf(rpath, sizeof rpath, "%s/result.json", dir);
    snprintf(key, sizeof key, "%.*s", (int)(strchr(file, '.') - file), file);
    size_t rlen;
    char *rtext = read_file(rpath, &rlen);
    cJSON *rdoc = rtext ? cJSON_ParseWithLength(rtext, rlen) : NULL;
    int asked = !rdoc || cJSON_GetObjectItemCaseSensitive(rdoc, key) != NULL;
    cJSON_Delete(rdoc);
    free(rtext);
    if (asked) {
      fprintf(stderr, "scorerecon: job %s succeeded but %s is missing\n", id, path);
      return problem(srv, c, 500, "missing-result", "the result file is missing from the data directory", NULL,
                     NULL, NULL);
    }
    return problem(srv, c, 404, "not-found", "this job did not ask for that output (see its outputs)", NULL, NULL,
                   NULL);
  }
  char disp[96];
  snprintf(disp, sizeof disp, "attachment; filename=\"%s-%s\"", id, file);
  return send_fd(srv, c, fd, (size_t)sb.st_size, strstr(file, ".png") ? "image/png" : "application/octet-stream",
                 disp);
}

/* The job as submitted, with every generator replaced by the ARRAY it made (the same parser, materialising), so
 * that POSTing it again, or `scorerecon run` on it, reproduces the job. A document that no longer parses here
 * (a model since removed) is served as it was submitted. */
static enum MHD_Result get_job_doc(sr_server *srv, struct MHD_Connection *c, const char *id) {
  char *doc;
  size_t len;
  sr_store_rc rc = sr_store_get_doc(srv->store, id, &doc, &len);
  if (rc == SR_STORE_NONE) return problem(srv, c, 404, "not-found", "no job with this id", "id", NULL, NULL);
  if (rc != SR_STORE_OK) return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  sr_problem pb;
  sr_error err;
  sr_job_meta meta = {.materialise = 1};
  if (sr_job_parse_meta(doc, len, &srv->cfg.limits, &pb, &err, &meta) == SR_OK) {
    sr_problem_clear(&pb);
    free(doc);
    doc = meta.doc;
    len = strlen(doc);
  } else {
    fprintf(stderr, "scorerecon: job %s: its document no longer parses (%s: %s); served as submitted\n", id,
            err.field, err.msg);
  }
  return send_buf(srv, c, 200, "application/json", doc, len, NULL, NULL);
}

static enum MHD_Result job_events(sr_server *srv, struct MHD_Connection *c, const char *id) {
  sr_job_row row;
  sr_store_rc rc = sr_store_get(srv->store, id, &row);
  if (rc == SR_STORE_NONE) return problem(srv, c, 404, "not-found", "no job with this id", "id", NULL, NULL);
  if (rc != SR_STORE_OK) return problem(srv, c, 500, "store", "the job store failed", NULL, NULL, NULL);
  int too_many;
  struct MHD_Response *r =
      sr_events_open(srv, c, id, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID"), &too_many);
  if (!r) {
    char d[128];
    snprintf(d, sizeof d, "%d event streams are open (--max-event-streams); retry later", srv->cfg.max_event_streams);
    return too_many ? problem(srv, c, 503, "too-many-streams", d, NULL, "Retry-After", "5")
                    : problem(srv, c, 503, "out-of-memory", "no memory for an event stream", NULL, "Retry-After", "5");
  }
  enum MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  atomic_fetch_add(&srv->http_by_code[200], 1);
  return ret;
}

#define P(...) o += (size_t)snprintf(b + o, o < cap ? cap - o : 0, __VA_ARGS__)
/* A Prometheus histogram: n bounds, n + 1 bucket counts (the last: above every bound), the sum; the length written
 * (as snprintf: what it would write). */
static size_t hist_text(char *b, size_t cap, const char *name, const char *help, const double *bounds, int n,
                        const atomic_long *counts, double sum) {
  size_t o = 0;
  P("# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  long cum = 0;
  for (int i = 0; i <= n; i++) {
    cum += atomic_load(&counts[i]);
    if (i < n) P("%s_bucket{le=\"%g\"} %ld\n", name, bounds[i], cum);
    else P("%s_bucket{le=\"+Inf\"} %ld\n", name, cum);
  }
  P("%s_sum %.6f\n%s_count %ld\n", name, sum, name, cum);
  return o;
}

static enum MHD_Result metrics(sr_server *srv, struct MHD_Connection *c) {
  static const char *names[5] = {"queued", "running", "succeeded", "failed", "cancelled"};
  long counts[5];
  if (sr_store_counts(srv->store, counts))  /* never zeros for a store that cannot be read */
    return problem(srv, c, 500, "store", "the job store cannot be read (see the server log)", NULL, NULL, NULL);
  size_t cap = 16384, o = 0;
  char *b = malloc(cap);
  if (!b) return MHD_NO;
  P("# HELP scorerecon_jobs Jobs in the store by status.\n# TYPE scorerecon_jobs gauge\n");
  for (int i = 0; i < 5; i++) P("scorerecon_jobs{status=\"%s\"} %ld\n", names[i], counts[i]);
  P("# HELP scorerecon_queue_depth Jobs waiting for a worker.\n# TYPE scorerecon_queue_depth gauge\n"
    "scorerecon_queue_depth %ld\n", counts[0]);
  P("# HELP scorerecon_workers_up Worker threads running.\n# TYPE scorerecon_workers_up gauge\n"
    "scorerecon_workers_up %d\n", atomic_load(&srv->workers_up));
  P("# HELP scorerecon_node This node: its role and store (value 1).\n# TYPE scorerecon_node gauge\n"
    "scorerecon_node{role=\"%s\",store=\"%s\"} 1\n", srv->cfg.role, sr_store_backend(srv->store));
  o += hist_text(b + (o < cap ? o : cap), o < cap ? cap - o : 0, "scorerecon_claim_seconds",
                 "Time a worker's successful claim of a job took (the store's round trip).", sr_claim_seconds_bounds,
                 SR_CLAIM_BUCKETS, srv->claim_hist, (double)atomic_load(&srv->claim_micros) / 1e6);
  o += hist_text(b + (o < cap ? o : cap), o < cap ? cap - o : 0, "scorerecon_job_seconds",
                 "Wall time of finished jobs.", sr_job_seconds_bounds, SR_HIST_BUCKETS, srv->job_hist,
                 (double)atomic_load(&srv->job_seconds_milli) / 1000.0);
  P("# HELP scorerecon_score_evaluations_total Prior score evaluations (per image).\n"
    "# TYPE scorerecon_score_evaluations_total counter\nscorerecon_score_evaluations_total %ld\n",
    atomic_load(&srv->score_evals));
  P("# HELP scorerecon_http_requests_total HTTP responses by status code.\n"
    "# TYPE scorerecon_http_requests_total counter\n");
  for (int code = 100; code < 600; code++) {
    long v = atomic_load(&srv->http_by_code[code]);
    if (v && o + 128 < cap) P("scorerecon_http_requests_total{code=\"%d\"} %ld\n", code, v);
  }
#undef P
  if (o >= cap) o = cap - 1;
  return send_buf(srv, c, 200, "text/plain; version=0.0.4", b, o, NULL, NULL);
}

static enum MHD_Result models(sr_server *srv, struct MHD_Connection *c) {
  return send_json(srv, c, 200, sr_models_json(srv->cfg.models_dir), NULL, NULL);
}

static enum MHD_Result not_allowed(sr_server *srv, struct MHD_Connection *c, const char *allow) {
  char d[96];
  snprintf(d, sizeof d, "this path allows %s", allow);
  return problem(srv, c, 405, "method-not-allowed", d, NULL, "Allow", allow);
}

/* ---------------------------------------------------------------- the contract, served */

/* openapi.yaml, embedded by the build (build/gen/openapi_yaml.c); weak, so that a build without it (the fuzzer's)
 * still links and answers 404. */
extern const char sr_openapi_yaml[] __attribute__((weak));
extern const size_t sr_openapi_yaml_len __attribute__((weak));

/* Bytes embedded in the binary, answered from where they lie; a file of the web page (`page`) with its headers. */
static enum MHD_Result send_embedded(sr_server *srv, struct MHD_Connection *c, const char *data, size_t len,
                                     const char *ctype, int page) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", ctype);
  if (page) {
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
                            "form-action 'self'; frame-ancestors 'none'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  }
  enum MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  atomic_fetch_add(&srv->http_by_code[200], 1);
  return ret;
}

static enum MHD_Result openapi_spec(sr_server *srv, struct MHD_Connection *c) {
  if (!sr_openapi_yaml || !&sr_openapi_yaml_len)
    return problem(srv, c, 404, "not-found", "this build does not embed openapi.yaml", NULL, NULL, NULL);
  return send_embedded(srv, c, sr_openapi_yaml, sr_openapi_yaml_len, "application/yaml", 0);
}

/* ---------------------------------------------------------------- the web page */

/* web/ and the example jobs of its form, embedded by the build (build/gen/web_files.c, tools/embed.c): a table of
 * URL path, file and bytes ended by a NULL key. Weak, as the contract above: a build without it answers 404. The
 * files are static and public (no token: the page asks for one when /v1/ answers 401); the policy allows only
 * this server's own scripts, styles and requests, and images drawn in the page. */
struct sr_embedded { const char *key, *file, *data; size_t len; };
extern const struct sr_embedded sr_web_files[] __attribute__((weak));

static enum MHD_Result web_file(sr_server *srv, struct MHD_Connection *c, const char *url, int get) {
  const struct sr_embedded *f = sr_web_files;
  while (f && f->key && strcmp(f->key, url)) f++;
  if (!f || !f->key) return problem(srv, c, 404, "not-found", "no such path (see openapi.yaml)", NULL, NULL, NULL);
  if (!get) return not_allowed(srv, c, "GET");
  const char *ext = strrchr(f->file, '.');
  static const char *const types[][2] = {{".html", "text/html; charset=utf-8"},
                                         {".js", "text/javascript; charset=utf-8"},
                                         {".css", "text/css; charset=utf-8"}, {".json", "application/json"}};
  const char *type = "application/octet-stream";
  for (size_t i = 0; ext && i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(ext, types[i][0])) type = types[i][1];
  return send_embedded(srv, c, f->data, f->len, type, 1);
}

/* ---------------------------------------------------------------- dispatch */

static enum MHD_Result route(sr_server *srv, struct MHD_Connection *c, req_state *rs, const char *url,
                             const char *method) {
  int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  if (!strcmp(url, "/healthz")) {
    if (!get) return not_allowed(srv, c, "GET");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    return send_json(srv, c, 200, o, NULL, NULL);
  }
  if (!strcmp(url, "/readyz")) {
    if (!get) return not_allowed(srv, c, "GET");
    const char *why = NULL;
    if (atomic_load(&srv->stopping)) why = "stopping";
    else if (!sr_store_ok(srv->store)) why = "the job store cannot be read";
    else if (!storage_ok(srv, 0)) why = "the job store cannot write (the data directory's file system is full)";
    else if (atomic_load(&srv->workers_up) != srv->cfg.workers) why = "not every worker is up";
    int ready = why == NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", ready ? "ready" : "not ready");
    if (why) cJSON_AddStringToObject(o, "reason", why);
    cJSON_AddNumberToObject(o, "workers", atomic_load(&srv->workers_up));
    cJSON_AddStringToObject(o, "role", srv->cfg.role);
    cJSON_AddStringToObject(o, "store", sr_store_backend(srv->store));
    return send_json(srv, c, ready ? 200 : 503, o, ready ? NULL : "Retry-After", "1");
  }
  if (!strcmp(url, "/metrics")) {
    if (!get) return not_allowed(srv, c, "GET");
    return metrics(srv, c);
  }
  if (!strcmp(srv->cfg.role, "worker")) /* runs jobs only: requests go to the api nodes */
    return problem(srv, c, 404, "not-found", "this node runs jobs only (--role worker): it serves /healthz, /readyz "
                   "and /metrics; send requests to a node with --role api or both", NULL, NULL, NULL);
  if (!strcmp(url, "/openapi.yaml")) return get ? openapi_spec(srv, c) : not_allowed(srv, c, "GET");
  if (!strcmp(url, "/") || !strncmp(url, "/ui/", 4)) return web_file(srv, c, url, get);
  if (strncmp(url, "/v1/", 4))
    return problem(srv, c, 404, "not-found", "no such path (see openapi.yaml)", NULL, NULL, NULL);
  if (!token_ok(srv, c))
    return problem(srv, c, 401, "unauthorized", "a valid 'Authorization: Bearer TOKEN' header is required", NULL,
                   "WWW-Authenticate", "Bearer");
  if (!strcmp(url, "/v1/models")) return get ? models(srv, c) : not_allowed(srv, c, "GET");
  if (!strcmp(url, "/v1/jobs")) {
    if (get) return list_jobs(srv, c);
    if (!strcmp(method, "POST")) return post_job(srv, c, rs);
    return not_allowed(srv, c, "GET, POST");
  }
  if (!strncmp(url, "/v1/jobs/", 9)) {
    const char *id = url + 9, *slash = strchr(id, '/');
    size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
    if (!valid_id(id, idlen)) return problem(srv, c, 404, "not-found", "no job with this id", "id", NULL, NULL);
    char jid[33];
    memcpy(jid, id, 32);
    jid[32] = 0;
    if (!slash) {
      if (get) return get_job(srv, c, rs, jid);
      if (!strcmp(method, "DELETE")) return delete_job(srv, c, jid);
      return not_allowed(srv, c, "GET, DELETE");
    }
    if (!strcmp(slash, "/result")) return get ? get_result(srv, c, jid, NULL) : not_allowed(srv, c, "GET");
    if (!strcmp(slash, "/job")) return get ? get_job_doc(srv, c, jid) : not_allowed(srv, c, "GET");
    if (!strcmp(slash, "/events")) return get ? job_events(srv, c, jid) : not_allowed(srv, c, "GET");
    if (!strncmp(slash, "/result/", 8)) return get ? get_result(srv, c, jid, slash + 8) : not_allowed(srv, c, "GET");
  }
  return problem(srv, c, 404, "not-found", "no such path (see openapi.yaml)", NULL, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)version;
  sr_server *srv = cls;
  req_state *rs = *con_cls;
  sr_conn *k = conn_of(c);
  if (!rs) {
    rs = calloc(1, sizeof *rs);
    if (!rs) return MHD_NO;
    rs->srv = srv;
    *con_cls = rs;
    if (k) atomic_store(&k->answering, 1); /* cleared again below when a body is to be read */
    /* Only POST /v1/jobs takes a body. Every other request is routed, authenticated and answered on its headers
     * alone, before any body byte is read or kept: a body sent with it is never buffered (libmicrohttpd closes
     * the connection after the answer rather than read an unread body). */
    if (strcmp(method, "POST") || strcmp(url, "/v1/jobs")) {
      rs->no_body = 1;
      const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
      if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") || (cl && strcmp(cl, "0")))
        return route(srv, c, rs, url, method); /* a body follows: answer now (the connection then closes) */
      if (k) atomic_store(&k->answering, 0);
      return MHD_YES; /* no body: answered on the next call, which keeps the connection open for the next request */
    }
    /* checks that need no body: answer before reading it */
    if (!token_ok(srv, c))
      return problem(srv, c, 401, "unauthorized", "a valid 'Authorization: Bearer TOKEN' header is required",
                     NULL, "WWW-Authenticate", "Bearer");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    size_t ctl = ct ? strcspn(ct, "; ") : 0;
    if (!ct || ctl != 16 || strncasecmp(ct, "application/json", 16))
      return problem(srv, c, 415, "unsupported-media-type", "the body must be application/json",
                     "Content-Type", NULL, NULL);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > srv->cfg.limits.max_doc_bytes) return too_large(srv, c);
    if (cl) { /* one allocation of the announced size: no doubling, no copy */
      size_t want = (size_t)strtoull(cl, NULL, 10);
      if (want > 0) {
        rs->body = malloc(want);
        if (!rs->body) return problem(srv, c, 503, "out-of-memory", "no memory for the body", NULL, "Retry-After", "5");
        rs->cap = want;
      }
    }
    if (k) atomic_store(&k->answering, 0);
    return MHD_YES;
  }
  if (*upload_size) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (k) atomic_fetch_add(&k->body, n);
    if (rs->too_large || rs->no_body) return MHD_YES;
    if (rs->len + n > srv->cfg.limits.max_doc_bytes) {
      /* a chunked body (or a short Content-Length) has passed the limit: answer now, not after its last chunk */
      rs->too_large = 1;
      free(rs->body);
      rs->body = NULL;
      rs->len = rs->cap = 0;
      too_large_now(srv, k);
      return MHD_NO; /* libmicrohttpd closes the connection; the rest of the body is never read */
    }
    if (rs->len + n > rs->cap) {
      size_t cap = rs->cap ? rs->cap : 65536;
      while (cap < rs->len + n) cap *= 2;
      if (cap > srv->cfg.limits.max_doc_bytes) cap = srv->cfg.limits.max_doc_bytes;
      char *nb = realloc(rs->body, cap);
      if (!nb) return MHD_NO;
      rs->body = nb;
      rs->cap = cap;
    }
    memcpy(rs->body + rs->len, upload, n);
    rs->len += n;
    return MHD_YES;
  }
  if (k) atomic_store(&k->answering, 1);
  if (rs->too_large) return MHD_YES; /* answered when it passed the limit */
  return route(srv, c, rs, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t) {
  (void)t;
  sr_server *srv = cls;
  req_state *rs = *con_cls;
  sr_conn *k = conn_of(c);
  if (k) { /* the next request's time starts now */
    pthread_mutex_lock(&srv->mu);
    k->since = sr_now();
    atomic_store(&k->body, 0);
    atomic_store(&k->answering, 0);
    pthread_mutex_unlock(&srv->mu);
  }
  if (!rs) return;
  if (rs->waiting) { /* normally already removed when resumed; make sure */
    pthread_mutex_lock(&srv->mu);
    for (sr_waiter **p = &srv->waiters; *p; p = &(*p)->next)
      if ((*p)->conn == c) {
        sr_waiter *w = *p;
        *p = w->next;
        free(w);
        break;
      }
    pthread_mutex_unlock(&srv->mu);
  }
  int big = rs->cap >= ((size_t)1 << 20);
  free(rs->body);
  free(rs);
  *con_cls = NULL;
  if (big) malloc_trim(0); /* give a large body's pages (and its parse's) back to the system, not keep the peak */
}

static void log_mhd(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  fprintf(stderr, "scorerecon: http: ");
  vfprintf(stderr, fmt, ap);
}

int sr_http_start(sr_server *srv, char *err, size_t cap) {
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char port[16];
  snprintf(port, sizeof port, "%d", srv->cfg.port);
  int gai = getaddrinfo(srv->cfg.host[0] ? srv->cfg.host : NULL, port, &hints, &ai);
  if (gai) return snprintf(err, cap, "cannot resolve %s: %s", srv->cfg.host, gai_strerror(gai)), -1;
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_ITC;
  if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  srv->mhd = MHD_start_daemon(flags, (uint16_t)srv->cfg.port, NULL, NULL, on_request, srv,
                              MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                              MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->cfg.http_threads,
                              MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.conn_timeout_s,
                              MHD_OPTION_CONNECTION_LIMIT, srv->cfg.max_connections,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->cfg.per_ip_connections,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                              MHD_OPTION_END);
  freeaddrinfo(ai);
  if (!srv->mhd) return snprintf(err, cap, "cannot listen on %s:%d: %s", srv->cfg.host, srv->cfg.port,
                                 strerror(errno)), -1;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
  if (info && info->port) srv->cfg.port = info->port;
  return 0;
}

void sr_http_stop(sr_server *srv) {
  if (!srv->mhd) return;
  MHD_socket ls = MHD_quiesce_daemon(srv->mhd); /* stop accepting; the socket is ours to close */
  sr_http_resume_waiters(srv, NULL, 0); /* stopping: every waiter answers now */
  sr_events_wake(srv, NULL);            /* and every event stream ends */
  /* resumed connections need a moment to be answered before the daemon goes */
  struct timespec ts = {0, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  MHD_stop_daemon(srv->mhd);
  srv->mhd = NULL;
  /* only now: closing the listen socket while the pool's threads may still hold it in their epoll sets made
   * libmicrohttpd abort now and then ("Failed to remove listen FD from epoll set") */
  if (ls != MHD_INVALID_SOCKET) close(ls);
}
