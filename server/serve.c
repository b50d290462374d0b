/* serve.c — `scorerecon serve`: one table of options (flag, environment variable, default, help), start-up
 * (data directory, store, recovery of jobs a crash left running, workers, HTTP) and a clean shutdown on
 * SIGTERM/SIGINT: stop accepting, interrupt running jobs at their next step (they go back to the queue), close. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctx.h"
#include "models.h"

/* One server per data directory: an exclusive fcntl lock on DIR/scorerecon.lock, held for the process's life (the
 * kernel drops it when the process dies, so kill -9 leaves no stale lock); the file holds the holder's PID. Returns
 * the descriptor (the caller closes it at exit), or -1 after saying why. */
static int lock_data_dir(const char *dir) {
  char path[1100];
  snprintf(path, sizeof path, "%s/scorerecon.lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    fprintf(stderr, "scorerecon serve: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_SETLK, &fl) == -1) {
    struct flock q;
    memset(&q, 0, sizeof q);
    q.l_type = F_WRLCK;
    q.l_whence = SEEK_SET;
    long pid = fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK ? (long)q.l_pid : -1;
    fprintf(stderr, "scorerecon serve: %s is in use by another scorerecon serve (PID %ld): one server per data "
                    "directory\n", dir, pid);
    close(fd);
    return -1;
  }
  if (ftruncate(fd, 0) == 0) dprintf(fd, "%ld\n", (long)getpid());
  return fd;
}

/* ---------------------------------------------------------------- assembly: the janitor and the status hook */

static void wake_long_polls(sr_server *srv, const char *id) { sr_http_resume_waiters(srv, id, 0); }

/* Every 100 ms: wake long-polls past their deadline and close connections too slow to send their request;
 * every 10 s: prune old jobs. */
static void *janitor_main(void *arg) {
  sr_server *srv = arg;
  int tick = 0;
  while (!atomic_load(&srv->stopping)) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sr_http_resume_waiters(srv, NULL, 1);
    sr_http_reap_slow(srv);
    if (++tick % 100 == 0) sr_jobs_prune(srv);
  }
  return NULL;
}

void sr_server_config_default(sr_server_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->host, sizeof cfg->host, "127.0.0.1");
  cfg->port = 8080;
  snprintf(cfg->data_dir, sizeof cfg->data_dir, "var");
  snprintf(cfg->models_dir, sizeof cfg->models_dir, "models");
  cfg->workers = 1;
  cfg->job_threads = 0;
  cfg->http_threads = 4;
  cfg->queue_max = 1000;
  cfg->retention_s = 7 * 24 * 3600;
  cfg->conn_timeout_s = 30;
  cfg->max_connections = 1000;
  cfg->per_ip_connections = 200;
  cfg->max_wait_s = 60;
  sr_limits_default(&cfg->limits);
  cfg->limits.max_doc_bytes = (size_t)32 << 20; /* one 2048 x 2048 observation in base64 (22 MB) and its job */
  cfg->min_free_bytes = (size_t)64 << 20;
}

typedef enum { OPT_LISTEN, OPT_STR, OPT_INT, OPT_UINT, OPT_LONG, OPT_SIZE, OPT_DOUBLE, OPT_TOKEN } opt_kind;

typedef struct {
  const char *flag, *env;
  opt_kind kind;
  size_t offset;
  double lo, hi;
  const char *help;
} option;

