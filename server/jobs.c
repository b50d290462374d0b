/* jobs.c — the job queue's workers: claim the oldest queued job, run it with progress and cancellation, write
 * its result files (write, fsync, rename) and only then commit its final status; pruning of old jobs. It knows
 * nothing of HTTP: a status change is announced through srv->on_status. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ctx.h"

const double sr_job_seconds_bounds[SR_HIST_BUCKETS] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
const double sr_claim_seconds_bounds[SR_CLAIM_BUCKETS] = {0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005,
                                                          0.01,   0.02,   0.05,   0.1,   0.5};

double sr_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sr_result_dir(const sr_server *srv, const char *id, char *out, size_t cap) {
  snprintf(out, cap, "%s/results/%s", srv->cfg.data_dir, id);
}

/* ---------------------------------------------------------------- durable files */

double sr_data_dir_free(const sr_server *srv) {
  struct statvfs v;
  if (statvfs(srv->cfg.data_dir, &v)) return -1;
  return (double)v.f_bavail * (double)v.f_frsize;
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* Writes data to dir/name through dir/name.tmp, fsync, rename. */
static int write_file(const char *dir, const char *name, const void *data, size_t len) {
  char tmp[2048], path[2048];
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  const char *p = data;
  size_t left = len;
  while (left) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      close(fd);
      unlink(tmp);
      return -1;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) || close(fd) || rename(tmp, path)) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Removes dir and the files in it; what cannot be removed (other than already gone) is logged. */
static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char path[2048];
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      if (unlink(path) && errno != ENOENT) fprintf(stderr, "scorerecon: cannot remove %s: %s\n", path, strerror(errno));
    }
    closedir(d);
  }
  if (rmdir(dir) && errno != ENOENT) fprintf(stderr, "scorerecon: cannot remove %s: %s\n", dir, strerror(errno));
}

/* sr_result_files' put: each file durable (write, fsync, rename) in a fresh directory, where an absent one needs
 * nothing done. */
static int put_durable(void *dir, const char *name, const void *data, size_t len) {
  return data ? write_file(dir, name, data, len) : 0;
}

/* result.json (base64 ARRAYs), mean/std/samples .npy, mean/std .png (sr_result_files). */
static int write_results(sr_server *srv, const char *id, const sr_problem *pb, const sr_result *res, char *why,
                         size_t cap) {
  char dir[1536], parent[1280];
  snprintf(parent, sizeof parent, "%s/results", srv->cfg.data_dir);
  sr_result_dir(srv, id, dir, sizeof dir);
  remove_dir(dir); /* leftovers of an interrupted earlier attempt */
  if ((mkdir(parent, 0755) && errno != EEXIST) || mkdir(dir, 0755)) {
    snprintf(why, cap, "cannot create %.200s: %s", dir, strerror(errno));
    return -1;
  }
  int rc = sr_result_files(pb, res, 0, SR_FILES_NPY, put_durable, dir);
  if (rc == 0) rc = fsync_dir(dir) || fsync_dir(parent);
  if (rc) {
    int e = errno;
    snprintf(why, cap, "cannot write the result files: %s%s", strerror(e),
             e == ENOSPC || e == EDQUOT ? " (the data directory's file system is full; submit the job again once "
                                          "there is space)" : "");
    fprintf(stderr, "scorerecon: job %s: cannot write the result files in %s: %s\n", id, dir, strerror(e));
    remove_dir(dir); /* a partial result frees its space and never looks like a result */
  }
  return rc ? -1 : 0;
}

/* ---------------------------------------------------------------- running jobs */

static int on_progress(void *user, long done, long total) {
  void **pair = user;
  sr_server *srv = pair[0];
  sr_running *r = pair[1];
  atomic_store(&r->step, done);
  atomic_store(&r->total, total);
  return atomic_load(&r->cancel) || atomic_load(&srv->stopping);
}

void sr_status_changed(sr_server *srv, const char *id) {
  pthread_mutex_lock(&srv->mu);
  pthread_cond_broadcast(&srv->status_cv);
  pthread_mutex_unlock(&srv->mu);
  if (srv->on_status) srv->on_status(srv, id); /* the HTTP layer wakes its long-polls (set by serve.c) */
}

