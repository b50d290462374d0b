/* main.c — the scorerecon binary: subcommand dispatch and the `run` command (a job file in, with fields supplied
 * from .npy, PNG and BART .cfl/.hdr files; a result out, or the result files in a directory). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "array_json.h"
#include "cfl.h"
#include "job.h"
#include "models.h"

int sr_serve_main(int argc, char **argv); /* serve.c */

static void usage(FILE *f) {
  fprintf(f,
          "scorerecon %s — posterior sampling with score-based priors\n\n"
          "usage:\n"
          "  scorerecon run JOB.json [-o RESULT.json] [--out-dir DIR] [--out-format npy|cfl] [--observation FILE]\n"
          "                 [--mask FILE] [--kernel FILE] [--sensitivities FILE] [--ground-truth FILE] [--lists]\n"
          "                 [--threads N] [--quiet]\n"
          "                 [--models DIR] [--fft-plan estimate|tuned] [--fft-wisdom FILE]\n"
          "      Runs one job offline. JOB.json may be '-' (stdin); -o '-' (default) writes to stdout.\n"
          "      --observation FILE, --mask FILE, --kernel FILE, --sensitivities FILE, --ground-truth FILE\n"
          "                   that field of the job, from a .npy file (float32 '<f4', float64 '<f8', complex64\n"
          "                   '<c8'; little-endian, C order), an 8- or 16-bit grayscale PNG (scaled to [0, 1]) or a\n"
          "                   BART pair BASE.cfl + BASE.hdr (given as BASE, BASE.cfl or BASE.hdr; BART [X, Y] is\n"
          "                   our [h, w] = [Y, X]; a real field needs every imaginary part 0);\n"
          "                   it replaces the document's. --mask goes to the mask, fourier or sense operator,\n"
          "                   --kernel to the blur operator, --sensitivities to the sense operator (BART's coil\n"
          "                   maps [X, Y, 1, C] are our [C, Y, X]; in a list, the one operator that takes it)\n"
          "      --out-dir DIR  writes result.json, mean.npy, std.npy, samples.npy, mean.png, std.png (those the\n"
          "                   job asks for) into DIR, made if absent, as the service keeps them; stdout stays\n"
          "                   empty unless -o is given too\n"
          "      --out-format npy|cfl  the arrays of --out-dir as .npy (default) or as BART pairs mean.cfl/.hdr,\n"
          "                   std.cfl/.hdr, samples.cfl/.hdr (the sample index BART's last dimension, 15)\n"
          "      --lists      arrays as nested JSON lists instead of base64 ARRAY objects\n"
          "      --threads N  worker threads (default: all cores; results do not depend on it)\n"
          "      --quiet      no progress bar\n"
          "      --fft-plan estimate|tuned  FFTW plans: estimate (default; the same bits on every machine) or tuned\n"
          "                   (measured once per machine and size, kept in --fft-wisdom FILE: the same bits on\n"
          "                   this machine with this file, maybe other bits elsewhere; docs/performance.md)\n"
          "      --fft-wisdom FILE  the wisdom file of tuned plans (made or extended as needed); implies tuned\n"
          "  scorerecon serve [--listen HOST:PORT] [--data-dir DIR] [--workers N] [--token-file F] ...\n"
          "      The HTTP service (see `scorerecon serve --help`, openapi.yaml).\n"
          "  scorerecon fft-wisdom --fft-wisdom FILE --sizes N[xM],... [--complex]\n"
          "      Plans the real FFT pair (and, with --complex, the c2c pair) of each size with FFTW_MEASURE into\n"
          "      FILE, so that the first tuned job of that size does not wait for it.\n"
          "  scorerecon models [DIR]\n"
          "      Lists the score models in DIR (default models/) with their shape, parameters and noise range,\n"
          "      and the sampler {\"type\": \"auto\"} (or a job without \"sampler\") picks for each prior type.\n"
          "  scorerecon version\n"
          "  scorerecon help\n\n"
          "Exit status: 0 success, 2 invalid job or input file (one message naming the field or the option),\n"
          "1 other failure (an unreadable file, an unwritable output).\n"
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

/* --out-dir: made if absent (one level, as mkdir does), and a writable directory; asked before the job runs. */
static int out_dir_ready(const char *dir) {
  if (mkdir(dir, 0777) == 0) return 1;
  if (errno != EEXIST) return 0;
  struct stat st;
  if (stat(dir, &st)) return 0;
  if (!S_ISDIR(st.st_mode)) return errno = ENOTDIR, 0;
  return access(dir, W_OK | X_OK) == 0;
}

/* Writes data, and a newline if nl, to path ("-": stdout); -1 with errno set when it cannot. */
static int write_out(const char *path, const void *data, size_t len, int nl) {
  FILE *f = strcmp(path, "-") ? fopen(path, "wb") : stdout;
  if (!f) return -1;
  int bad = (len && fwrite(data, 1, len, f) != len) || (nl && fputc('\n', f) == EOF);
  int closed = f == stdout ? fflush(f) : fclose(f);
  return bad || closed ? -1 : 0;
}

/* sr_result_files' put for --out-dir: DIR/NAME, with a copy of result.json at -o when it is given. */
typedef struct {
  const char *dir, *json_copy; /* --out-dir; -o or NULL */
  char at[4096];               /* the file being written: the one that failed, if one does */
} out_files;

static int put_out_file(void *user, const char *name, const void *data, size_t len) {
  out_files *o = user;
  if (snprintf(o->at, sizeof o->at, "%s/%s", o->dir, name) >= (int)sizeof o->at) return errno = ENAMETOOLONG, -1;
  if (!data) return unlink(o->at) && errno != ENOENT ? -1 : 0; /* an earlier run's file that this result lacks */
  if (write_out(o->at, data, len, 0)) return -1;
  if (!o->json_copy || strcmp(name, "result.json")) return 0;
  snprintf(o->at, sizeof o->at, "%s", o->json_copy);
  return write_out(o->json_copy, data, len, 1);
}

/* The options that supply a field of the job from a file, in the order they are applied. */
static const struct {
  const char *option, *key;
} FILE_OPTIONS[] = {{"--observation", "observation"}, {"--mask", "mask"}, {"--kernel", "kernel"},
                    {"--sensitivities", "sensitivities"}, {"--ground-truth", "ground_truth"}};
enum { N_FILE_OPTIONS = sizeof FILE_OPTIONS / sizeof FILE_OPTIONS[0] };

/* "error: OPTION FILE: MESSAGE", one line. */
static void print_file_error(int k, const char *file, const char *msg) {
  char line[4096 + 512];
  snprintf(line, sizeof line, "%s %s: %s", FILE_OPTIONS[k].option, file, msg);
  print_error(line);
}

/* Whether file names a BART pair: BASE.cfl or BASE.hdr, or BASE itself when no such file exists and BASE.hdr
 * does; base[0..cap) receives BASE. */
static int cfl_pair(const char *file, char *base, size_t cap) {
  size_t n = strlen(file);
  if (!strcmp(file, "-") || sr_cfl_base(file, base, cap)) return 0;
  if (strlen(base) < n) return 1;
  char hdr[4096 + 8];
  snprintf(hdr, sizeof hdr, "%s.hdr", base);
  return access(file, F_OK) != 0 && access(hdr, F_OK) == 0;
}

/* A file option's ARRAY: a .npy or PNG file (sr_jarray_from_file) or a BART pair (sr_jarray_from_cfl: complex64
 * when want_complex). Returns the exit status after printing the error, or 0 with *arr set. */
static int file_array(int k, const char *file, int want_complex, const sr_limits *lim, cJSON **arr) {
  /* no array within the limit needs more: complex64, 8 bytes a value, plus a header of at most 64 KiB */
  size_t max_bytes = 8 * lim->max_pixels + (1u << 17);
  char why[512], base[4096], at[2][4096 + 8];
  int pair = cfl_pair(file, base, sizeof base);
  if (pair) {
    snprintf(at[0], sizeof at[0], "%s.hdr", base);
    snprintf(at[1], sizeof at[1], "%s.cfl", base);
  }
  unsigned char *buf[2] = {NULL, NULL};
  size_t len[2] = {0, 0};
  for (int f = 0; f < 1 + pair; f++) {
    const char *path = pair ? at[f] : file;
    size_t max = pair && f == 0 ? 1u << 16 : pair ? 8 * lim->max_pixels : max_bytes;
    int too_big;
    buf[f] = (unsigned char *)read_all(path, max, &len[f], &too_big);
    if (!buf[f]) {
      const char *which = !pair ? "" : f ? ".cfl: " : ".hdr: "; /* the pair's reasons say which of its files */
      if (too_big) snprintf(why, sizeof why, "%slarger than %zu bytes, more than %s within the limit of %zu values "
                            "can be", which, max, pair && f == 0 ? "the header of an array" : "an array",
                            lim->max_pixels);
      else snprintf(why, sizeof why, "%scannot read: %s", which, strerror(errno));
      print_file_error(k, file, why);
      free(buf[0]);
      return too_big ? 2 : 1;
    }
  }
  sr_status st = pair ? sr_jarray_from_cfl((const char *)buf[0], len[0], buf[1], len[1], want_complex,
                                           lim->max_pixels, arr, why, sizeof why)
                      : sr_jarray_from_file(buf[0], len[0], file, lim->max_pixels, arr, why, sizeof why);
  free(buf[0]);
  free(buf[1]);
  if (st) print_file_error(k, file, why);
  return st == SR_OK ? 0 : st == SR_ENOMEM ? 1 : 2;
}

/* Reads each given file into an ARRAY and puts it in the job document at its field (path[k]: where it went). A
 * BART pair is complex64 where bit k of complex_mask is set or an imaginary part is not 0, else float32 (bit k of
 * *pairs set). Returns 0, or the exit status after printing the error. */
static int supply_files(cJSON *doc, const char *const files[], char path[][64], const sr_limits *lim,
                        unsigned complex_mask, unsigned *pairs) {
  *pairs = 0;
  for (int k = 0; k < N_FILE_OPTIONS; k++) {
    if (!files[k]) continue;
    char why[512], base[4096];
    if (cfl_pair(files[k], base, sizeof base)) *pairs |= 1u << k;
    cJSON *arr;
    int rc = file_array(k, files[k], (complex_mask >> k) & 1, lim, &arr);
    if (rc) return rc;
    sr_status st = sr_job_supply(doc, FILE_OPTIONS[k].key, arr, path[k], sizeof path[k], why, sizeof why);
    if (st) {
      print_file_error(k, files[k], why);
      return st == SR_ENOMEM ? 1 : 2;
    }
  }
  return 0;
}

/* The file option whose field the parser's error names, or -1 (the error is the document's own). */
static int error_option(const sr_error *err, const char *const files[], char path[][64]) {
  for (int k = 0; k < N_FILE_OPTIONS; k++) {
    size_t n = strlen(path[k]);
    if (files[k] && !strncmp(err->field, path[k], n) && strchr(".[", err->field[n]) != NULL &&
        !strncmp(err->msg, path[k], n))
      return k; /* (strchr finds the terminating NUL too: the field itself) */
  }
  return -1;
}

/* The parser's error, said of the option and file that supplied the field it names, if one did:
 * "observation shape [32,32] does not match operator output [64,64]" becomes
 * "--observation y.npy: shape [32,32] does not match operator output [64,64]". */
static void print_job_error(const sr_error *err, const char *const files[], char path[][64], unsigned pairs) {
  int k = error_option(err, files, path);
  if (k < 0) {
    print_error(err->msg);
    return;
  }
  const char *rest = err->msg + strlen(path[k]);
  if (!strncmp(rest, ".dtype must be complex64", 24))
    print_file_error(k, files[k], "holds real values, and the operator's output is complex: give a complex64 "
                     "('<c8') .npy");
  else if (!strncmp(rest, ".dtype must be float32", 22))
    print_file_error(k, files[k], (pairs >> k) & 1 ? "holds complex values (an imaginary part is not 0), where "
                     "real ones are wanted" : "holds complex values, where real ones are wanted");
  else
    print_file_error(k, files[k], rest[0] == ' ' ? rest + 1 : err->msg);
}

static int cmd_run(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *out_dir = NULL, *out_format = "npy";
  const char *files[N_FILE_OPTIONS] = {NULL};
  int lists = 0, threads = 0, quiet = 0;
  const char *models = NULL, *fft_plan = NULL, *fft_wisdom = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    int file_option = -1;
    for (int k = 0; k < N_FILE_OPTIONS; k++)
      if (!strcmp(argv[i], FILE_OPTIONS[k].option)) file_option = k;
    if (file_option >= 0 && i + 1 < argc) files[file_option] = argv[++i];
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--out-dir") && i + 1 < argc) out_dir = argv[++i];
    else if (!strcmp(argv[i], "--out-format") && i + 1 < argc) {
      out_format = argv[++i];
      if (strcmp(out_format, "npy") && strcmp(out_format, "cfl")) {
        fprintf(stderr, "scorerecon: --out-format must be npy or cfl\n");
        return 2;
      }
    }
    else if (!strcmp(argv[i], "--lists")) lists = 1;
    else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) quiet = 1;
    else if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
    else if (!strcmp(argv[i], "--fft-plan") && i + 1 < argc) {
      fft_plan = argv[++i];
      if (sr_fft_mode_parse(fft_plan) < 0) {
        fprintf(stderr, "scorerecon: --fft-plan must be estimate or tuned\n");
        return 2;
      }
    } else if (!strcmp(argv[i], "--fft-wisdom") && i + 1 < argc) fft_wisdom = argv[++i];
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
  int stdin_users = !strcmp(in, "-");
  for (int k = 0; k < N_FILE_OPTIONS; k++) stdin_users += files[k] && !strcmp(files[k], "-");
  if (stdin_users > 1) {
    fprintf(stderr, "scorerecon run: only one of JOB.json and the file options can be '-' (stdin)\n");
    return 2;
  }
  if (strcmp(out_format, "npy") && !out_dir) {
    fprintf(stderr, "scorerecon run: --out-format says how --out-dir writes its arrays: give --out-dir too\n");
    return 2;
  }
  if (!out && !out_dir) out = "-"; /* with --out-dir, stdout only when -o says so */
  /* --fft-wisdom alone means tuned; tuned needs the file (a machine's plans must be kept to give the same bits) */
  sr_fft_mode fft_mode = fft_plan ? (sr_fft_mode)sr_fft_mode_parse(fft_plan) : fft_wisdom ? SR_FFT_TUNED
                                                                                        : SR_FFT_ESTIMATE;
  if (fft_mode == SR_FFT_TUNED && !fft_wisdom) {
    fprintf(stderr, "scorerecon run: --fft-plan tuned needs --fft-wisdom FILE (where this machine's plans are kept)\n");
    return 2;
  }
  if (fft_mode == SR_FFT_ESTIMATE && fft_wisdom) {
    fprintf(stderr, "scorerecon run: --fft-wisdom is for tuned plans: drop it, or --fft-plan estimate\n");
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
  /* the document, then the fields the files supply, then the one validation of the whole. A BART pair's values
   * are complex, and only the parser knows whether its field is: a pair of zero imaginary parts goes in as real,
   * and again as complex where the parser says that field must be complex64 (at most once per option). */
  char path[N_FILE_OPTIONS][64] = {{0}};
  unsigned complex_mask = 0, pairs = 0;
  sr_status st;
  int rc = 0;
  for (;;) {
    cJSON *doc;
    st = sr_job_read(text, len, &lim, &doc, &err);
    if (st) {
      print_error(err.msg);
      rc = st == SR_ENOMEM ? 1 : 2;
      break;
    }
    rc = supply_files(doc, files, path, &lim, complex_mask, &pairs);
    st = rc ? SR_OK : sr_job_parse_tree(doc, &lim, &pb, &err, NULL);
    cJSON_Delete(doc);
    if (rc || !st) break;
    int k = error_option(&err, files, path);
    if (k >= 0 && (pairs >> k & 1) && !(complex_mask >> k & 1) &&
        !strncmp(err.msg + strlen(path[k]), ".dtype must be complex64", 24)) {
      complex_mask |= 1u << k;
      continue;
    }
    print_job_error(&err, files, path, pairs);
    rc = st == SR_ENOMEM ? 1 : 2;
    break;
  }
  free(text);
  if (rc) return rc;
  /* the outputs, before the run rather than after minutes of it */
  if (out && strcmp(out, "-") && !output_writable(out)) {
    fprintf(stderr, "error: cannot write %s: %s\n", out, strerror(errno));
    sr_problem_clear(&pb);
    return 1;
  }
  if (out_dir && !out_dir_ready(out_dir)) {
    fprintf(stderr, "error: cannot write to --out-dir %s: %s\n", out_dir, strerror(errno));
    sr_problem_clear(&pb);
    return 1;
  }
  pb.threads = threads;
  if (fft_mode == SR_FFT_TUNED) {
    sr_fft_planner *pl = sr_fft_planner_create(fft_mode, fft_wisdom, &err);
    st = pl ? sr_op_plan_fft(pb.op, pl, &err) : err.code;
    sr_fft_planner_free(pl);
    if (st) {
      print_error(err.msg);
      sr_problem_clear(&pb);
      return st == SR_EINVAL ? 2 : 1;
    }
  }
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
  if (out_dir) {
    out_files of = {out_dir, out, ""};
    if (sr_result_files(&pb, &res, lists, !strcmp(out_format, "cfl") ? SR_FILES_CFL : SR_FILES_NPY, put_out_file,
                        &of)) {
      fprintf(stderr, "error: cannot write %s: %s\n", errno == ENOMEM ? "the result" : of.at, strerror(errno));
      rc = 1;
    }
  } else {
    cJSON *rdoc = sr_result_json(&pb, &res, lists);
    char *s = rdoc ? cJSON_PrintUnformatted(rdoc) : NULL;
    if (!s) {
      fprintf(stderr, "error: out of memory writing the result\n");
      rc = 1;
    } else if (write_out(out, s, strlen(s), 1)) {
      fprintf(stderr, "error: cannot write %s: %s\n", out, strerror(errno));
      rc = 1;
    }
    free(s);
    cJSON_Delete(rdoc);
  }
  sr_result_clear(&res);
  sr_problem_clear(&pb);
  return rc;
}

/* scorerecon fft-wisdom --fft-wisdom FILE --sizes 256,512x384 [--complex] */
static int cmd_fft_wisdom(int argc, char **argv) {
  const char *file = NULL, *sizes = NULL;
  int complex_too = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--fft-wisdom") && i + 1 < argc) file = argv[++i];
    else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) sizes = argv[++i];
    else if (!strcmp(argv[i], "--complex")) complex_too = 1;
    else {
      fprintf(stderr, "scorerecon fft-wisdom: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!file || !sizes) {
    fprintf(stderr, "scorerecon fft-wisdom: give --fft-wisdom FILE and --sizes N[xM],...\n");
    return 2;
  }
  sr_init();
  sr_error err;
  sr_fft_planner *pl = sr_fft_planner_create(SR_FFT_TUNED, file, &err);
  if (!pl) {
    print_error(err.msg);
    return 2;
  }
  int rc = 0;
  for (const char *p = sizes; *p && !rc;) {
    char *end;
    long h = strtol(p, &end, 10), w = h;
    if (*end == 'x') w = strtol(end + 1, &end, 10);
    if (end == p || h < 1 || w < 1 || h > 65536 || w > 65536 || (*end && *end != ',')) {
      fprintf(stderr, "scorerecon fft-wisdom: --sizes must be a list like 256,512x384\n");
      rc = 2;
      break;
    }
    int measured = 0;
    double t0 = sr_clock_seconds();
    if (sr_fft_planner_prepare(pl, (size_t)h, (size_t)w, complex_too, &measured, &err)) {
      print_error(err.msg);
      rc = err.code == SR_EINVAL ? 2 : 1;
      break;
    }
    printf("%ldx%ld: %s (%.2f s)\n", h, w, measured ? "measured and added" : "already in the file",
           sr_clock_seconds() - t0);
    p = *end ? end + 1 : end;
  }
  sr_fft_planner_free(pl);
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
  if (!strcmp(cmd, "fft-wisdom")) return cmd_fft_wisdom(argc - 2, argv + 2);
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
