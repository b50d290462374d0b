/* speed.c — how fast the score network runs in C, against the machine's own matrix-product rate.
 *
 *   build/bench_speed [MODEL.safetensors] [--threads T] [--seconds S]
 *
 * 1. sgemm: OpenBLAS single-precision products (1024³, one per thread, all threads at once), the rate the
 *    network's convolutions could reach at best on these cores.
 * 2. the network: sr_unet_score on batches of B images (B = 1 … 32 on one thread, then SR_SCORE_MODEL_BATCH on
 *    every thread, as sr_run runs it): score evaluations per second and GFLOP/s (sr_unet_flops per image, i.e.
 *    counted as direct convolutions: an effective rate, since Winograd does 2.25x fewer multiplications).
 * 3. the products alone at the network's shapes (the Winograd products M[ξ] = U[ξ] V[ξ] of one convolution call,
 *    a weight matrix per ξ, cold as in the network): solver/nn_gemm.c's sr__gemm against OpenBLAS's sgemm.
 * The full-reconstruction comparison against PyTorch is bench/speed (a script that also runs this program). */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "nn_gemm.h" /* the solver's private products (Makefile: bench/speed.o alone sees solver/) */
#include "safetensors.h"
#include "scorerecon.h"

/* This thread's CPU time: on a shared machine it leaves out the time the thread waited for a core, so rates by
 * it repeat better than rates by the wall clock (cache and memory contention still show). */
static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Every worker's job starts with this, so that run_all can line the workers up before their timed loops. */
typedef struct {
  pthread_barrier_t *bar; /* NULL with one thread */
} lineup;

typedef struct {
  lineup lu;
  const sr_unet *net;
  int batch;
  double seconds;
  long evals;   /* out */
  double wall;  /* out */
  double cpu;   /* out: this thread's CPU time over the same loop */
} net_job;

static void *net_worker(void *arg) {
  net_job *j = arg;
  size_t h, w;
  double smin, smax;
  sr_unet_info(j->net, &h, &w, &smin, &smax);
  size_t sn = sr_stride(h * w);
  float *x = sr_alloc((size_t)j->batch * sn), *out = sr_alloc((size_t)j->batch * sn);
  float *ws = sr_alloc(sr_unet_ws_floats(j->net, (size_t)j->batch));
  sr_rng r = sr_rng_make(7, 0);
  for (int b = 0; b < j->batch; b++) sr_rng_normals(&r, (uint64_t)b, x + (size_t)b * sn, h * w);
  sr_unet_score(j->net, x, (size_t)j->batch, sn, 0.5, out, ws); /* warm-up */
  if (j->lu.bar) pthread_barrier_wait(j->lu.bar);
  double t0 = bench_now(), c0 = thread_cpu(), t;
  long n = 0;
  int k = 0;
  do {
    /* cycle through noise levels as a sampler does */
    sr_unet_score(j->net, x, (size_t)j->batch, sn, k % 2 ? 0.05 : 3.0, out, ws);
    n += j->batch;
    k++;
    t = bench_now();
  } while (t - t0 < j->seconds);
  j->evals = n;
  j->wall = t - t0;
  j->cpu = thread_cpu() - c0;
  sr_free(x);
  sr_free(out);
  sr_free(ws);
  return NULL;
}

/* Runs fn on `threads` jobs at once (jobs `size` bytes apart, each starting with a lineup; the calling thread
 * takes the first). */
static void run_all(void *(*fn)(void *), void *jobs, size_t size, int threads) {
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, (unsigned)threads);
  for (int i = 0; i < threads; i++) {
    ((lineup *)((char *)jobs + (size_t)i * size))->bar = threads > 1 ? &bar : NULL;
    if (i) pthread_create(&tid[i], NULL, fn, (char *)jobs + (size_t)i * size);
  }
  fn(jobs);
  for (int i = 1; i < threads; i++) pthread_join(tid[i], NULL);
  pthread_barrier_destroy(&bar);
  free(tid);
}

/* runs `threads` workers at once; returns evaluations per second (all threads), by the wall clock and (*cpu_rate,
 * if not NULL) by each thread's CPU time */
