/* webhooks.c — completion webhooks. One sender thread (never a worker) finds finished jobs whose notification is
 * pending in the store, POSTs the job (the Job object of GET /v1/jobs/{id}) to its URL with
 *   X-Scorerecon-Signature: sha256=HEX(HMAC-SHA256(secret, body))   (--webhook-secret-file)
 *   X-Scorerecon-Event: job.finished,  X-Scorerecon-Delivery: ID.ATTEMPT
 * and counts any 2xx as delivered. Otherwise it tries again after 1, 2, 4, ... 128 s (8 tries in all), then
 * gives up (logged). The state lives in the store, so a restart goes on where it stopped. Only http:// to hosts on
 * --webhook-allow; each delivery is bounded to 5 s. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "job_view.h"
#include "sha256.h"
#include "webhooks.h"

#define TRIES 8
#define TIMEOUT_S 5.0

int sr_webhook_allowed(const sr_server_config *cfg, const char *url, char *why, size_t cap) {
  char host[256];
  int port;
  if (!cfg->webhook_allow[0])
    return snprintf(why, cap, "this server sends no webhooks (its --webhook-allow list is empty)"), 0;
  if (sr_url_host_port(url, host, sizeof host, &port)) return snprintf(why, cap, "is not an http:// URL"), 0;
  /* entries: HOST (any port) or HOST:PORT, separated by commas */
  const char *p = cfg->webhook_allow;
  while (*p) {
    size_t n = strcspn(p, ",");
    char e[300];
    snprintf(e, sizeof e, "%.*s", (int)(n < sizeof e - 1 ? n : sizeof e - 1), p);
    char *colon = strrchr(e, ':');
    int eport = 0;
    if (colon && !strchr(colon, ']') && strchr(e, ':') == colon) { /* HOST:PORT (an IPv6 entry needs [..]:PORT) */
      *colon = 0;
      eport = atoi(colon + 1);
    }
    char *h = e;
    if (*h == '[') {
      h++;
      char *rb = strchr(h, ']');
      if (rb) {
        if (rb[1] == ':') eport = atoi(rb + 2);
        *rb = 0;
      }
    }
    if (!strcasecmp(h, host) && (eport == 0 || eport == port)) return 1;
    p += n;
    if (*p == ',') p++;
  }
  return snprintf(why, cap, "host %s port %d is not on this server's --webhook-allow list", host, port), 0;
}

/* Waits until fd is ready for `events`, the deadline passes or the server stops (checked every 0.1 s). */
static int wait_fd(sr_server *srv, int fd, short events, double deadline) {
  for (;;) {
    if (atomic_load(&srv->stopping)) return -1;
    double left = deadline - sr_now();
    if (left <= 0) return -1;
    struct pollfd p = {fd, events, 0};
    int r = poll(&p, 1, left < 0.1 ? (int)(left * 1000) + 1 : 100);
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return -1;
  }
}

/* POSTs body to url; the HTTP status, or -1 when there was none (no connection, timeout, stopping). */
static int post(sr_server *srv, const char *url, const char *body, size_t blen, const char *id, int attempt) {
  char host[256], port_s[16];
  int port;
  if (sr_url_host_port(url, host, sizeof host, &port)) return -1;
  const char *path = strchr(url + 7 + (url[7] == '[' ? strcspn(url + 7, "]") : 0), '/');
  snprintf(port_s, sizeof port_s, "%d", port);
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port_s, &hints, &ai) || !ai) return -1;
  double deadline = sr_now() + TIMEOUT_S;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), status = -1;
  if (fd < 0) goto out;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) goto out;
  if (wait_fd(srv, fd, POLLOUT, deadline)) goto out;
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) goto out;
  uint8_t mac[32];
  char hex[65], head[2048];
  sr_hmac_sha256(srv->cfg.webhook_secret, strlen(srv->cfg.webhook_secret), body, blen, mac);
  sr_hex32(mac, hex);
  int hl = snprintf(head, sizeof head,
                    "POST %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: scorerecon/" SR_VERSION "\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\nX-Scorerecon-Event: job.finished\r\n"
                    "X-Scorerecon-Delivery: %s.%d\r\nX-Scorerecon-Signature: sha256=%s\r\nConnection: close\r\n\r\n",
                    path ? path : "/", host, port != 80 ? ":" : "", port != 80 ? port_s : "", blen, id, attempt, hex);
  if (hl < 0 || (size_t)hl >= sizeof head) goto out;
  const char *parts[2] = {head, body};
  size_t lens[2] = {(size_t)hl, blen};
  for (int k = 0; k < 2; k++)
    for (size_t off = 0; off < lens[k];) {
      if (wait_fd(srv, fd, POLLOUT, deadline)) goto out;
      ssize_t w = send(fd, parts[k] + off, lens[k] - off, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR) goto out;
      if (w > 0) off += (size_t)w;
    }
  char resp[64];
  size_t got = 0;
  while (got < 12) { /* "HTTP/1.1 200" */
    if (wait_fd(srv, fd, POLLIN, deadline)) goto out;
    ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
    if (r == 0) break;
    if (r < 0 && errno != EAGAIN && errno != EINTR) goto out;
    if (r > 0) got += (size_t)r;
  }
  resp[got] = 0;
  if (got >= 12 && !strncmp(resp, "HTTP/1.", 7)) status = atoi(resp + 9);
