/* core.c — errors, aligned memory, library init and machine facts shared by the whole solver. */
#include "machine.h"
#include "scorerecon.h"

#include <fftw3.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

sr_status sr_fail(sr_error *err, sr_status code, const char *field, const char *fmt, ...) {
  if (!err) return code;
  err->code = code;
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  char tail[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tail, sizeof tail, fmt, ap);
  va_end(ap);
  if (field && *field)
    snprintf(err->msg, sizeof err->msg, "%s %s", field, tail);
  else
    snprintf(err->msg, sizeof err->msg, "%s", tail);
  return code;
}

const char *sr_status_name(sr_status s) {
  switch (s) {
  case SR_OK: return "ok";
  case SR_EINVAL: return "invalid";
  case SR_ENOMEM: return "out of memory";
  case SR_ELIMIT: return "limit exceeded";
  case SR_ECANCELLED: return "cancelled";
  case SR_EINTERNAL: return "internal error";
  case SR_EDIVERGED: return "diverged";
  case SR_ESYNTAX: return "not JSON";
  }
  return "unknown";
}

float *sr_alloc(size_t nfloats) {
  if (nfloats == 0) nfloats = 1;
  if (nfloats > (SIZE_MAX / sizeof(float)) - 64) return NULL;
  void *p = NULL;
  if (posix_memalign(&p, 64, nfloats * sizeof(float))) return NULL;
  memset(p, 0, nfloats * sizeof(float));
  return p;
}

void sr_free(void *p) { free(p); }

size_t sr_stride(size_t n) { return (n + 15) & ~(size_t)15; }

void sr_init(void) {
  /* Idempotent inside FFTW; planning from several threads is then safe. */
  fftwf_make_planner_thread_safe();
}

int sr_cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int c = CPU_COUNT(&set);
    if (c > 0) return c;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

unsigned sr_cpu_path(void) {
  unsigned f = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) f |= SR_CPU_AVX2;
  if (__builtin_cpu_supports("fma")) f |= SR_CPU_FMA;
  if (__builtin_cpu_supports("avx512f")) {
    f |= SR_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) f |= SR_CPU_AVX512BW_VL;
  }
  const char *env = getenv("SR_RNG_PATH");
  if (env && !strcmp(env, "scalar")) f = 0;
  else if (env && !strcmp(env, "avx2")) f &= SR_CPU_AVX2 | SR_CPU_FMA;
#endif
  return f;
}

double sr_clock_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
