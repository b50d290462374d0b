/* serve.c — `scorerecon serve`: its options (the table of server/options.c), start-up
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
#include "events.h"
#include "models.h"
#include "webhooks.h"
#include "options.h"

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

static void wake_listeners(sr_server *srv, const char *id) {
  sr_http_resume_waiters(srv, id, 0);
  sr_events_wake(srv, id);
  sr_webhooks_wake(srv);
}

/* Every 100 ms: wake long-polls past their deadline and close connections too slow to send their request; every
 * 0.5 s: let event streams send progress; every second: return jobs whose lease expired (a node died or stalled)
 * to the queue; every lease / 3 (at most every 5 s): renew the leases of the jobs running here (and record their
 * progress); every 10 s: prune old jobs; every minute (several nodes): drop copies of results whose job is gone. */
static void *janitor_main(void *arg) {
  sr_server *srv = arg;
  int tick = 0;
  double renew_every = srv->cfg.lease_s / 3 < 5 ? srv->cfg.lease_s / 3 : 5, renewed = sr_now();
  while (!atomic_load(&srv->stopping)) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sr_http_resume_waiters(srv, NULL, 1);
    sr_http_reap_slow(srv);
    if (tick % 5 == 0) sr_events_wake(srv, NULL); /* progress events, every 0.5 s */
    if (sr_now() - renewed >= renew_every) {
      renewed = sr_now();
      sr_jobs_renew_leases(srv);
    }
    if (tick % 10 == 0) {
      int n = sr_store_requeue_expired(srv->store, sr_now());
      if (n > 0) {
        fprintf(stderr, "scorerecon: %d job(s) whose lease expired (their node died or stalled) go back to the "
                        "queue\n", n);
        sr_jobs_notify(srv);
      }
    }
    if (++tick % 100 == 0) sr_jobs_prune(srv);
    if (tick % 600 == 0) sr_jobs_sweep_results(srv); /* every minute: copies whose deletion event was missed */
  }
  return NULL;
}

