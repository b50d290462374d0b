/* test.h — a minimal test framework: TEST(name) registers a test; CHECK* record failures with file:line.
 * tests/test_main.c runs every registered test (or those whose name contains argv[1]) and prints
 * "N passed, N failed". */
#ifndef SR_TEST_H
#define SR_TEST_H
#include <math.h>
#include <stdio.h>

typedef void (*sr_test_fn)(void);
void sr_test_register(const char *name, sr_test_fn fn);
extern int sr_test_failed_now; /* set by CHECK in the running test */

#define TEST(name)                                                              \
  static void name(void);                                                       \
  __attribute__((constructor)) static void register_##name(void) {              \
    sr_test_register(#name, name);                                              \
  }                                                                             \
  static void name(void)

#define CHECK(cond, ...)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
      fprintf(stderr, __VA_ARGS__);                                             \
      fprintf(stderr, "\n");                                                    \
      sr_test_failed_now = 1;                                                   \
    }                                                                           \
  } while (0)

/* |a − b| <= tol, printing both. */
#define CHECK_NEAR(a, b, tol, what)                                             \
  do {                                                                          \
    double a_ = (a), b_ = (b), t_ = (tol);                                      \
    CHECK(fabs(a_ - b_) <= t_, "%s: %.6g vs %.6g (|diff| %.3g > tol %.3g)",     \
          what, a_, b_, fabs(a_ - b_), t_);                                     \
  } while (0)
#endif