/* Counts x in the histogram of n bounds (n + 1 buckets, the last above every bound). */
static void hist_add(atomic_long *hist, const double *bounds, int n, double x) {
  int b = 0;
  while (b < n && x > bounds[b]) b++;
  atomic_fetch_add(&hist[b], 1);
}

static void observe_seconds(sr_server *srv, double secs) {
  hist_add(srv->job_hist, sr_job_seconds_bounds, SR_HIST_BUCKETS, secs);
  atomic_fetch_add(&srv->job_seconds_milli, (long)llround(secs * 1000));
  atomic_fetch_add(&srv->jobs_finished, 1);
}

/* The time sr_now() + secs as a condition variable's deadline (sr_now is CLOCK_REALTIME, the variables' clock). */
static struct timespec deadline_in(double secs) {
  double until = sr_now() + secs;
  return (struct timespec){(time_t)until, (long)((until - floor(until)) * 1e9)};
}

/* Sleeps `secs`, or less when the server starts stopping; job notifications do not cut it short. */
static void sleep_unless_stopping(sr_server *srv, double secs) {
  double until = sr_now() + secs;
  struct timespec ts = deadline_in(secs);
  pthread_mutex_lock(&srv->mu);
  while (!atomic_load(&srv->stopping) && sr_now() < until) pthread_cond_timedwait(&srv->work_cv, &srv->mu, &ts);
  pthread_mutex_unlock(&srv->mu);
}

/* The result files in the job's directory dir (at most 8), for the store to keep with the final status. */
static void list_results(const char *dir, char names[8][32], const char *list[9]) {
  int n = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && n < 8 && (e = readdir(d));) {
    size_t l = strlen(e->d_name);
    if (e->d_name[0] == '.' || l >= 32 || (l > 4 && !strcmp(e->d_name + l - 4, ".tmp"))) continue;
    memcpy(names[n], e->d_name, l + 1);
    list[n] = names[n];
    n++;
  }
  if (d) closedir(d);
  list[n] = NULL;
}

static void run_job(sr_server *srv, const sr_job_row *row, const char *doc, size_t len) {
  sr_running *r = calloc(1, sizeof *r);
  if (!r) {
    sr_store_set_status(srv->store, row->id, "running", "queued", sr_now(), NULL, NULL);
    return;
  }
  snprintf(r->id, sizeof r->id, "%s", row->id);
  pthread_mutex_lock(&srv->mu);
  r->next = srv->running;
  srv->running = r;
  pthread_mutex_unlock(&srv->mu);
  sr_status_changed(srv, row->id);

  sr_problem pb;
  sr_error err;
  sr_result res;
  char result_dir[1536];
  sr_result_dir(srv, row->id, result_dir, sizeof result_dir);
  memset(&res, 0, sizeof res);
  double t0 = sr_now();
  const char *final = "failed";
  char why[400] = "", field[128] = "";
  /* Tuned plans: the operators are made (ESTIMATE, for their spectra and norms) and re-planned under the planner's
   * lock, so no other worker's tuned wisdom is loaded while they are made: the job's bits depend on the wisdom
   * file alone. (POST's validation parse makes operators too, outside the lock, and discards them.) */
  int tuned = sr_fft_planner_mode(srv->fft) == SR_FFT_TUNED;
  if (tuned) sr_fft_planner_lock(srv->fft);
  sr_status st = sr_job_parse(doc, len, &srv->cfg.limits, &pb, &err);
  if (!st && (st = sr_op_plan_fft(pb.op, srv->fft, &err))) sr_problem_clear(&pb);
  if (tuned) sr_fft_planner_unlock(srv->fft);
  if (st) {
    snprintf(why, sizeof why, "%s", err.msg);
    snprintf(field, sizeof field, "%s", err.field);
  } else {
    pb.threads = srv->cfg.job_threads;
    void *pair[2] = {srv, r};
    st = sr_run(&pb, &res, on_progress, pair, &err);
    atomic_fetch_add(&srv->score_evals, res.score_evals);
    if (st == SR_ECANCELLED) {
      final = atomic_load(&r->cancel) ? "cancelled" : "queued"; /* stopping: run again after restart */
    } else if (st) {
      snprintf(why, sizeof why, "%s", err.msg);
      snprintf(field, sizeof field, "%s", err.field);
    } else if (write_results(srv, row->id, &pb, &res, why, sizeof why) == 0) {
      final = "succeeded";
    }
    sr_result_clear(&res);
    sr_problem_clear(&pb);
  }
  if (!strcmp(final, "succeeded") || !strcmp(final, "failed")) observe_seconds(srv, sr_now() - t0);
  sr_store_set_progress(srv->store, row->id, atomic_load(&r->step), atomic_load(&r->total));
  /* The final status must land, or the job would stay `running` until a restart: retry with back-off while the
   * store cannot write (a full disk), until it commits or the server stops (then the restart requeues it). */
  char names[8][32];
  const char *name_list[9] = {NULL};
  if (!strcmp(final, "succeeded")) list_results(result_dir, names, name_list);
  for (double pause = 0.1;; pause = pause < 5 ? pause * 2 : 5) {
    sr_store_rc rc = !strcmp(final, "succeeded") /* with its files, where the store keeps them (PostgreSQL) */
                         ? sr_store_finish_with_files(srv->store, row->id, sr_now(), result_dir, name_list)
                         : sr_store_set_status(srv->store, row->id, "running", final, sr_now(),
                                               why[0] ? why : NULL, field);
    if (rc == SR_STORE_NONE) { /* our lease expired and another node took the job over: its outcome stands */
      fprintf(stderr, "scorerecon: job %s: lease lost (another node took the job over): this node's outcome (%s) is "
                      "refused\n", row->id, final);
      if (sr_store_shares_results(srv->store)) remove_dir(result_dir); /* never served in place of the real one */
    }
    if (rc >= 0 || atomic_load(&srv->stopping)) break;
    sleep_unless_stopping(srv, pause);
  }
  pthread_mutex_lock(&srv->mu);
  for (sr_running **p = &srv->running; *p; p = &(*p)->next)
    if (*p == r) {
      *p = r->next;
      break;
    }
  pthread_mutex_unlock(&srv->mu);
  free(r);
  sr_status_changed(srv, row->id);
}

