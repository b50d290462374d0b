#!/usr/bin/python3
"""tests/test_service.py BIN — end-to-end, contract, durability and robustness tests of `BIN serve`.

Run with Debian's python3 (it has python3-jsonschema and python3-yaml):

    /usr/bin/python3 tests/test_service.py build/scorerecon

Starts servers on 127.0.0.1 with free ports (--listen 127.0.0.1:0 --port-file F) and temporary data directories,
talks to them with http.client and raw sockets only, and prints one closing line "service: N passed, N failed"
(exit status 1 on any failure). Every wait is bounded. Parts:

  end to end   submit, poll, long-poll, results as JSON (base64 and lists), .npy and .png, cancel, list and
               paging, idempotent retries, authentication, every error status;
  contract     every response of the end-to-end part is checked against openapi.yaml: its status must be
               declared for the path and method, its Content-Type must be declared, JSON bodies must validate
               (Draft 2020-12, $refs into components), declared required headers must be present and valid;
  durability   kill -9 while a job runs, restart: nothing accepted is lost, the job runs again and gives the
               same bytes as on a fresh server; results survive restarts byte for byte; SIGTERM stops within
               seconds and the running job goes back to the queue;
  robustness   malformed and hostile requests over raw sockets; the server keeps answering /healthz.

Server stderr is kept; any "ERROR: AddressSanitizer", "ERROR: LeakSanitizer" or "runtime error" in it is a
failure (`make asan` runs this file against the sanitizer build).
"""
import ast
import base64
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

import harness  # tests/harness.py: checks, servers, sanitizer reports (shared with test_web.py)

CHECKS = harness.Checks("service")
ok, finish = CHECKS.ok, CHECKS.finish


try:
    import jsonschema
    import yaml
except ImportError as e:  # scripts/install-deps.sh installs both; say so loudly rather than skip
    print("service: needs python3-jsonschema and python3-yaml for /usr/bin/python3 (%s); run scripts/install-deps.sh" % e)
    print("service: 0 passed, 1 failed")
    sys.exit(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) < 2:
    print("usage: test_service.py path/to/scorerecon", file=sys.stderr)
    print("service: 0 passed, 1 failed")
    sys.exit(1)
BIN = os.path.abspath(sys.argv[1])
if not os.access(BIN, os.X_OK):
    print("service: %s is not an executable" % BIN)
    print("service: 0 passed, 1 failed")
    sys.exit(1)
PNGCHECK = os.path.join(os.path.dirname(BIN), "pngcheck")
TMP = tempfile.mkdtemp(prefix="sr_service_")
SERVERS = []

# --------------------------------------------------------------------------------------------- servers


class Server:
    """One `BIN serve` process on 127.0.0.1 and a free port, stderr kept in TMP."""

    count = 0

    def __init__(self, data_dir, *args):
        Server.count += 1
        self.n = Server.count
        self.data_dir = data_dir
        self.port_file = os.path.join(TMP, "port-%d" % self.n)
        self.err_path = os.path.join(TMP, "server-%d.err" % self.n)
        self.proc, self.port = harness.serve(BIN, data_dir, self.port_file, self.err_path, args)
        SERVERS.append(self)
        deadline = time.time() + 20
        if self.port is None:
            raise RuntimeError("server did not start: %s" % self.stderr()[-2000:])
        while time.time() < deadline:  # listening; wait until it answers
            try:
                if request(self.port, "GET", "/healthz", check=False).status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.02)

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def term(self, limit=15.0):
        """SIGTERM; returns (exit status or None if still running after `limit`, seconds)."""
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.time() - t0


def stop_all():
    for s in SERVERS:
        if s.alive():
            s.proc.kill()
            try:
                s.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


# --------------------------------------------------------------------------------------------- HTTP


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body
        self._json = None

    def json(self):
        if self._json is None:
            self._json = json.loads(self.body)
        return self._json

    def header(self, name):
        return self.headers.get(name.lower())

    def media(self):
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


CONTRACT = None  # set below; request() checks every response against it unless check=False


def request(port, method, path, body=None, headers=None, timeout=30, check=True, send_body=True, token=None):
    """One request on a fresh connection. body: bytes, or anything else is sent as JSON."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if send_body:
            c.request(method, path, body=body, headers=h)
        else:  # headers only (a Content-Length the body never follows)
            c.putrequest(method, path, skip_accept_encoding=True)
            for k, v in h.items():
                c.putheader(k, v)
            c.endheaders()
        r = c.getresponse()
        data = r.read()
        resp = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        c.close()
    if check and CONTRACT is not None:
        CONTRACT.check(method, path, resp, body if isinstance(body, bytes) else None)
    return resp


def complete_responses(data):
    """How many whole responses (with a Content-Length) data holds."""
    n, pos = 0, 0
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return n
        m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", data[pos:end])
        if not m:
            return n
        if len(data) < end + 4 + int(m.group(1)):
            return n
        pos = end + 4 + int(m.group(1))
        n += 1


def raw(port, chunks, read_timeout=3.0, pause=0.0, half_close=False, expect=1):
    """Sends byte chunks over a raw socket (ignoring send errors), then reads until EOF, `expect` whole
    responses, or the timeout. Returns (status of the first response or None, response bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    data = b""
    try:
        for ch in chunks:
            try:
                s.sendall(ch)
            except OSError:
                break
            if pause:
                time.sleep(pause)
        if half_close:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        s.settimeout(read_timeout)
        deadline = time.time() + read_timeout
        while time.time() < deadline:
            try:
                d = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not d:
                break
            data += d
            if complete_responses(data) >= expect:
                break
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return (int(m.group(1)) if m else None), data


# --------------------------------------------------------------------------------------------- contract


class Contract:
    """Checks responses against openapi.yaml."""

    def __init__(self, path):
        with open(path) as f:
            self.spec = yaml.safe_load(f)
        self.resolver = jsonschema.RefResolver("", self.spec)
        self.checked = 0
        self.templates = [(p, p.strip("/").split("/")) for p in self.spec["paths"]]

    def pointer(self, ref):
        assert ref.startswith("#/"), ref
        node = self.spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def deref(self, node):
        for _ in range(20):
            if isinstance(node, dict) and "$ref" in node:
                node = self.pointer(node["$ref"])
            else:
                break
        return node

    def validator(self, schema):
        return jsonschema.Draft202012Validator(schema, resolver=self.resolver)

    def errors(self, schema, instance):
        return [e.message[:300] + " at " + "/".join(str(x) for x in e.absolute_path)
                for e in self.validator(schema).iter_errors(instance)]

    def schema(self, name):
        return {"$ref": "#/components/schemas/" + name}

    def find(self, path):
        segs = path.split("?")[0].strip("/").split("/")
        for tmpl, tsegs in self.templates:
            if len(tsegs) == len(segs) and all(t.startswith("{") or t == s for t, s in zip(tsegs, segs)):
                return tmpl
        return None

    def check(self, method, path, resp, req_body=None):
        self.checked += 1
        where = "%s %s -> %d" % (method, path[:80], resp.status)
        tmpl = self.find(path)
        if tmpl is None:  # not an API path: must be the generic 404 problem
            ok(resp.status == 404 and resp.media() == "application/problem+json", "contract: unknown path " + where)
            if resp.media() == "application/problem+json":
                errs = self.errors(self.schema("Problem"), resp.json())
                ok(not errs, "contract: problem body " + where, errs)
            return
        op = self.spec["paths"][tmpl].get(method.lower())
        if op is None:
            # a method the path does not have is not an operation: 405 (components.responses.MethodNotAllowed) with
            # an Allow header, or what comes first (401 token, 404 malformed id)
            op = self.spec["x-undeclared-methods"]
            if not ok(str(resp.status) in op["responses"], "contract: an undeclared method's answer " + where):
                return
        declared = self.deref(op["responses"].get(str(resp.status)))
        if not ok(declared is not None, "contract: status declared " + where, resp.body[:300]):
            return
        for hname, hdecl in (declared.get("headers") or {}).items():
            hdecl = self.deref(hdecl)
            value = resp.header(hname)
            if hdecl.get("required"):
                ok(value is not None, "contract: header %s present %s" % (hname, where))
            if value is not None and "schema" in hdecl:
                sch = hdecl["schema"]
                inst = value
                if self.deref(sch).get("type") == "integer":
                    try:
                        inst = int(value)
                    except ValueError:
                        inst = value
                errs = self.errors(sch, inst)
                ok(not errs, "contract: header %s %s" % (hname, where), errs)
        content = declared.get("content")
        if not content:
            ok(resp.body == b"", "contract: no body declared " + where)
            return
        media = resp.media()
        if not ok(media in content, "contract: Content-Type %r declared %s" % (media, where), list(content)):
            return
        schema = content[media].get("schema")
        if media == "application/json" or media.endswith("+json"):
            try:
                doc = resp.json()
            except ValueError as e:
                ok(False, "contract: JSON body " + where, e)
                return
            if schema is not None:
                errs = self.errors(schema, doc)
                ok(not errs, "contract: body schema " + where, errs[:3])
        elif media == "image/png":
            ok(resp.body.startswith(b"\x89PNG\r\n\x1a\n"), "contract: PNG body " + where)
        elif media == "application/octet-stream":
            ok(resp.body.startswith(b"\x93NUMPY"), "contract: .npy body " + where)
        elif media == "text/plain":
            try:
                resp.body.decode("utf-8")
                ok(True, "")
            except UnicodeDecodeError:
                ok(False, "contract: text body " + where)
        # the request body, when the server took it as a job, must be a JobDocument
        if method == "POST" and resp.status == 202 and req_body is not None:
            errs = self.errors(self.schema("JobDocument"), json.loads(req_body))
            ok(not errs, "contract: accepted job validates as JobDocument " + where, errs[:3])

    def self_check(self):
        """Every $ref resolves; every operation declares responses; every 405 has Allow, every 401 WWW-Authenticate."""
        bad = []

        def walk(node, at):
            if isinstance(node, dict):
                if "$ref" in node:
                    try:
                        self.pointer(node["$ref"])
                    except (KeyError, AssertionError):
                        bad.append(at + " -> " + node["$ref"])
                for k, v in node.items():
                    walk(v, at + "/" + str(k))
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, at + "/" + str(i))

        walk(self.spec, "#")
        ok(not bad, "spec: every $ref resolves", bad[:5])
        ok(str(self.spec.get("openapi", "")).startswith("3.1"), "spec: OpenAPI 3.1")
        tags = {t["name"]: t.get("description") for t in self.spec.get("tags", [])}
        ok(tags and all(tags.values()), "spec: every tag has a description", tags)
        ids = []
        for p, item in self.spec["paths"].items():
            for m, op in item.items():
                if m == "parameters":
                    continue
                ok(op.get("operationId") and op.get("responses") and set(op.get("tags", [])) <= set(tags),
                   "spec: %s %s has an operationId, responses and known tags" % (m, p))
                ids.append(op.get("operationId"))
        ok(len(ids) == len(set(ids)), "spec: operationIds are unique", ids)
        for p, item in self.spec["paths"].items():
            for m, op in item.items():
                if m == "parameters":
                    continue
                for code, r in (op.get("responses") or {}).items():
                    r = self.deref(r)
                    if code == "405":
                        ok("Allow" in (r.get("headers") or {}), "spec: %s %s 405 has Allow" % (m, p))
                    if code == "401":
                        ok("WWW-Authenticate" in (r.get("headers") or {}), "spec: %s %s 401 has WWW-Authenticate" % (m, p))
        und = (self.spec.get("x-undeclared-methods") or {}).get("responses") or {}
        ok(set(und) == {"401", "404", "405"} and "Allow" in (und["405"].get("headers") or {}),
           "spec: x-undeclared-methods answers 401, 404 and 405 (with Allow)", list(und))
        try:
            jsonschema.Draft202012Validator.check_schema(self.spec["components"]["schemas"]["JobDocument"])
            ok(True, "")
        except jsonschema.exceptions.SchemaError as e:
            ok(False, "spec: JobDocument is a valid 2020-12 schema", e)


# --------------------------------------------------------------------------------------------- helpers


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def b64_array(values, shape):
    data = struct.pack("<%df" % len(values), *values)
    return {"dtype": "float32", "shape": shape, "data": base64.b64encode(data).decode()}


def decode_array(a):
    """(flat float list, shape) of a base64 ARRAY or of nested lists."""
    if isinstance(a, dict):
        raw_bytes = base64.b64decode(a["data"])
        n = len(raw_bytes) // 4
        return list(struct.unpack("<%df" % n, raw_bytes)), list(a["shape"])
    shape = []
    node = a
    while isinstance(node, list):
        shape.append(len(node))
        node = node[0]
    flat = []

    def rec(x):
        if isinstance(x, list):
            for y in x:
                rec(y)
        else:
            flat.append(x)

    rec(a)
    return flat, shape