#define OFF(f) offsetof(sr_server_config, f)
static const option OPTIONS[] = {
    {"--listen", "SCORERECON_LISTEN", OPT_LISTEN, 0, 0, 0, "HOST:PORT to listen on (port 0 picks a free one)"},
    {"--data-dir", "SCORERECON_DATA_DIR", OPT_STR, OFF(data_dir), 0, 0, "directory of the job database and results"},
    {"--models", "SCORERECON_MODELS", OPT_STR, OFF(models_dir), 0, 0, "directory of score models"},
    {"--token-file", "SCORERECON_TOKEN_FILE", OPT_TOKEN, 0, 0, 0, "file holding the bearer token for /v1/*"},
    {"--workers", "SCORERECON_WORKERS", OPT_INT, OFF(workers), 1, 256, "jobs run at once"},
    {"--job-threads", "SCORERECON_JOB_THREADS", OPT_INT, OFF(job_threads), 0, 1024,
     "threads inside one job (0: cores / workers)"},
    {"--http-threads", "SCORERECON_HTTP_THREADS", OPT_INT, OFF(http_threads), 1, 256, "HTTP thread pool size"},
    {"--queue-max", "SCORERECON_QUEUE_MAX", OPT_LONG, OFF(queue_max), 1, 1e9, "queued jobs before 429"},
    {"--retention", "SCORERECON_RETENTION", OPT_DOUBLE, OFF(retention_s), 0, 1e10,
     "seconds a finished job is kept (0: forever)"},
    {"--max-body", "SCORERECON_MAX_BODY", OPT_SIZE, OFF(limits.max_doc_bytes), 1024, 1e9,
     "request body bytes (at most 1e9: SQLite's largest value)"},
    {"--max-json-values", "SCORERECON_MAX_JSON_VALUES", OPT_SIZE, OFF(limits.max_json_values), 16, 1e9,
     "JSON values in a job document (large arrays go in base64)"},
    {"--min-free-space", "SCORERECON_MIN_FREE_SPACE", OPT_SIZE, OFF(min_free_bytes), 0, 1e15,
     "bytes the data dir's file system keeps free (507 / not ready below)"},
    {"--max-pixels", "SCORERECON_MAX_PIXELS", OPT_SIZE, OFF(limits.max_pixels), 1, 1e10, "pixels per image"},
    {"--max-samples", "SCORERECON_MAX_SAMPLES", OPT_LONG, OFF(limits.max_samples), 1, 1e7, "num_samples"},
    {"--max-chain-steps", "SCORERECON_MAX_CHAIN_STEPS", OPT_DOUBLE, OFF(limits.max_chain_steps), 1, 1e15,
     "num_samples x sampler steps"},
    {"--max-output-values", "SCORERECON_MAX_OUTPUT_VALUES", OPT_DOUBLE, OFF(limits.max_output_values), 1, 1e12,
     "values held for samples and trajectories"},
    {"--conn-timeout", "SCORERECON_CONN_TIMEOUT", OPT_UINT, OFF(conn_timeout_s), 1, 3600,
     "seconds an idle or slow connection may stay open"},
    {"--max-connections", "SCORERECON_MAX_CONNECTIONS", OPT_UINT, OFF(max_connections), 1, 100000,
     "open connections in all"},
    {"--per-ip-connections", "SCORERECON_PER_IP_CONNECTIONS", OPT_UINT, OFF(per_ip_connections), 1, 100000,
     "open connections per client address"},
    {"--max-wait", "SCORERECON_MAX_WAIT", OPT_INT, OFF(max_wait_s), 0, 3600, "largest ?wait= in seconds"},
};
#define NOPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

/* The default of option o, as text (from sr_server_config_default, the one place defaults live). */
static void option_default(const option *o, const sr_server_config *d, char *out, size_t cap) {
  const char *base = (const char *)d;
  switch (o->kind) {
  case OPT_LISTEN: snprintf(out, cap, "%s:%d", d->host, d->port); break;
  case OPT_STR: snprintf(out, cap, "%s", base + o->offset); break;
  case OPT_TOKEN: snprintf(out, cap, "none"); break;
  case OPT_INT: snprintf(out, cap, "%d", *(const int *)(base + o->offset)); break;
  case OPT_UINT: snprintf(out, cap, "%u", *(const unsigned *)(base + o->offset)); break;
  case OPT_LONG: snprintf(out, cap, "%ld", *(const long *)(base + o->offset)); break;
  case OPT_SIZE: snprintf(out, cap, "%zu", *(const size_t *)(base + o->offset)); break;
  case OPT_DOUBLE: snprintf(out, cap, "%g", *(const double *)(base + o->offset)); break;
  }
}

static void serve_usage(FILE *f) {
  fprintf(f, "usage: scorerecon serve [options]\n\nEvery option can also be set by its environment variable; a flag "
             "wins over the variable.\n\n");
  sr_server_config d;
  sr_server_config_default(&d);
  for (size_t i = 0; i < NOPTIONS; i++) {
    const option *o = &OPTIONS[i];
    char def[1100], range[64] = "";
    option_default(o, &d, def, sizeof def);
    if (o->kind != OPT_LISTEN && o->kind != OPT_STR && o->kind != OPT_TOKEN)
      snprintf(range, sizeof range, ", range %g .. %g", o->lo, o->hi);
    fprintf(f, "  %-22s %-30s %s (default %s%s)\n", o->flag, o->env, o->help, def, range);
  }
  fprintf(f, "  %-22s %-30s %s\n", "--port-file F", "", "write the bound port to F once listening");
}