static double net_rate(const sr_unet *net, int batch, int threads, double seconds, double *cpu_rate) {
  net_job *jobs = calloc((size_t)threads, sizeof *jobs);
  for (int i = 0; i < threads; i++) jobs[i] = (net_job){{NULL}, net, batch, seconds, 0, 0, 0};
  run_all(net_worker, jobs, sizeof *jobs, threads);
  double rate = 0, crate = 0;
  for (int i = 0; i < threads; i++) {
    rate += (double)jobs[i].evals / jobs[i].wall;
    crate += (double)jobs[i].evals / jobs[i].cpu;
  }
  if (cpu_rate) *cpu_rate = crate;
  free(jobs);
  return rate;
}

typedef struct {
  lineup lu;
  int n;
  double seconds, gflops, gflops_cpu;
} gemm_job;

static void *gemm_worker(void *arg) {
  gemm_job *j = arg;
  size_t nn = (size_t)j->n * (size_t)j->n;
  float *a = sr_alloc(nn), *b = sr_alloc(nn), *c = sr_alloc(nn);
  for (size_t i = 0; i < nn; i++) {
    a[i] = (float)(i % 7) * 0.1f;
    b[i] = (float)(i % 5) * 0.1f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->n, j->n, j->n, 1.0f, a, j->n, b, j->n, 0.0f, c, j->n);
  if (j->lu.bar) pthread_barrier_wait(j->lu.bar);
  double t0 = bench_now(), c0 = thread_cpu(), t;
  long k = 0;
  do {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->n, j->n, j->n, 1.0f, a, j->n, b, j->n, 0.0f, c, j->n);
    k++;
    t = bench_now();
  } while (t - t0 < j->seconds);
  j->gflops = 2.0 * (double)j->n * j->n * j->n * (double)k / (t - t0) * 1e-9;
  j->gflops_cpu = 2.0 * (double)j->n * j->n * j->n * (double)k / (thread_cpu() - c0) * 1e-9;
  sr_free(a);
  sr_free(b);
  sr_free(c);
  return NULL;
}

static double gemm_rate(int n, int threads, double seconds, double *cpu_rate) {
  gemm_job *jobs = calloc((size_t)threads, sizeof *jobs);
  for (int i = 0; i < threads; i++) jobs[i] = (gemm_job){{NULL}, n, seconds, 0, 0};
  run_all(gemm_worker, jobs, sizeof *jobs, threads);
  double g = 0, gc = 0;
  for (int i = 0; i < threads; i++) {
    g += jobs[i].gflops;
    gc += jobs[i].gflops_cpu;
  }
  if (cpu_rate) *cpu_rate = gc;
  free(jobs);
  return g;
}

/* GFLOP/s of one convolution's products (nx weight matrices M x K, each times V[ξ] K x N) over `sets` such calls
 * with distinct weights (so that they come from L3, as in the network), by sr__gemm (blas 0) or sgemm (blas 1). */
static double products_rate(int blas, int M, int K, int N, int nx, double seconds) {
  const int sets = 8;
  size_t pp = sr__gemm_packed_floats(M, K), mk = (size_t)M * (size_t)K;
  float *U = sr_alloc((size_t)sets * (size_t)nx * mk), *Up = sr_alloc((size_t)sets * (size_t)nx * pp);
  float *V = sr_alloc((size_t)nx * (size_t)K * (size_t)N), *Mo = sr_alloc((size_t)nx * (size_t)M * (size_t)N);
  for (size_t i = 0; i < (size_t)sets * (size_t)nx * mk; i++) U[i] = (float)(i % 13) * 0.01f - 0.06f;
  for (size_t i = 0; i < (size_t)nx * (size_t)K * (size_t)N; i++) V[i] = (float)(i % 11) * 0.01f - 0.05f;
  for (int c = 0; c < sets * nx; c++) sr__gemm_pack(M, K, U + (size_t)c * mk, (size_t)K, Up + (size_t)c * pp);
  int path = sr__gemm_path();
  long calls = 0;
  double t0 = bench_now(), t;
  do {
    for (int x = 0; x < nx; x++) {
      size_t c = (size_t)(calls % sets) * (size_t)nx + (size_t)x;
      float *v = V + (size_t)x * (size_t)K * (size_t)N, *m = Mo + (size_t)x * (size_t)M * (size_t)N;
      if (blas)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, U + c * mk, K, v, N, 0.0f, m, N);
      else
        sr__gemm(path, M, N, K, Up + c * pp, v, (size_t)N, m, (size_t)N, NULL);
    }
    calls++;
    t = bench_now();
  } while (t - t0 < seconds);
  sr_free(U); sr_free(Up); sr_free(V); sr_free(Mo);
  return 2.0 * M * K * N * (double)nx * (double)calls / (t - t0) * 1e-9;
}

