/* options.c — the one table of options and limits (see options.h): defaults, ranges, parsing and help, for
 * `serve` (flags and SCORERECON_* variables) and for the job limits of `run`. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CFG(f) 0, offsetof(sr_server_config, f)
#define LIM(f) 1, offsetof(sr_limits, f)
static const sr_option OPTIONS[] = {
    {"--listen", "HOST:PORT", "SCORERECON_LISTEN", SR_OPT_LISTEN, CFG(host), "127.0.0.1:8080", NULL, 0, 65535, NULL,
     "address to listen on (port 0 picks a free one; [::1]:8080 for IPv6)"},
    {"--data-dir", "DIR", "SCORERECON_DATA_DIR", SR_OPT_STR, CFG(data_dir), "var", NULL, 0, 0, NULL,
     "directory of the job database and results"},
    {"--store", "URL", "SCORERECON_STORE", SR_OPT_STR, CFG(store_url), "", NULL, 0, 0, NULL,
     "job store: sqlite:DIR (empty: SQLite in the data dir) or postgresql://... (several nodes share it)"},
    {"--lease", "S", "SCORERECON_LEASE", SR_OPT_DOUBLE, CFG(lease_s), "30", NULL, 1, 3600, NULL,
     "seconds a node's claim on a running job lasts unless renewed (PostgreSQL store)"},
    {"--role", "R", "SCORERECON_ROLE", SR_OPT_ROLE, CFG(role), "both", NULL, 0, 0, NULL,
     "both, api (takes requests, runs no job) or worker (runs jobs; serves only /healthz /readyz /metrics): several "
     "nodes on a PostgreSQL store"},
    {"--poll", "S", "SCORERECON_POLL", SR_OPT_DOUBLE, CFG(poll_s), "1", NULL, 0.05, 3600, NULL,
     "seconds an idle worker waits before looking at the queue again (a new job wakes it sooner)"},
    {"--models", "DIR", "SCORERECON_MODELS", SR_OPT_STR, CFG(models_dir), "models", NULL, 0, 0, NULL,
     "directory of score models"},
    {"--token-file", "F", "SCORERECON_TOKEN_FILE", SR_OPT_TOKEN, CFG(token), NULL, NULL, 0, 0, NULL,
     "file holding the bearer token for /v1/*"},
    {"--webhook-allow", "LIST", "SCORERECON_WEBHOOK_ALLOW", SR_OPT_STR, CFG(webhook_allow), "", NULL, 0, 0, NULL,
     "hosts a job's \"notify\" URL may name: HOST or HOST:PORT, comma-separated (empty: no webhooks)"},
    {"--webhook-secret-file", "F", "SCORERECON_WEBHOOK_SECRET_FILE", SR_OPT_TOKEN, CFG(webhook_secret), NULL, NULL, 0,
     0, NULL, "file holding the HMAC-SHA256 key that signs webhooks (needed with --webhook-allow)"},
    {"--workers", "N", "SCORERECON_WORKERS", SR_OPT_INT, CFG(workers), "1", NULL, 1, 256, NULL, "jobs run at once"},
    {"--job-threads", "N", "SCORERECON_JOB_THREADS", SR_OPT_INT, CFG(job_threads), "0", NULL, 0, 1024, NULL,
     "threads inside one job (0: cores / workers)"},
    {"--http-threads", "N", "SCORERECON_HTTP_THREADS", SR_OPT_INT, CFG(http_threads), "4", NULL, 1, 256, NULL,
     "HTTP thread pool size"},
    {"--queue-max", "N", "SCORERECON_QUEUE_MAX", SR_OPT_LONG, CFG(queue_max), "1000", NULL, 1, 1e9, "429 queue-full",
     "queued jobs before 429"},
    {"--retention", "S", "SCORERECON_RETENTION", SR_OPT_DOUBLE, CFG(retention_s), "604800", NULL, 0, 1e10, NULL,
     "seconds a finished job is kept (0: forever)"},
    {"--max-body", "B", "SCORERECON_MAX_BODY", SR_OPT_SIZE, LIM(max_doc_bytes), "33554432", "268435456", 1024, 1e9,
     "413 body-too-large", "request body bytes (at most 1e9: SQLite's largest value)"},
    {"--max-json-values", "N", "SCORERECON_MAX_JSON_VALUES", SR_OPT_SIZE, LIM(max_json_values), "262144", NULL, 16,
     1e9, "422 limit-exceeded", "JSON values in a job document (large arrays go in base64)"},
    {"--min-free-space", "B", "SCORERECON_MIN_FREE_SPACE", SR_OPT_SIZE, CFG(min_free_bytes), "67108864", NULL, 0,
     1e15, "507 insufficient-storage", "bytes the data dir's file system keeps free (507 / not ready below)"},
    {"--max-pixels", "N", "SCORERECON_MAX_PIXELS", SR_OPT_SIZE, LIM(max_pixels), "4194304", NULL, 1, 1e10,
     "422 limit-exceeded", "pixels per image"},
    {"--max-samples", "N", "SCORERECON_MAX_SAMPLES", SR_OPT_LONG, LIM(max_samples), "4096", NULL, 1, 1e7,
     "422 invalid-job", "num_samples"},
    {"--max-chain-steps", "N", "SCORERECON_MAX_CHAIN_STEPS", SR_OPT_DOUBLE, LIM(max_chain_steps), "1e8", NULL, 1,
     1e15, "422 limit-exceeded", "num_samples x sampler steps"},
    {"--max-output-values", "N", "SCORERECON_MAX_OUTPUT_VALUES", SR_OPT_DOUBLE, LIM(max_output_values), "2.5e8", NULL,
     1, 1e12, "422 limit-exceeded", "values held for samples and trajectories"},
    {"--conn-timeout", "S", "SCORERECON_CONN_TIMEOUT", SR_OPT_UINT, CFG(conn_timeout_s), "30", NULL, 1, 3600, NULL,
     "seconds an idle or slow connection may stay open"},
    {"--max-connections", "N", "SCORERECON_MAX_CONNECTIONS", SR_OPT_UINT, CFG(max_connections), "1000", NULL, 1,
     100000, NULL, "open connections in all"},
    {"--per-ip-connections", "N", "SCORERECON_PER_IP_CONNECTIONS", SR_OPT_UINT, CFG(per_ip_connections), "200", NULL,
     1, 100000, NULL, "open connections per client address"},
    {"--max-wait", "S", "SCORERECON_MAX_WAIT", SR_OPT_INT, CFG(max_wait_s), "60", NULL, 0, 3600, "400 bad-query",
     "largest ?wait= in seconds"},
    {"--fft-plan", "MODE", "SCORERECON_FFT_PLAN", SR_OPT_STR, CFG(fft_plan), "estimate", NULL, 0, 0, NULL,
     "FFTW plans: estimate (the same bits on every machine) or tuned (measured once per machine and size, kept in "
     "the wisdom file)"},
    {"--fft-wisdom", "FILE", "SCORERECON_FFT_WISDOM", SR_OPT_STR, CFG(fft_wisdom), "", NULL, 0, 0, NULL,
     "wisdom file of the tuned plans (empty: fftw-wisdom in the data dir)"},
    {"--max-event-streams", "N", "SCORERECON_MAX_EVENT_STREAMS", SR_OPT_INT, CFG(max_event_streams), "256", NULL, 1,
     100000, "503 too-many-streams", "open event streams (GET /v1/jobs/{id}/events) in all"},
};
#define NOPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

const sr_option *sr_options(size_t *n) {
  *n = NOPTIONS;
  return OPTIONS;
}

static char *field(void *base, const sr_option *o) { return (char *)base + o->offset; }

/* Sets the field at base (an sr_server_config, or an sr_limits for in_limits) from text v. */
static int set_at(void *base, sr_server_config *cfg, const sr_option *o, const char *v, char *err, size_t cap) {
  char *end;
  errno = 0;
  switch (o->kind) {
  case SR_OPT_LISTEN: {
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
  case SR_OPT_STR:
    if (strlen(v) >= 1024) return snprintf(err, cap, "%s: too long", o->flag), -1;
    snprintf(field(base, o), 1024, "%s", v);
    return 0;
  case SR_OPT_ROLE: /* a char[16] */
    if (strcmp(v, "both") && strcmp(v, "api") && strcmp(v, "worker"))
      return snprintf(err, cap, "%s must be both, api or worker", o->flag), -1;
    snprintf(field(base, o), 16, "%s", v);
    return 0;
  case SR_OPT_TOKEN: {
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
    memcpy(field(base, o), buf, n); /* a char[SR_TOKEN_MAX + 1] */
    field(base, o)[n] = 0;
    free(buf);
    return 0;
  }
  default: {
    double d = strtod(v, &end);
    if (!*v || *end || errno || !(d >= o->lo && d <= o->hi))
      return snprintf(err, cap, "%s must be a number from %g to %g", o->flag, o->lo, o->hi), -1;
    if (o->kind != SR_OPT_DOUBLE && d != floor(d))
      return snprintf(err, cap, "%s must be a whole number from %g to %g", o->flag, o->lo, o->hi), -1;
    char *p = field(base, o);
    if (o->kind == SR_OPT_INT) *(int *)p = (int)d;
    else if (o->kind == SR_OPT_UINT) *(unsigned *)p = (unsigned)d;
    else if (o->kind == SR_OPT_LONG) *(long *)p = (long)d;
    else if (o->kind == SR_OPT_SIZE) *(size_t *)p = (size_t)d;
    else *(double *)p = d;
    return 0;
  }
  }
}

int sr_option_set(sr_server_config *cfg, const sr_option *o, const char *v, char *err, size_t cap) {
  return set_at(o->in_limits ? (void *)&cfg->limits : (void *)cfg, cfg, o, v, err, cap);
}

void sr_server_config_default(sr_server_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  char err[256];
  for (size_t i = 0; i < NOPTIONS; i++)
    if (OPTIONS[i].def && sr_option_set(cfg, &OPTIONS[i], OPTIONS[i].def, err, sizeof err))
      abort(); /* a default outside its own range: a bug in the table, caught by every test */
  cfg->limits.models_dir = cfg->models_dir;
}

void sr_limits_default(sr_limits *lim) {
  memset(lim, 0, sizeof *lim);
  char err[256];
  for (size_t i = 0; i < NOPTIONS; i++) {
    const sr_option *o = &OPTIONS[i];
    const char *d = o->run_def ? o->run_def : o->def;
    if (o->in_limits && d && set_at(lim, NULL, o, d, err, sizeof err)) abort();
  }
  lim->models_dir = "models";
}

/* 4096, or 1e9 and 2.5e8 for large round numbers. */
static void num_text(double v, char *out, size_t cap) {
  if (v == floor(v) && fabs(v) < 1e7) {
    snprintf(out, cap, "%.0f", v);
    return;
  }
  if (fabs(v) < 1e7 && fabs(v) >= 1e-3) { /* 0.05 */
    snprintf(out, cap, "%g", v);
    return;
  }
  int e = (int)floor(log10(fabs(v)));
  snprintf(out, cap, "%ge%d", v / pow(10.0, e), e);
}

/* The default; byte counts of whole MiB also in MiB: "33554432 (32 MiB)". */
static void default_text(const sr_option *o, const char *d, char *out, size_t cap) {
  if (!d || !*d) {
    snprintf(out, cap, "none");
    return;
  }
  double v = atof(d);
  if (o->kind == SR_OPT_SIZE && !strcmp(o->arg, "B") && v >= 1048576 && fmod(v, 1048576) == 0)
    snprintf(out, cap, "%s (%.0f MiB)", d, v / 1048576);
  else if (o->kind == SR_OPT_LISTEN || o->kind == SR_OPT_STR || o->kind == SR_OPT_ROLE)
    snprintf(out, cap, "%s", d);
  else
    num_text(v, out, cap);
}

static void range_text(const sr_option *o, char *out, size_t cap) {
  char lo[24], hi[24];
  num_text(o->lo, lo, sizeof lo);
  num_text(o->hi, hi, sizeof hi);
  if (o->kind == SR_OPT_STR || o->kind == SR_OPT_TOKEN) out[0] = 0;
  else if (o->kind == SR_OPT_ROLE) snprintf(out, cap, "both, api, worker");
  else snprintf(out, cap, "%s%s-%s", o->kind == SR_OPT_LISTEN ? "port " : "", lo, hi);
}

void sr_options_usage(FILE *f) {
  fprintf(f, "usage: scorerecon serve [options]\n\nEvery option can also be set by its environment variable; a flag "
             "wins over the variable.\n\n");
  for (size_t i = 0; i < NOPTIONS; i++) {
    const sr_option *o = &OPTIONS[i];
    char def[96], range[96], flag[64];
    default_text(o, o->def, def, sizeof def);
    range_text(o, range, sizeof range);
    snprintf(flag, sizeof flag, "%s %s", o->flag, o->arg);
    fprintf(f, "  %-24s %-30s %s (default %s%s%s%s%s)\n", flag, o->env, o->help, def, *range ? ", range " : "",
            range, o->over ? "; over it: " : "", o->over ? o->over : "");
  }
  fprintf(f, "  %-24s %-30s %s\n", "--port-file F", "", "write the bound port to F once listening");
  fprintf(f, "  %-24s %-30s %s\n", "--help-table", "", "the options as rows of docs/service.md's table");
}

void sr_options_table(FILE *f) {
  for (size_t i = 0; i < NOPTIONS; i++) {
    const sr_option *o = &OPTIONS[i];
    char def[96], range[96];
    default_text(o, o->def, def, sizeof def);
    range_text(o, range, sizeof range);
    fprintf(f, "| `%s %s` | `%s` | %s | %s |\n", o->flag, o->arg, o->env, def, range);
  }
}
