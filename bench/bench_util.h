/* bench_util.h: timing helpers shared by the benchmarks. Header only, because the Makefile builds every
 * bench/NAME.c into its own program build/bench_NAME. The solver's monotonic clock, medians of repetitions. */
#ifndef SR_BENCH_UTIL_H
#define SR_BENCH_UTIL_H
#include <stdlib.h>

#include "scorerecon.h"

static inline double bench_now(void) { return sr_clock_seconds(); }

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..k) (sorts v). */
static inline double bench_median(double *v, int k) {
  qsort(v, (size_t)k, sizeof *v, bench_cmp_double);
  return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

typedef void (*bench_fn)(void *ctx);

/* Seconds per call of fn: calibrated so one repetition lasts about rep_s, median of `reps` repetitions. */
static inline double bench_time(bench_fn fn, void *ctx, int reps, double rep_s) {
  fn(ctx); /* warm-up */
  long iters = 1;
  for (;;) {
    double t0 = bench_now();
    for (long i = 0; i < iters; i++) fn(ctx);
    double dt = bench_now() - t0;
    if (dt >= 0.2 * rep_s || iters >= (1L << 30)) {
      double per = dt / (double)iters;
      iters = per > 0 ? (long)(rep_s / per) + 1 : iters;
      break;
    }
    iters *= 4;
  }
  double v[64];
  if (reps > 64) reps = 64;
  for (int r = 0; r < reps; r++) {
    double t0 = bench_now();
    for (long i = 0; i < iters; i++) fn(ctx);
    v[r] = (bench_now() - t0) / (double)iters;
  }
  return bench_median(v, reps);
}
#endif
