/* machine.h — what the solver asks of the machine beyond the public API (solver/core.c): a monotonic clock.
 * Private to solver/; the tests and benchmarks may use it too. */
#ifndef SR_MACHINE_H
#define SR_MACHINE_H

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: only differences mean anything). */
double sr_clock_seconds(void);

#endif