def parse_npy(b):
    """Tiny .npy reader: (header dict, values, problems)."""
    problems = []
    if b[:6] != b"\x93NUMPY":
        return None, None, ["bad magic"]
    major, minor = b[6], b[7]
    if (major, minor) == (1, 0):
        hl = struct.unpack("<H", b[8:10])[0]
        start = 10
    elif major in (2, 3):
        hl = struct.unpack("<I", b[8:12])[0]
        start = 12
    else:
        return None, None, ["version %d.%d" % (major, minor)]
    header = b[start:start + hl].decode("latin1")
    if (start + hl) % 64:
        problems.append("data not 64-byte aligned (%d)" % (start + hl))
    if not header.endswith("\n"):
        problems.append("header does not end in newline")
    try:
        d = ast.literal_eval(header.strip())
    except (ValueError, SyntaxError) as e:
        return None, None, ["header %r: %s" % (header, e)]
    if set(d) != {"descr", "fortran_order", "shape"}:
        problems.append("header keys %s" % sorted(d))
    n = 1
    for s in d.get("shape", ()):
        n *= s
    body = b[start + hl:]
    if len(body) != 4 * n:
        problems.append("data is %d bytes, want %d" % (len(body), 4 * n))
        return d, None, problems
    return d, list(struct.unpack("<%df" % n, body)), problems


def png_info(b):
    """(width, height, bit depth, colour type) from the IHDR, with the stdlib."""
    if not b.startswith(b"\x89PNG\r\n\x1a\n") or b[12:16] != b"IHDR":
        return None
    w, h, depth, ctype = struct.unpack(">IIBB", b[16:26])
    return w, h, depth, ctype


def pngcheck(b):
    """(w, h, min, max) through build/pngcheck (libpng), or None when it is not built."""
    if not os.access(PNGCHECK, os.X_OK):
        return None
    path = os.path.join(TMP, "check.png")
    with open(path, "wb") as f:
        f.write(b)
    out = subprocess.run([PNGCHECK, path], capture_output=True, text=True, timeout=30)
    if out.returncode:
        return ("error", out.stderr)
    return tuple(int(x) for x in out.stdout.split())


def truth_image(h, w):
    return [[0.3 + 0.3 * math.sin(i / 3.0) * math.cos(j / 4.0) for j in range(w)] for i in range(h)]


def image_job(h, w, steps, samples=4, seed=1, outputs=None, ground_truth=False, b64=False):
    rnd = random.Random(1000 + seed)
    truth = truth_image(h, w)
    obs = [[round(truth[i][j] + rnd.gauss(0, 0.1), 5) for j in range(w)] for i in range(h)]
    job = {"shape": [h, w], "operator": {"type": "identity"}, "noise": {"sigma": 0.1},
           "observation": b64_array([v for row in obs for v in row], [h, w]) if b64 else obs,
           "prior": {"type": "gaussian", "mean": 0.3, "std": 0.3},
           "sampler": {"type": "langevin", "steps": steps}, "num_samples": samples, "seed": seed}
    if outputs is not None:
        job["outputs"] = outputs
    if ground_truth:
        job["ground_truth"] = truth
    return job


def wait_status(port, jid, want, limit=60.0, token=None):
    """Long-polls until the job's status is in `want` (bounded); returns the last job document."""
    deadline = time.time() + limit
    job = None
    while time.time() < deadline:
        r = request(port, "GET", "/v1/jobs/%s?wait=%d" % (jid, max(1, min(10, int(deadline - time.time())))),
                    token=token)
        if r.status != 200:
            return None
        job = r.json()
        if job["status"] in want:
            return job
    return job


