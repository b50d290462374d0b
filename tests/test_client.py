#!/usr/bin/python3
"""tests/test_client.py BIN — the Python client (clients/python) against real `BIN serve` processes.

    /usr/bin/python3 tests/test_client.py build/scorerecon

Starts servers on 127.0.0.1 with free ports and temporary data directories (no mocks), imports the package from
clients/python, installs it once offline with pip into a temporary directory, and runs examples/pipeline.py.
Prints one closing line "client: N passed, N failed" (exit status 1 on any failure).
"""
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (tests/harness.py: counted checks, servers)

CHECKS = harness.Checks("client")
ok = CHECKS.ok


def finish():
    CHECKS.finish()


try:
    import numpy as np
except ImportError:
    print("client: SKIPPED: /usr/bin/python3 has no numpy (scripts/install-deps.sh installs python3-numpy)")
    print("client: 0 passed, 0 failed")
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "clients", "python")
sys.path.insert(0, PKG)
import scorerecon  # noqa: E402
from scorerecon import ApiError, ClientError, InvalidJob, NotFound, Unauthorized, WaitTimeout  # noqa: E402

if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
    print("usage: test_client.py path/to/scorerecon")
    print("client: 0 passed, 1 failed")
    sys.exit(1)
BIN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="sr_client_")
SERVERS = []


class Server:
    """`BIN serve` on 127.0.0.1 (a free port, or `port`), data in TMP/NAME; .url once it answers /healthz."""

    def __init__(self, name, *args, port=0):
        self.name, self.args = name, list(args)
        self.start(port)

    def start(self, port=0):
        err_path = os.path.join(TMP, self.name + ".err")
        self.proc, got = harness.serve(BIN, os.path.join(TMP, self.name), os.path.join(TMP, self.name + ".port"),
                                       err_path, self.args, port=port, threads=1, append=True)
        SERVERS.append(self)
        if got is not None:
            self.port = got
            self.url = "http://127.0.0.1:%d" % self.port
            scorerecon.Client(self.url, retries=50, retry_time=10, backoff=0.02).get_json("/healthz")
            return
        with open(err_path, "rb") as f:
            raise RuntimeError("server %s did not start: %s" % (self.name, f.read()[-1000:].decode("utf-8", "replace")))

    def stop(self):
        harness.stop(self.proc, 20)


def long_job(seed=5):
    """A 64x64 Langevin job that runs for minutes (cancelled by the tests)."""
    return dict(shape=[64, 64], operator={"type": "identity"}, noise={"sigma": 0.1},
                observation=np.zeros((64, 64), np.float32), prior={"type": "gaussian", "std": 1},
                sampler={"type": "langevin", "steps": 20000000}, num_samples=4, seed=seed)


def small_job(seed=1, **kw):
    job = dict(shape=[4, 4], operator={"type": "identity"}, noise={"sigma": 0.1},
               observation=np.linspace(0, 1, 16).reshape(4, 4), prior={"type": "gaussian", "std": 1},
               sampler={"type": "langevin", "steps": 100}, num_samples=2, seed=seed)
    job.update(kw)
    return job


def running(job, limit=20):
    """Long-polls until the job leaves "queued"."""
    deadline = time.time() + limit
    while time.time() < deadline:
        info = job.status(wait=1)
        if info["status"] != "queued":
            return info
    return None


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    except Exception as e:  # noqa: BLE001 - reported as the wrong exception
        return ("wrong exception", e)
    return None


# --------------------------------------------------------------------------------------------- tests


