#!/usr/bin/python3
"""tests/test_pg.py BIN — `BIN serve --store postgresql://...`: several nodes sharing one PostgreSQL database.

Starts a throw-away PostgreSQL cluster (initdb in a temporary directory, pg_ctl on a free loopback port, its unix
socket in that directory; as the `postgres` user when run as root), then one API node (--role api) and two worker
nodes (--role worker, --poll 30: an idle worker looks at the queue only every 30 s unless LISTEN/NOTIFY wakes it),
each with its own --data-dir:

  roles       a worker node serves only /healthz /readyz /metrics; --role with SQLite is refused; /readyz and
              /metrics name the role and store
  spread      200 jobs submitted to the API node: all succeed, none run twice (attempts 1, and the workers'
              finished counts add up to 200), both workers ran some, every result readable from the API node
              byte for byte as the worker wrote it (fetched from the database); woken by NOTIFY, not by polling
  queue       labels and paging, the Idempotency-Key across nodes, the shared queue limit (10 concurrent
              submissions on two API nodes into one free place: one 202), cancel of a queued and of a running job
              from another node, DELETE purges the job and every node's copy of its result
  leases      kill -9 of a worker mid-job: another finishes it once the lease (--lease 3) expired, with the same
              bytes as an uninterrupted run of the same job; SIGSTOP of a worker past its lease: another finishes
              the job, the thawed worker's late result is refused and its copy dropped
  database    PostgreSQL stopped under load: /readyz answers 503, jobs wait; started again: the nodes reconnect,
              every job succeeds, none is lost

Prints "pg: N passed, N failed". Where the PostgreSQL binaries are missing or the cluster cannot start it prints
"pg: SKIPPED: <reason>" and "pg: 0 passed, 0 failed". Standard library only.
"""
import glob
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import harness

CHECKS = harness.Checks("pg")
ok = CHECKS.ok
BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build/scorerecon"
T0 = time.time()