static int set_option(sr_server_config *cfg, const option *o, const char *v, char *err, size_t cap) {
  char *base = (char *)cfg, *end;
  errno = 0;
  switch (o->kind) {
  case OPT_LISTEN: {
    const char *colon = strrchr(v, ':');
    if (!colon) return snprintf(err, cap, "%s must be HOST:PORT", o->flag), -1;
    size_t hl = (size_t)(colon - v);
    if (hl >= sizeof cfg->host) return snprintf(err, cap, "%s: host too long", o->flag), -1;
    if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') { /* [::1]:8080 */
      memcpy(cfg->host, v + 1, hl - 2);
      cfg->host[hl - 2] = 0;
    } else {
      memcpy(cfg->host, v, hl);
      cfg->host[hl] = 0;
    }
    long p = strtol(colon + 1, &end, 10);
    if (*end || !colon[1] || p < 0 || p > 65535) return snprintf(err, cap, "%s: bad port", o->flag), -1;
    cfg->port = (int)p;
    return 0;
  }
  case OPT_STR:
    if (strlen(v) >= 1024) return snprintf(err, cap, "%s: too long", o->flag), -1;
    snprintf(base + o->offset, 1024, "%s", v);
    return 0;
  case OPT_TOKEN: {
    FILE *f = fopen(v, "r");
    if (!f) return snprintf(err, cap, "%s: cannot read %s: %s", o->flag, v, strerror(errno)), -1;
    /* the whole file (up to 64 KiB, so trailing white space of any length is fine): a token longer than the
     * limit is refused, never cut to its prefix */
    enum { FILE_MAX = 64 * 1024 };
    char *buf = malloc(FILE_MAX + 1);
    if (!buf) {
      fclose(f);
      return snprintf(err, cap, "%s: out of memory", o->flag), -1;
    }
    size_t n = fread(buf, 1, FILE_MAX + 1, f);
    int rerr = ferror(f);
    fclose(f);
    while (n && n <= FILE_MAX && isspace((unsigned char)buf[n - 1])) n--; /* \n, \r, \t, space, ... */
    if (rerr || n > SR_TOKEN_MAX || n == 0) {
      free(buf);
      if (rerr) return snprintf(err, cap, "%s: cannot read %s", o->flag, v), -1;
      if (n == 0) return snprintf(err, cap, "%s: %s is empty", o->flag, v), -1;
      return snprintf(err, cap, "%s: the token in %s is longer than %d bytes", o->flag, v, SR_TOKEN_MAX), -1;
    }
    memcpy(cfg->token, buf, n);
    cfg->token[n] = 0;
    free(buf);
    return 0;
  }
  default: {
    double d = strtod(v, &end);
    if (!*v || *end || errno || d < o->lo || d > o->hi)
      return snprintf(err, cap, "%s must be a number from %g to %g", o->flag, o->lo, o->hi), -1;
    if (o->kind == OPT_INT) *(int *)(base + o->offset) = (int)d;
    else if (o->kind == OPT_UINT) *(unsigned *)(base + o->offset) = (unsigned)d;
    else if (o->kind == OPT_LONG) *(long *)(base + o->offset) = (long)d;
    else if (o->kind == OPT_SIZE) *(size_t *)(base + o->offset) = (size_t)d;
    else *(double *)(base + o->offset) = d;
    return 0;
  }
  }
}