int sr_serve_main(int argc, char **argv) {
  static sr_server srv; /* lives for the whole process; all state is inside it */
  sr_server_config *cfg = &srv.cfg;
  sr_server_config_default(cfg);
  char err[512];
  const char *port_file = NULL;
  size_t nopt;
  const sr_option *opts = sr_options(&nopt);
  for (size_t i = 0; i < nopt; i++) {
    const char *v = getenv(opts[i].env);
    if (v && *v && sr_option_set(cfg, &opts[i], v, err, sizeof err)) {
      fprintf(stderr, "scorerecon serve: %s (from %s)\n", err, opts[i].env);
      return 2;
    }
  }
  for (int a = 0; a < argc; a++) {
    if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
      sr_options_usage(stdout);
      return 0;
    }
    if (!strcmp(argv[a], "--help-table")) {
      sr_options_table(stdout);
      return 0;
    }
    if (!strcmp(argv[a], "--port-file") && a + 1 < argc) {
      port_file = argv[++a];
      continue;
    }
    const sr_option *o = NULL;
    for (size_t i = 0; i < nopt; i++)
      if (!strcmp(argv[a], opts[i].flag)) o = &opts[i];
    if (!o || a + 1 >= argc) {
      fprintf(stderr, "scorerecon serve: unknown option or missing value: %s\n", argv[a]);
      sr_options_usage(stderr);
      return 2;
    }
    if (sr_option_set(cfg, o, argv[++a], err, sizeof err)) {
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
  int fft_mode = sr_fft_mode_parse(cfg->fft_plan);
  if (fft_mode < 0) {
    fprintf(stderr, "scorerecon serve: --fft-plan must be estimate or tuned\n");
    return 2;
  }
  if (cfg->webhook_allow[0] && !cfg->webhook_secret[0]) {
    fprintf(stderr, "scorerecon serve: --webhook-allow needs --webhook-secret-file (the key that signs webhooks)\n");
    return 2;
  }
  cfg->limits.models_dir = cfg->models_dir;
  if (strcmp(cfg->role, "both") && !sr_store_url_shared(cfg->store_url)) {
    fprintf(stderr, "scorerecon serve: --role %s needs a store that several nodes share (--store postgresql://...): "
                    "with SQLite one node takes the requests and runs the jobs (--role both)\n", cfg->role);
    return 2;
  }
  if (!strcmp(cfg->role, "api")) cfg->workers = 0; /* takes requests; the worker nodes run the jobs */
  if (cfg->job_threads == 0) {
    cfg->job_threads = sr_cpu_count() / (cfg->workers > 0 ? cfg->workers : 1);
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
  { /* the wisdom file defaults into the data dir; a file FFTW cannot read stops the start (serve_fail: none yet) */
    char wisdom[1100];
    snprintf(wisdom, sizeof wisdom, "%s", cfg->fft_wisdom);
    if (!wisdom[0]) snprintf(wisdom, sizeof wisdom, "%s/fftw-wisdom", cfg->data_dir);
    sr_error fe;
    srv.fft = sr_fft_planner_create((sr_fft_mode)fft_mode, wisdom, &fe);
    if (!srv.fft) {
      fprintf(stderr, "scorerecon serve: %s\n", fe.msg);
      close(lock_fd);
      return 2;
    }
  }
  pthread_mutex_init(&srv.mu, NULL);
  pthread_cond_init(&srv.work_cv, NULL);
  pthread_cond_init(&srv.status_cv, NULL);
  pthread_cond_init(&srv.notify_cv, NULL);
  if (sr_store_open(&srv.store, cfg->store_url, cfg->data_dir, cfg->lease_s, err, sizeof err)) {
    fprintf(stderr, "scorerecon serve: %s\n", err);
    sr_fft_planner_free(srv.fft);
    close(lock_fd);
    return 1;
  }
  if (!sr_store_shares_results(srv.store)) {
    /* result folders without a single job row: the database was lost (truncated, replaced); starting would orphan
     * them silently, so refuse and say what to do (a shared store keeps the results itself: the folders are copies,
     * and the sweep drops those whose job is gone) */
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
      char db[1200];
      if (!strcmp(sr_store_backend(srv.store), "sqlite")) snprintf(db, sizeof db, "%.1000s/scorerecon.db",
                 !strncmp(cfg->store_url, "sqlite:", 7) && cfg->store_url[7] ? cfg->store_url + 7 : cfg->data_dir);
      else snprintf(db, sizeof db, "(%s, --store)", sr_store_backend(srv.store));
      fprintf(stderr, "scorerecon serve: %s holds %ld result folder(s) but the job database %s has no jobs: the "
                      "database was lost or replaced. Restore it, or move %s away to start empty\n",
              rdir, folders, db, rdir);
      sr_store_close(srv.store);
      sr_fft_planner_free(srv.fft);
    close(lock_fd);
      return 1;
    }
  }
  int requeued = sr_store_requeue_running(srv.store, sr_now());
  if (requeued > 0)
    fprintf(stderr, "scorerecon: %d job(s) left running by an earlier stop go back to the queue (same seed, same "
                    "answer)\n", requeued);
  sr_jobs_prune(&srv);
  srv.on_status = wake_listeners;
  if (pthread_create(&srv.janitor_tid, NULL, janitor_main, &srv) == 0) srv.janitor_started = 1;
  if (!srv.janitor_started || sr_jobs_start(&srv) || sr_webhooks_start(&srv) || sr_jobs_listen_start(&srv)) {
    fprintf(stderr, "scorerecon serve: cannot start the worker threads\n");
    atomic_store(&srv.stopping, 1);
    if (srv.janitor_started) pthread_join(srv.janitor_tid, NULL);
    sr_jobs_listen_stop(&srv);
    sr_webhooks_stop(&srv);
    sr_jobs_stop(&srv);
    sr_store_close(srv.store);
    sr_fft_planner_free(srv.fft);
    close(lock_fd);
    return 1;
  }
  if (sr_http_start(&srv, err, sizeof err)) {
    fprintf(stderr, "scorerecon serve: %s\n", err);
    atomic_store(&srv.stopping, 1);
    pthread_join(srv.janitor_tid, NULL);
    sr_jobs_listen_stop(&srv);
    sr_webhooks_stop(&srv);
    sr_jobs_stop(&srv);
    sr_store_close(srv.store);
    sr_fft_planner_free(srv.fft);
    close(lock_fd);
    return 1;
  }
  fprintf(stderr, "scorerecon: listening on http://%s:%d (data %s, store %s, role %s, %d worker(s) x %d thread(s))\n",
          cfg->host, cfg->port, cfg->data_dir, sr_store_backend(srv.store), cfg->role, cfg->workers,
          cfg->job_threads);
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
  sr_jobs_listen_stop(&srv);
  sr_http_stop(&srv);
  sr_webhooks_stop(&srv); /* a delivery in flight is abandoned within 0.1 s: it stays pending */
  sr_jobs_stop(&srv);
  sr_store_close(srv.store);
  pthread_mutex_destroy(&srv.mu);
  pthread_cond_destroy(&srv.work_cv);
  pthread_cond_destroy(&srv.status_cv);
  pthread_cond_destroy(&srv.notify_cv);
  sr_fft_planner_free(srv.fft);
  close(lock_fd); /* after the store: the next server may start now */
  fprintf(stderr, "scorerecon: stopped\n");
  return 0;
}
