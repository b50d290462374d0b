/* events.c — a job's status and progress as Server-Sent Events (text/event-stream, HTML's EventSource).
 *
 * A stream is a libmicrohttpd response whose content reader writes the next event when there is one and
 * otherwise suspends the connection (so an idle stream costs no thread and no polling); status changes, the
 * janitor's progress tick and shutdown resume it. Events are snapshots of the job, so none is lost on a reconnect:
 *   event: status     data: the Job object, on open and on every status change (attempts count as one)
 *   event: progress   data: {"step", "total", "fraction", "eta_seconds"} while running, at most every 0.25 s
 *   event: end        data: the final Job object (succeeded, failed, cancelled), then the stream closes
 * Each event's id is ATTEMPTS.STATUS.STEP; with Last-Event-ID the stream skips the state already seen. A comment
 * line goes out every 15 s so that proxies keep an idle stream open. */
#include <microhttpd.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "job_view.h"

typedef struct sr_stream {
  sr_server *srv;
  struct MHD_Connection *conn; /* the stream's connection (the response is queued on it at once) */
  char id[40];
  int suspended;               /* under srv->mu */
  int ended;                   /* the end event has been written */
  char seen[96];               /* the id of the last state sent ("" none) */
  double last_progress, last_write;
  char *pend;                  /* an event not yet written in full */
  size_t plen, poff;
  struct sr_stream *next;
} sr_stream;

static const char *const STATUSES[] = {"queued", "running", "succeeded", "failed", "cancelled"};

static int status_index(const char *s) {
  for (int i = 0; i < 5; i++)
    if (!strcmp(s, STATUSES[i])) return i;
  return -1;
}

/* Queues "id: ..\nevent: ..\ndata: ..\n\n" (data: JSON without new lines). */
static int queue_event(sr_stream *st, const char *event, const char *id, cJSON *data) {
  char *json = data ? cJSON_PrintUnformatted(data) : NULL;
  cJSON_Delete(data);
  if (!json) return -1;
  size_t cap = strlen(json) + strlen(id) + strlen(event) + 32;
  st->pend = malloc(cap);
  if (!st->pend) {
    free(json);
    return -1;
  }
  st->plen = (size_t)snprintf(st->pend, cap, "id: %s\nevent: %s\ndata: %s\n\n", id, event, json);
  st->poff = 0;
  free(json);
  return 0;
}

/* Looks at the job and queues the event its state calls for, if any: 1 queued, 0 nothing new, -1 the stream
 * ends (job gone, stopping, out of memory). */
static int next_event(sr_stream *st) {
  sr_server *srv = st->srv;
  if (atomic_load(&srv->stopping)) return -1;
  sr_job_row row;
  if (sr_store_get(srv->store, st->id, &row) != SR_STORE_OK) return -1; /* purged, or the store fails */
  long step = row.step, total = row.total;
  int running = !strcmp(row.status, "running");
  if (running) sr_jobs_progress(srv, st->id, &step, &total);
  char state[32], id[96];
  snprintf(state, sizeof state, "%d.%d", row.attempts, status_index(row.status));
  snprintf(id, sizeof id, "%s.%ld", state, running ? step : 0L);
  double now = sr_now();
  size_t sl = strlen(state);
  int same_state = !strncmp(st->seen, state, sl) && st->seen[sl] == '.';
  if (!same_state) { /* a status change (or the first event) */
    int end = sr_job_terminal(row.status);
    snprintf(st->seen, sizeof st->seen, "%s", id);
    st->ended = end;
    return queue_event(st, end ? "end" : "status", id, sr_job_view(srv, &row)) ? -1 : 1;
  }
  if (sr_job_terminal(row.status)) return -1; /* its end was seen already (Last-Event-ID): nothing more to say */
  if (running && strcmp(st->seen, id) && now - st->last_progress >= 0.25) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "step", (double)step);
    cJSON_AddNumberToObject(p, "total", (double)total);
    cJSON_AddNumberToObject(p, "fraction", total > 0 ? (double)step / (double)total : 0.0);
    double el = now - row.started; /* the rate so far gives the time left */
    if (step > 0 && total >= step && el > 0) cJSON_AddNumberToObject(p, "eta_seconds", el * (double)(total - step) / (double)step);
    else cJSON_AddNullToObject(p, "eta_seconds");
    snprintf(st->seen, sizeof st->seen, "%s", id);
    st->last_progress = now;
    return queue_event(st, "progress", id, p) ? -1 : 1;
  }
  if (now - st->last_write >= 15) { /* keep-alive comment */
    st->pend = strdup(": keep-alive\n\n");
    if (!st->pend) return -1;
    st->plen = strlen(st->pend);
    st->poff = 0;
    return 1;
  }
  return 0;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  sr_stream *st = cls;
  for (;;) {
    if (st->pend) {
      size_t n = st->plen - st->poff < max ? st->plen - st->poff : max;
      memcpy(buf, st->pend + st->poff, n);
      st->poff += n;
      if (st->poff == st->plen) {
        free(st->pend);
        st->pend = NULL;
      }
      st->last_write = sr_now();
      return (ssize_t)n;
    }
    if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
    int r = next_event(st);
    if (r < 0) return MHD_CONTENT_READER_END_OF_STREAM;
    if (r > 0) continue;
    /* nothing new. A suspended connection does not see its client go, so look first: a client that has closed
     * frees its place now, not at the next keep-alive */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char b;
    if (ci && recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    /* sleep until woken (status change, progress tick, stopping) */
    MHD_suspend_connection(st->conn);
    pthread_mutex_lock(&st->srv->mu);
    st->suspended = 1;
    pthread_mutex_unlock(&st->srv->mu);
    return 0;
  }
}

static void release(void *cls) {
  sr_stream *st = cls;
  sr_server *srv = st->srv;
  pthread_mutex_lock(&srv->mu);
  for (sr_stream **p = &srv->streams; *p; p = &(*p)->next)
    if (*p == st) {
      *p = st->next;
      break;
    }
  srv->nstreams--;
  pthread_mutex_unlock(&srv->mu);
  free(st->pend);
  free(st);
}

struct MHD_Response *sr_events_open(sr_server *srv, struct MHD_Connection *c, const char *id,
                                    const char *last_event_id, int *too_many) {
  *too_many = 0;
  sr_stream *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->srv = srv;
  st->conn = c;
  snprintf(st->id, sizeof st->id, "%s", id);
  if (last_event_id) snprintf(st->seen, sizeof st->seen, "%.95s", last_event_id);
  st->last_write = sr_now();
  pthread_mutex_lock(&srv->mu);
  if (srv->nstreams >= srv->cfg.max_event_streams) {
    pthread_mutex_unlock(&srv->mu);
    free(st);
    *too_many = 1;
    return NULL;
  }
  srv->nstreams++;
  st->next = srv->streams;
  srv->streams = st;
  pthread_mutex_unlock(&srv->mu);
  struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, st, release);
  if (!r) {
    release(st);
    return NULL;
  }
  MHD_add_response_header(r, "Content-Type", "text/event-stream");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: pass events on at once */
  return r;
}

void sr_events_wake(sr_server *srv, const char *id) {
  pthread_mutex_lock(&srv->mu);
  for (sr_stream *st = srv->streams; st; st = st->next)
    if (st->suspended && (!id || !strcmp(st->id, id))) {
      st->suspended = 0;
      MHD_resume_connection(st->conn);
    }
  pthread_mutex_unlock(&srv->mu);
}