static void *worker_main(void *arg) {
  sr_server *srv = arg;
  atomic_fetch_add(&srv->workers_up, 1);
  double backoff = 0;
  while (!atomic_load(&srv->stopping)) {
    sr_job_row row;
    char *doc = NULL;
    size_t len = 0;
    double t0 = sr_now();
    sr_store_rc rc = sr_store_claim(srv->store, t0, &row, &doc, &len);
    if (rc == SR_STORE_OK) {
      double dt = sr_now() - t0;
      hist_add(srv->claim_hist, sr_claim_seconds_bounds, SR_CLAIM_BUCKETS, dt);
      atomic_fetch_add(&srv->claim_micros, (long)llround(dt * 1e6));
      backoff = 0;
      run_job(srv, &row, doc, len);
      free(doc);
      continue;
    }
    if (rc < 0) { /* the store cannot write (a full disk): back off, 0.1 s doubling to 5 s, never spin */
      backoff = backoff > 0 ? (backoff < 5 ? backoff * 2 : 5) : 0.1;
      sleep_unless_stopping(srv, backoff);
      continue;
    }
    backoff = 0;
    /* nothing queued (or a transient database error): wait for a notification (this node's POST, or another
     * node's through the store's events), at most --poll seconds */
    struct timespec ts = deadline_in(srv->cfg.poll_s);
    pthread_mutex_lock(&srv->mu);
    if (!atomic_load(&srv->stopping)) pthread_cond_timedwait(&srv->work_cv, &srv->mu, &ts);
    pthread_mutex_unlock(&srv->mu);
  }
  atomic_fetch_sub(&srv->workers_up, 1);
  return NULL;
}

void sr_jobs_remove_result(sr_server *srv, const char *id) {
  char dir[1536];
  sr_result_dir(srv, id, dir, sizeof dir);
  remove_dir(dir);
}

static void delete_result_files(void *user, const char *id) { sr_jobs_remove_result(user, id); }

/* Stops job id if it runs here: 1 when it did. */
static int cancel_local(sr_server *srv, const char *id) {
  int found = 0;
  pthread_mutex_lock(&srv->mu);
  for (sr_running *r = srv->running; r; r = r->next)
    if (!strcmp(r->id, id)) {
      atomic_store(&r->cancel, 1);
      found = 1;
    }
  pthread_mutex_unlock(&srv->mu);
  return found;
}