def wait_progress(port, jid, fraction, limit=60.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        r = request(port, "GET", "/v1/jobs/" + jid)
        if r.status == 200 and r.json()["status"] == "running" and r.json()["progress"]["fraction"] >= fraction:
            return r.json()
        if r.status == 200 and r.json()["status"] in ("succeeded", "failed", "cancelled"):
            return r.json()
        time.sleep(0.02)
    return None


def submit(port, job, token=None, key=None):
    h = {"Idempotency-Key": key} if key else None
    return request(port, "POST", "/v1/jobs", job, headers=h, token=token)


def problem_is(r, status, slug, field=None):
    if r.status != status or r.media() != "application/problem+json":
        return False
    p = r.json()
    return p.get("type") == "urn:scorerecon:problem:" + slug and p.get("status") == status and \
        (field is None or p.get("field") == field)


def db_rows(data_dir):
    con = sqlite3.connect(os.path.join(data_dir, "scorerecon.db"), timeout=5)
    try:
        return {r[0]: (r[1], r[2]) for r in con.execute("SELECT id, status, attempts FROM jobs")}
    finally:
        con.close()


def calibrate():
    """Chain-steps per second of a 64x64 Langevin job here (ASan builds are slower), from two CLI runs (the
    difference takes out the start-up)."""
    times = []
    for steps in (10, 8000):
        path = os.path.join(TMP, "cal.json")
        with open(path, "w") as f:
            json.dump(image_job(64, 64, steps, samples=4, seed=99, b64=True), f)
        t0 = time.time()
        subprocess.run([BIN, "run", path, "-o", os.devnull, "--quiet", "--threads", "2"], timeout=300, check=True)
        times.append(time.time() - t0)
    return 7990 / max(times[1] - times[0], 1e-3)


# --------------------------------------------------------------------------------------------- end to end


def test_end_to_end():
    a = Server(os.path.join(TMP, "data-a"), "--max-body", "1000000", "--max-wait", "30")
    port = a.port
    submitted = []  # ids in submission order

    r = request(port, "GET", "/healthz")
    ok(r.status == 200 and r.json() == {"status": "ok"}, "healthz", r)
    r = request(port, "GET", "/openapi.yaml")
    with open(os.path.join(ROOT, "openapi.yaml"), "rb") as f:
        ok(r.status == 200 and r.body == f.read() and r.media() == "application/yaml",
           "GET /openapi.yaml serves the contract the server was built with", r)
    for p in ("/", "/ui/app.js", "/ui/app.css", "/ui/examples/mri.json", "/ui/examples/nope.json"):  # tests/test_web.py
        r = request(port, "GET", p)
        ok(r.status == (404 if "nope" in p else 200), "GET %s: the web page's files" % p, r)
    r = request(port, "GET", "/readyz")
    ok(r.status == 200 and r.json() == {"status": "ready", "workers": 1, "role": "both", "store": "sqlite"}, "readyz", r)
    r = request(port, "GET", "/v1/models")
    ok(r.status == 200 and isinstance(r.json().get("models"), list) and r.json().get("invalid") == [], "models", r)
    if r.status == 200:
        ms = r.json()
        ok(all(m.get("default_sampler", {}).get("type") == ms["default_samplers"]["score_model"]["type"]
               and m["default_sampler"]["sde"] == {"type": "ve", "sigma_min": m["sigma_min"], "sigma_max": m["sigma_max"]}
               for m in ms["models"]), "models: each model's default_sampler is auto's over its noise range", ms)
        ok(set(ms.get("default_samplers", {})) == {"score_model", "gaussian", "gmm", "tv", "ising"},
           "models: default_samplers for every prior type", ms.get("default_samplers"))
    r = request(port, "GET", "/v1/jobs")
    ok(r.status == 200 and r.json() == {"jobs": [], "next_cursor": None}, "empty list", r)

    # ---- submit, long-poll, poll
    ejob = image_job(16, 16, 2000, samples=4, seed=3, ground_truth=True,
                     outputs=["mean", "std", "samples", {"trajectories": {"every": 500}}])
    t0 = time.time()
    r = submit(port, ejob)
    ok(r.status == 202, "submit: 202", r)
    e = r.json()
    eid = e["id"]
    submitted.append(eid)
    ok(e["status"] == "queued", "submit: status queued", e["status"])
    ok(r.header("Location") == "/v1/jobs/" + eid == e["links"]["self"], "submit: Location", r.header("Location"))
    ok(e["attempts"] == 0 and e["started"] is None and e["finished"] is None, "submit: fresh job", e)
    r = request(port, "GET", "/v1/jobs/%s?wait=20" % eid)
    ok(r.status == 200 and r.json()["status"] != "queued" and time.time() - t0 < 20,
       "long-poll returns when the status changes", r)
    e = wait_status(port, eid, ("succeeded", "failed"), 60)
    ok(e and e["status"] == "succeeded", "small job succeeds", e)
    if e:
        ok(e["attempts"] == 1 and e["started"] and e["finished"], "finished job: attempts, times", e)
        pr = e["progress"]
        ok(pr["step"] == pr["total"] > 0 and pr["fraction"] == 1, "finished job: progress complete", pr)

    # ---- a long job: progress, long-polls, cancel
    huge = image_job(64, 64, 20000000, samples=4, seed=5, b64=True)
    r = submit(port, huge)
    hid = r.json()["id"]
    submitted.append(hid)
    h1 = wait_progress(port, hid, 0.0)
    ok(h1 is not None and h1["status"] == "running", "long job runs", h1)
    time.sleep(0.3)
    r = request(port, "GET", "/v1/jobs/" + hid)
    h2 = r.json()
    pr = h2["progress"]
    ok(h2["status"] == "running" and 0 < pr["step"] < pr["total"], "running job: 0 < step < total", pr)
    ok(pr["total"] > 0 and abs(pr["fraction"] - pr["step"] / pr["total"]) < 1e-9, "progress fraction = step/total", pr)
    ok(h1 and pr["step"] >= h1["progress"]["step"], "progress advances", (h1 and h1["progress"], pr))

    qjob = image_job(8, 8, 500, samples=2, seed=4)
    r = submit(port, qjob)
    qid = r.json()["id"]
    submitted.append(qid)
    ok(r.json()["status"] == "queued", "second job waits in the queue", r)
    t0 = time.time()
    r = request(port, "GET", "/v1/jobs/%s?wait=1" % qid)
    dt = time.time() - t0
    ok(r.status == 200 and r.json()["status"] == "queued" and 0.8 <= dt < 5, "long-poll times out after wait=1",
       (r, dt))

    polls = {}

    def poll(name, jid):
        t = time.time()
        try:
            polls[name] = (request(port, "GET", "/v1/jobs/%s?wait=25" % jid, timeout=40), time.time() - t)
        except OSError as ex:
            polls[name] = (ex, time.time() - t)

    threads = [threading.Thread(target=poll, args=("h", hid)), threading.Thread(target=poll, args=("q", qid))]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t0 = time.time()
    r = request(port, "DELETE", "/v1/jobs/" + hid)
    dt = time.time() - t0
    if r.status == 202:  # still stopping: it must be cancelled soon after
        j = wait_status(port, hid, ("cancelled",), 10)
        ok(j and j["status"] == "cancelled", "cancel: the running job stops", j)
    else:
        ok(r.status == 200 and r.json()["status"] == "cancelled", "cancel running job: 200 cancelled", r)
    ok(dt < 5, "cancel answers within 5 s", dt)
    for t in threads:
        t.join(45)
    rh, th = polls.get("h", (None, 0))
    ok(isinstance(rh, Resp) and rh.status == 200 and rh.json()["status"] == "cancelled" and th < 25,
       "long-poll on the cancelled job returns at the change", (rh, th))
    rq, tq = polls.get("q", (None, 0))
    ok(isinstance(rq, Resp) and rq.status == 200 and rq.json()["status"] in ("running", "succeeded") and tq < 25,
       "long-poll on the queued job returns when it starts", (rq, tq))
    r = request(port, "GET", "/v1/jobs/" + hid)
    ok(r.status == 200 and r.json()["status"] == "cancelled" and r.json()["finished"], "cancelled job's record stays", r)
    r = request(port, "GET", "/v1/jobs/%s/result" % hid)
    ok(problem_is(r, 409, "no-result"), "result of a cancelled job: 409", r)
    r = request(port, "GET", "/v1/jobs/%s/result/mean.npy" % hid)
    ok(problem_is(r, 409, "no-result"), "file of a cancelled job: 409", r)
    q = wait_status(port, qid, ("succeeded", "failed"), 60)
    ok(q and q["status"] == "succeeded", "queued job runs after the cancel", q)

    # ---- cancel a queued job (through a second long job) and a finished one
    r = submit(port, huge)
    h2id = r.json()["id"]
    submitted.append(h2id)
    r = submit(port, qjob)
    q2id = r.json()["id"]
    submitted.append(q2id)
    r = request(port, "DELETE", "/v1/jobs/" + q2id)
    ok(r.status == 200 and r.json()["status"] == "cancelled", "cancel a queued job: 200 cancelled", r)
    r = request(port, "DELETE", "/v1/jobs/" + h2id)
    if r.status == 202:
        j = wait_status(port, h2id, ("cancelled",), 10)
        ok(j and j["status"] == "cancelled", "cancel: second long job stops", j)
    else:
        ok(r.status == 200 and r.json()["status"] == "cancelled", "cancel second long job", r)

    # ---- the result in three forms
    r = request(port, "GET", "/v1/jobs/%s/result" % eid)
    ok(r.status == 200 and r.media() == "application/json", "result JSON", r)
    res = r.json()
    r2 = request(port, "GET", "/v1/jobs/%s/result?encoding=base64" % eid)
    ok(r2.status == 200 and r2.body == r.body, "encoding=base64 is the default", r2)
    rl = request(port, "GET", "/v1/jobs/%s/result?encoding=lists" % eid)
    ok(rl.status == 200, "result lists", rl)
    lres = rl.json()
    ok(res["shape"] == [16, 16] and res["num_samples"] == 4, "result shape", res.get("shape"))
    ok(isinstance(res["mean"], dict) and isinstance(lres["mean"], list), "base64 vs lists forms")
    for key, want_shape in (("mean", [16, 16]), ("std", [16, 16]), ("samples", [4, 16, 16])):
        bv, bs = decode_array(res[key])
        lv, ls = decode_array(lres[key])
        ok(bs == ls == want_shape, "%s shape in both encodings" % key, (bs, ls))
        ok(len(bv) == len(lv) and all(f32(x) == y for x, y in zip(lv, bv)), "%s values agree exactly" % key)
    bt, bts = decode_array(res["trajectories"]["data"])
    lt, lts = decode_array(lres["trajectories"]["data"])
    ok(bts == lts == [4, 5, 16, 16] and all(f32(x) == y for x, y in zip(lt, bt)), "trajectories agree", (bts, lts))
    ok(res["trajectories"]["times"] == [0, 500, 1000, 1500, 2000], "trajectory times", res["trajectories"]["times"])
    same = {k: v for k, v in res.items() if k not in ("mean", "std", "samples", "trajectories")}
    lsame = {k: v for k, v in lres.items() if k not in ("mean", "std", "samples", "trajectories")}
    ok(same == lsame, "non-array fields agree between encodings")
    ok(set(res["metrics"]) == {"psnr", "ssim", "nrmse", "coverage95"}, "metrics with a ground truth", res.get("metrics"))
    mean_vals, _ = decode_array(res["mean"])
    ok(max(mean_vals) > min(mean_vals), "mean is not constant")
    mean_bytes = base64.b64decode(res["mean"]["data"])

    for name, key, shape in (("mean.npy", "mean", (16, 16)), ("std.npy", "std", (16, 16)),
                             ("samples.npy", "samples", (4, 16, 16))):
        r = request(port, "GET", "/v1/jobs/%s/result/%s" % (eid, name))
        ok(r.status == 200 and r.media() == "application/octet-stream", name + ": 200 octet-stream", r)
        ok(r.header("Content-Disposition") == 'attachment; filename="%s-%s"' % (eid, name), name + ": disposition",
           r.header("Content-Disposition"))
        d, vals, probs = parse_npy(r.body)
        ok(not probs, name + ": well-formed .npy", probs)
        ok(d and d.get("descr") == "<f4" and d.get("fortran_order") is False and d.get("shape") == shape,
           name + ": header", d)
        ok(vals is not None and r.body.endswith(base64.b64decode(res[key]["data"])), name + ": values = JSON " + key)
    for name in ("mean.png", "std.png"):
        r = request(port, "GET", "/v1/jobs/%s/result/%s" % (eid, name))
        ok(r.status == 200 and r.media() == "image/png", name + ": 200 image/png", r)
        ok(png_info(r.body) == (16, 16, 8, 0), name + ": IHDR 16x16 8-bit gray", png_info(r.body))
        pc = pngcheck(r.body)
        if pc is not None:
            ok(pc == (16, 16, 0, 255), name + ": decodes (libpng) with min 0 and max 255", pc)
    r = request(port, "GET", "/v1/jobs/%s/result/samples.npy" % qid)
    ok(problem_is(r, 404, "not-found"), "a file the job did not ask for: 404", r)
    r = request(port, "GET", "/v1/jobs/%s/result/mean.txt" % eid)
    ok(problem_is(r, 404, "not-found"), "an unknown result file: 404", r)
    r = request(port, "GET", "/v1/jobs/%s/result?encoding=xml" % eid)
    ok(problem_is(r, 400, "bad-query", "encoding"), "encoding=xml: 400", r)
    r = request(port, "GET", "/v1/jobs/%s/result" % eid, headers={"Authorization": "Bearer whatever"})
    ok(r.status == 200 and r.body == request(port, "GET", "/v1/jobs/%s/result" % eid).body,
       "no token file: any Authorization is ignored", r)
    r = request(port, "GET", "/v1/jobs/%s?wait=31" % eid)
    ok(problem_is(r, 400, "bad-query", "wait") and "from 0 to 30" in r.json().get("detail", ""),
       "wait over --max-wait: 400 naming the limit", r)
    # a result file deleted behind the server's back: 500 missing-result for a file and for the document alike
    rdir = os.path.join(a.data_dir, "results", eid)
    os.rename(os.path.join(rdir, "mean.npy"), os.path.join(rdir, "mean.npy.away"))
    r = request(port, "GET", "/v1/jobs/%s/result/mean.npy" % eid)
    ok(problem_is(r, 500, "missing-result"), "a deleted mean.npy: 500 missing-result", r)
    os.rename(os.path.join(rdir, "mean.npy.away"), os.path.join(rdir, "mean.npy"))
    os.rename(os.path.join(rdir, "result.json"), os.path.join(rdir, "result.json.away"))
    r = request(port, "GET", "/v1/jobs/%s/result" % eid)
    ok(problem_is(r, 500, "missing-result"), "a deleted result.json: 500 missing-result", r)
    os.rename(os.path.join(rdir, "result.json.away"), os.path.join(rdir, "result.json"))

    # ---- idempotent retries
    ijob = image_job(8, 8, 300, samples=2, seed=8)
    r1 = submit(port, ijob, key="retry-key-1")
    r2 = submit(port, ijob, key="retry-key-1")
    ok(r1.status == 202 and r2.status == 202 and r1.json()["id"] == r2.json()["id"], "same key, same body: same job",
       (r1, r2))
    submitted.append(r1.json()["id"])
    other = dict(ijob, seed=9)
    r3 = submit(port, other, key="retry-key-1")
    ok(problem_is(r3, 422, "idempotency-key-reused", "Idempotency-Key"), "same key, other body: 422", r3)
    r4 = submit(port, ijob, key="bad key")
    ok(problem_is(r4, 400, "bad-header", "Idempotency-Key"), "Idempotency-Key with a space: 400", r4)
    r5 = submit(port, ijob, key="retry-key-2")
    ok(r5.status == 202 and r5.json()["id"] != r1.json()["id"], "another key: another job", r5)
    submitted.append(r5.json()["id"])

    # ---- errors
    zero = "0" * 32
    for m, p in (("GET", "/v1/jobs/" + zero), ("DELETE", "/v1/jobs/" + zero), ("GET", "/v1/jobs/%s/result" % zero),
                 ("GET", "/v1/jobs/%s/result/mean.npy" % zero), ("GET", "/v1/jobs/not-an-id"),
                 ("GET", "/v1/jobs/" + eid.upper())):
        r = request(port, m, p)
        ok(problem_is(r, 404, "not-found"), "404 %s %s" % (m, p), r)
    for p in ("/nope", "/v1/nope", "/v1/jobs/%s/other" % eid, "/v2/jobs", "/ui/nope", "/index.html"):
        r = request(port, "GET", p)
        ok(problem_is(r, 404, "not-found"), "404 unknown path " + p, r)
    for m, p, allow in (("PUT", "/v1/jobs", "GET, POST"), ("DELETE", "/v1/jobs", "GET, POST"),
                        ("POST", "/v1/jobs/" + eid, "GET, DELETE"), ("PATCH", "/v1/jobs/" + eid, "GET, DELETE"),
                        ("POST", "/v1/jobs/%s/result" % eid, "GET"), ("DELETE", "/v1/jobs/%s/result/mean.npy" % eid, "GET"),
                        ("POST", "/v1/models", "GET"), ("DELETE", "/healthz", "GET"), ("POST", "/readyz", "GET"),
                        ("PUT", "/metrics", "GET"), ("OPTIONS", "/v1/jobs", "GET, POST")):
        r = request(port, m, p, body=b"" if m in ("POST", "PUT", "PATCH") else None)
        ok(problem_is(r, 405, "method-not-allowed") and r.header("Allow") == allow, "405 %s %s Allow %s" % (m, p, allow),
           (r, r.header("Allow")))
    r = request(port, "POST", "/v1/jobs", headers={"Content-Type": "application/json", "Content-Length": "2000000"},
                send_body=False)
    ok(problem_is(r, 413, "body-too-large"), "413: Content-Length over --max-body", r)
    r = request(port, "POST", "/v1/jobs", json.dumps(ejob).encode(), headers={"Content-Type": "text/plain"})
    ok(problem_is(r, 415, "unsupported-media-type", "Content-Type"), "415: text/plain", r)
    r = request(port, "POST", "/v1/jobs", json.dumps(ejob).encode())
    ok(problem_is(r, 415, "unsupported-media-type"), "415: no Content-Type", r)
    r = request(port, "POST", "/v1/jobs", b'{"shape": [4, 4],', headers={"Content-Type": "application/json"})
    ok(problem_is(r, 400, "malformed-json", "job") and "line" in r.json()["detail"], "400: malformed JSON", r)
    r = request(port, "POST", "/v1/jobs", b"", headers={"Content-Type": "application/json"})
    ok(problem_is(r, 400, "malformed-json"), "400: empty body", r)
    bad = dict(ejob, prior={"type": "gaussian", "std": -1})
    r = submit(port, bad)
    ok(problem_is(r, 422, "invalid-job", "prior.std") and r.json()["detail"] == "prior.std must be > 0",
       "422: invalid job names the field", r)
    ok(CONTRACT.errors(CONTRACT.schema("JobDocument"), bad), "spec: JobDocument refuses prior.std -1")
    r = submit(port, dict(ejob, shape=[100000, 100000]))
    ok(problem_is(r, 422, "limit-exceeded", "shape"), "422: limit exceeded", r)
    r = submit(port, dict(ejob, colour="red"))
    ok(problem_is(r, 422, "invalid-job", "colour"), "422: unknown key", r)
    ising = {"type": "ising", "coupling": 0.6, "values": [0, 1]}
    r = submit(port, dict(ejob, prior=ising))
    ok(problem_is(r, 422, "invalid-job", "sampler.type") and "prior.type ising" in r.json()["detail"],
       "422: ising prior with a langevin sampler names both", r)
    r = submit(port, dict(ejob, sampler={"type": "mh"}))
    ok(problem_is(r, 422, "invalid-job", "sampler.type") and "prior.type gaussian" in r.json()["detail"],
       "422: mh sampler with a gaussian prior names both", r)
    bjob = image_job(16, 16, 1, samples=2, seed=4)
    bjob.update(prior=ising, sampler={"type": "mh", "sweeps": 200, "proposal": "checkerboard"})
    r = submit(port, bjob)
    ok(r.status == 202, "ising job accepted", r)
    if r.status == 202:
        bid = r.json()["id"]
        submitted.append(bid)
        e = wait_status(port, bid, ("succeeded", "failed"), 60)
        ok(e and e["status"] == "succeeded", "ising job succeeds", e)
        r = request(port, "GET", "/v1/jobs/%s/result?encoding=lists" % bid)
        res = r.json() if r.status == 200 else {}
        ok(r.status == 200 and res["stats"]["flips_per_second"] > 0 and 0 < res["stats"]["acceptance_rate"] < 1
           and res["sampler"]["type"] == "mh" and all(0 <= v <= 1 for row in res["mean"] for v in row),
           "ising result: mean in [0, 1], acceptance and flips per second", res.get("stats"))
    # ddrm, smc and auto (no sampler): results with diagnostics, smc's stats, warnings, "auto": true
    gjob = image_job(8, 8, 1, samples=4, seed=6)
    njobs = {"ddrm": dict(gjob, sampler={"type": "ddrm", "steps": 20}),
             "smc": dict(gjob, sampler={"type": "smc", "steps": 20, "particles": 8}),
             "auto": {k: v for k, v in gjob.items() if k != "sampler"},
             "annealed": dict(gjob, sampler={"type": "annealed_langevin", "levels": 10, "steps_per_level": 1,
                                             "step_rule": "spectral"})}
    nids = {}
    for name, job in njobs.items():
        r = submit(port, job)
        ok(r.status == 202, "%s job accepted" % name, r)
        if r.status == 202:
            nids[name] = r.json()["id"]
            submitted.append(nids[name])
    for name, jid in nids.items():
        e = wait_status(port, jid, ("succeeded", "failed"), 60)
        ok(e and e["status"] == "succeeded", "%s job succeeds" % name, e)
        r = request(port, "GET", "/v1/jobs/%s/result?encoding=lists" % jid)
        res = r.json() if r.status == 200 else {}
        st, smp = res.get("stats", {}), res.get("sampler", {})
        ok(r.status == 200 and res.get("warnings") is not None and "rhat" in st and "ess" in st,
           "%s result: stats with rhat and ess, warnings" % name, res.get("stats"))
        want = {"ddrm": "ddrm", "annealed": "annealed_langevin"}.get(name, "smc")
        ok(smp.get("type") == want and smp.get("auto", False) == (name == "auto"), "%s result: sampler %s" % (name, want),
           smp)
        if want == "annealed_langevin":  # the effective settings carry the rule and its final stage (the schema too)
            ok(smp.get("step_rule") == "spectral" and smp.get("final_steps") == 1 and smp.get("epsilon") == 0.1,
               "annealed result: step_rule spectral, final_steps 1, epsilon 0.1", smp)
        if want == "smc":
            ok(st.get("particles") == smp.get("particles") and len(st.get("ess_history", [])) == smp["steps"] + 1
               and "log_evidence" in st and "resamples" in st, "%s result: smc stats" % name, st)
    r = submit(port, dict(gjob, operator=[{"type": "identity"}, {"type": "identity"}], sampler={"type": "ddrm"}))
    ok(problem_is(r, 422, "invalid-job", "sampler.type"), "422: ddrm with a list of operators names sampler.type", r)
    r = submit(port, dict(gjob, sampler={"type": "ddrm", "eta": 1.5}))
    ok(problem_is(r, 422, "invalid-job", "sampler.eta") and r.json()["detail"] == "sampler.eta must be in [0, 1]",
       "422: ddrm eta 1.5 names sampler.eta", r)
    r = submit(port, dict(gjob, sampler={"type": "smc", "particles": 1}))
    ok(problem_is(r, 422, "invalid-job", "sampler.particles"), "422: smc with 1 particle names sampler.particles", r)
    r = submit(port, dict(gjob, sampler={"type": "auto", "eta": 0.5}))
    ok(problem_is(r, 422, "invalid-job", "sampler.eta"), "422: auto with another key names it", r)
    for q, field in (("limit=0", "limit"), ("limit=abc", "limit"), ("limit=1001", "limit"), ("status=done", "status"),
                     ("cursor=x", "cursor"), ("cursor=-5", "cursor")):
        r = request(port, "GET", "/v1/jobs?" + q)
        ok(problem_is(r, 400, "bad-query", field), "400 /v1/jobs?" + q, r)
    for q in ("wait=-1", "wait=abc", "wait=31", "wait=1.5"):
        r = request(port, "GET", "/v1/jobs/%s?%s" % (eid, q))
        ok(problem_is(r, 400, "bad-query", "wait"), "400 ?" + q, r)

    # ---- list: newest first, paging, status filter
    for jid in submitted:
        wait_status(port, jid, ("succeeded", "failed", "cancelled"), 60)
    r = request(port, "GET", "/v1/jobs?limit=1000")
    ids = [j["id"] for j in r.json()["jobs"]]
    ok(ids == submitted[::-1] and r.json()["next_cursor"] is None, "list: every job, newest first", (ids, submitted))
    paged, cursor, pages = [], None, 0
    while pages < 50:
        r = request(port, "GET", "/v1/jobs?limit=2" + ("&cursor=" + cursor if cursor else ""))
        if r.status != 200:
            break
        pages += 1
        page = r.json()
        ok(len(page["jobs"]) <= 2, "page size")
        paged += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ok(paged == submitted[::-1], "cursor paging gives the same order", (paged, submitted))
    ok(pages == len(submitted) // 2 + 1, "pages", pages)
    r = request(port, "GET", "/v1/jobs?status=cancelled")
    cancelled = [j["id"] for j in r.json()["jobs"]]
    ok(cancelled == [q2id, h2id, hid], "status filter: the cancelled jobs, newest first", cancelled)
    r = request(port, "GET", "/v1/jobs?status=succeeded&limit=1")
    ok(r.status == 200 and len(r.json()["jobs"]) == 1 and r.json()["jobs"][0]["status"] == "succeeded" and
       r.json()["next_cursor"], "status filter with paging", r)
    r = request(port, "GET", "/v1/jobs?status=running")
    ok(r.status == 200 and r.json()["jobs"] == [], "status filter: nothing running", r)
    r = request(port, "GET", "/v1/jobs?status=succeeded&limit=1000")
    succ = [j["id"] for j in r.json()["jobs"]]
    r = request(port, "GET", "/v1/jobs?status=cancelled&status=succeeded&status=cancelled&limit=1000")
    both = [j["id"] for j in r.json()["jobs"]]
    ok(r.status == 200 and sorted(both) == sorted(cancelled + succ) and
       both == [i for i in submitted[::-1] if i in set(cancelled + succ)],
       "status repeated: jobs in either status, each once, newest first", (both, cancelled, succ))
    r = request(port, "GET", "/v1/jobs?status=cancelled&status=done")
    ok(problem_is(r, 400, "bad-query", "status"), "status repeated with a bad one: 400", r)

    # ---- operations
    r = request(port, "GET", "/metrics")
    text = r.body.decode()
    ok(r.status == 200 and r.header("Content-Type").startswith("text/plain"), "metrics: text/plain", r.header("Content-Type"))
    ok(re.search(r'^scorerecon_jobs\{status="succeeded"\} [1-9]', text, re.M), "metrics: scorerecon_jobs")
    ok(re.search(r'^scorerecon_http_requests_total\{code="202"\} [1-9]', text, re.M), "metrics: http requests")
    ok(re.search(r'^scorerecon_job_seconds_count [1-9]', text, re.M), "metrics: job seconds histogram")

    # ---- DELETE on a finished job purges it: row and files, 204
    for name, jid in (("succeeded", qid), ("cancelled", hid)):
        rdir = os.path.join(a.data_dir, "results", jid)
        had_files = os.path.isdir(rdir)
        r = request(port, "DELETE", "/v1/jobs/" + jid)
        ok(r.status == 204 and r.body == b"", "purge a %s job: 204, no body" % name, r)
        ok(request(port, "GET", "/v1/jobs/" + jid).status == 404, "purged %s job: GET 404" % name)
        ok(request(port, "GET", "/v1/jobs/%s/result" % jid).status == 404, "purged %s job: result 404" % name)
        ok(not os.path.exists(rdir) and (had_files or name == "cancelled"),
           "purged %s job: its result folder is gone" % name, (had_files, os.path.exists(rdir)))
        ok(jid not in db_rows(a.data_dir), "purged %s job: its row is gone" % name)
        r = request(port, "DELETE", "/v1/jobs/" + jid)
        ok(problem_is(r, 404, "not-found", "id"), "purge twice: 404", r)
    r = request(port, "GET", "/v1/jobs?limit=1000")
    ids = [j["id"] for j in r.json()["jobs"]]
    ok(qid not in ids and hid not in ids and eid in ids, "list: purged jobs are gone, others stay")
    ok(a.alive(), "server A alive after the end-to-end part")
    rc, dt = a.term()
    ok(rc == 0 and dt < 5, "server A stops on SIGTERM", (rc, dt))


def test_auth():
    tok = os.path.join(TMP, "token")
    with open(tok, "w") as f:
        f.write("s3cret-token\n")
    s = Server(os.path.join(TMP, "data-auth"), "--token-file", tok)
    port = s.port
    job = image_job(8, 8, 200, samples=2, seed=2)
    for h, name in ((None, "no header"), ({"Authorization": "Bearer nope"}, "wrong token"),
                    ({"Authorization": "Basic czNjcmV0LXRva2Vu"}, "other scheme"),
                    ({"Authorization": "Bearer s3cret-token-and-more"}, "longer token")):
        r = request(port, "POST", "/v1/jobs", job, headers=h)
        ok(problem_is(r, 401, "unauthorized") and r.header("WWW-Authenticate") == "Bearer", "401 POST: " + name, r)
        r = request(port, "GET", "/v1/jobs", headers=h)
        ok(problem_is(r, 401, "unauthorized") and r.header("WWW-Authenticate") == "Bearer", "401 GET: " + name, r)
    r = request(port, "PUT", "/v1/jobs")
    ok(problem_is(r, 401, "unauthorized"), "401 before 405", r)
    r = request(port, "GET", "/v1/models")
    ok(problem_is(r, 401, "unauthorized"), "401 models", r)
    r = submit(port, job, token="s3cret-token")
    ok(r.status == 202, "right token: 202", r)
    jid = r.json()["id"]
    j = wait_status(port, jid, ("succeeded", "failed"), 30, token="s3cret-token")
    ok(j and j["status"] == "succeeded", "authenticated job succeeds", j)
    r = request(port, "GET", "/v1/jobs/%s/result/mean.npy" % jid, token="s3cret-token")
    ok(r.status == 200, "authenticated file", r)
    r = request(port, "GET", "/v1/jobs/%s/result/mean.npy" % jid)
    ok(problem_is(r, 401, "unauthorized"), "file without token: 401", r)
    for p in ("/healthz", "/readyz", "/metrics", "/", "/ui/app.js", "/ui/examples/denoise.json"):
        r = request(port, "GET", p)
        ok(r.status == 200, p + " needs no token", r)
    for scheme in ("bearer", "BEARER"):  # RFC 9110: the scheme name is case-insensitive
        r = request(port, "GET", "/v1/jobs", headers={"Authorization": scheme + " s3cret-token"})
        ok(r.status == 200, "scheme %s accepted" % scheme, r)
    # a body announced to any other path is never read: the answer comes on the headers alone, at once, and the
    # server's memory does not grow with what the client goes on sending
    rss0 = proc_kb(s.proc.pid, "VmRSS")
    for method, path, want, token in (("GET", "/v1/jobs", 401, None), ("PUT", "/v1/jobs", 401, None),
                                      ("DELETE", "/v1/jobs/" + "0" * 32, 404, "s3cret-token"),
                                      ("PATCH", "/v1/jobs/" + jid, 405, "s3cret-token"),
                                      ("POST", "/v1/nothing", 401, None), ("POST", "/elsewhere", 404, None)):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        head = "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n" % (
            method, path)
        if token:
            head += "Authorization: Bearer %s\r\n" % token
        t0 = time.time()
        c.sendall(head.encode() + b"\r\n" + b"[" * 65536)
        c.settimeout(3)
        try:
            data = c.recv(4096)
        except OSError as e:
            data = repr(e).encode()
        dt = time.time() - t0
        sent = 65536
        try:  # the server has closed: more body bytes cannot go far
            c.settimeout(1)
            for _ in range(400):
                c.sendall(b"[" * 65536)
                sent += 65536
        except OSError:
            pass
        c.close()
        ok(data.startswith(("HTTP/1.1 %d" % want).encode()) and dt < 2 and sent < 50000000,
           "%s %s with a 50 MB body: %d on the headers, the body not read" % (method, path, want),
           (data[:120], dt, sent))
    ok((proc_kb(s.proc.pid, "VmRSS") - rss0) < 8192, "bodies to other paths are not buffered (RSS)")
    s.term()
    # the whole token file counts: all trailing white space (a tab too) is stripped, a long token is not cut to a
    # prefix, and one over the limit is refused at start
    long_tok = "t" * 600 + "-END"
    with open(tok, "w") as f:
        f.write(long_tok + " \t\r\n\n")
    s = Server(os.path.join(TMP, "data-auth2"), "--token-file", tok)
    r = request(s.port, "GET", "/v1/jobs", token=long_tok[:511])
    ok(problem_is(r, 401, "unauthorized"), "long token: its 511-byte prefix is refused", r)
    r = request(s.port, "GET", "/v1/jobs", token=long_tok)
    ok(r.status == 200, "long token (604 bytes) with trailing tab and spaces: accepted", r)
    s.term()
    with open(tok, "w") as f:
        f.write("x" * 4097 + "\n")
    rc, err = serve_exit(os.path.join(TMP, "data-auth3"), "--token-file", tok)
    ok(rc == 2 and "longer than 4096 bytes" in err, "a token over 4096 bytes is refused at start", (rc, err[-300:]))


def serve_exit(data_dir, *args, limit=15):
    """Runs `serve` expecting it to exit at once; returns (exit status, stderr)."""
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=limit)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def test_store_read_errors():
    """A corrupt index: reads fail loudly (500, /readyz 503), never as an empty list or zero counts."""
    import sqlite3
    d = os.path.join(TMP, "data-corrupt")
    a = Server(d)
    for seed in range(3):
        jid = submit(a.port, image_job(8, 8, 100, samples=2, seed=seed)).json()["id"]
        wait_status(a.port, jid, ("succeeded", "failed"), 30)
    a.term()
    db = os.path.join(d, "scorerecon.db")
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'jobs_status_seq'").fetchone()[0]
    psize = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    with open(db, "r+b") as f:  # overwrite the index's root page with garbage
        f.seek((root - 1) * psize)
        f.write(bytes((i * 37 + 11) % 256 for i in range(psize)))
    b = Server(d)
    r = request(b.port, "GET", "/v1/jobs?status=succeeded")
    ok(problem_is(r, 500, "store"), "corrupt index: listing is a 500, not an empty list", r)
    r = request(b.port, "GET", "/metrics")
    ok(problem_is(r, 500, "store"), "corrupt index: /metrics is a 500, not zeros", r)
    r = request(b.port, "GET", "/readyz")
    ok(r.status == 503, "corrupt index: /readyz 503", r)
    ok("job store" in b.stderr(), "corrupt index: the error is logged", b.stderr()[-500:])
    b.term()


def test_one_server_per_data_dir():
    rc, err = serve_exit(os.path.join(TMP, "data-nomodels"), "--models", os.path.join(TMP, "no-such-models"))
    ok(rc == 2 and "no such directory" in err, "serve --models with a missing directory: exit 2 at start",
       (rc, err[-300:]))
    d = os.path.join(TMP, "data-lock")
    a = Server(d)
    rc, err = serve_exit(d)
    ok(rc == 1 and ("PID %d" % a.proc.pid) in err and "one server per data directory" in err,
       "a second server on the same data dir exits 1 naming the holder", (rc, err[-300:]))
    ok(a.alive() and request(a.port, "GET", "/healthz").status == 200, "the first server is unaffected")
    r = submit(a.port, image_job(8, 8, 200, samples=2, seed=3))
    jid = r.json()["id"]
    j = wait_status(a.port, jid, ("succeeded", "failed"), 30)
    ok(j and j["status"] == "succeeded", "lock: a job runs", j)
    a.kill9()  # the kernel drops the lock with the process: no stale lock after kill -9
    b = Server(d)
    ok(b.alive(), "after kill -9 of the holder a new server starts on the data dir")
    b.term()
    # the database lost (truncated to 0 bytes) while result folders remain: refuse to start, say why
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(d, "scorerecon.db" + suffix)
        if os.path.exists(path):
            open(path, "w").close()
    rc, err = serve_exit(d)
    ok(rc == 1 and "result folder" in err and "has no jobs" in err,
       "a truncated database with result folders: refused at start", (rc, err[-300:]))
    shutil.move(os.path.join(d, "results"), os.path.join(d, "results.old"))
    c = Server(d)
    ok(c.alive(), "with the results moved away the server starts empty")
    c.term()


def test_store_option():
    """--store sqlite:DIR puts the database in DIR (the data dir keeps results and the lock); a URL of no known
    scheme, or an unreachable PostgreSQL, stops the server at start."""
    d, sdir = os.path.join(TMP, "data-storeopt"), os.path.join(TMP, "store-sqlite")
    os.makedirs(sdir, exist_ok=True)
    a = Server(d, "--store", "sqlite:" + sdir)
    jid = submit(a.port, image_job(8, 8, 200, samples=2, seed=4)).json()["id"]
    j = wait_status(a.port, jid, ("succeeded", "failed"), 30)
    ok(j and j["status"] == "succeeded", "--store sqlite:DIR: a job runs", j)
    ok(os.path.exists(os.path.join(sdir, "scorerecon.db")) and not os.path.exists(os.path.join(d, "scorerecon.db"))
       and os.path.exists(os.path.join(d, "results", jid, "result.json")),
       "--store sqlite:DIR: the database in DIR, the results in the data dir")
    ok(jid in db_rows(sdir), "--store sqlite:DIR: the job's row is in DIR/scorerecon.db")
    a.term()
    rc, err = serve_exit(os.path.join(TMP, "data-storebad"), "--store", "mysql://x")
    ok(rc == 1 and "not sqlite:DIR or postgresql://" in err, "--store of an unknown kind: exit 1, saying why",
       (rc, err[-300:]))
    rc, err = serve_exit(os.path.join(TMP, "data-storebad"), "--store", "postgresql://nobody@127.0.0.1:1/none")
    ok(rc == 1 and "cannot connect to the PostgreSQL store" in err, "--store of an unreachable PostgreSQL: exit 1",
       (rc, err[-300:]))


def test_fft_plans():
    """--fft-plan tuned: the wisdom file is made in the data dir, the same job twice gives the same bits, and a
    wisdom file FFTW cannot read stops the server at start, naming it."""
    d = os.path.join(TMP, "data-fft")
    a = Server(d, "--fft-plan", "tuned")
    means = []
    for _ in range(2):
        jid = submit(a.port, fourier_job(seed=5)).json()["id"]
        j = wait_status(a.port, jid, ("succeeded", "failed"), 30)
        ok(j and j["status"] == "succeeded", "tuned plans: a fourier job runs", j)
        with open(os.path.join(d, "results", jid, "mean.npy"), "rb") as f:
            means.append(f.read())
    ok(means[0] == means[1], "tuned plans: the same job twice gives the same mean, bit for bit")
    wisdom = os.path.join(d, "fftw-wisdom")
    ok(os.path.exists(wisdom) and open(wisdom).read().startswith("(fftw-"), "tuned plans: DATA_DIR/fftw-wisdom written")
    a.term()
    with open(wisdom, "w") as f:
        f.write("(not wisdom")
    rc, err = serve_exit(d, "--fft-plan", "tuned")
    ok(rc == 2 and "fftw-wisdom is not FFTW single-precision wisdom" in err,
       "a corrupt wisdom file: exit 2 at start, naming it", (rc, err[-300:]))
    rc, err = serve_exit(d, "--fft-plan", "fast")
    ok(rc == 2 and "--fft-plan must be estimate or tuned" in err, "--fft-plan of an unknown mode: exit 2", (rc, err))


def test_queue_full():
    s = Server(os.path.join(TMP, "data-q"), "--queue-max", "1")
    port = s.port
    r = submit(port, image_job(64, 64, 20000000, samples=4, seed=6, b64=True))
    hid = r.json()["id"]
    ok(wait_progress(port, hid, 0.0) is not None, "queue: the worker is busy")
    r = submit(port, image_job(8, 8, 200, samples=2, seed=1), key="queued-x")
    ok(r.status == 202, "queue: one job may wait", r)
    xid = r.json()["id"]
    r = submit(port, image_job(8, 8, 200, samples=2, seed=2))
    ok(problem_is(r, 429, "queue-full") and int(r.header("Retry-After") or "-1") > 0, "429 with Retry-After", r)
    r = submit(port, image_job(8, 8, 200, samples=2, seed=1), key="queued-x")
    ok(r.status == 202 and r.json()["id"] == xid, "queue full: a retry of an accepted job still gets it", r)
    r = submit(port, image_job(8, 8, 200, samples=2, seed=3), key="queued-x")
    ok(problem_is(r, 422, "idempotency-key-reused"), "queue full: a reused key is still 422", r)
    ok(request(port, "DELETE", "/v1/jobs/" + xid).status == 200, "queue: cancel the waiting job")
    r = submit(port, image_job(8, 8, 200, samples=2, seed=2))
    ok(r.status == 202, "queue: room again after a cancel", r)
    r = request(port, "DELETE", "/v1/jobs/" + hid)
    ok(r.status in (200, 202), "queue: cancel the long job", r)
    s.term()


# --------------------------------------------------------------------------------------------- labels


def fourier_job(seed=3, labels=None):
    n = 8
    zeros = base64.b64encode(struct.pack("<%df" % (2 * n * n), *([0.0] * (2 * n * n)))).decode()
    job = {"shape": [n, n], "operator": {"type": "fourier", "mask": {"random": {"fraction": 0.5, "seed": seed}}},
           "noise": {"sigma": 0.1}, "observation": {"dtype": "complex64", "shape": [n, n], "data": zeros},
           "prior": {"type": "gaussian", "mean": 0.0, "std": 1.0}, "sampler": {"type": "langevin", "steps": 50},
           "num_samples": 2, "seed": 1}
    if labels is not None:
        job["labels"] = labels
    return job


def test_labels_and_job_document():
    s = Server(os.path.join(TMP, "data-l"))
    port = s.port
    a = submit(port, image_job(8, 8, 50, samples=2, seed=1) | {"labels": {"project": "knee", "run": "a1"}})
    ok(a.status == 202 and a.json()["labels"] == {"project": "knee", "run": "a1"}, "labels: echoed on submit", a)
    b = submit(port, image_job(8, 8, 50, samples=2, seed=2) | {"labels": {"project": "knee", "run": "b2"}})
    c = submit(port, image_job(8, 8, 50, samples=2, seed=3))
    ok(c.status == 202 and c.json()["labels"] == {}, "labels: none is {}", c)
    ida, idb, idc = a.json()["id"], b.json()["id"], c.json()["id"]
    r = request(port, "GET", "/v1/jobs/" + ida)
    ok(r.json().get("labels") == {"project": "knee", "run": "a1"}, "labels: in the job's status", r)

    def ids(q):
        r = request(port, "GET", "/v1/jobs?" + q)
        return [j["id"] for j in r.json()["jobs"]] if r.status == 200 else r

    ok(ids("label=project:knee") == [idb, ida], "labels: ?label=project:knee lists both, newest first")
    ok(ids("label=project:knee&label=run:a1") == [ida], "labels: two labels must both match")
    ok(ids("label=project:other") == [], "labels: no match, empty list")
    ok(ids("label=run:b2&status=queued&status=running&status=succeeded") == [idb], "labels: with a status filter")
    ok(ids("label=project:knee&limit=1")[0] == idb, "labels: paging")
    for q in ("label=nocolon", "label=Bad:x", "label=a:b&label=c:d&label=e:f&label=g:h&label=i:j"):
        r = request(port, "GET", "/v1/jobs?" + q)
        ok(problem_is(r, 400, "bad-query", "label"), "labels: ?%s is 400 naming label" % q, r)
    for labels, field in (({"Bad": "x"}, "labels.Bad"), ({"k": 1}, "labels.k"), ({"k": "x" * 128}, "labels.k"),
                          ({"k%d" % i: "v" for i in range(17)}, "labels"), ("x", "labels"),
                          ({"k": "a\nb"}, "labels.k")):
        r = submit(port, image_job(4, 4, 10, samples=1) | {"labels": labels})
        ok(problem_is(r, 422, "invalid-job", field), "labels: %s refused naming %s" % (str(labels)[:40], field), r)
    # the job document, generators materialised: the same job again, as submitted or by `run`
    f = submit(port, fourier_job(labels={"kind": "mri"}))
    fid = f.json()["id"]
    j = wait_status(port, fid, ("succeeded", "failed"), 30)
    ok(j and j["status"] == "succeeded", "job document: a Fourier job with a random mask", j)
    r = request(port, "GET", "/v1/jobs/%s/job" % fid)
    doc = r.json() if r.status == 200 else {}
    mask = doc.get("operator", {}).get("mask", {})
    ok(r.status == 200 and mask.get("dtype") == "float32" and mask.get("shape") == [8, 8],
       "job document: the random mask is materialised as an ARRAY", r)
    vals, _ = decode_array(mask) if mask.get("data") else ([], None)
    ok(set(vals) <= {0.0, 1.0} and 16 <= sum(vals) <= 48, "job document: a 0/1 mask of about half", sum(vals))
    ok(doc.get("labels") == {"kind": "mri"} and doc.get("seed") == 1, "job document: the rest as submitted")
    g = submit(port, doc)
    gid = g.json()["id"]
    j = wait_status(port, gid, ("succeeded", "failed"), 30)
    r1 = request(port, "GET", "/v1/jobs/%s/result/mean.npy" % fid)
    r2 = request(port, "GET", "/v1/jobs/%s/result/mean.npy" % gid)
    ok(r1.status == 200 and r1.body == r2.body, "job document: submitted again, the same mean, bit for bit")
    r = request(port, "GET", "/v1/jobs/%s/job" % ("0" * 32))
    ok(problem_is(r, 404, "not-found", "id"), "job document: unknown job 404", r)
    s.term()


# --------------------------------------------------------------------------------------------- events


def read_events(port, jid, headers=None, limit=60.0, token=None, stop_after=None):
    """Reads GET /v1/jobs/{id}/events to its end: (status, headers, [(id, event, data dict)], seconds)."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=limit)
    t0 = time.time()
    events = []
    try:
        c.request("GET", "/v1/jobs/%s/events" % jid, headers=h)
        r = c.getresponse()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.status != 200:
            body = r.read()
            resp = Resp(r.status, hdrs, body)
            CONTRACT.check("GET", "/v1/jobs/%s/events" % jid, resp)
            return r.status, hdrs, resp, time.time() - t0
        cur = {}
        while time.time() - t0 < limit:
            line = r.readline()
            if not line:
                break
            line = line.decode().rstrip("\n")
            if line == "":
                if "event" in cur:
                    events.append((cur.get("id"), cur["event"], json.loads(cur.get("data", "null"))))
                    if stop_after and cur["event"] == stop_after:
                        break
                cur = {}
            elif line.startswith(":"):
                continue
            else:
                k, _, v = line.partition(": ")
                cur[k] = v
        CONTRACT.check("GET", "/v1/jobs/%s/events" % jid, Resp(200, hdrs, b""))
        return 200, hdrs, events, time.time() - t0
    finally:
        c.close()


def test_events():
    s = Server(os.path.join(TMP, "data-e"), "--max-event-streams", "4")
    port = s.port
    job = {"shape": [64, 64], "operator": {"type": "none"}, "prior": {"type": "gaussian", "mean": 0, "std": 1},
           "sampler": {"type": "langevin", "steps": 60000}, "num_samples": 2, "seed": 1}
    jid = submit(port, job).json()["id"]
    got = {}

    def listen(k):
        got[k] = read_events(port, jid)

    ts = [threading.Thread(target=listen, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(90)
    for k in range(3):
        st, hdrs, evs, dt = got.get(k, (None, {}, [], 0))
        kinds = [e[1] for e in evs]
        ok(st == 200 and hdrs.get("content-type") == "text/event-stream", "events %d: 200 text/event-stream" % k, st)
        ok(kinds and kinds[0] == "status" and kinds[-1] == "end" and evs[-1][2]["status"] == "succeeded",
           "events %d: a status event first, an end event last (succeeded)" % k, kinds)
        prog = [e[2] for e in evs if e[1] == "progress"]
        ok(len(prog) >= 1 and all(p["total"] == 120000 for p in prog) and
           all(a["step"] < b["step"] for a, b in zip(prog, prog[1:])),
           "events %d: progress events with a rising step" % k, prog[:3])
        ok(all(isinstance(p["eta_seconds"], (int, float)) and p["eta_seconds"] >= 0 for p in prog),
           "events %d: progress has an ETA" % k, prog[:2])
        ids = [e[0] for e in evs]
        ok(len(set(ids)) == len(ids) and all(ids), "events %d: every event has its own id" % k, ids)
    end_id = got[0][2][-1][0] if got.get(0) and got[0][2] else None
    # a finished job: one end event, then the stream closes
    st, _, evs, dt = read_events(port, jid, limit=10)
    ok(st == 200 and [e[1] for e in evs] == ["end"] and dt < 5, "events: a finished job gives its end at once", evs)
    # reconnecting with the last id seen: nothing is sent again, the stream ends
    st, _, evs, dt = read_events(port, jid, headers={"Last-Event-ID": end_id or "x"}, limit=10)
    ok(st == 200 and evs == [] and dt < 5, "events: Last-Event-ID of the end: nothing again, closed", (evs, dt))
    # a queued job behind a running one: status queued, then running, ...
    long_id = submit(port, dict(job, sampler={"type": "langevin", "steps": 20000000})).json()["id"]
    q_id = submit(port, dict(job, seed=2)).json()["id"]
    st, _, evs, _ = read_events(port, q_id, limit=10, stop_after="status")
    ok(st == 200 and evs and evs[0][2]["status"] == "queued", "events: a queued job's first event says queued", evs)
    # bounded: --max-event-streams 4
    conns = []
    for _ in range(4):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/v1/jobs/%s/events" % long_id)
        r = c.getresponse()
        r.readline()
        conns.append((c, r))
    st, hdrs, resp, _ = read_events(port, long_id, limit=10)
    ok(st == 503 and problem_is(resp, 503, "too-many-streams") and hdrs.get("retry-after"),
       "events: over --max-event-streams: 503 too-many-streams with Retry-After", resp)
    for c, r in conns[:2]:
        c.close()
    time.sleep(0.8)
    st, _, evs, _ = read_events(port, long_id, limit=10, stop_after="status")
    ok(st == 200, "events: a closed stream frees its place", st)
    st, _, resp, _ = read_events(port, "0" * 32, limit=10)
    ok(st == 404 and problem_is(resp, 404, "not-found", "id"), "events: unknown job 404", resp)
    # the streams do not hold up a shutdown
    rc, dt = s.term()
    ok(rc == 0 and dt < 5, "events: SIGTERM with open streams stops within 5 s", (rc, dt))
    for c, r in conns[2:]:
        c.close()


# --------------------------------------------------------------------------------------------- webhooks


def test_webhooks():
    import hashlib
    import hmac
    import http.server

    got = []
    plan = {"/flaky": [500, 503]}  # answers before a 200

    class Receiver(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()))
            if self.path == "/hang":
                time.sleep(8)
            code = plan[self.path].pop(0) if plan.get(self.path) else 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    rx = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    rport = rx.server_address[1]
    threading.Thread(target=rx.serve_forever, daemon=True).start()
    secret_path = os.path.join(TMP, "hook-secret")
    with open(secret_path, "w") as f:
        f.write("hook-key-42\n")
    rc, err = serve_exit(os.path.join(TMP, "data-w0"), "--webhook-allow", "127.0.0.1")
    ok(rc == 2 and "--webhook-secret-file" in err, "webhooks: an allow-list without a secret stops the start", err)
    s = Server(os.path.join(TMP, "data-w"), "--webhook-allow", "127.0.0.1:%d,localhost" % rport,
               "--webhook-secret-file", secret_path)
    port = s.port
    url = "http://127.0.0.1:%d" % rport
    a = submit(port, image_job(8, 8, 50, samples=2, seed=1) | {"notify": {"url": url + "/ok?x=1"}})
    ok(a.status == 202 and a.json().get("notify", {}).get("state") == "pending", "webhooks: accepted, pending", a)
    aid = a.json()["id"]
    deadline = time.time() + 15
    while time.time() < deadline and not any(g[0] == "/ok?x=1" for g in got):
        time.sleep(0.05)
    hits = [g for g in got if g[0] == "/ok?x=1"]
    ok(len(hits) == 1, "webhooks: the finished job is POSTed once", len(hits))
    if hits:
        _, h, body, _ = hits[0]
        want = "sha256=" + hmac.new(b"hook-key-42", body, hashlib.sha256).hexdigest()
        ok(h.get("x-scorerecon-signature") == want, "webhooks: signed with HMAC-SHA256 of the body",
           (h.get("x-scorerecon-signature"), want))
        ok(h.get("x-scorerecon-event") == "job.finished" and h.get("x-scorerecon-delivery") == aid + ".1" and
           h.get("content-type") == "application/json", "webhooks: event, delivery id, content type", h)
        j = json.loads(body)
        ok(j["id"] == aid and j["status"] == "succeeded", "webhooks: the body is the finished job", j.get("status"))
    time.sleep(0.3)
    j = request(port, "GET", "/v1/jobs/" + aid).json()
    ok(j.get("notify") == {"url": url + "/ok?x=1", "state": "delivered", "attempts": 1},
       "webhooks: the job says delivered", j.get("notify"))
    # a receiver that fails twice: tried again after 1 s and 2 s
    b = submit(port, image_job(8, 8, 50, samples=2, seed=2) | {"notify": {"url": url + "/flaky"}}).json()["id"]
    deadline = time.time() + 20
    while time.time() < deadline:
        j = request(port, "GET", "/v1/jobs/" + b).json()
        if j.get("notify", {}).get("state") != "pending":
            break
        time.sleep(0.1)
    flaky = [g[3] for g in got if g[0] == "/flaky"]
    ok(j.get("notify", {}).get("state") == "delivered" and j["notify"]["attempts"] == 3 and len(flaky) == 3,
       "webhooks: 500, 503, then 200: delivered on the third try", (j.get("notify"), len(flaky)))
    if len(flaky) == 3:
        ok(0.8 <= flaky[1] - flaky[0] <= 2.5 and 1.8 <= flaky[2] - flaky[1] <= 3.5,
           "webhooks: back-off 1 s, then 2 s", [round(b - a, 2) for a, b in zip(flaky, flaky[1:])])
    # a hanging receiver never holds up a worker
    submit(port, image_job(8, 8, 50, samples=2, seed=3) | {"notify": {"url": url + "/hang"}})
    deadline = time.time() + 10
    while time.time() < deadline and not any(g[0] == "/hang" for g in got):
        time.sleep(0.05)
    t0 = time.time()
    e = submit(port, image_job(8, 8, 50, samples=2, seed=4)).json()["id"]
    j = wait_status(port, e, ("succeeded", "failed"), 30)
    ok(j and j["status"] == "succeeded" and time.time() - t0 < 3, "webhooks: a job runs while a webhook hangs",
       time.time() - t0)
    for bad, why in ((url.replace("127.0.0.1", "127.0.0.2") + "/x", "not on this server"),
                     ("http://127.0.0.1:1/x", "not on this server"), ("https://127.0.0.1/x", "http://"),
                     ("ftp://x", "http://")):
        r = submit(port, image_job(4, 4, 10, samples=1) | {"notify": {"url": bad}})
        ok(problem_is(r, 422, "invalid-job", "notify.url") and why in r.json()["detail"],
           "webhooks: %s refused naming notify.url" % bad, r)
    rc, dt = s.term()
    ok(rc == 0 and dt < 5, "webhooks: stops within 5 s with a delivery in flight", (rc, dt))
    s2 = Server(os.path.join(TMP, "data-w2"))
    r = submit(s2.port, image_job(4, 4, 10, samples=1) | {"notify": {"url": url + "/ok"}})
    ok(problem_is(r, 422, "invalid-job", "notify.url") and "--webhook-allow" in r.json()["detail"],
       "webhooks: a server without --webhook-allow refuses notify", r)
    s2.term()
    rx.shutdown()


# --------------------------------------------------------------------------------------------- memory


def proc_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def test_memory():
    """A request's memory is a small multiple of its body (peak RSS growth <= 4x the body), given back after it;
    results stream from disk (slow readers do not hold copies); nested lists are bounded by --max-json-values."""
    s = Server(os.path.join(TMP, "data-m"))
    port, pid = s.port, s.proc.pid
    mb = 1 << 20
    with open(BIN, "rb") as f:  # ASan keeps freed memory in quarantine and pads every block: RSS says nothing there
        sanitized = b"__asan_init" in f.read()
    if sanitized:
        print("service: memory: the RSS bounds are not checked under a sanitizer build (its quarantine holds freed "
              "memory); the answers are", flush=True)

    def rss_ok(cond, name, detail=""):
        ok(cond or sanitized, name, detail)
    # 1. a ~30 MB body of numbers as nested lists: refused before the parse, memory given back
    row = "[" + ", ".join(["0.5"] * 2048) + "]"
    rows = ", ".join([row] * 2300)
    body = ('{"shape": [2300, 2048], "operator": {"type": "identity"}, "noise": {"sigma": 0.1}, '
            '"prior": {"type": "gaussian", "mean": 0.3, "std": 0.3}, "observation": [' + rows + ']}').encode()
    rss0 = proc_kb(pid, "VmRSS")
    r = request(port, "POST", "/v1/jobs", body, headers={"Content-Type": "application/json"}, timeout=60)
    hwm = proc_kb(pid, "VmHWM")
    ok(problem_is(r, 422, "limit-exceeded", "job") and "base64" in r.json()["detail"],
       "memory: %.0f MB of nested-list numbers: 422 naming base64 ARRAYs" % (len(body) / mb), r)
    rss_ok((hwm - rss0) * 1024 <= 4 * len(body), "memory: peak RSS growth %.0f MB <= 4 x the %.0f MB body" %
       ((hwm - rss0) / 1024, len(body) / mb))
    time.sleep(0.3)
    rss1 = proc_kb(pid, "VmRSS")
    rss_ok((rss1 - rss0) * 1024 < 16 * mb, "memory: RSS back within 16 MB after the request (%+.1f MB)" %
       ((rss1 - rss0) / 1024))
    # 2. a ~22 MB base64 body, decoded and checked (refused at the last check): the same bound
    rnd = random.Random(5)
    n = 2048 * 2048
    obs = {"dtype": "float32", "shape": [2048, 2048],
           "data": base64.b64encode(struct.pack("<f", 0.25) * n).decode()}
    job = {"shape": [2048, 2048], "operator": {"type": "identity"}, "noise": {"sigma": 0.1},
           "prior": {"type": "gaussian", "mean": 0.3, "std": 0.3}, "observation": obs,
           "sampler": {"type": "langevin", "steps": 100000000}, "num_samples": 4096}
    body = json.dumps(job).encode()
    del job, obs
    rss0 = proc_kb(pid, "VmRSS")
    hwm0 = proc_kb(pid, "VmHWM")
    r = request(port, "POST", "/v1/jobs", body, headers={"Content-Type": "application/json"}, timeout=60)
    hwm = proc_kb(pid, "VmHWM")
    ok(problem_is(r, 422, "limit-exceeded"), "memory: a %.0f MB base64 job is decoded and checked" %
       (len(body) / mb), r)
    ok(hwm > hwm0 or hwm - rss0 < 4 * len(body) / 1024, "memory: (the peak was measured)")
    rss_ok((hwm - rss0) * 1024 <= 4 * len(body), "memory: peak RSS growth %.0f MB <= 4 x the %.0f MB base64 body" %
       ((hwm - rss0) / 1024, len(body) / mb))
    time.sleep(0.3)
    rss1 = proc_kb(pid, "VmRSS")
    rss_ok((rss1 - rss0) * 1024 < 16 * mb, "memory: RSS back within 16 MB after it (%+.1f MB)" % ((rss1 - rss0) / 1024))
    del body
    # 3. twenty slow readers of a ~14 MB result: streamed from the file, no copy per reader
    job = image_job(512, 512, 20, samples=8, seed=3, b64=True, outputs=["mean", "std", "samples"])
    r = submit(port, job)
    jid = r.json()["id"]
    j = wait_status(port, jid, ("succeeded", "failed"), 120)
    ok(j and j["status"] == "succeeded", "memory: a 512 x 512 job with 8 samples", j)
    size = os.path.getsize(os.path.join(s.data_dir, "results", jid, "result.json"))
    rss0 = proc_kb(pid, "VmRSS")
    socks = []
    for _ in range(20):
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sendall(("GET /v1/jobs/%s/result HTTP/1.1\r\nHost: x\r\n\r\n" % jid).encode())
        c.recv(1024)
        socks.append(c)
    time.sleep(1.0)
    rss1 = proc_kb(pid, "VmRSS")
    rss_ok((rss1 - rss0) * 1024 < max(2 * size, 32 * mb),
       "memory: 20 slow readers of a %.1f MB result add %.1f MB (not 20 copies)" % (size / mb, (rss1 - rss0) / 1024))
    for c in socks:
        c.close()
    # 4. encoding=lists is bounded: this result holds more values than --max-json-values
    r = request(port, "GET", "/v1/jobs/%s/result?encoding=lists" % jid)
    ok(problem_is(r, 400, "bad-query", "encoding") and "max-json-values" in r.json()["detail"],
       "memory: lists of a result over --max-json-values: 400 naming the limit", r)
    ok(request(port, "GET", "/v1/jobs/%s/result/mean.npy" % jid).status == 200, "memory: its .npy still serves")
    ok(s.alive(), "memory: the server is alive", s.stderr()[-2000:])
    s.term()


# --------------------------------------------------------------------------------------------- disk full


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fill_up(path):
    """Writes zeros to path until the file system is full."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_disk_full():
    """The data dir on a small tmpfs, filled up while a job runs and another waits: POST 507, /readyz 503, no busy
    loop, no job left running for ever; all well again, without a restart, once space is back."""
    mnt = os.path.join(TMP, "tmpfs")
    os.makedirs(mnt, exist_ok=True)
    try:
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], capture_output=True,
                             text=True, timeout=20)
        mounted = out.returncode == 0
        why = out.stderr.strip()
    except (OSError, subprocess.SubprocessError) as e:
        mounted, why = False, repr(e)
    if not mounted:
        print("service: disk full: SKIPPED: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): %s" % why,
              flush=True)
        return
    try:
        data = os.path.join(mnt, "data")
        s = Server(data, "--min-free-space", "0")
        port, pid = s.port, s.proc.pid
        ok(submit(port, image_job(8, 8, 50, samples=2, seed=1)).status == 202, "disk full: a job before")
        long_job = submit(port, image_job(64, 64, 20000000, samples=4, seed=41, b64=True)).json()["id"]
        wait_progress(port, long_job, 0.0, 30)
        queued = submit(port, image_job(8, 8, 50, samples=2, seed=2)).json()["id"]
        filler = os.path.join(mnt, "filler")
        fill_up(filler)
        r = submit(port, image_job(8, 8, 50, samples=2, seed=3))
        ok(problem_is(r, 507, "insufficient-storage") and int(r.header("Retry-After") or "0") > 0,
           "disk full: POST answers 507 with Retry-After", r)
        r = request(port, "GET", "/readyz", check=False)
        ok(r.status == 503 and "full" in r.json().get("reason", ""), "disk full: /readyz 503 naming the disk", r)
        # the long job ends (cancelled) and the worker claims the queued one: neither may spin
        request(port, "DELETE", "/v1/jobs/" + long_job, check=False)
        time.sleep(0.5)
        c0, t0 = cpu_seconds(pid), time.time()
        time.sleep(3.0)
        share = (cpu_seconds(pid) - c0) / (time.time() - t0)
        ok(share < 0.3, "disk full: no busy loop (%.1f%% of a core)" % (100 * share))
        ok(db_rows(data).get(queued, ("", 99))[1] <= 1, "disk full: the queued job was not claimed again and again",
           db_rows(data).get(queued))
        os.unlink(filler)
        deadline = time.time() + 20
        ready = None
        while time.time() < deadline:
            ready = request(port, "GET", "/readyz", check=False)
            if ready.status == 200:
                break
            time.sleep(0.2)
        ok(ready is not None and ready.status == 200, "disk full: /readyz 200 again once space is back", ready)
        j = wait_status(port, queued, ("succeeded", "failed"), 30)
        ok(j and j["status"] == "succeeded", "disk full: the waiting job runs once space is back", j)
        j = wait_status(port, long_job, ("cancelled", "succeeded", "failed"), 30)
        ok(j and j["status"] == "cancelled", "disk full: the stopped job is not left running", j)
        r = submit(port, image_job(8, 8, 50, samples=2, seed=4))
        ok(r.status == 202, "disk full: POST accepted again", r)
        j = wait_status(port, r.json()["id"], ("succeeded", "failed"), 30)
        ok(j and j["status"] == "succeeded", "disk full: and it runs", j)
        # a result that cannot be written: the job fails with a clear error, not left running
        jid = submit(port, image_job(64, 64, 30000, samples=4, seed=42, b64=True)).json()["id"]
        wait_progress(port, jid, 0.0, 30)
        fill_up(filler)
        deadline = time.time() + 60
        while time.time() < deadline:  # until the sampler is done (its status may not land while the disk is full)
            j = request(port, "GET", "/v1/jobs/" + jid).json()
            if j["status"] != "running" or j["progress"]["fraction"] >= 1.0:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        os.unlink(filler)
        j = wait_status(port, jid, ("succeeded", "failed", "cancelled"), 30)
        ok(j and j["status"] == "failed" and "No space left" in j.get("error", {}).get("detail", ""),
           "disk full: a job whose result cannot be written fails, saying why", j)
        ok(not os.path.exists(os.path.join(data, "results", jid)), "disk full: its partial result is removed")
        ok(s.alive(), "disk full: the server is alive", s.stderr()[-2000:])
        rc, dt = s.term()
        ok(rc == 0, "disk full: stops cleanly", (rc, dt))
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=20)


