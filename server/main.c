/* main.c — the scorerecon binary: subcommand dispatch and the `run` command (a job file in, a result out). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "models.h"

int sr_serve_main(int argc, char **argv); /* serve.c */

static void usage(FILE *f) {
  fprintf(f,
          "scorerecon %s — posterior sampling with score-based priors\n\n"
          "usage:\n"
          "  scorerecon run JOB.json [-o RESULT.json] [--lists] [--threads N] [--quiet] [--models DIR]\n"
          "      Runs one job offline. JOB.json may be '-' (stdin); -o '-' (default) writes to stdout.\n"
          "      --lists      arrays as nested JSON lists instead of base64 ARRAY objects\n"
          "      --threads N  worker threads (default: all cores; results do not depend on it)\n"
          "      --quiet      no progress bar\n"
          "  scorerecon serve [--listen HOST:PORT] [--data-dir DIR] [--workers N] [--token-file F] ...\n"
          "      The HTTP service (see `scorerecon serve --help`, openapi.yaml).\n"
          "  scorerecon models [DIR]\n"
          "      Lists the score models in DIR (default models/) with their shape, parameters and noise range,\n"
          "      and the sampler {\"type\": \"auto\"} (or a job without \"sampler\") picks for each prior type.\n"
          "  scorerecon version\n"
          "  scorerecon help\n\n"
          "Exit status: 0 success, 2 invalid job (one message naming the field), 1 other failure.\n"
          "The job format is documented in docs/job-format.md.\n",
          SR_VERSION);
}

/* Reads a whole file (or stdin for "-") up to max bytes. */
static char *read_all(const char *path, size_t max, size_t *len, int *too_big) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  *too_big = 0;
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (n == cap) {
      if (cap > max) {
        *too_big = 1;
        free(buf);
        buf = NULL;
        break;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (buf && n > max) {
    *too_big = 1;
    free(buf);
    buf = NULL;
  }
  int read_errno = buf && ferror(f) ? (errno ? errno : EIO) : 0; /* e.g. EISDIR: not an empty document */
  if (read_errno) {
    free(buf);
    buf = NULL;
  }
  if (f != stdin) fclose(f);
  if (read_errno) errno = read_errno;
  *len = n;
  return buf;
}

/* Prints "error: MSG" as exactly one line: control bytes in the message (a key may hold "\n") are escaped. */
static void print_error(const char *msg) {
  fputs("error: ", stderr);
  for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
    if (*p < 0x20 || *p == 0x7f) fprintf(stderr, "\\x%02x", *p);
    else fputc(*p, stderr);
  }
  fputc('\n', stderr);
}

/* ---------------------------------------------------------------- progress bar (stderr, TTY only) */

typedef struct {
  atomic_long last_ms;
  atomic_int drawing;
  double t0;
} progress_state;

static void draw(progress_state *ps, long done, long total) {
  double frac = total > 0 ? (double)done / (double)total : 1.0;
  if (frac > 1) frac = 1;
  double el = sr_clock_seconds() - ps->t0, eta = frac > 0 ? el * (1 - frac) / frac : 0;
  char bar[41];
  int k = (int)(frac * 40);
  for (int i = 0; i < 40; i++) bar[i] = i < k ? '#' : '.';
  bar[40] = 0;
  fprintf(stderr, "\r[%s] %5.1f%%  %ld/%ld  %.1fs elapsed, %.1fs left ", bar, 100 * frac, done, total, el, eta);
  fflush(stderr);
}

static int on_progress(void *user, long done, long total) {
  progress_state *ps = user;
  long now = (long)(sr_clock_seconds() * 1000);
  long last = atomic_load(&ps->last_ms);
  if (now - last < 100 && done < total) return 0;
  int expected = 0;
  if (!atomic_compare_exchange_strong(&ps->drawing, &expected, 1)) return 0;
  atomic_store(&ps->last_ms, now);
  draw(ps, done, total);
  atomic_store(&ps->drawing, 0);
  return 0;
}

/* ---------------------------------------------------------------- run */

/* Whether `run` will be able to write its result to path, asked before the job runs (errno says why not): an
 * existing file must be writable, a new one needs a writable directory. */
