/* fft_plan.c — the FFT planner (include/scorerecon.h "FFT plans"): ESTIMATE plans, or tuned plans that come from
 * a wisdom file so that a machine always runs the same plan for a size, hence the same bits.
 *
 * Owns the planner object: its mode, the wisdom file's name, and the mutex under which FFTW's (process-wide)
 * wisdom is loaded, used and forgotten again. Between processes the file is guarded by an flock on FILE.lock and
 * replaced atomically (write FILE.tmp.PID, fsync, rename), so concurrent jobs never read a half-written file
 * and never drop each other's sizes: each adds to what the file holds when it has the lock. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fft_util.h"
#include "scorerecon.h"

/* MEASURE, not PATIENT: PATIENT took minutes at 512² for a few percent more in FFTW's own benchmarks; the
 * wisdom file keeps either, so a machine could be pre-planned with PATIENT by FFTW's fftwf-wisdom tool. */
#define TUNED_FLAGS FFTW_MEASURE

struct sr_fft_planner {
  sr_fft_mode mode;
  char *path;          /* the wisdom file (tuned) */
  pthread_mutex_t mu;  /* recursive: held while FFTW's wisdom holds the file's contents */
};

const char *sr_fft_mode_name(sr_fft_mode m) { return m == SR_FFT_TUNED ? "tuned" : "estimate"; }

int sr_fft_mode_parse(const char *name) {
  if (name && !strcmp(name, "estimate")) return SR_FFT_ESTIMATE;
  if (name && !strcmp(name, "tuned")) return SR_FFT_TUNED;
  return -1;
}

sr_fft_mode sr_fft_planner_mode(const sr_fft_planner *pl) { return pl ? pl->mode : SR_FFT_ESTIMATE; }

void sr_fft_planner_lock(sr_fft_planner *pl) {
  if (pl) pthread_mutex_lock(&pl->mu);
}

void sr_fft_planner_unlock(sr_fft_planner *pl) {
  if (pl) pthread_mutex_unlock(&pl->mu);
}

/* Adds the file's wisdom to FFTW's. 0: done, or no file yet; -1: unreadable or not FFTW float wisdom. */
static int import_file(const sr_fft_planner *pl, sr_error *err) {
  FILE *f = fopen(pl->path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    sr_fail(err, SR_EINVAL, "fft_wisdom", "file %s: cannot read: %s", pl->path, strerror(errno));
    return -1;
  }
  int ok = fftwf_import_wisdom_from_file(f);
  fclose(f);
  if (!ok) {
    sr_fail(err, SR_EINVAL, "fft_wisdom", "file %s is not FFTW single-precision wisdom of this FFTW version (delete it "
            "to plan afresh)", pl->path);
    return -1;
  }
  return 0;
}

sr_fft_planner *sr_fft_planner_create(sr_fft_mode mode, const char *wisdom_file, sr_error *err) {
  if (mode != SR_FFT_ESTIMATE && mode != SR_FFT_TUNED) {
    sr_fail(err, SR_EINVAL, "fft_plan", "must be estimate or tuned");
    return NULL;
  }
  if (mode == SR_FFT_TUNED && (!wisdom_file || !*wisdom_file)) {
    sr_fail(err, SR_EINVAL, "fft_wisdom", "is required for tuned plans (a file that keeps this machine's plans)");
    return NULL;
  }
  sr_fft_planner *pl = calloc(1, sizeof *pl);
  if (!pl || (mode == SR_FFT_TUNED && !(pl->path = strdup(wisdom_file)))) {
    free(pl);
    sr_fail(err, SR_ENOMEM, "fft_wisdom", "out of memory");
    return NULL;
  }
  pl->mode = mode;
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&pl->mu, &a);
  pthread_mutexattr_destroy(&a);
  if (mode == SR_FFT_TUNED) { /* a file that will not import is reported now, not at the first job */
    pthread_mutex_lock(&pl->mu);
    fftwf_forget_wisdom();
    int bad = import_file(pl, err);
    fftwf_forget_wisdom();
    pthread_mutex_unlock(&pl->mu);
    if (bad) {
      sr_fft_planner_free(pl);
      return NULL;
    }
  }
  return pl;
}

void sr_fft_planner_free(sr_fft_planner *pl) {
  if (!pl) return;
  pthread_mutex_destroy(&pl->mu);
  free(pl->path);
  free(pl);
}

