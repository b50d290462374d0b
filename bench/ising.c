/* ising.c — single-site flips per second of the mh sampler on a 256x256 Ising posterior.
 *
 * Problem: binary image (values [0, 1]) of 256x256, identity operator, noise σ 0.5, Ising prior J 0.8, free
 * boundary; the observation is a blocky binary image plus noise. Prints:
 *   - the references: memory bandwidth (memcpy of 256 MiB, and of 512 KiB that stays in L2), one and two cores;
 *     sr_rng_bits alone (the random word every proposal consumes);
 *   - sr_run with single_flip and checkerboard, 1 chain on 1 thread and 2 chains on 2 threads: proposals per
 *     second (all chains, wall clock, setup included) and ns per proposal per core, with every sweep kept
 *     (thinning 1) and with the keep off (thinning = sweeps);
 *   - the bytes a checkerboard proposal touches, and the bandwidth that implies;
 *   - the coupled likelihoods on the same lattice, single_flip: blur (Gaussian 5x5, O(kernel) per proposal) and
 *     Fourier (Cartesian mask, O(1) per rejected proposal, O(n) per accepted flip): time per proposal and per
 *     accepted flip.
 * Medians of repetitions (CLOCK_MONOTONIC). Usage: bench_ising [quick] [size=N]. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "scorerecon.h"

static int reps = 5;
static size_t N = 256;

/* ---------------------------------------------------------------- bandwidth references */

typedef struct {
  char *src, *dst;
  size_t bytes;
  double gbs;
} copy_ctx;

static void copy_once(void *p) {
  copy_ctx *c = p;
  memcpy(c->dst, c->src, c->bytes);
}

static void *copy_thread(void *p) {
  copy_ctx *c = p;
  double t = bench_time(copy_once, c, reps, 0.2);
  c->gbs = 2.0 * (double)c->bytes / t / 1e9; /* read + write */
  return NULL;
}

static double bandwidth(size_t bytes, int threads) {
  copy_ctx c[2];
  pthread_t tid;
  for (int i = 0; i < threads; i++) {
    c[i].bytes = bytes;
    c[i].src = aligned_alloc(64, bytes);
    c[i].dst = aligned_alloc(64, bytes);
    memset(c[i].src, 1, bytes);
    memset(c[i].dst, 0, bytes);
  }
  if (threads == 2) pthread_create(&tid, NULL, copy_thread, &c[1]);
  copy_thread(&c[0]);
  if (threads == 2) pthread_join(tid, NULL);
  double total = 0;
  for (int i = 0; i < threads; i++) {
    total += c[i].gbs;
    free(c[i].src);
    free(c[i].dst);
  }
  return total;
}

typedef struct {
  sr_rng r;
  uint32_t *u;
  size_t n;
  uint64_t step;
} bits_ctx;

static void bits_once(void *p) {
  bits_ctx *c = p;
  sr_rng_bits(&c->r, c->step++, c->u, c->n);
}

/* ---------------------------------------------------------------- the problem */

static void make_problem(sr_problem *pb, const char *op_kind, int proposal, long sweeps, long thinning, long chains,
                         int threads) {
  sr_error err;
  sr_problem_init(pb);
  size_t n = N * N, sh[2] = {N, N};
  pb->rank = 2;
  pb->shape[0] = pb->shape[1] = N;
  pb->n = n;
  pb->prior = sr_prior_ising(N, N, 0.8, 0.0, 0, 0.0, 1.0, &err);
  float *x = sr_alloc(n);
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < N; j++) x[i * N + j] = ((i / 16 + j / 16) % 2) ? 1.0f : 0.0f;
  if (!strcmp(op_kind, "blur")) {
    float k[25];
    sr_gaussian_kernel(1.0, 5, k);
    pb->op = sr_op_blur(N, N, k, 5, 5, &err);
  } else if (!strcmp(op_kind, "fourier")) {
    float *m = sr_alloc(n);
    sr_mask_cartesian(N, N, 4, 0.08, 1, m);
    pb->op = sr_op_fourier(N, N, m, &err);
    sr_free(m);
  } else {
    pb->op = sr_op_identity(2, sh, &err);
  }
  pb->noise_sigma = 0.5;
  pb->y = sr_alloc(pb->op->n_out);
  float *ws = sr_alloc(pb->op->ws_floats + sr_stride(pb->op->n_out) + 16), *z = sr_alloc(pb->op->n_out);
  pb->op->forward(pb->op, x, pb->y, ws);
  sr_rng r = sr_rng_make(9, 0);
  sr_rng_normals(&r, 0, z, pb->op->n_out);
  for (size_t i = 0; i < pb->op->n_out; i++) {
    pb->y[i] += 0.5f * z[i];
    if (pb->op->obs_mask) pb->y[i] *= pb->op->obs_mask[i];
  }
  sr_free(ws);
  sr_free(z);
  sr_free(x);
  pb->sampler.kind = SR_SAMPLER_MH;
  pb->sampler.steps = sweeps;
  pb->sampler.burn_in = 0;
  pb->sampler.thinning = thinning;
  pb->sampler.proposal = proposal;
  pb->num_samples = chains;
  pb->threads = threads;
  pb->seed = 3;
  if (sr_problem_validate(pb, &err) != SR_OK) {
    fprintf(stderr, "validate: %s\n", err.msg);
    exit(1);
  }
}