void sr_jobs_renew_leases(sr_server *srv) {
  enum { MAX = 256 };
  char ids[MAX][40];
  long step[MAX], total[MAX];
  int n = 0;
  pthread_mutex_lock(&srv->mu);
  for (sr_running *r = srv->running; r && n < MAX; r = r->next) {
    snprintf(ids[n], 40, "%s", r->id);
    step[n] = atomic_load(&r->step);
    total[n++] = atomic_load(&r->total);
  }
  pthread_mutex_unlock(&srv->mu);
  for (int i = 0; i < n; i++) {
    int cancel = 0;
    sr_store_rc rc = sr_store_renew(srv->store, ids[i], sr_now(), step[i], total[i], &cancel);
    if (rc == SR_STORE_NONE)
      fprintf(stderr, "scorerecon: job %s: lease lost (it expired; another node may run the job)\n", ids[i]);
    else if (rc == SR_STORE_OK && cancel) /* another node was asked to stop it (and its event did not reach us) */
      cancel_local(srv, ids[i]);
  }
}

/* ---------------------------------------------------------------- results shared through the store */

/* The result files of job id in this node's data directory: already there (it ran the job, or served it before),
 * or fetched from the store into a fresh directory renamed into place, so that readers never see a partial copy
 * and two fetches at once both end well. 0: there (or nothing stored: the reader reports the files missing). */
int sr_jobs_local_result(sr_server *srv, const char *id) {
  char dir[1536], tmp[1600], parent[1280];
  struct stat sb;
  sr_result_dir(srv, id, dir, sizeof dir);
  if (!sr_store_shares_results(srv->store) || stat(dir, &sb) == 0) return 0;
  snprintf(parent, sizeof parent, "%s/results", srv->cfg.data_dir);
  snprintf(tmp, sizeof tmp, "%s/.fetch-%s-%ld", parent, id, atomic_fetch_add(&srv->fetch_seq, 1));
  if (mkdir(parent, 0755) && errno != EEXIST) return -1;
  sr_store_rc rc = sr_store_fetch_files(srv->store, id, tmp);
  if (rc != SR_STORE_OK) {
    remove_dir(tmp);
    return rc == SR_STORE_NONE ? 0 : -1;
  }
  if (fsync_dir(tmp) || rename(tmp, dir)) {
    int e = errno;
    remove_dir(tmp);
    return e == EEXIST || e == ENOTEMPTY ? 0 : -1; /* ENOTEMPTY/EEXIST: another request fetched it first */
  }
  fsync_dir(parent);
  return 0;
}

/* This node's copies of results whose job is gone (deleted or pruned on another node while this one missed the
 * event), and fetches abandoned for an hour, are removed. Several nodes only (one node removes its own). */
void sr_jobs_sweep_results(sr_server *srv) {
  if (!sr_store_shares_results(srv->store)) return;
  char parent[1280], path[1600];
  snprintf(parent, sizeof parent, "%s/results", srv->cfg.data_dir);
  DIR *d = opendir(parent);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
    struct stat sb;
    if (!strncmp(e->d_name, ".fetch-", 7)) {
      if (stat(path, &sb) == 0 && sr_now() - (double)sb.st_mtime > 3600) remove_dir(path);
      continue;
    }
    sr_job_row row;
    if (strlen(e->d_name) < 40 && sr_store_get(srv->store, e->d_name, &row) == SR_STORE_NONE) remove_dir(path);
  }
  if (d) closedir(d);
}

/* What other nodes did (the store's events): a job queued wakes a worker; a status change wakes long-polls, event
 * streams and the webhook sender; a cancel stops the job if it runs here; a deletion drops this node's copy of the
 * result. */
static void on_store_event(void *user, char kind, const char *id) {
  sr_server *srv = user;
  if (kind == 'q') sr_jobs_notify(srv);
  else if (kind == 's' && *id) sr_status_changed(srv, id);
  else if (kind == 'c' && *id) cancel_local(srv, id);
  else if (kind == 'd' && *id && strlen(id) < 40 && !strchr(id, '/') && id[0] != '.') delete_result_files(srv, id);
}