/* FILE's wisdom replaced by what FFTW holds now (the file's as imported, plus what was just measured). */
static int export_file(const sr_fft_planner *pl, sr_error *err) {
  size_t cap = strlen(pl->path) + 32;
  char *tmp = malloc(cap);
  if (!tmp) return sr_fail(err, SR_ENOMEM, "fft_wisdom", "out of memory"), -1;
  snprintf(tmp, cap, "%s.tmp.%ld", pl->path, (long)getpid());
  int ok = fftwf_export_wisdom_to_filename(tmp);
  if (ok) { /* the data on disk before the name points at it */
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0) close(fd);
  }
  if (!ok || rename(tmp, pl->path)) {
    sr_fail(err, SR_EINTERNAL, "fft_wisdom", "file %s: cannot write: %s", pl->path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  return 0;
}

sr_status sr__fft_planner_make(sr_fft_planner *pl, const sr__fft_maker *m, int *measured, sr_error *err) {
  if (!pl || pl->mode == SR_FFT_ESTIMATE) {
    sr_fft_planner_lock(pl);
    int bad = m->make(m->arg, FFTW_ESTIMATE);
    sr_fft_planner_unlock(pl);
    return bad ? sr_fail(err, SR_ENOMEM, "operator", "FFTW could not plan %s", m->what) : SR_OK;
  }
  sr_status st = SR_OK;
  pthread_mutex_lock(&pl->mu);
  fftwf_forget_wisdom();
  if (import_file(pl, err)) {
    st = SR_EINVAL;
    goto out;
  }
  if (m->make(m->arg, TUNED_FLAGS | FFTW_WISDOM_ONLY) == 0) goto out;
  /* Not in the file: measure once, with the file locked against the other processes of this machine. */
  size_t cap = strlen(pl->path) + 8;
  char *lp = malloc(cap);
  int lfd = -1;
  if (lp) {
    snprintf(lp, cap, "%s.lock", pl->path);
    lfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(lp);
  }
  if (lfd < 0 || flock(lfd, LOCK_EX)) {
    st = sr_fail(err, SR_EINTERNAL, "fft_wisdom", "file %s.lock: cannot lock: %s", pl->path, strerror(errno));
    if (lfd >= 0) close(lfd);
    goto out;
  }
  fftwf_forget_wisdom(); /* another process may have added the size while this one waited */
  if (import_file(pl, err)) st = SR_EINVAL;
  else if (m->make(m->arg, TUNED_FLAGS | FFTW_WISDOM_ONLY) == 0) st = SR_OK;
  else if (m->make(m->arg, TUNED_FLAGS)) st = sr_fail(err, SR_ENOMEM, "operator", "FFTW could not plan %s", m->what);
  else {
    /* The measured plans are dropped and made again from the file just written: the first job of a size runs
     * exactly what every later one will. */
    m->drop(m->arg);
    if (measured) ++*measured;
    if (export_file(pl, err)) st = SR_EINTERNAL;
    else {
      fftwf_forget_wisdom();
      if (import_file(pl, err)) st = SR_EINVAL;
      else if (m->make(m->arg, TUNED_FLAGS | FFTW_WISDOM_ONLY))
        st = sr_fail(err, SR_EINTERNAL, "fft_wisdom", "file %s: the wisdom just written does not plan %s", pl->path,
                     m->what);
    }
  }
  flock(lfd, LOCK_UN);
  close(lfd);
out:
  fftwf_forget_wisdom(); /* ESTIMATE plans made later in this process must not find it */
  pthread_mutex_unlock(&pl->mu);
  return st;
}

sr_status sr_fft_planner_prepare(sr_fft_planner *pl, size_t h, size_t w, int complex_too, int *measured,
                                 sr_error *err) {
  if (measured) *measured = 0;
  if (h < 1 || w < 1) return sr_fail(err, SR_EINVAL, "sizes", "must be positive");
  sr_fft2 f;
  if (sr_fft2_plan(&f, h, w)) return sr_fail(err, SR_ENOMEM, "sizes", "FFTW could not plan %zux%zu", h, w);
  sr_status st = sr__fft2_replan(&f, pl, measured, err);
  sr_fft2_destroy(&f);
  if (st || !complex_too) return st;
  fftwf_plan fwd = NULL, bwd = NULL;
  st = sr__fftc_plan(h, w, pl, &fwd, &bwd, measured, err);
  if (fwd) fftwf_destroy_plan(fwd);
  if (bwd) fftwf_destroy_plan(bwd);
  return st;
}