def test_arrays():
    x = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    a = scorerecon.encode_array(x)
    ok(a == {"dtype": "float32", "shape": [2, 3],
             "data": base64.b64encode(np.ascontiguousarray(x, "<f4").tobytes()).decode()},
       "encode_array: float64 -> float32 base64 as docs/job-format.md writes it", a)
    z = (np.arange(4) + 1j * np.arange(4, 8)).reshape(2, 2)
    c = scorerecon.encode_array(z)
    raw = np.frombuffer(base64.b64decode(c["data"]), "<f4")
    ok(c["dtype"] == "complex64" and list(raw) == [0, 4, 1, 5, 2, 6, 3, 7], "encode_array: complex interleaved", c)
    ok(np.array_equal(scorerecon.decode_array(c), z.astype(np.complex64)), "decode_array inverts encode_array")
    j = scorerecon.encode_job({"a": [np.float32(1.5), np.array(2)], "b": {"m": np.ones((1, 2), bool)}})
    ok(j["a"] == [1.5, 2] and j["b"]["m"]["shape"] == [1, 2], "encode_job: scalars, 0-d and nested arrays", j)


def test_closed_form(c):
    """Gaussian prior, identity operator: the exact posterior, against MALA within Monte-Carlo error."""
    rng = np.random.default_rng(7)
    n, m, s, sig = 12, 0.3, 0.5, 0.2
    x = m + s * rng.standard_normal((n, n))
    y = x + sig * rng.standard_normal((n, n))
    labels = {"project": "client-test", "run": "closed-form"}
    job = c.submit(shape=[n, n], operator={"type": "identity"}, noise={"sigma": sig}, observation=y,
                   ground_truth=x, prior={"type": "gaussian", "mean": m, "std": s},
                   sampler={"type": "mala", "steps": 3000}, num_samples=16, seed=2,
                   outputs=["mean", "std", "samples"], labels=labels)
    ok(len(job.id) > 0 and job.info["status"] in ("queued", "running"), "submit returns a Job", job.info)
    info = job.wait(timeout=60)
    ok(info["status"] == "succeeded" and info["labels"] == labels, "wait: succeeded, labels round trip", info)
    r = job.result()
    ok(all(a is not None and a.dtype == np.float32 for a in (r.mean, r.std, r.samples)), "result: float32 arrays")
    ok(r.mean.shape == r.std.shape == (n, n) and r.samples.shape == (16, n, n), "result: shapes",
       (r.mean.shape, r.samples.shape))
    pvar = 1 / (1 / s ** 2 + 1 / sig ** 2)
    pmean = (m / s ** 2 + y / sig ** 2) * pvar
    ess = r.document["stats"]["ess"]["min"]
    z = np.abs(r.mean - pmean).max() / np.sqrt(pvar / ess)
    ok(z < 5, "closed form: posterior mean within 5 Monte-Carlo stds (worst of %d pixels)" % (n * n), z)
    ratio = float((r.std.astype(np.float64) ** 2).mean() / pvar)
    ok(abs(ratio - 1) < 0.05, "closed form: posterior variance within 5%", ratio)
    ok("metrics" in r.document and "stats" in r.document and "mean" not in r.document,
       "result.document: metrics and stats, without the arrays", sorted(r.document))
    doc = c.get_json("/v1/jobs/%s/result" % job.id)
    ok(all(np.asarray(getattr(r, k)).tobytes() == base64.b64decode(doc[k]["data"]) for k in ("mean", "std", "samples")),
       "result: .npy arrays equal the result document's base64 bit for bit")
    back = job.document()
    ok(scorerecon.decode_array(back["observation"]).tobytes() == y.astype("<f4").tobytes()
       and back["labels"] == labels, "document(): the observation as sent (float32) and the labels", back.keys())
    return job