# --------------------------------------------------------------------------------------------- durability


def test_durability(rate):
    # a job of about 2 s here: long enough to be killed mid-run, short enough to run three times
    steps = int(min(max(2.0 * rate, 4000), 5000000))
    print("service: durability: %.0f chain-steps/s here; the long job has %d steps per chain" % (rate, steps),
          flush=True)
    ljob = image_job(64, 64, steps, samples=4, seed=11, b64=True, outputs=["mean", "std", "samples"])
    d1 = os.path.join(TMP, "data-d1")
    s1 = Server(d1)
    lid = submit(s1.port, ljob).json()["id"]
    q1 = submit(s1.port, image_job(8, 8, 400, samples=2, seed=12)).json()["id"]
    q2 = submit(s1.port, image_job(8, 8, 400, samples=2, seed=13)).json()["id"]
    j = wait_progress(s1.port, lid, 0.05, 60)
    ok(j is not None and j["status"] == "running", "durability: the long job runs before the kill", j)
    s1.kill9()
    rows = db_rows(d1)
    ok(rows.get(lid) == ("running", 1), "kill -9: the running job is left running in the store", rows.get(lid))
    ok(rows.get(q1) == ("queued", 0) and rows.get(q2) == ("queued", 0), "kill -9: queued jobs stay queued", rows)

    s2 = Server(d1)
    r = request(s2.port, "GET", "/v1/jobs")
    listed = [x["id"] for x in r.json()["jobs"]]
    ok(listed == [q2, q1, lid], "restart: every accepted job is listed", listed)
    st = {x["id"]: x["status"] for x in r.json()["jobs"]}
    ok(st[lid] in ("queued", "running"), "restart: the interrupted job is queued or running again", st)
    j = wait_status(s2.port, lid, ("succeeded", "failed"), 120)
    ok(j and j["status"] == "succeeded" and j["attempts"] == 2, "restart: the interrupted job succeeds, attempt 2", j)
    for q in (q1, q2):
        jq = wait_status(s2.port, q, ("succeeded", "failed"), 60)
        ok(jq and jq["status"] == "succeeded" and jq["attempts"] == 1, "restart: queued jobs run", jq)
    files = {}
    for name in ("mean.npy", "std.npy", "samples.npy", "mean.png", "std.png"):
        r = request(s2.port, "GET", "/v1/jobs/%s/result/%s" % (lid, name))
        ok(r.status == 200, "restart: " + name, r)
        files[name] = r.body
    files["result"] = request(s2.port, "GET", "/v1/jobs/%s/result" % lid).body
    files["lists"] = request(s2.port, "GET", "/v1/jobs/%s/result?encoding=lists" % lid).body

    # the same job on a fresh server gives the same bytes (same seed, same answer)
    f = Server(os.path.join(TMP, "data-fresh"))
    fid = submit(f.port, ljob).json()["id"]
    j = wait_status(f.port, fid, ("succeeded", "failed"), 120)
    ok(j and j["status"] == "succeeded" and j["attempts"] == 1, "fresh server runs the job", j)
    for name in ("mean.npy", "std.npy", "samples.npy", "mean.png"):
        r = request(f.port, "GET", "/v1/jobs/%s/result/%s" % (fid, name))
        ok(r.body == files[name], "rerun after kill -9 = fresh run: %s identical" % name)
    fres = request(f.port, "GET", "/v1/jobs/%s/result" % fid).json()
    lres = json.loads(files["result"])
    for x in (fres, lres):
        x["stats"].pop("seconds", None)
    ok(fres == lres, "rerun after kill -9 = fresh run: result document (but seconds)")
    f.term()

    # SIGTERM: stops within seconds; the running job goes back to the queue
    l2 = submit(s2.port, dict(ljob, seed=21)).json()["id"]
    j = wait_progress(s2.port, l2, 0.05, 60)
    ok(j is not None and j["status"] == "running", "SIGTERM: a job runs", j)
    rc, dt = s2.term(15)
    ok(rc == 0 and dt < 5, "SIGTERM: exits 0 within 5 s", (rc, dt))
    ok("stopping" in s2.stderr() and "stopped" in s2.stderr(), "SIGTERM: logged", s2.stderr()[-400:])
    rows = db_rows(d1)
    ok(rows.get(l2) == ("queued", 1), "SIGTERM: the running job is queued again", rows.get(l2))

    s3 = Server(d1)
    for name in ("mean.npy", "std.npy", "samples.npy", "mean.png", "std.png"):
        r = request(s3.port, "GET", "/v1/jobs/%s/result/%s" % (lid, name))
        ok(r.status == 200 and r.body == files[name], "restart: %s byte-identical" % name)
    ok(request(s3.port, "GET", "/v1/jobs/%s/result" % lid).body == files["result"], "restart: result JSON identical")
    ok(request(s3.port, "GET", "/v1/jobs/%s/result?encoding=lists" % lid).body == files["lists"],
       "restart: lists identical")
    j = wait_status(s3.port, l2, ("succeeded", "failed"), 120)
    ok(j and j["status"] == "succeeded" and j["attempts"] == 2, "SIGTERM: the job completes after restart", j)
    r = request(s3.port, "GET", "/v1/jobs")
    ok([x["id"] for x in r.json()["jobs"]] == [l2, q2, q1, lid], "restart: the list is intact")
    rc, dt = s3.term()
    ok(rc == 0, "durability: last server stops cleanly", rc)