static int output_writable(const char *path) {
  if (access(path, F_OK) == 0) return access(path, W_OK) == 0;
  if (errno != ENOENT) return 0;
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash) return access(".", W_OK | X_OK) == 0;
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  if (n >= sizeof dir) {
    errno = ENAMETOOLONG;
    return 0;
  }
  memcpy(dir, path, n);
  dir[n] = 0;
  return access(dir, W_OK | X_OK) == 0;
}

static int cmd_run(int argc, char **argv) {
  const char *in = NULL, *out = "-";
  int lists = 0, threads = 0, quiet = 0;
  const char *models = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--lists")) lists = 1;
    else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) quiet = 1;
    else if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      char *end;
      long t = strtol(argv[++i], &end, 10);
      if (*end || t < 1 || t > 1024) {
        fprintf(stderr, "scorerecon: --threads must be an integer from 1 to 1024\n");
        return 2;
      }
      threads = (int)t;
    } else if (!in && (argv[i][0] != '-' || !strcmp(argv[i], "-"))) in = argv[i];
    else {
      fprintf(stderr, "scorerecon run: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!in) {
    usage(stderr);
    return 2;
  }
  sr_limits lim;
  sr_limits_default(&lim);
  char mbuf[1024];
  lim.models_dir = sr_models_dir_resolve(models, mbuf, sizeof mbuf);
  size_t len;
  int too_big;
  char *text = read_all(in, lim.max_doc_bytes, &len, &too_big);
  if (!text) {
    if (too_big) fprintf(stderr, "error: job document %s is larger than the limit of %zu bytes\n", in, lim.max_doc_bytes);
    else fprintf(stderr, "error: cannot read %s: %s\n", in, strerror(errno));
    return too_big ? 2 : 1;
  }
  sr_init();
  sr_problem pb;
  sr_error err;
  sr_status st = sr_job_parse(text, len, &lim, &pb, &err);
  free(text);
  if (st) {
    print_error(err.msg);
    return st == SR_ENOMEM ? 1 : 2;
  }
  if (strcmp(out, "-") && !output_writable(out)) { /* before the run, not after minutes of it */
    fprintf(stderr, "error: cannot write %s: %s\n", out, strerror(errno));
    sr_problem_clear(&pb);
    return 1;
  }
  pb.threads = threads;
  progress_state ps = {0};
  ps.t0 = sr_clock_seconds();
  int bar = !quiet && isatty(2);
  sr_result res;
  st = sr_run(&pb, &res, bar ? on_progress : NULL, &ps, &err);
  if (bar) fprintf(stderr, "\n");
  if (st) {
    print_error(err.msg);
    sr_problem_clear(&pb);
    return 1;
  }
  cJSON *doc = sr_result_json(&pb, &res, lists);
  char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
  int rc = 0;
  if (!s) {
    fprintf(stderr, "error: out of memory writing the result\n");
    rc = 1;
  } else {
    FILE *f = strcmp(out, "-") ? fopen(out, "wb") : stdout;
    if (!f || fputs(s, f) < 0 || fputc('\n', f) < 0 || (f != stdout && fclose(f))) {
      fprintf(stderr, "error: cannot write %s: %s\n", out, strerror(errno));
      rc = 1;
    } else if (f == stdout) {
      fflush(stdout);
    }
  }
  free(s);
  cJSON_Delete(doc);
  sr_result_clear(&res);
  sr_problem_clear(&pb);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
  if (!strcmp(cmd, "serve")) return sr_serve_main(argc - 2, argv + 2);
  if (!strcmp(cmd, "models")) { /* scorerecon models [DIR] */
    if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
      usage(stdout);
      return 0;
    }
    sr_init();
    char mbuf[1024];
    cJSON *m = sr_models_json(sr_models_dir_resolve(argc > 2 ? argv[2] : NULL, mbuf, sizeof mbuf));
    char *s = cJSON_Print(m);
    if (s) puts(s);
    free(s);
    cJSON_Delete(m);
    return 0;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("scorerecon %s\n", SR_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "scorerecon: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