typedef struct {
  double props_per_s, ns_per_prop_core, accept, wall;
} run_fig;

static run_fig run_median(sr_problem *pb) {
  double v[16], acc = 0, wall[16];
  long props = 0;
  for (int r = 0; r < reps; r++) {
    sr_result res;
    sr_error err;
    if (sr_run(pb, &res, NULL, NULL, &err) != SR_OK) {
      fprintf(stderr, "run: %s\n", err.msg);
      exit(1);
    }
    v[r] = (double)res.proposals / res.seconds;
    wall[r] = res.seconds;
    props = res.proposals;
    acc = res.accept_rate;
    sr_result_clear(&res);
  }
  run_fig f;
  f.props_per_s = bench_median(v, reps);
  f.wall = bench_median(wall, reps);
  int th = pb->threads < (int)pb->num_samples ? pb->threads : (int)pb->num_samples;
  f.ns_per_prop_core = 1e9 * f.wall * th / (double)props;
  f.accept = acc;
  return f;
}

int main(int argc, char **argv) {
  int quick = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "quick")) quick = 1;
    else if (!strncmp(argv[i], "size=", 5)) N = (size_t)atol(argv[i] + 5);
  }
  if (quick) reps = 3;
  sr_init();
  size_t n = N * N;
  printf("bench_ising: %zux%zu, identity operator, sigma 0.5, ising J 0.8 free, values [0, 1]; medians of %d\n", N,
         N, reps);
  double bw1 = bandwidth((size_t)256 << 20, 1), bw2 = bandwidth((size_t)256 << 20, 2);
  double l2_1 = bandwidth((size_t)512 << 10, 1);
  printf("memory bandwidth (memcpy, read + write): DRAM %.1f GB/s on 1 core, %.1f GB/s on 2; L2 (512 KiB buffers) "
         "%.1f GB/s on 1 core\n", bw1, bw2, l2_1);
  bits_ctx bc = {sr_rng_make(1, 0), malloc(n * sizeof(uint32_t)), n, 0};
  double tb = bench_time(bits_once, &bc, 11, 0.05);
  printf("sr_rng_bits: %.3f ns per word (%.2f G words/s)\n", 1e9 * tb / (double)n, (double)n / tb / 1e9);
  free(bc.u);

  long sweeps = quick ? 100 : 400;
  printf("\n%-14s %-8s %-10s %14s %16s %10s\n", "proposal", "chains", "keep", "proposals/s", "ns/proposal/core",
         "accept");
  const char *pname[2] = {"single_flip", "checkerboard"};
  double cb1 = 0;
  for (int prop = 0; prop <= 1; prop++)
    for (int th = 1; th <= 2; th++)
      for (int keep = 1; keep >= 0; keep--) {
        sr_problem pb;
        make_problem(&pb, "identity", prop, sweeps, keep ? 1 : sweeps, th, th);
        run_fig f = run_median(&pb);
        if (prop == 1 && th == 1 && keep == 0) cb1 = f.ns_per_prop_core;
        printf("%-14s %-8d %-10s %14.3g %16.2f %10.3f\n", pname[prop], th, keep ? "every" : "off",
               f.props_per_s, f.ns_per_prop_core, f.accept);
        sr_problem_clear(&pb);
      }
  /* A two-colour checkerboard proposal (the packed layout) reads and writes its spin byte (2), reads its
   * neighbours from the other colour's three packed rows (about 1 byte each, the rows reused from cache), both
   * field factors exp(∓2βh_k) (16: the vector loop loads both and blends) and its random word, which the generator
   * wrote just before (8): about 27 bytes. */
  double bytes = 2 + 1 + 16 + 8;
  printf("\ncheckerboard, keep off, 1 core: %.2f ns per proposal, about %.0f bytes touched -> %.1f GB/s (L2 memcpy "
         "%.1f, DRAM %.1f); the random word alone costs %.2f ns\n", cb1, bytes, bytes / cb1, l2_1, bw1,
         1e9 * tb / (double)n);

  printf("\ncoupled likelihoods, single_flip, 1 chain:\n");
  const char *ops[2] = {"blur", "fourier"};
  for (int o = 0; o < 2; o++) {
    sr_problem pb;
    long sw = o == 0 ? (quick ? 20 : 60) : (quick ? 2 : 4);
    make_problem(&pb, ops[o], 0, sw, sw, 1, 1);
    run_fig f = run_median(&pb);
    double per_prop = f.ns_per_prop_core, acc = f.accept;
    printf("  %-8s %10.3g proposals/s, %8.1f ns per proposal, acceptance %.3f -> %.1f us per accepted flip "
           "(all costs charged to it)\n", ops[o], f.props_per_s, per_prop, acc, acc > 0 ? per_prop / acc / 1e3 : 0);
    sr_problem_clear(&pb);
  }
  return 0;
}
