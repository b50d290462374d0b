/* test_diagnostics.c — split-R̂ and the effective sample size of the pixel means, and the warnings they raise:
 * mixed chains agree (R̂ ≈ 1, no warning), chains that cannot move disagree (R̂ ≫ 1.05, a warning), the halves
 * of Metropolis–Hastings chains are exact (pooled halves = the chain's moments), and one-draw samplers report
 * their chain count as ESS and no R̂. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "scorerecon.h"
#include "test.h"

TEST(diag_mixed_mala_chains_agree) {
  fixture f;
  fixture_make(&f, "fourier", 0.3);
  f.pb.sampler.kind = SR_SAMPLER_MALA;
  f.pb.sampler.steps = 4000;
  f.pb.sampler.burn_in = 500;
  f.pb.num_samples = 8;
  sr_result res;
  if (fixture_run(&f.pb, &res)) {
    printf("    note: mala 8 chains x 3500 kept: split-R-hat max %.4f median %.4f, ESS min %.0f median %.0f of 28000\n",
           res.rhat_max, res.rhat_median, res.ess_min, res.ess_median);
    /* 16 half-chains of 1750 draws: R̂ − 1 is O(1/N_eff) per pixel; 1.05 is the convergence rule */
    CHECK(res.rhat_max < 1.05 && res.rhat_median < 1.02 && res.rhat_median >= 0.99, "R-hat %g / %g", res.rhat_max,
          res.rhat_median);
    CHECK(res.ess_min > 100 && res.ess_median <= 28000 * 3, "ESS %g / %g", res.ess_min, res.ess_median);
    CHECK(res.nwarnings == 0, "unexpected warning: %s", res.warnings[0]);
    sr_result_clear(&res);
  }
  fixture_free(&f);
}

TEST(diag_stuck_chains_are_flagged) {
  fixture f;
  fixture_make(&f, "mask", 0.3);
  f.pb.sampler.kind = SR_SAMPLER_LANGEVIN;
  f.pb.sampler.steps = 400;
  f.pb.sampler.burn_in = 0;
  f.pb.sampler.step_size = 1e-7; /* chains stay where the prior put them */
  f.pb.num_samples = 4;
  sr_result res;
  if (fixture_run(&f.pb, &res)) {
    CHECK(res.rhat_max > 5, "R-hat of stuck chains %g", res.rhat_max);
    CHECK(res.nwarnings == 1 && strstr(res.warnings[0], "not converged"), "no convergence warning (%d)",
          res.nwarnings);
    sr_result_clear(&res);
  }
  fixture_free(&f);
}

/* MH keeps counts, not states: the halves come from a snapshot of the counts. Pooling the two halves' moments
 * must give the chain's own (checked through R̂ being finite and ≈ 1 on a fast-mixing hot lattice). */
TEST(diag_mh_halves) {
  for (int proposal = 0; proposal < 2; proposal++) {
    sr_problem pb;
    sr_problem_init(&pb);
    sr_error err;
    pb.rank = 2; pb.shape[0] = 8; pb.shape[1] = 10; pb.n = 80;
    pb.prior = sr_prior_ising(8, 10, 0.1, 0.05, 1, -1, 1, &err);
    pb.sampler.kind = SR_SAMPLER_MH;
    pb.sampler.proposal = proposal;
    pb.sampler.steps = 3000;
    pb.sampler.burn_in = 200;
    pb.sampler.thinning = 1;
    pb.num_samples = 6;
    pb.seed = 3;
    sr_result res;
    if (fixture_run(&pb, &res)) {
      printf("    note: mh (%s) 6 chains: split-R-hat max %.4f, ESS min %.0f median %.0f of %d\n",
             proposal ? "checkerboard" : "single flip", res.rhat_max, res.ess_min, res.ess_median, 6 * 2800);
      CHECK(isfinite(res.rhat_max) && res.rhat_max < 1.05 && res.nwarnings == 0, "mh R-hat %g", res.rhat_max);
      CHECK(res.ess_median > 1000, "mh ESS %g", res.ess_median);
      sr_result_clear(&res);
    }
    sr_problem_clear(&pb);
  }
}

TEST(diag_one_draw_samplers_report_chains) {
  fixture f;
  fixture_make(&f, "blur", 0.2);
  f.pb.sampler.kind = SR_SAMPLER_DDRM;
  f.pb.sampler.sde.kind = SR_SDE_VE;
  f.pb.sampler.sde.sigma_min = 0.01;
  f.pb.sampler.sde.sigma_max = 5;
  f.pb.sampler.sde.T = 1;
  f.pb.sampler.steps = 10;
  f.pb.num_samples = 5;
  sr_result res;
  if (fixture_run(&f.pb, &res)) {
    CHECK(isnan(res.rhat_max) && res.ess_min == 5 && res.ess_median == 5, "one-draw: R-hat %g ESS %g",
          res.rhat_max, res.ess_min);
    sr_result_clear(&res);
  }
  fixture_free(&f);
}
