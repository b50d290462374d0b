/* test_main.c — runs the registered tests, optionally filtered by a substring, and prints the closing line. */
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "scorerecon.h"
#include "test.h"

#define MAX_TESTS 512
static struct {
  const char *name;
  sr_test_fn fn;
} tests[MAX_TESTS];
static int ntests;
int sr_test_failed_now;

void sr_test_register(const char *name, sr_test_fn fn) {
  if (ntests < MAX_TESTS) {
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
  }
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv) {
  sr_init();
  qsort(tests, (size_t)ntests, sizeof tests[0], by_name);
  int passed = 0, failed = 0;
  for (int i = 0; i < ntests; i++) {
    if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
    double t0 = sr_clock_seconds();
    sr_test_failed_now = 0;
    tests[i].fn();
    double s = sr_clock_seconds() - t0;
    printf("%s %s (%.2fs)\n", sr_test_failed_now ? "FAIL" : "ok  ", tests[i].name, s);
    fflush(stdout);
    if (sr_test_failed_now) failed++;
    else passed++;
  }
  printf("unit: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
