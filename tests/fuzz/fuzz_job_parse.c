/* fuzz_job_parse.c — libFuzzer harness for the job parser: any bytes go to sr_job_parse under small limits
 * (so that a valid job never plans a big FFT or allocates much), and everything it returns is freed, so that
 * LeakSanitizer sees every leak of the parser, the ARRAY codec and the solver's create functions.
 * Built and run by `make fuzz` / `make fuzz-smoke` (clang -fsanitize=fuzzer,address,undefined); not part of
 * build/test_all (which takes only the top level of tests/). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "job.h"
#include "scorerecon.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  sr_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sr_limits lim;
  sr_limits_default(&lim);
  lim.max_pixels = 4096;
  lim.max_samples = 16;
  lim.max_chain_steps = 1e5;
  lim.max_doc_bytes = (size_t)1 << 20;
  sr_problem pb;
  sr_error err;
  sr_status st = sr_job_parse((const char *)data, size, &lim, &pb, &err);
  if (st == SR_OK) {
    /* a valid problem is complete: the pieces a run needs are there */
    if (!pb.prior || pb.n == 0 || pb.n > lim.max_pixels || (pb.op && !pb.y)) __builtin_trap();
    sr_problem_clear(&pb);
  } else {
    /* on failure the parser leaves nothing behind and names what went wrong */
    if (pb.op || pb.prior || pb.y || pb.ground_truth) __builtin_trap();
    if (err.code != st || !memchr(err.msg, 0, sizeof err.msg) || !memchr(err.field, 0, sizeof err.field))
      __builtin_trap();
  }
  return 0;
}