def test_outputs_and_listing(c, first):
    only_mean = c.submit(small_job(outputs=["mean"], labels={"project": "client-test", "run": "mean-only"}))
    only_mean.wait(timeout=30)
    r = only_mean.result()
    ok(r.mean is not None and r.std is None and r.samples is None, "result: only the outputs asked for", r)
    r2 = only_mean.result(document=False)
    ok(r2.document is None and r2.std is None and np.array_equal(r2.mean, r.mean), "result(document=False)", r2)
    # complex data: a Fourier observation from a complex128 array goes as complex64
    kspace = np.fft.fftshift(np.fft.fft2(np.ones((8, 8)), norm="ortho"))
    fj = c.submit(shape=[8, 8], operator={"type": "fourier", "mask": np.ones((8, 8))}, noise={"sigma": 0.1},
                  observation=kspace, prior={"type": "gaussian", "mean": 1, "std": 0.5},
                  sampler={"type": "langevin", "steps": 50}, num_samples=2, labels={"project": "other"})
    fj.wait(timeout=30)
    obs = scorerecon.decode_array(fj.document()["observation"])
    ok(obs.dtype == np.complex64 and np.array_equal(obs, kspace.astype(np.complex64)), "complex observation sent",
       obs.dtype)
    mine = {j.id for j in c.jobs(label="project:client-test")}
    ok(mine == {first.id, only_mean.id}, "jobs(label='k:v') filters", mine)
    ok([j.id for j in c.jobs(label={"project": "client-test", "run": "mean-only"})] == [only_mean.id],
       "jobs(label={...}): every label must match")
    every = [j.id for j in c.jobs(page_size=1)]
    ok(every == [j.id for j in c.jobs()] and len(every) == 3 and every[0] == fj.id,
       "jobs(page_size=1) follows the cursor over all pages, newest first", every)
    ok(len(list(c.jobs(limit=2, page_size=1))) == 2, "jobs(limit=2)")
    ok({j.id for j in c.jobs(status=["succeeded", "failed"])} == set(every) and list(c.jobs(status="queued")) == [],
       "jobs(status=...): one or a list")
    models = c.models()
    ok(any(m["name"] == "fashion-mnist" for m in models["models"]), "models()", models.get("models"))


def test_cancel_delete_errors(c):
    long = c.submit(long_job())
    ok(running(long) is not None and long.info["status"] == "running", "a long job runs", long.info)
    e = raises(WaitTimeout, long.wait, timeout=1.2, poll=30)
    ok(isinstance(e, WaitTimeout) and isinstance(e, TimeoutError) and e.info["status"] == "running",
       "wait(timeout=1.2) on a running job raises WaitTimeout (a TimeoutError)", e)
    info = long.cancel()
    if info and info["status"] == "running":
        info = long.wait(timeout=20)
    ok(info and info["status"] == "cancelled", "cancel() stops a running job", info)
    ok(long.cancel()["status"] == "cancelled" and long.status()["status"] == "cancelled",
       "cancel() on a final job leaves it (no purge)")
    e = raises(ClientError, long.result)
    ok(isinstance(e, ClientError) and e.status == 409 and e.problem == "no-result",
       "result() of a cancelled job: 409", e)
    long.delete()
    e = raises(NotFound, long.status)
    ok(isinstance(e, NotFound) and e.status == 404 and e.field == "id", "delete(): afterwards 404 NotFound", e)
    ok(isinstance(raises(NotFound, long.delete), NotFound), "delete() twice: NotFound")
    queued_then_deleted = c.submit(small_job(seed=9))
    queued_then_deleted.delete()  # whatever its state: gone
    ok(isinstance(raises(NotFound, queued_then_deleted.status), NotFound), "delete() of a fresh job removes it")

    e = raises(InvalidJob, c.submit, small_job(prior={"type": "gaussian", "std": -1}))
    ok(isinstance(e, InvalidJob) and e.status == 422 and e.field == "prior.std" and e.problem == "invalid-job"
       and e.type == "urn:scorerecon:problem:invalid-job" and e.title and "prior.std" in e.detail,
       "422: ApiError naming the field", e)
    e = raises(ClientError, c.get_json, "/v1/jobs", {"limit": 0})
    ok(isinstance(e, ClientError) and not isinstance(e, InvalidJob) and e.status == 400 and e.field == "limit",
       "400 bad-query", e)
    ok(isinstance(raises(ApiError, c.job("0" * 32).status), NotFound), "unknown job: NotFound")

    # idempotency: the same key, the same job; a new key per call otherwise
    a = c.submit(small_job(seed=11), idempotency_key="client-key-1")
    b = c.submit(small_job(seed=11), idempotency_key="client-key-1")
    ok(a.id == b.id, "the same Idempotency-Key twice: one job", (a.id, b.id))
    e = raises(InvalidJob, c.submit, small_job(seed=12), idempotency_key="client-key-1")
    ok(isinstance(e, InvalidJob) and e.problem == "idempotency-key-reused", "the key with another body: 422", e)
    ok(c.submit(small_job(seed=11)).id != c.submit(small_job(seed=11)).id, "without a key: a new uuid each time")