# --------------------------------------------------------------------------------------------- robustness


def test_robustness():
    s = Server(os.path.join(TMP, "data-r"), "--conn-timeout", "2", "--max-body", "1000000")
    port = s.port

    def healthy(name):
        try:
            r = request(port, "GET", "/healthz", check=False, timeout=10)
            ok(r.status == 200, "robustness: /healthz after " + name, r)
        except OSError as e:
            ok(False, "robustness: /healthz after " + name, e)

    def post(body, ctype="application/json", extra=b"", length=None):
        if isinstance(body, str):
            body = body.encode()
        n = len(body) if length is None else length
        return (b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype.encode() +
                b"\r\nContent-Length: " + str(n).encode() + b"\r\n" + extra + b"\r\n" + body)

    good = json.dumps(image_job(4, 4, 100, samples=1, seed=1))
    hostile = [
        ("truncated body", [post(good, length=len(good) + 1000)[:-10]], None, 1.0),
        ("10 MB of [", [post(b"[" * 10000000)], {413, 400, 422, None}, 3.0),
        ("10 MB of [ chunked", [b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n" +
                                b"".join(b"100000\r\n" + b"[" * 0x100000 + b"\r\n" for _ in range(10)) + b"0\r\n\r\n"],
         {413}, 5.0),
        ("900 kB of [", [post(b"[" * 900000)], {400, 422}, 5.0),
        ("invalid UTF-8", [post(b'{"shape": [4, 4], "x": "\xff\xfe\xc0\xaf"}')], {400}, 3.0),
        ("overlong UTF-8 NUL", [post(b'{"shape": [4, 4], "x": "\xc0\x80"}')], {400}, 3.0),
        ("NUL byte", [post(b'{"shape": [4, 4]\x00}')], {400, 422}, 3.0),
        ("\\u0000", [post(b'{"shape": [4, 4], "\\u0000": 1}')], {422, 400}, 3.0),
        ("1e999", [post(good.replace('"seed": 1', '"seed": 1e999'))], {422}, 3.0),
        ("1e39 in an array", [post(good.replace("[[", "[[1e39, ", 1))], {422}, 3.0),
        ("-1e999 std", [post(good.replace('"std": 0.3', '"std": -1e999'))], {422}, 3.0),
        ("huge integer", [post(good.replace('"seed": 1', '"seed": 123456789012345678901234567890'))], {422}, 3.0),
        ("deep objects", [post(b'{"a":' * 100000 + b"1" + b"}" * 100000)], {400, 422}, 3.0),
        ("text/json", [post(good, "text/json")], {415}, 3.0),
        ("application/jsonx", [post(good, "application/jsonx")], {415}, 3.0),
        ("multipart", [post(good, "multipart/form-data; boundary=x")], {415}, 3.0),
        ("json with charset", [post(good, "application/json; charset=utf-8")], {202}, 3.0),
        ("no content type", [b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"], {415}, 3.0),
        ("Content-Length: -1", [b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Content-Length: -1\r\n\r\n{}"], {400, 413, None}, 3.0),
        ("Content-Length: abc", [b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: abc\r\n\r\n{}"], {400, 413, None}, 3.0),
        ("Content-Length 2^64", [post(b"{}", length=18446744073709551616)], {400, 413, None}, 3.0),
        ("bad chunk size", [b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"], {400, None}, 3.0),
        ("garbage request line", [b"GARBAGE\r\n\r\n"], {400, None}, 3.0),
        ("binary garbage", [bytes(random.Random(7).getrandbits(8) for _ in range(8192))], {400, None}, 3.0),
        ("headers without blank line, then close", [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n"], None, 0.5),
        ("100 kB header", [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 100000 + b"\r\n\r\n"],
         {400, 413, 431, None}, 3.0),
        ("100 kB URL", [b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"], {400, 404, 413, 414, 431, None},
         3.0),
        ("path traversal", [b"GET /v1/jobs/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"], {404, 400}, 3.0),
        ("traversal in a file name", [b"GET /v1/jobs/" + b"0" * 32 + b"/result/..%2F..%2Fscorerecon.db HTTP/1.1\r\n"
                                      b"Host: x\r\n\r\n"], {404}, 3.0),
        ("HTTP/1.0 without Host", [b"GET /healthz HTTP/1.0\r\n\r\n"], {200}, 3.0),
        ("HTTP/1.1 without Host", [b"GET /healthz HTTP/1.1\r\n\r\n"], {400, 200}, 3.0),
        ("unknown method", [b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n"], {405, 400, 501}, 3.0),
        ("wait=huge", [b"GET /v1/jobs/" + b"0" * 32 + b"?wait=99999999999999999999 HTTP/1.1\r\nHost: x\r\n\r\n"],
         {404, 400}, 3.0),
        ("pipelined requests", [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 20], {200}, 3.0),
    ]
    for name, chunks, allowed, rt in hostile:
        try:
            status, data = raw(port, chunks, read_timeout=rt, half_close=name.startswith("truncated"),
                               expect=20 if name.startswith("pipelined") else 1)
        except OSError as e:
            status, data = None, repr(e).encode()
        if os.environ.get("SR_VERBOSE"):
            print("  %-40s -> %s %r" % (name, status, data[data.find(b"\r\n\r\n") + 4:][:100]), flush=True)
        if name.startswith("pipelined"):
            ok(complete_responses(data) == 20, "robustness: 20 pipelined answers", data.count(b"HTTP/1.1 200"))
        if allowed is not None:
            ok(status in allowed, "robustness: %s answers %s" % (name, sorted(map(str, allowed))), (status, data[:300]))
        healthy(name)
        if not s.alive():
            ok(False, "robustness: server died after " + name, s.stderr()[-2000:])
            return

    # a chunked body over --max-body is answered 413 as soon as it passes the limit, not after its last chunk
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    sent, got = 0, b""
    try:
        while sent < 3000000 and not got:
            c.sendall(b"10000\r\n" + b"[" * 0x10000 + b"\r\n")
            sent += 0x10000
            c.settimeout(0.05)
            try:
                got = c.recv(4096)
            except socket.timeout:
                pass
    except OSError:
        c.settimeout(2)
        try:
            got = c.recv(4096)
        except OSError:
            pass
    c.close()
    ok(got.startswith(b"HTTP/1.1 413") and b"body-too-large" in got and sent <= 1000000 + 0x20000 * 4,
       "robustness: a chunked body answers 413 once it passes --max-body (%d kB sent of an endless body)" %
       (sent // 1024), got[:200])
    healthy("chunked body over the limit")

    # many idle connections, then closed
    socks = []
    try:
        for _ in range(50):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError:
        pass
    healthy("50 idle connections")
    for x in socks:
        x.close()

    # slow clients: a few bytes per second; the server must close them after --conn-timeout 2 (a little slack)
    results = {}

    def slow(name, prefix, payload):
        """Sends prefix at once, then payload 3 bytes at a time, about 7 bytes a second."""
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        t0 = time.time()
        closed_at = None
        i = 0
        try:
            c.sendall(prefix)
            while time.time() - t0 < 12 and i < len(payload):
                c.sendall(payload[i:i + 3])
                i += 3
                c.settimeout(0.4)
                try:
                    d = c.recv(4096)
                    if d == b"" or d.startswith(b"HTTP/1.1 408"):
                        closed_at = time.time() - t0
                        break
                except socket.timeout:
                    pass
        except OSError:
            closed_at = time.time() - t0
        finally:
            c.close()
        results[name] = closed_at

    body = good.encode()
    whole = post(body)
    ts = [threading.Thread(target=slow, args=("slow headers", b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " +
                                                                  b"a" * 500)),
          threading.Thread(target=slow, args=("slow body", whole[:len(whole) - len(body)], body))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    for name in ("slow headers", "slow body"):
        at = results.get(name)
        ok(at is not None and 1.5 <= at <= 6, "robustness: %s closed after --conn-timeout 2" % name, at)
    healthy("slow clients")
    # a long-poll is not a slow client: it outlives the connection timeout
    t0 = time.time()
    r = request(port, "GET", "/v1/jobs?limit=1", check=False)
    jobs = r.json()["jobs"] if r.status == 200 else []
    if jobs:
        jid = jobs[0]["id"]
        wait_status(port, jid, ("succeeded", "failed", "cancelled"), 30)
        long_job = submit(port, image_job(64, 64, 20000000, samples=4, seed=31, b64=True)).json()["id"]
        wait_progress(port, long_job, 0.0, 30)  # running: its status will not change during the long-poll
        t0 = time.time()
        r = request(port, "GET", "/v1/jobs/%s?wait=3" % long_job, check=False, timeout=10)
        ok(r.status == 200 and time.time() - t0 >= 2.8, "robustness: a 3 s long-poll survives --conn-timeout 2",
           (r, time.time() - t0))
        request(port, "DELETE", "/v1/jobs/" + long_job, check=False)
    ok(s.alive(), "robustness: the server is still alive at the end", s.stderr()[-2000:])
    rc, dt = s.term()
    ok(rc == 0, "robustness: the server stops cleanly", rc)


# --------------------------------------------------------------------------------------------- main


def sanitizer_check():
    for s in SERVERS:
        report = harness.sanitizer_report(s.stderr())
        ok(not report, "server %d stderr is free of sanitizer reports" % s.n, report)


def main():
    global CONTRACT
    t_start = time.time()
    try:
        CONTRACT = Contract(os.path.join(ROOT, "openapi.yaml"))
    except Exception as e:  # noqa: BLE001 — a broken spec is one failure, not a crash
        ok(False, "openapi.yaml loads", e)
        finish()
    CONTRACT.self_check()
    # a flow mapping with an unquoted comma once gave Problem a bogus property ("for a person")
    problem = sorted(CONTRACT.pointer("#/components/schemas/Problem")["properties"])
    ok(problem == ["detail", "field", "status", "title", "type"], "spec: Problem's properties", problem)
    for name in sorted(os.listdir(os.path.join(ROOT, "examples"))):
        if name.endswith(".json"):
            with open(os.path.join(ROOT, "examples", name)) as f:
                errs = CONTRACT.errors(CONTRACT.schema("JobDocument"), json.load(f))
            ok(not errs, "spec: examples/%s is a JobDocument" % name, errs[:3])
    try:
        rate = calibrate()
    except (subprocess.SubprocessError, OSError) as e:
        ok(False, "calibration run of %s run" % BIN, e)
        rate = 20000.0
    parts = [("end to end", test_end_to_end), ("auth", test_auth), ("lock", test_one_server_per_data_dir),
             ("store errors", test_store_read_errors), ("store option", test_store_option), ("fft plans", test_fft_plans),
             ("queue", test_queue_full), ("labels", test_labels_and_job_document), ("events", test_events), ("webhooks", test_webhooks),
             ("memory", test_memory),
             ("disk full", test_disk_full),
             ("durability", lambda: test_durability(rate)), ("robustness", test_robustness)]
    try:
        for name, fn in parts:
            t0 = time.time()
            n0 = CONTRACT.checked
            try:
                fn()
            except Exception as e:  # noqa: BLE001 — report and go on with the next part
                import traceback
                traceback.print_exc()
                ok(False, "part %s raised" % name, repr(e))
            print("service: %s: %.1f s, %d responses checked against openapi.yaml" %
                  (name, time.time() - t0, CONTRACT.checked - n0), flush=True)
    finally:
        stop_all()
    sanitizer_check()
    finish(since=t_start, tmp=TMP)


if __name__ == "__main__":
    main()