int main(int argc, char **argv) {
  const char *path = "models/fashion-mnist.safetensors";
  int threads = 0;
  double secs = 2.0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) secs = atof(argv[++i]);
    else if (argv[i][0] != '-') path = argv[i];
    else {
      fprintf(stderr, "usage: %s [MODEL.safetensors] [--threads T] [--seconds S]\n", argv[0]);
      return 2;
    }
  }
  sr_init();
  openblas_set_num_threads(1); /* one BLAS thread per call: the benchmark runs one product per thread */
  if (threads <= 0) threads = sr_cpu_count();
  sr_safetensors file;
  sr_error err;
  if (sr_safetensors_open(path, &file, &err) != SR_OK) {
    fprintf(stderr, "bench_speed: %s\n", err.msg);
    return 1;
  }
  sr_unet *net = sr_unet_create(&file.set, &err);
  if (!net) {
    fprintf(stderr, "bench_speed: %s: %s\n", path, err.msg);
    return 1;
  }
  size_t h, w;
  double smin, smax, fl = sr_unet_flops(net);
  sr_unet_info(net, &h, &w, &smin, &smax);
  printf("model %s: %zux%zu, %ld parameters, %.1f MFLOP per evaluation (as direct convolutions)\n", path, h, w,
         sr_unet_params(net), fl * 1e-6);

  double g1c, g1 = gemm_rate(1024, 1, secs, &g1c), gT = threads > 1 ? gemm_rate(1024, threads, secs, NULL) : g1;
  printf("sgemm 1024^3 (OpenBLAS, one product per thread): %.1f GFLOP/s on 1 thread (%.1f by its CPU time), %.1f "
         "GFLOP/s on %d threads\n",
         g1, g1c, gT, threads);

  /* by CPU time as well: on a shared machine the wall-clock rates fall with the load, the CPU-time ones much less */
  printf("\nnetwork, one thread, by batch (images per call); the last two columns by the thread's CPU time:\n");
  printf("| batch | evaluations/s | GFLOP/s | of 1-thread sgemm | evaluations/CPU-s | of sgemm (CPU time) |\n"
         "|---|---|---|---|---|---|\n");
  static const int batches[] = {1, 2, 4, 8, 16, 32};
  for (size_t i = 0; i < sizeof batches / sizeof *batches; i++) {
    double rc, r = net_rate(net, batches[i], 1, secs, &rc);
    printf("| %d | %.1f | %.1f | %.0f%% | %.1f | %.0f%% |\n", batches[i], r, r * fl * 1e-9,
           100.0 * r * fl * 1e-9 / g1, rc, 100.0 * rc * fl * 1e-9 / g1c);
    fflush(stdout);
  }
  int B = SR_SCORE_MODEL_BATCH;
  double rT = net_rate(net, B, threads, secs, NULL);
  printf("\nnetwork as sr_run runs it (batch %d per thread, %d threads): %.1f evaluations/s, %.1f GFLOP/s = %.0f%% of "
         "the %d-thread sgemm rate\n",
         B, threads, rT, rT * fl * 1e-9, 100.0 * rT * fl * 1e-9 / gT, threads);

  /* the fashion-mnist model's Winograd F(4x4) products at batch 4 (36 of them a call): 7 x 7 (16 tiles = 4 images'
   * 2 x 2), 14 x 14 (one image's 4 x 4, or three images'), 28 x 28 (one image's 7 x 7, or two images') */
  static const int shapes[][3] = {{128, 128, 16}, {128, 256, 16}, {64, 192, 16}, {64, 64, 48}, {64, 64, 49},
                                  {32, 96, 49}, {32, 32, 98}};
  printf("\nthe products alone, one thread, 36 weight matrices a call, cold (GFLOP/s):\n"
         "| M x K x N | sr__gemm | OpenBLAS sgemm |\n|---|---|---|\n");
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    int M = shapes[i][0], K = shapes[i][1], N = shapes[i][2];
    double mine = products_rate(0, M, K, N, 36, secs / 2), blas = products_rate(1, M, K, N, 36, secs / 2);
    printf("| %d x %d x %d | %.1f | %.1f |\n", M, K, N, mine, blas);
    fflush(stdout);
  }
  sr_unet_free(net);
  sr_safetensors_close(&file);
  return 0;
}