def skip(why):
    print("pg: SKIPPED: %s" % why, flush=True)
    print("pg: 0 passed, 0 failed", flush=True)
    sys.exit(0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Cluster:
    """initdb + pg_ctl start in a temporary directory; stop() stops it and removes the directory."""

    def __init__(self, fsync=False):
        self.fsync = fsync  # off for the tests (speed); bench/queue turns it on
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            skip("no PostgreSQL binaries (/usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)")
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="sr_pg_")
        self.as_user = []
        if os.geteuid() == 0:  # initdb refuses root
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                skip("running as root and there is no postgres user to run the cluster")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.started = False
        self.url = "postgresql://sr@127.0.0.1:%d/scorerecon" % self.port

    def sh(self, *cmd, limit=60):
        return subprocess.run(self.as_user + list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=limit)

    def start(self):
        data, sock = os.path.join(self.dir, "db"), os.path.join(self.dir, "sock")
        r = self.sh(os.path.join(self.bin, "initdb"), "-D", data, "-A", "trust", "-U", "sr", "--no-sync", "-E", "UTF8")
        if r.returncode:
            return "initdb failed: %s" % r.stdout.decode(errors="replace")[-300:]
        self.sh("mkdir", sock)
        self.opts = opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=%s -c max_connections=100"
                            % (self.port, sock, "on" if self.fsync else "off"))
        r = self.sh(os.path.join(self.bin, "pg_ctl"), "-D", data, "-o", opts, "-l", os.path.join(self.dir, "log"),
                    "-w", "-t", "30", "start")
        if r.returncode:
            return "pg_ctl start failed: %s" % r.stdout.decode(errors="replace")[-300:]
        self.started = True
        r = self.sh(os.path.join(self.bin, "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "sr",
                    "scorerecon")
        if r.returncode:
            return "createdb failed: %s" % r.stdout.decode(errors="replace")[-300:]
        return None

    def psql(self, sql):
        r = self.sh(os.path.join(self.bin, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "sr", "-At", "-c",
                    sql, "scorerecon")
        return r.stdout.decode(errors="replace").strip()

    def stop(self):
        if self.started:
            self.sh(os.path.join(self.bin, "pg_ctl"), "-D", os.path.join(self.dir, "db"), "-m", "immediate", "-w",
                    "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


TMP = tempfile.mkdtemp(prefix="sr_pgnodes_")


class Node:
    def __init__(self, name, url, *args):
        self.name = name
        self.dir = os.path.join(TMP, "data-" + name)
        self.err = os.path.join(TMP, name + ".err")
        self.args = ["--store", url, "--lease", "3", "--workers", "2", "--job-threads", "1"] + list(args)
        self.proc = None
        self.start(append=False)

    def start(self, append=True):
        self.proc, self.port = harness.serve(BIN, self.dir, os.path.join(TMP, self.name + ".port"), self.err,
                                             self.args, append=append)
        return self.port is not None

    def log(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    def raw(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            h = dict(headers or {})
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            c.request(method, path, data, h)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def req(self, method, path, body=None, headers=None):
        st, raw = self.raw(method, path, body, headers)
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return st, doc

    def submit(self, job, key=None):
        return self.req("POST", "/v1/jobs", job, {"Idempotency-Key": key} if key else None)

    def get(self, jid):
        return self.req("GET", "/v1/jobs/" + jid)[1]

    def wait(self, jid, want, limit=30.0):
        deadline = time.time() + limit
        job = None
        while time.time() < deadline:
            st, job = self.req("GET", "/v1/jobs/%s?wait=%d" % (jid, max(1, min(5, int(deadline - time.time())))))
            if st != 200 or job["status"] in want:
                return job
        return job

    def metric(self, name):
        st, raw = self.raw("GET", "/metrics")
        for line in raw.decode().splitlines() if st == 200 else []:
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None


FINAL = ("succeeded", "failed", "cancelled")


def job(steps, seed=1, labels=None, size=32):
    j = {"shape": [size, size], "operator": {"type": "none"}, "prior": {"type": "gaussian", "mean": 0, "std": 1},
         "sampler": {"type": "langevin", "steps": steps}, "num_samples": 2, "seed": seed,
         "outputs": ["mean", "std", "samples"]}
    if labels:
        j["labels"] = labels
    return j


def ts(text):
    """An RFC 3339 time of the job view as unix seconds."""
    import datetime
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def wait_until(cond, limit):
    deadline = time.time() + limit
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    return None


def local(node, jid, name="result.json"):
    """The bytes of a result file in node's data directory, or None."""
    try:
        with open(os.path.join(node.dir, "results", jid, name), "rb") as f:
            return f.read()
    except OSError:
        return None


def all_final(api, ids, limit):
    """Waits until every job in ids is final (polling the listing); returns {id: job}."""
    deadline, want, seen = time.time() + limit, set(ids), {}
    while time.time() < deadline and len(seen) < len(want):
        cursor = None
        for _ in range(100):
            st, page = api.req("GET", "/v1/jobs?limit=200" + ("&cursor=" + cursor if cursor else ""))
            if st != 200:
                break
            for j in page["jobs"]:
                if j["id"] in want and j["status"] in FINAL:
                    seen[j["id"]] = j
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if len(seen) < len(want):
            time.sleep(0.3)
    return seen


def test_roles(api, w1):
    st, d = w1.req("GET", "/v1/jobs")
    ok(st == 404 and d and "--role worker" in d.get("detail", ""), "a worker node answers /v1/ with 404 naming its "
       "role", (st, d))
    st, d = w1.req("GET", "/readyz")
    ok(st == 200 and d["role"] == "worker" and d["store"] == "postgresql" and d["workers"] == 2,
       "a worker node's /readyz: ready, role worker, store postgresql, 2 workers", d)
    st, d = api.req("GET", "/readyz")
    ok(st == 200 and d["role"] == "api" and d["workers"] == 0, "the API node's /readyz: ready, role api, 0 workers", d)
    st, raw = api.raw("GET", "/metrics")
    text = raw.decode()
    ok(st == 200 and 'scorerecon_node{role="api",store="postgresql"} 1' in text and "scorerecon_queue_depth" in text,
       "the API node's /metrics names its role and store and has the shared queue depth")
    r = subprocess.run([BIN, "serve", "--role", "worker", "--data-dir", os.path.join(TMP, "sq")],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    ok(r.returncode == 2 and b"needs a store that several nodes share" in r.stderr,
       "--role worker with SQLite: exit 2, saying why", r.stderr[-300:])


def test_spread(api, w1, w2):
    t = time.time()
    ids = []
    for i in range(200):
        st, doc = api.submit(job(3000, seed=i, labels={"batch": "spread"}))
        ids.append(doc["id"] if st == 202 else None)
    ok(all(ids), "200 jobs accepted by the API node", [i for i in ids if not i][:3])
    ids = [i for i in ids if i]
    done = all_final(api, ids, 120)
    took = time.time() - t
    ok(len(done) == 200 and all(d["status"] == "succeeded" for d in done.values()),
       "all 200 succeeded, in %.1f s (the workers poll only every 30 s: NOTIFY woke them)" % took,
       (len(done), [d["status"] for d in done.values() if d["status"] != "succeeded"][:5]))
    ok(all(d["attempts"] == 1 for d in done.values()), "none was run twice (attempts 1 each)")
    n1, n2 = w1.metric("scorerecon_job_seconds_count"), w2.metric("scorerecon_job_seconds_count")
    ok(n1 and n2 and n1 + n2 == 200, "both workers ran some, 200 runs in all (%s + %s)" % (n1, n2))
    ok(not os.path.exists(os.path.join(api.dir, "results")) or not os.listdir(os.path.join(api.dir, "results")),
       "the API node ran nothing and holds no result before it is asked")
    same, fetched = 0, 0
    for jid in ids:
        st, body = api.raw("GET", "/v1/jobs/%s/result/mean.npy" % jid)
        mine = local(w1, jid, "mean.npy") or local(w2, jid, "mean.npy")
        fetched += st == 200
        same += st == 200 and body == mine
    ok(fetched == 200 and same == 200, "every result's mean.npy read from the API node, the same bytes as the "
       "worker's file (%d of 200)" % same, fetched)
    st, body = api.raw("GET", "/v1/jobs/%s/result" % ids[7])
    ok(st == 200 and body == (local(w1, ids[7]) or local(w2, ids[7])), "result.json from the API node: the worker's "
       "bytes", st)
    st, d = api.req("GET", "/v1/jobs/%s/result?encoding=lists" % ids[8])
    ok(st == 200 and isinstance(d.get("mean"), list), "encoding=lists works on a fetched result", st)
    ok(local(api, ids[7]) is not None, "the API node keeps a copy once fetched")
    # an idle worker is woken at once (its --poll is 30 s) and a long-poll on the API node for a job run elsewhere
    # answers as the job finishes
    st, d = api.submit(job(3000, seed=5000))
    t0 = time.time()
    st, d = api.req("GET", "/v1/jobs/%s?wait=20" % d["id"])
    if d and d["status"] == "running":
        st, d = api.req("GET", "/v1/jobs/%s?wait=20" % d["id"])
    waited = time.time() - t0
    ok(d and d["status"] == "succeeded" and ts(d["started"]) - ts(d["created"]) < 5 and waited < 10,
       "idle workers are woken by NOTIFY (claimed %.2f s after submission) and the API node's long-poll by the "
       "status event (%.1f s)" % ((ts(d["started"]) - ts(d["created"])) if d else -1, waited), d)
    ok((w1.metric("scorerecon_claim_seconds_count") or 0) + (w2.metric("scorerecon_claim_seconds_count") or 0) == 201,
       "the workers' claim-latency histograms count 201 claims")
    return ids


def test_queue(api, w1, w2, c, d4, ids):
    st, page = c.req("GET", "/v1/jobs?label=batch:spread&limit=100")
    got = [j["id"] for j in page["jobs"]] if st == 200 else []
    ok(got == ids[::-1][:100], "labels and the newest-first listing from another API node", len(got))
    seen, cursor = [], None
    for _ in range(40):
        st, page = c.req("GET", "/v1/jobs?label=batch:spread&limit=7" + ("&cursor=" + cursor if cursor else ""))
        if st != 200:
            break
        seen += [j["id"] for j in page["jobs"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    ok(seen == ids[::-1], "paging (limit 7) from another API node: every job once", len(seen))
    # Idempotency-Key across nodes
    st1, d1 = api.submit(job(3000, seed=900), key="pg-key-1")
    st2, d2 = c.submit(job(3000, seed=900), key="pg-key-1")
    ok(st1 == 202 and st2 == 202 and d1["id"] == d2["id"], "the same key and body on another node: the same job",
       (st1, st2))
    st3, d3 = c.submit(job(3000, seed=901), key="pg-key-1")
    ok(st3 == 422 and d3 and d3.get("type", "").endswith("idempotency-key-reused"),
       "the same key with another body on another node: 422 idempotency-key-reused", (st3, d3))
    # 4 long jobs keep the 4 workers busy; 3 wait; node c (--queue-max 3) has no room
    longs = [api.submit(job(2000000, seed=910 + i))[1]["id"] for i in range(4)]
    ok(wait_until(lambda: all(api.get(j)["status"] == "running" for j in longs), 10), "4 long jobs run on 2 workers")
    queued = [api.submit(job(3000, seed=920 + i))[1]["id"] for i in range(3)]
    st, d = c.submit(job(3000, seed=930))
    ok(st == 429, "node c (--queue-max 3): 429 once 3 jobs wait in the shared queue", (st, d))
    st, d = c.req("DELETE", "/v1/jobs/" + queued[0])
    ok(st == 200 and d and d["status"] == "cancelled", "cancel of a queued job on another node: 200 cancelled", st)
    res = [None] * 10

    def post(i):
        res[i] = (c if i % 2 else d4).submit(job(3000, seed=940 + i))

    ts = [threading.Thread(target=post, args=(i,)) for i in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    codes = sorted(r[0] for r in res if r)
    ok(codes == [202] + [429] * 9, "10 concurrent submissions on two nodes into 1 free place: one 202, nine 429",
       codes)
    # cancel of running jobs from an API node: their worker hears it (NOTIFY) and stops them at the next step
    t = time.time()
    answers = [c.req("DELETE", "/v1/jobs/" + j) for j in longs]
    ok(all(a[0] in (200, 202) for a in answers), "DELETE of 4 jobs running on the workers: 200/202",
       [a[0] for a in answers])
    ok(wait_until(lambda: all(api.get(j)["status"] == "cancelled" for j in longs), 10),
       "... all 4 cancelled, within %.1f s" % (time.time() - t), [api.get(j)["status"] for j in longs])
    rest = queued[1:] + [r[1]["id"] for r in res if r and r[0] == 202] + [d1["id"]]
    done = all_final(api, rest, 30)
    ok(len(done) == len(rest) and all(x["status"] == "succeeded" for x in done.values()), "the queued ones then run")
    # DELETE purges the job and every node's copy of its result (the deletion event)
    jid = ids[7]
    holders = [n for n in (api, w1, w2) if local(n, jid) is not None]
    st, _ = c.req("DELETE", "/v1/jobs/" + jid)
    ok(st == 204 and len(holders) == 2, "DELETE of a finished job on node c: 204 (copies were on %s)" %
       [n.name for n in holders], st)
    ok(wait_until(lambda: all(local(n, jid) is None for n in (api, w1, w2)), 5), "every node dropped its copy")
    st, _ = api.req("GET", "/v1/jobs/%s/result" % jid)
    ok(st == 404, "the purged job's result: 404 on the API node", st)
    ok(api.metric("scorerecon_queue_depth") == 0, "the queue depth (from the database) is 0 again")


# Steps of the "long" jobs that a worker is killed or frozen in: 1.5 M steps of this 32 x 32 langevin job with 2
# chains take about 4.7 s on one core of the 2-core test machine, so the job still runs when the worker that claimed
# it is stopped (after the other worker's restart and 0.5 s). 400 k (1.2–1.4 s) once finished first.
LONG = 1500000


def run_on(runner, other, steps, seed, what):
    """A long job claimed by `runner` for sure: `other` stops, the job starts on runner, other starts again."""
    harness.stop(other.proc)
    jid = API.submit(job(steps, seed=seed))[1]["id"]
    ok(wait_until(lambda: API.get(jid)["progress"]["step"] > 0 or local(runner, jid) is not None, 10) and
       API.get(jid)["status"] == "running", "%s: worker %s runs the job" % (what, runner.name))
    ok(other.start(), "%s: worker %s starts again" % (what, other.name))
    return jid


def result_bytes(jid):
    return [API.raw("GET", "/v1/jobs/%s/result/%s" % (jid, f))[1] for f in ("mean.npy", "std.npy", "samples.npy")]


def test_kill9(w1, w2):
    """w1 runs a long job and is killed: w2 runs it once w1's lease expires, with the bytes of an unbroken run."""
    jid = run_on(w1, w2, LONG, 77, "kill -9")
    time.sleep(0.5)
    w1.proc.send_signal(signal.SIGKILL)
    w1.proc.wait(10)
    t = time.time()
    ok(wait_until(lambda: API.get(jid)["status"] == "running" and API.get(jid)["attempts"] == 2, 10),
       "kill -9: worker w2 claims the job once w1's 3 s lease expired", API.get(jid))
    waited = time.time() - t
    ok(1.5 <= waited <= 8, "... not before the lease ran out, nor long after (%.1f s)" % waited)
    ok(w1.start(), "worker w1 starts again")
    d = API.wait(jid, FINAL, limit=60)
    ok(d and d["status"] == "succeeded" and d["attempts"] == 2, "kill -9: the job succeeded, attempts 2",
       d and (d["status"], d["attempts"]))
    again = API.submit(job(LONG, seed=77))[1]["id"]
    d2 = API.wait(again, FINAL, limit=60)
    ok(d2 and d2["status"] == "succeeded" and d2["attempts"] == 1, "the same job again, uninterrupted")
    a, b = result_bytes(jid), result_bytes(again)
    ok(all(a) and a == b, "the interrupted job's mean, std and samples: the same bytes as the uninterrupted run's",
       [len(x or b"") for x in a])
    ok("lease expired" in w2.log() or "lease expired" in API.log(), "a node's log says a lease expired")


def test_sigstop(w1, w2):
    """w2 runs a long job and is frozen past its lease; w1 finishes the job; w2 thaws: its outcome is refused."""
    jid = run_on(w2, w1, LONG, 88, "SIGSTOP")
    w2.proc.send_signal(signal.SIGSTOP)
    d = API.wait(jid, ("succeeded", "failed"), limit=60)
    ok(d and d["status"] == "succeeded" and d["attempts"] == 2, "SIGSTOP: worker w1 took over and finished "
       "(attempts 2)", d and (d["status"], d["attempts"]))
    finished = d and d["finished"]
    stored = result_bytes(jid)
    w2.proc.send_signal(signal.SIGCONT)
    line = "job %s: lease lost (another node took the job over): this node's outcome (succeeded) is refused" % jid
    # w2 first runs the rest of its LONG job: seconds here, up to a minute under make asan
    ok(wait_until(lambda: line in w2.log(), 90), "SIGCONT: w2's late result is refused, and its log says so",
       w2.log()[-600:])
    d = API.get(jid)
    ok(d["status"] == "succeeded" and d["attempts"] == 2 and d["finished"] == finished,
       "the job stays as w1 finished it", d)
    ok(local(w2, jid) is None and result_bytes(jid) == stored, "w2 dropped its refused files; the stored result is "
       "w1's")


def test_database(cluster, api, w1, w2):
    """PostgreSQL stops under load and starts again: nothing is lost."""
    ids = [api.submit(job(60000, seed=3000 + i, labels={"batch": "db"}))[1]["id"] for i in range(24)]
    time.sleep(1.0)
    r = cluster.sh(os.path.join(cluster.bin, "pg_ctl"), "-D", os.path.join(cluster.dir, "db"), "-m", "fast", "-w",
                   "stop")
    ok(r.returncode == 0, "PostgreSQL stopped under load", r.stdout[-300:])
    st, d = api.req("GET", "/readyz")
    ok(st == 503 and "store" in (d or {}).get("reason", ""), "the API node's /readyz: 503, the store", (st, d))
    st, d = api.submit(job(3000, seed=3100))
    ok(st >= 500, "a submission while the database is down: %d (not accepted, nothing half-written)" % st)
    time.sleep(2.0)
    r = cluster.sh(os.path.join(cluster.bin, "pg_ctl"), "-D", os.path.join(cluster.dir, "db"), "-o", cluster.opts,
                   "-l", os.path.join(cluster.dir, "log"), "-w", "-t", "30", "start")
    ok(r.returncode == 0, "PostgreSQL started again", r.stdout[-300:])
    ok(wait_until(lambda: api.req("GET", "/readyz")[0] == 200, 15), "the API node is ready again")
    done = all_final(api, ids, 120)
    ok(len(done) == 24 and all(x["status"] == "succeeded" for x in done.values()),
       "all 24 jobs of the load succeeded: none lost", (len(done), sorted(set(x["status"] for x in done.values()))))
    ok(all(x["attempts"] <= 2 for x in done.values()), "each ran at most twice (a lease lost while the database "
       "was away)", sorted(x["attempts"] for x in done.values()))
    ok(all(n.proc.poll() is None for n in (api, w1, w2)) and all("reconnected to PostgreSQL" in n.log()
                                                                 for n in (api, w1, w2)),
       "every node lives on and logs the reconnect")
    ok(all(result_bytes(j)[0] for j in ids[:4]), "their results are readable from the API node")


API = None


def main():
    global API
    if not os.access(BIN, os.X_OK):
        print("pg: %s is not an executable" % BIN)
        print("pg: 0 passed, 1 failed")
        sys.exit(1)
    cluster = Cluster()
    why = cluster.start()
    if why:
        cluster.stop()
        skip(why)
    nodes = []
    try:
        api = API = Node("api", cluster.url, "--role", "api")
        w1 = Node("w1", cluster.url, "--role", "worker", "--poll", "30")
        w2 = Node("w2", cluster.url, "--role", "worker", "--poll", "30")
        nodes += [api, w1, w2]
        ok(api.port and w1.port and w2.port, "an API node and two worker nodes start on one PostgreSQL store",
           (api.log()[-400:], w1.log()[-400:], w2.log()[-400:]))
        if api.port and w1.port and w2.port:
            ok("store postgresql, role worker" in w1.log(), "the log names the store and the role")
            test_roles(api, w1)
            ids = test_spread(api, w1, w2)
            c = Node("c", cluster.url, "--role", "api", "--queue-max", "3")
            d4 = Node("d", cluster.url, "--role", "api", "--queue-max", "3")
            nodes += [c, d4]
            test_queue(api, w1, w2, c, d4, ids)
            harness.stop(c.proc)
            harness.stop(d4.proc)
            test_kill9(w1, w2)
            test_sigstop(w1, w2)
            test_database(cluster, api, w1, w2)
        st = Node("bad", "postgresql://sr@127.0.0.1:%d/nosuchdb" % cluster.port)
        nodes.append(st)
        ok(st.port is None and st.proc.wait(10) == 1 and "cannot connect to the PostgreSQL store" in st.log(),
           "an unreachable store: serve exits 1 and says why", st.log()[-300:])
    finally:
        for n in nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.send_signal(signal.SIGCONT)
                harness.stop(n.proc)
        for n in nodes:
            report = harness.sanitizer_report(n.log()) if os.path.exists(n.err) else ""
            ok(not report, "node %s: no sanitizer report" % n.name, report)
        cluster.stop()
    CHECKS.finish(since=T0, tmp=TMP)


if __name__ == "__main__":
    main()