out:
  if (fd >= 0) close(fd);
  freeaddrinfo(ai);
  return status;
}

static void deliver(sr_server *srv, const sr_notify_due *d) {
  sr_job_row row;
  if (sr_store_get(srv->store, d->id, &row) != SR_STORE_OK) return;
  cJSON *v = sr_job_view(srv, &row);
  char *body = v ? cJSON_PrintUnformatted(v) : NULL;
  cJSON_Delete(v);
  if (!body) return;
  int attempt = d->attempts + 1, status = post(srv, d->url, body, strlen(body), d->id, attempt);
  free(body);
  if (atomic_load(&srv->stopping) && status < 0) return; /* abandoned, not failed: still pending */
  if (status >= 200 && status < 300) {
    sr_store_notify_set(srv->store, d->id, SR_NOTIFY_DELIVERED, attempt, 0);
  } else if (attempt >= TRIES) {
    fprintf(stderr, "scorerecon: job %s: webhook %s failed %d times (last: %s%d); giving up\n", d->id, d->url,
            attempt, status < 0 ? "no answer " : "HTTP ", status);
    sr_store_notify_set(srv->store, d->id, SR_NOTIFY_FAILED, attempt, 0);
  } else {
    sr_store_notify_set(srv->store, d->id, SR_NOTIFY_PENDING, attempt, sr_now() + (double)(1 << (attempt - 1)));
  }
}

static void *sender_main(void *arg) {
  sr_server *srv = arg;
  while (!atomic_load(&srv->stopping)) {
    sr_notify_due due[8];
    int n = sr_store_notify_due(srv->store, sr_now(), 8, due);
    for (int i = 0; i < n && !atomic_load(&srv->stopping); i++) deliver(srv, &due[i]);
    if (n == 8) continue; /* more may be due */
    pthread_mutex_lock(&srv->mu);
    if (!atomic_load(&srv->stopping) && !srv->notify_kick) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 500 * 1000 * 1000; /* retries come due without a kick */
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&srv->notify_cv, &srv->mu, &ts);
    }
    srv->notify_kick = 0;
    pthread_mutex_unlock(&srv->mu);
  }
  return NULL;
}

int sr_webhooks_start(sr_server *srv) {
  if (!srv->cfg.webhook_allow[0]) return 0; /* no webhooks: no thread */
  if (pthread_create(&srv->notify_tid, NULL, sender_main, srv)) return -1;
  srv->notify_started = 1;
  return 0;
}

void sr_webhooks_wake(sr_server *srv) {
  pthread_mutex_lock(&srv->mu);
  srv->notify_kick = 1;
  pthread_cond_signal(&srv->notify_cv);
  pthread_mutex_unlock(&srv->mu);
}

void sr_webhooks_stop(sr_server *srv) {
  if (!srv->notify_started) return;
  sr_webhooks_wake(srv); /* stopping is set: it returns within 0.1 s */
  pthread_join(srv->notify_tid, NULL);
  srv->notify_started = 0;
}