def test_queue_full():
    """--queue-max 1 and a running job: a second queued job fills the queue, the next POST gets 429."""
    q = Server("queue", "--queue-max", "1", "--max-wait", "1")
    c = scorerecon.Client(q.url, retries=3, retry_time=120, backoff=0.01)
    slept = []
    c.sleep = slept.append  # record the waits instead of waiting
    long = c.submit(long_job(seed=6))
    running(long)
    waiting = c.submit(small_job(seed=1))
    t0 = time.time()
    e = raises(ApiError, c.submit, small_job(seed=2))
    ok(isinstance(e, ClientError) and e.status == 429 and e.problem == "queue-full" and e.retry_after == 10,
       "queue full: gives up with ApiError 429 after its attempts", e)
    ok(slept == [10, 10, 10], "queue full: 3 retries, each after the server's Retry-After (10 s)", slept)
    c.retry_time, slept[:] = 5, []
    e = raises(ApiError, c.submit, small_job(seed=2))
    ok(isinstance(e, ClientError) and e.status == 429 and slept == [],
       "queue full, retry_time 5 s < Retry-After: gives up at once, no wait started", (e, slept))
    ok(time.time() - t0 < 5, "queue full: the give-up paths took no real time", time.time() - t0)

    c.retry_time = 120
    c.sleep = lambda s: (slept.append(s), waiting.cancel())  # room appears during the first wait
    slept[:] = []
    got = c.submit(small_job(seed=3), idempotency_key="after-429")
    ok(slept == [10] and got.status()["status"] in ("queued", "running"), "queue full: retried until room appeared",
       (slept, got.info))
    ok(c.submit(small_job(seed=3), idempotency_key="after-429").id == got.id, "the retried key made one job")

    # a server with --max-wait 1: wait() learns it and still times out on time
    e = raises(WaitTimeout, long.wait, timeout=2.5, poll=30)
    ok(isinstance(e, WaitTimeout) and c.max_wait == 1, "wait: the server's --max-wait (1) is learnt", c.max_wait)
    long.cancel()
    q.stop()


def test_auth_and_reconnect():
    token_file = os.path.join(TMP, "token.txt")
    with open(token_file, "w") as f:
        f.write("s3cret\n")
    t = Server("token", "--token-file", token_file)
    e = raises(Unauthorized, scorerecon.Client(t.url, token="wrong").models)
    ok(isinstance(e, Unauthorized) and e.status == 401 and e.problem == "unauthorized", "401 with a wrong token", e)
    ok(isinstance(raises(Unauthorized, scorerecon.Client(t.url).models), Unauthorized), "401 without a token")
    c = scorerecon.Client(t.url, token="s3cret", backoff=0.01)
    ok("models" in c.models(), "the right token works")

    # the server goes away: no retries -> ConnectionFailed; with retries the same key reaches the restarted server
    port = t.port
    t.stop()
    e = raises(scorerecon.ConnectionFailed, scorerecon.Client(t.url, retries=0).models)
    ok(isinstance(e, scorerecon.ConnectionFailed) and isinstance(e, ConnectionError), "ConnectionFailed", e)
    restarted = []
    c.sleep = lambda s: restarted or restarted.append(t.start(port))
    job = c.submit(small_job(seed=4), idempotency_key="reconnect")
    ok(restarted and job.wait(timeout=30)["status"] == "succeeded", "connection refused: retried onto the restart")
    ok([j.id for j in c.jobs()] == [job.id], "the retried POST made one job")
    t.stop()