static void *events_main(void *arg) {
  sr_server *srv = arg;
  int down = 0;
  while (!atomic_load(&srv->stopping)) {
    int n = sr_store_wait_events(srv->store, 0.2, on_store_event, srv);
    if (n == -2) break; /* one node: nothing to hear */
    if (n == -1) {
      down = 1;
      sleep_unless_stopping(srv, 1);
    } else if (down) { /* back: events in between are lost, so look at everything once */
      down = 0;
      fprintf(stderr, "scorerecon: listening for other nodes' events again\n");
      pthread_mutex_lock(&srv->mu);
      pthread_cond_broadcast(&srv->work_cv);
      pthread_mutex_unlock(&srv->mu);
      sr_status_changed(srv, NULL);
    }
  }
  return NULL;
}

int sr_jobs_listen_start(sr_server *srv) {
  if (!sr_store_shares_results(srv->store)) return 0;
  if (pthread_create(&srv->events_tid, NULL, events_main, srv)) return -1;
  srv->events_started = 1;
  return 0;
}

void sr_jobs_listen_stop(sr_server *srv) {
  if (srv->events_started) pthread_join(srv->events_tid, NULL); /* within 0.2 s of `stopping` */
  srv->events_started = 0;
}

void sr_jobs_prune(sr_server *srv) {
  if (srv->cfg.retention_s > 0) sr_store_prune(srv->store, sr_now() - srv->cfg.retention_s, delete_result_files, srv);
}

int sr_jobs_start(sr_server *srv) {
  if (srv->cfg.workers == 0) return 0; /* --role api */
  srv->worker_tids = calloc((size_t)srv->cfg.workers, sizeof(pthread_t));
  if (!srv->worker_tids) return -1;
  for (int i = 0; i < srv->cfg.workers; i++) {
    if (pthread_create(&srv->worker_tids[i], NULL, worker_main, srv)) break;
    srv->nworkers++;
  }
  return srv->nworkers == srv->cfg.workers ? 0 : -1;
}

void sr_jobs_notify(sr_server *srv) {
  pthread_mutex_lock(&srv->mu);
  pthread_cond_signal(&srv->work_cv);
  pthread_mutex_unlock(&srv->mu);
}

void sr_jobs_stop(sr_server *srv) {
  atomic_store(&srv->stopping, 1);
  pthread_mutex_lock(&srv->mu);
  pthread_cond_broadcast(&srv->work_cv);
  pthread_mutex_unlock(&srv->mu);
  for (int i = 0; i < srv->nworkers; i++) pthread_join(srv->worker_tids[i], NULL);
  free(srv->worker_tids);
  srv->worker_tids = NULL;
  srv->nworkers = 0;
}

sr_cancel_rc sr_jobs_cancel(sr_server *srv, const char *id) {
  sr_store_rc rc = sr_store_set_status(srv->store, id, "queued", "cancelled", sr_now(), NULL, NULL);
  if (rc == SR_STORE_OK) {
    sr_status_changed(srv, id);
    return SR_CANCEL_DONE;
  }
  if (rc == SR_STORE_FULL) return SR_CANCEL_STORE_FULL;
  if (rc < 0) return SR_CANCEL_ERROR;
  if (cancel_local(srv, id)) return SR_CANCEL_ASKED;
  if (sr_store_shares_results(srv->store)) { /* several nodes: the one running it (maybe this one) is asked */
    rc = sr_store_request_cancel(srv->store, id);
    if (rc == SR_STORE_OK) return SR_CANCEL_ASKED;
    if (rc == SR_STORE_FULL) return SR_CANCEL_STORE_FULL;
    return rc < 0 ? SR_CANCEL_ERROR : SR_CANCEL_FINAL;
  }
  /* Not queued any more. A worker registers a job in `running` right after claiming it, so a job the store
   * calls running may need a moment to appear: look for up to a second. */
  for (int tries = 0; tries < 100; tries++) {
    if (cancel_local(srv, id)) return SR_CANCEL_ASKED;
    sr_job_row row;
    if (sr_store_get(srv->store, id, &row) != SR_STORE_OK || strcmp(row.status, "running")) return SR_CANCEL_FINAL;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return SR_CANCEL_FINAL;
}

int sr_jobs_progress(sr_server *srv, const char *id, long *step, long *total) {
  int found = 0;
  pthread_mutex_lock(&srv->mu);
  for (sr_running *r = srv->running; r; r = r->next)
    if (!strcmp(r->id, id)) {
      *step = atomic_load(&r->step);
      *total = atomic_load(&r->total);
      found = 1;
    }
  pthread_mutex_unlock(&srv->mu);
  return found;
}