int sr_serve_main(int argc, char **argv) {
  static sr_server srv; /* lives for the whole process; all state is inside it */
  sr_server_config *cfg = &srv.cfg;
  sr_server_config_default(cfg);
  char err[512];
  const char *port_file = NULL;
  for (size_t i = 0; i < NOPTIONS; i++) {
    const char *v = getenv(OPTIONS[i].env);
    if (v && *v && set_option(cfg, &OPTIONS[i], v, err, sizeof err)) {
      fprintf(stderr, "scorerecon serve: %s (from %s)\n", err, OPTIONS[i].env);
      return 2;
    }
  }
  for (int a = 0; a < argc; a++) {
    if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
      serve_usage(stdout);
      return 0;
    }
    if (!strcmp(argv[a], "--port-file") && a + 1 < argc) {
      port_file = argv[++a];
      continue;
    }
    const option *o = NULL;
    for (size_t i = 0; i < NOPTIONS; i++)
      if (!strcmp(argv[a], OPTIONS[i].flag)) o = &OPTIONS[i];
    if (!o || a + 1 >= argc) {
      fprintf(stderr, "scorerecon serve: unknown option or missing value: %s\n", argv[a]);
      serve_usage(stderr);
      return 2;
    }
    if (set_option(cfg, o, argv[++a], err, sizeof err)) {
      fprintf(stderr, "scorerecon serve: %s\n", err);
      return 2;
    }
  }
  { /* a models directory that was named (flag or variable) must exist; unnamed, ./models or the installed one */
    sr_server_config d;
    sr_server_config_default(&d);
    struct stat sb;
    if (!strcmp(cfg->models_dir, d.models_dir)) {
      char mbuf[1024];
      snprintf(cfg->models_dir, sizeof cfg->models_dir, "%s", sr_models_dir_resolve(NULL, mbuf, sizeof mbuf));
      snprintf(d.models_dir, sizeof d.models_dir, "%s", cfg->models_dir); /* not named: never an error */
    }
    if (strcmp(cfg->models_dir, d.models_dir)) {
      int bad = stat(cfg->models_dir, &sb);
      if (bad || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "scorerecon serve: --models %s: %s\n", cfg->models_dir,
                !bad ? "not a directory" : errno == ENOENT ? "no such directory" : strerror(errno));
        return 2;
      }
    }
  }
  cfg->limits.models_dir = cfg->models_dir;
  if (cfg->job_threads == 0) {
    cfg->job_threads = sr_cpu_count() / cfg->workers;
    if (cfg->job_threads < 1) cfg->job_threads = 1;
  }
  if (mkdir(cfg->data_dir, 0755) && errno != EEXIST) {
    fprintf(stderr, "scorerecon serve: cannot create %s: %s\n", cfg->data_dir, strerror(errno));
    return 1;
  }
  int lock_fd = lock_data_dir(cfg->data_dir);
  if (lock_fd < 0) return 1;
  /* Signals go to the main thread's sigwait; every thread started below inherits the mask. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  sr_init();
  pthread_mutex_init(&srv.mu, NULL);
  pthread_cond_init(&srv.work_cv, NULL);
  pthread_cond_init(&srv.status_cv, NULL);
  if (sr_store_open(&srv.store, cfg->data_dir, err, sizeof err)) {
    fprintf(stderr, "scorerecon serve: %s\n", err);
    close(lock_fd);
    return 1;
  }
  { /* result folders without a single job row: the database was lost (truncated, replaced); starting would orphan
     * them silently, so refuse and say what to do */
    long counts[5], jobs = -1; /* -1: the store cannot be counted (then /readyz says so; no verdict here) */
    if (sr_store_counts(srv.store, counts) == 0) {
      jobs = 0;
      for (int i = 0; i < 5; i++) jobs += counts[i];
    }
    char rdir[1100];
    snprintf(rdir, sizeof rdir, "%s/results", cfg->data_dir);
    long folders = 0;
    DIR *dp = jobs == 0 ? opendir(rdir) : NULL;
    for (struct dirent *e; dp && (e = readdir(dp));)
      if (e->d_name[0] != '.') folders++;
    if (dp) closedir(dp);
    if (folders > 0) {
      fprintf(stderr, "scorerecon serve: %s holds %ld result folder(s) but the job database %s/scorerecon.db has no "
                      "jobs: the database was lost or replaced. Restore it, or move %s away to start empty\n",
              rdir, folders, cfg->data_dir, rdir);
      sr_store_close(srv.store);
      close(lock_fd);
      return 1;
    }
  }
  int requeued = sr_store_requeue_running(srv.store);
  if (requeued > 0)
    fprintf(stderr, "scorerecon: %d job(s) left running by an earlier stop go back to the queue (same seed, same "
                    "answer)\n", requeued);
  sr_jobs_prune(&srv);
  srv.on_status = wake_long_polls;
  if (pthread_create(&srv.janitor_tid, NULL, janitor_main, &srv) == 0) srv.janitor_started = 1;
  if (!srv.janitor_started || sr_jobs_start(&srv)) {
    fprintf(stderr, "scorerecon serve: cannot start the worker threads\n");
    atomic_store(&srv.stopping, 1);
    if (srv.janitor_started) pthread_join(srv.janitor_tid, NULL);
    sr_jobs_stop(&srv);
    sr_store_close(srv.store);
    close(lock_fd);
    return 1;
  }
  if (sr_http_start(&srv, err, sizeof err)) {
    fprintf(stderr, "scorerecon serve: %s\n", err);
    atomic_store(&srv.stopping, 1);
    pthread_join(srv.janitor_tid, NULL);
    sr_jobs_stop(&srv);
    sr_store_close(srv.store);
    close(lock_fd);
    return 1;
  }
  fprintf(stderr, "scorerecon: listening on http://%s:%d (data %s, %d worker(s) x %d thread(s))\n", cfg->host,
          cfg->port, cfg->data_dir, cfg->workers, cfg->job_threads);
  if (port_file) {
    FILE *f = fopen(port_file, "w");
    if (f) {
      fprintf(f, "%d\n", cfg->port);
      fclose(f);
    }
  }
  int sig = 0;
  sigwait(&set, &sig);
  fprintf(stderr, "scorerecon: %s: stopping (running jobs go back to the queue)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  atomic_store(&srv.stopping, 1);
  pthread_join(srv.janitor_tid, NULL); /* within 100 ms: before the HTTP layer it calls into goes */
  sr_http_stop(&srv);
  sr_jobs_stop(&srv);
  sr_store_close(srv.store);
  pthread_mutex_destroy(&srv.mu);
  pthread_cond_destroy(&srv.work_cv);
  pthread_cond_destroy(&srv.status_cv);
  close(lock_fd); /* after the store: the next server may start now */
  fprintf(stderr, "scorerecon: stopped\n");
  return 0;
}