def test_pip_install():
    """pip installs clients/python offline (no index, no build isolation) into a --target directory."""
    src, target = os.path.join(TMP, "pkg-src"), os.path.join(TMP, "pkg-target")
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-index",
                        "--no-deps", "--disable-pip-version-check", "--target", target, src],
                       capture_output=True, text=True, timeout=120)
    ok(p.returncode == 0, "pip install --no-index --no-build-isolation --target", p.stderr[-1500:])
    p = subprocess.run([sys.executable, "-c", "import scorerecon; print(scorerecon.__file__, scorerecon.__version__)"],
                       capture_output=True, text=True, cwd=TMP, env=dict(os.environ, PYTHONPATH=target))
    ok(p.returncode == 0 and p.stdout.startswith(target) and p.stdout.split()[-1] == scorerecon.__version__,
       "the installed package imports", p.stdout + p.stderr)


def test_pipeline(c, server_url):
    src, out = os.path.join(TMP, "images"), os.path.join(TMP, "denoised")
    os.makedirs(src)
    rng = np.random.default_rng(3)
    np.save(os.path.join(src, "a.npy"), np.clip(rng.random((6, 6)), 0, 1))
    # a real PNG (8-bit gray, the service's own rendering of a mean) as the second input
    j = c.submit(small_job(seed=5, shape=[5, 7], observation=rng.random((5, 7))))
    j.wait(timeout=30)
    png = j.file("mean.png")
    with open(os.path.join(src, "b.png"), "wb") as f:
        f.write(png)
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "pipeline.py"), src, out, "--url", server_url,
                        "--labels", "project:pipeline,batch:1", "--steps", "300", "--samples", "2", "--png"],
                       capture_output=True, text=True, timeout=120)
    ok(p.returncode == 0, "examples/pipeline.py runs", p.stdout + p.stderr)
    shapes = {}
    for stem in ("a", "b"):
        for kind in ("mean", "std"):
            path = os.path.join(out, "%s.%s.npy" % (stem, kind))
            shapes[stem + kind] = np.load(path).shape if os.path.exists(path) else None
    ok(shapes == {"amean": (6, 6), "astd": (6, 6), "bmean": (5, 7), "bstd": (5, 7)}, "pipeline: outputs", shapes)
    ok(os.path.exists(os.path.join(out, "b.mean.png")), "pipeline: --png")
    mine = sorted(j.info["labels"]["image"] for j in c.jobs(label={"project": "pipeline", "batch": "1"}))
    ok(mine == ["a", "b"], "pipeline: --labels on every job, plus image:NAME", mine)
    # its PNG reader: the service's mean.png maps [min, max] to [0, 255]
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import pipeline
    mean = j.result().mean
    expect = np.round((mean - mean.min()) / (mean.max() - mean.min()) * 255) / 255
    got = pipeline.read_png(os.path.join(src, "b.png"))
    ok(got.shape == (5, 7) and np.abs(got - expect).max() <= 1 / 255 + 1e-6, "pipeline.read_png",
       np.abs(got - expect).max())


def main():
    t0 = time.time()
    test_arrays()
    a = Server("a", "--max-wait", "30", "--workers", "2")
    c = scorerecon.Client(a.url)
    first = test_closed_form(c)
    test_outputs_and_listing(c, first)
    test_cancel_delete_errors(c)
    test_queue_full()
    test_auth_and_reconnect()
    p = Server("pipeline")
    test_pipeline(scorerecon.Client(p.url), p.url)
    test_pip_install()
    print("client: %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - an unexpected error is one failure, with its traceback
        import traceback
        traceback.print_exc(file=sys.stdout)
        ok(False, "unexpected exception", e)
    finally:
        for s in SERVERS:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait(10)
        shutil.rmtree(TMP, ignore_errors=True)
    finish()
