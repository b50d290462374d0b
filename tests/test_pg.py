#!/usr/bin/python3
"""tests/test_pg.py BIN — `BIN serve --store postgresql://...`: several nodes sharing one PostgreSQL database.

Starts a throw-away PostgreSQL cluster (initdb in a temporary directory, pg_ctl on a free loopback port, its unix
socket in that directory; as the `postgres` user when run as root), then nodes of `BIN serve`, each with its own
--data-dir (one server per data directory; result files stay on the node that ran the job in this slice):

  queue       40 jobs submitted to one node, two nodes claiming: every job succeeded, none run twice
              (attempts 1), its result files on exactly one node and served there; both nodes ran some;
              the Idempotency-Key across nodes; the queue limit counts the shared queue, and 10 concurrent
              submissions on two nodes into one free place get one 202; cancel; DELETE purges;
              labels filter and paging seen from the other node;
  leases      kill -9 of a node mid-job: once its lease (--lease 3) expires another node runs the job to success
              (attempts 2); SIGSTOP a node past its lease, another finishes the job, SIGCONT: the late outcome is
              refused (the job stays as the other node finished it; the log says so); a database restart
              under a running node (it reconnects).

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

    def __init__(self):
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
        opts = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50" % (self.port, sock)
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
        self.args = ["--store", url, "--lease", "3", "--workers", "2"] + list(args)
        self.proc = None
        self.start(append=False)

    def start(self, append=True):
        self.proc, self.port = harness.serve(BIN, self.dir, os.path.join(TMP, self.name + ".port"), self.err,
                                             self.args, append=append)
        return self.port is not None

    def log(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    def req(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            h = dict(headers or {})
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            c.request(method, path, data, h)
            r = c.getresponse()
            raw = r.read()
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = None
            return r.status, doc
        finally:
            c.close()

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


def job(steps, seed=1, labels=None):
    j = {"shape": [32, 32], "operator": {"type": "none"}, "prior": {"type": "gaussian", "mean": 0, "std": 1},
         "sampler": {"type": "langevin", "steps": steps}, "num_samples": 2, "seed": seed}
    if labels:
        j["labels"] = labels
    return j


def wait_until(cond, limit):
    deadline = time.time() + limit
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    return None


def has_result(node, jid):
    return os.path.exists(os.path.join(node.dir, "results", jid, "result.json"))


def test_queue(a, b):
    ids = []
    for i in range(40):
        st, doc = a.submit(job(40000, seed=i, labels={"batch": "q", "half": str(i % 2)}))
        ids.append(doc["id"] if st == 202 else None)
    ok(all(ids), "40 jobs accepted by node a", ids)
    done = {jid: b.wait(jid, ("succeeded", "failed", "cancelled"), limit=60) for jid in ids if jid}
    ok(all(d and d["status"] == "succeeded" for d in done.values()), "all 40 succeeded (seen from node b)",
       [d and d["status"] for d in done.values()])
    ok(all(d and d["attempts"] == 1 for d in done.values()), "none was run twice (attempts 1 each)",
       [d and d["attempts"] for d in done.values()])
    on_a = [jid for jid in ids if jid and has_result(a, jid)]
    on_b = [jid for jid in ids if jid and has_result(b, jid)]
    ok(len(on_a) + len(on_b) == 40 and not set(on_a) & set(on_b),
       "each job's result files on exactly one node", (len(on_a), len(on_b)))
    ok(on_a and on_b, "both nodes claimed jobs from the shared queue", (len(on_a), len(on_b)))
    if on_b:
        st, res = b.req("GET", "/v1/jobs/%s/result" % on_b[0])
        ok(st == 200 and res and "mean" in json.dumps(res), "a result is served by the node that ran it", st)
    # listing and labels, from the node that did not take the submissions
    st, page = b.req("GET", "/v1/jobs?label=batch:q&label=half:1&limit=100")
    got = [j["id"] for j in page["jobs"]] if st == 200 else []
    ok(sorted(got) == sorted(ids[1::2]), "labels filter across nodes (20 jobs)", len(got))
    seen, cursor, pages = [], None, 0
    while pages < 20:
        st, page = b.req("GET", "/v1/jobs?label=batch:q&limit=7" + ("&cursor=" + cursor if cursor else ""))
        if st != 200:
            break
        seen += [j["id"] for j in page["jobs"]]
        pages += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
    ok(seen == ids[::-1], "paging (limit 7): every job once, newest first", (len(seen), pages))
    # DELETE purges a finished job for every node
    st, _ = b.req("DELETE", "/v1/jobs/" + ids[0])
    ok(st == 204, "DELETE of a finished job: 204", st)
    st, _ = a.req("GET", "/v1/jobs/" + ids[0])
    ok(st == 404, "the purged job is gone on the other node too", st)
    return ids


def test_keys_limit_cancel(a, b, c, d4):
    # Idempotency-Key across nodes
    st1, d1 = a.submit(job(20000, seed=900), key="pg-key-1")
    st2, d2 = b.submit(job(20000, seed=900), key="pg-key-1")
    ok(st1 == 202 and st2 == 202 and d1["id"] == d2["id"], "the same key and body on another node: the same job",
       (st1, st2))
    st3, d3 = b.submit(job(20000, seed=901), key="pg-key-1")
    ok(st3 == 422 and d3 and d3.get("type", "").endswith("idempotency-key-reused"),
       "the same key with another body on another node: 422 idempotency-key-reused", (st3, d3))
    # the queue limit counts the shared queue: 6 long jobs keep the 4 nodes' 6 workers busy; node c has no room
    longs = [a.submit(job(500000, seed=910 + i))[1]["id"] for i in range(6)]
    ok(wait_until(lambda: all(a.get(j)["status"] == "running" for j in longs), 10), "6 jobs run on 3 nodes")
    queued = [a.submit(job(20000, seed=920 + i))[1]["id"] for i in range(3)]
    st, d = c.submit(job(20000, seed=930))
    ok(st == 429, "node c (--queue-max 3): 429 once 3 jobs wait in the shared queue", (st, d))
    # cancel a queued job from another node
    st, d = b.req("DELETE", "/v1/jobs/" + queued[0])
    ok(st == 200 and d and d["status"] == "cancelled", "cancel of a queued job on another node: 200 cancelled", st)
    ok(a.get(queued[0])["status"] == "cancelled", "node a sees it cancelled")
    # one place left: 10 submissions at once, split over nodes c and d (both --queue-max 3): exactly one gets it
    res = [None] * 10

    def post(i):
        res[i] = (c if i % 2 else d4).submit(job(20000, seed=940 + i))

    ts = [threading.Thread(target=post, args=(i,)) for i in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    codes = sorted(r[0] for r in res if r)
    ok(codes == [202] + [429] * 9, "10 concurrent submissions on two nodes into 1 free place: one 202, nine 429",
       codes)
    queued += [r[1]["id"] for r in res if r and r[0] == 202]
    for jid in longs + queued[1:]:
        a.wait(jid, ("succeeded", "failed", "cancelled"), limit=30)


def run_on(runner, other, steps, seed, what):
    """A long job claimed by `runner` for sure: `other` stops, the job starts on runner, other starts again."""
    harness.stop(other.proc)
    jid = runner.submit(job(steps, seed=seed))[1]["id"]
    ok(wait_until(lambda: runner.get(jid)["progress"]["step"] > 0, 10), "%s: node %s runs the job" % (what,
                                                                                                      runner.name))
    ok(other.start(), "%s: node %s starts again" % (what, other.name))
    return jid


def test_kill9(a, b):
    """a runs a long job and is killed: b runs the job once a's lease expires."""
    jid = run_on(a, b, 600000, 77, "kill -9")
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(10)
    t = time.time()
    ok(wait_until(lambda: b.get(jid)["status"] == "running" and b.get(jid)["attempts"] == 2, 10),
       "kill -9: node b claims the job once a's 3 s lease expired", b.get(jid))
    waited = time.time() - t
    ok(1.5 <= waited <= 8, "... not before the lease ran out, nor long after (%.1f s)" % waited)
    d = b.wait(jid, ("succeeded", "failed"), limit=30)
    ok(d and d["status"] == "succeeded" and d["attempts"] == 2, "kill -9: the job succeeded on b, attempts 2",
       d and (d["status"], d["attempts"]))
    ok(has_result(b, jid), "its result is on node b")
    ok("lease expired" in b.log(), "node b's log says a lease expired")
    ok(a.start(), "node a starts again")


def test_sigstop(a, b):
    """b runs a long job and is frozen past its lease; a finishes the job; b thaws: its outcome is refused."""
    jid = run_on(b, a, 700000, 88, "SIGSTOP")
    b.proc.send_signal(signal.SIGSTOP)
    d = a.wait(jid, ("succeeded", "failed"), limit=30)
    ok(d and d["status"] == "succeeded" and d["attempts"] == 2, "SIGSTOP: node a took over and finished (attempts 2)",
       d and (d["status"], d["attempts"]))
    finished = d and d["finished"]
    b.proc.send_signal(signal.SIGCONT)
    line = "job %s: lease lost (another node took the job over): this node's outcome (succeeded) is refused" % jid
    ok(wait_until(lambda: line in b.log(), 20), "SIGCONT: node b's late result is refused, and its log says so",
       b.log()[-600:])
    d = a.get(jid)
    ok(d["status"] == "succeeded" and d["attempts"] == 2 and d["finished"] == finished,
       "the job stays as node a finished it", d)


def test_reconnect(cluster, a):
    """The database restarts under a running node: its calls fail (logged) until it reconnects; no crash."""
    r = cluster.sh(os.path.join(cluster.bin, "pg_ctl"), "-D", os.path.join(cluster.dir, "db"), "-m", "fast", "-w",
                   "-l", os.path.join(cluster.dir, "log"), "restart")
    ok(r.returncode == 0, "PostgreSQL restarted", r.stdout[-300:])
    first = a.submit(job(20000, seed=99))[0]
    got = wait_until(lambda: (lambda r: r if r[0] == 202 else None)(a.submit(job(20000, seed=99), key="after-restart")),
                     15)
    ok(got and got[0] == 202, "after a database restart the node accepts jobs again (first answer %s)" % first, got)
    d = got and got[0] == 202 and a.wait(got[1]["id"], ("succeeded", "failed"), limit=20)
    ok(d and d["status"] == "succeeded", "... and runs them", d)
    ok(a.proc.poll() is None and "reconnected to PostgreSQL" in a.log(), "the node lives on and logs the reconnect")


def main():
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
        a = Node("a", cluster.url)
        b = Node("b", cluster.url)
        nodes += [a, b]
        ok(a.port and b.port, "two nodes start on one PostgreSQL store", (a.log()[-400:], b.log()[-400:]))
        if a.port and b.port:
            ok("store postgresql" in a.log(), "the log names the store")
            test_queue(a, b)
            c = Node("c", cluster.url, "--queue-max", "3", "--workers", "1")
            d4 = Node("d", cluster.url, "--queue-max", "3", "--workers", "1")
            nodes += [c, d4]
            test_keys_limit_cancel(a, b, c, d4)
            harness.stop(c.proc)
            harness.stop(d4.proc)
            test_kill9(a, b)
            test_sigstop(a, b)
            test_reconnect(cluster, a)
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
