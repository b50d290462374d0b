#!/usr/bin/python3
"""tests/test_web.py BIN [--screenshot PATH] — the web page of `BIN serve` (GET /, web/), in a real browser.

Run with Debian's python3 (standard library only):

    /usr/bin/python3 tests/test_web.py build/scorerecon

Starts servers on 127.0.0.1 with free ports and temporary data directories (as tests/test_service.py does) and
checks two things:

  static    GET / and /ui/app.js, /ui/app.css, /ui/examples/NAME.json: status, Content-Type, Cache-Control,
            the Content-Security-Policy, no inline script or style and nothing loaded from elsewhere, the examples
            byte for byte; HEAD, 405, 404;
  browser   headless Chromium driven over the Chrome DevTools Protocol (a WebSocket client written here: the
            upgrade handshake, masked client frames, server frames of any length): submit an example through the
            page's form, follow the job to `succeeded`, check the four images are drawn (pixels read back from the
            canvases), the common colour scale against the data, the metrics table against the result; a long job's
            progress moves on its page (event stream) and in the list, and its Cancel button stops it; a server with
            --token-file: the page asks for the token, refuses a wrong one, and lists the jobs with the right one.
            No JavaScript exception and no Content-Security-Policy report is allowed.

The screenshot of the finished job's page goes to web.png beside BIN (and to PATH with --screenshot: `make
web-screenshot` writes docs/img/web.png that way). Without Chromium (Debian package `chromium`, which
scripts/install-deps.sh installs) the browser part prints "web: SKIPPED: ..." and counts nothing. Prints one
closing line "web: N passed, N failed" (exit status 1 on any failure).
"""
import base64
import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import harness  # tests/harness.py: checks, servers, sanitizer reports (shared with test_service.py)

CHECKS = harness.Checks("web")
ok, finish = CHECKS.ok, CHECKS.finish
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TMP = tempfile.mkdtemp(prefix="sr_web_")
SERVERS = []
EXAMPLES = ("denoise", "deblur", "inpaint", "mri")


args = sys.argv[1:]
SCREENSHOT = None
if "--screenshot" in args:
    i = args.index("--screenshot")
    SCREENSHOT = os.path.abspath(args[i + 1]) if i + 1 < len(args) else None
    del args[i:i + 2]
if len(args) != 1 or not os.access(args[0], os.X_OK):
    print("usage: test_web.py path/to/scorerecon [--screenshot PATH]", file=sys.stderr)
    print("web: 0 passed, 1 failed")
    sys.exit(1)
BIN = os.path.abspath(args[0])

# --------------------------------------------------------------------------------------------- servers, HTTP


class Server:
    """One `BIN serve` on 127.0.0.1 and a free port, its stderr kept in TMP."""

    def __init__(self, name, *extra):
        self.err_path = os.path.join(TMP, name + ".err")
        self.proc, self.port = harness.serve(BIN, os.path.join(TMP, name), os.path.join(TMP, name + ".port"),
                                             self.err_path, extra)
        SERVERS.append(self)
        if self.port is None:
            raise RuntimeError("server did not start: " + self.stderr()[-2000:])
        self.url = "http://127.0.0.1:%d" % self.port

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        harness.stop(self.proc)


def request(port, method, path, body=None, token=None):
    """(status, lower-case headers, body bytes) of one request on a fresh connection."""
    headers = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = body if isinstance(body, bytes) else json.dumps(body).encode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def api_json(port, path, token=None):
    status, _, body = request(port, "GET", path, token=token)
    return json.loads(body) if status == 200 else None


def floats(a):
    """The values of a base64 float32 ARRAY of a job document."""
    raw = base64.b64decode(a["data"])
    return struct.unpack("<%df" % (len(raw) // 4), raw)


def npy_floats(b):
    """The values of a .npy file of <f4 (format 1.0, as the server writes them)."""
    hl = struct.unpack("<H", b[8:10])[0]
    data = b[10 + hl:]
    return struct.unpack("<%df" % (len(data) // 4), data)


# --------------------------------------------------------------------------------------------- static routes


def test_static(s):
    csp_needed = ("default-src 'self'", "img-src 'self' data: blob:")
    for path, media, src in [("/", "text/html", "web/index.html"), ("/ui/app.js", "text/javascript", "web/app.js"),
                             ("/ui/app.css", "text/css", "web/app.css")] + \
            [("/ui/examples/%s.json" % e, "application/json", "examples/%s.json" % e) for e in EXAMPLES]:
        status, h, body = request(s.port, "GET", path)
        with open(os.path.join(ROOT, src), "rb") as f:
            want = f.read()
        ok(status == 200 and body == want, "GET %s: 200 with %s byte for byte" % (path, src), (status, body[:200]))
        ok(h.get("content-type", "").split(";")[0] == media, "GET %s: Content-Type %s" % (path, media), h.get("content-type"))
        if media.startswith("text/"):
            ok("charset=utf-8" in h.get("content-type", ""), "GET %s: charset=utf-8" % path, h.get("content-type"))
        ok(h.get("cache-control") == "no-cache", "GET %s: Cache-Control: no-cache" % path, h.get("cache-control"))
        csp = h.get("content-security-policy", "")
        ok(all(c in csp for c in csp_needed) and "unsafe" not in csp, "GET %s: a strict Content-Security-Policy" % path, csp)
        ok(h.get("x-content-type-options") == "nosniff", "GET %s: nosniff" % path, h)
        if media == "application/json":
            try:
                doc = json.loads(body)
                ok(isinstance(doc, dict) and "shape" in doc and len(body) < 50000, "%s is a job document under 50 KB" % path)
            except ValueError as e:
                ok(False, "%s parses as JSON" % path, e)
        else:  # the page itself: nothing inline, nothing from elsewhere
            text = body.decode("utf-8")
            ok(not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", re.sub(r"(?m)^\s*//.*$", "", text)),
               "%s loads nothing from elsewhere" % path, re.findall(r"\S*https?://\S*", text)[:3])
            if media == "text/html":
                ok(not re.search(r"<script(?![^>]*\bsrc=)", text) and not re.search(r"\son[a-z]+=|\sstyle=|<style", text),
                   "index.html has no inline script, handler or style", text[:300])
    status, h, body = request(s.port, "HEAD", "/")
    ok(status == 200 and body == b"" and h.get("content-type", "").startswith("text/html"), "HEAD /", (status, h))
    status, h, body = request(s.port, "POST", "/ui/app.js", body=b"{}")
    ok(status == 405 and h.get("allow") == "GET", "POST /ui/app.js: 405 with Allow: GET", (status, h, body[:200]))
    for path in ("/ui/", "/ui/nope.js", "/ui/examples/binary_denoise.json", "/index.html", "/ui/../openapi.yaml"):
        status, h, body = request(s.port, "GET", path)
        ok(status == 404 and h.get("content-type") == "application/problem+json", "GET %s: 404 problem" % path,
           (status, body[:200]))


# --------------------------------------------------------------------------------------------- WebSocket, CDP


class WebSocket:
    """A minimal RFC 6455 client: text frames out (masked), text frames in (any length, fragmented or not)."""

    def __init__(self, url, timeout=10):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" %
                           (u.path, u.hostname, u.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("WebSocket handshake: connection closed")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        if not head.startswith(b"HTTP/1.1 101") or accept not in head:
            raise ConnectionError("WebSocket handshake refused: %r" % head[:300])

    def send(self, text):
        payload, mask = text.encode(), os.urandom(4)
        n = len(payload)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
                                if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("WebSocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """The next text message (pings answered, continuation frames joined)."""
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("WebSocket closed by the browser")
            if opcode == 0x9:  # ping: pong with the same data (masked, as a client must)
                k = os.urandom(4)
                self.sock.sendall(bytes([0x8A, 0x80 | len(data)]) + k + bytes(c ^ k[i % 4] for i, c in enumerate(data)))
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += data
                if b0 & 0x80:
                    return message.decode("utf-8")

    def close(self):
        self.sock.close()


class CDP:
    """Chrome DevTools Protocol over one page target's WebSocket: calls, and the events seen meanwhile."""

    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.next_id = 0
        self.events = []

    def call(self, method, params=None, timeout=30):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params or {}}))
        self.ws.sock.settimeout(timeout)
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def js(self, expression):
        """The value of a JavaScript expression in the page (promises awaited)."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("JS %r: %s" % (expression[:80], r["exceptionDetails"].get("exception", {}).get(
                "description", r["exceptionDetails"].get("text"))))
        return r["result"].get("value")

    def wait(self, expression, limit, step=0.1):
        """Polls the expression until it is truthy; its last value (falsy after `limit` seconds)."""
        deadline = time.time() + limit
        while True:
            v = self.js(expression)
            if v or time.time() > deadline:
                return v
            time.sleep(step)

    def problems(self):
        """JavaScript exceptions and Content-Security-Policy reports seen so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(p.get("exceptionDetails", {}).get("exception", {}).get("description", str(p))[:300])
            elif e["method"] == "Log.entryAdded":
                entry = p.get("entry", {})
                if entry.get("source") in ("security", "javascript") or "Content Security Policy" in entry.get("text", ""):
                    out.append(entry.get("text", "")[:300])
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(str(p.get("args"))[:300])
        return out


class Chromium:
    """Headless Chromium with a DevTools port of its own choosing, read from its stderr."""

    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise FileNotFoundError("no chromium on PATH (Debian package chromium; scripts/install-deps.sh installs it)")
        self.profile = tempfile.mkdtemp(prefix="sr_web_chromium_")
        self.proc = subprocess.Popen([exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                      "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                                      "--disable-background-networking", "--remote-debugging-port=0",
                                      "--user-data-dir=" + self.profile, "--window-size=1280,900", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)  # its own process group: stop() ends its helpers too
        self.log = b""
        deadline = time.time() + 30
        m = None
        while m is None and time.time() < deadline and self.proc.poll() is None:
            if select.select([self.proc.stderr], [], [], 0.2)[0]:
                chunk = os.read(self.proc.stderr.fileno(), 65536)
                self.log += chunk
                m = re.search(rb"DevTools listening on (ws://[^\s]+)", self.log)
        if m is None:
            self.stop()
            raise RuntimeError("chromium did not start: %s" % self.log[-600:].decode("utf-8", "replace"))
        threading.Thread(target=self._drain, daemon=True).start()  # a full pipe would stall the browser
        try:  # the page target's WebSocket, from /json/list on the DevTools port
            host = urllib.parse.urlsplit(m.group(1).decode()).netloc
            c = http.client.HTTPConnection(host, timeout=10)
            c.request("GET", "/json/list")
            targets = json.loads(c.getresponse().read())
            c.close()
            pages = [t for t in targets if t.get("type") == "page"]
            if not pages:
                raise RuntimeError("chromium has no page target: %s" % targets)
            self.cdp = CDP(pages[0]["webSocketDebuggerUrl"])
            for domain in ("Page", "Runtime", "Log"):
                self.cdp.call(domain + ".enable")
            self.cdp.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900,
                                                                 "deviceScaleFactor": 1, "mobile": False})
        except (OSError, RuntimeError, ValueError):
            self.stop()
            raise

    def _drain(self):
        try:
            while self.proc.stderr.read(65536):
                pass
        except (OSError, ValueError):
            pass

    def goto(self, url):
        self.cdp.call("Page.navigate", {"url": url})
        self.cdp.wait("document.readyState === 'complete' && !!document.querySelector('#main') && location.href === %s"
                      % json.dumps(url), 10)

    def screenshot(self):
        height = self.cdp.js("Math.max(document.documentElement.scrollHeight, 600)")
        self.cdp.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": min(int(height), 4000),
                                                             "deviceScaleFactor": 1, "mobile": False})
        png = base64.b64decode(self.cdp.call("Page.captureScreenshot", {"format": "png"})["data"])
        self.cdp.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                                             "mobile": False})
        return png

    def stop(self):
        try:
            self.cdp.ws.close()
        except (AttributeError, OSError):
            pass
        harness.stop(self.proc)
        deadline = time.time() + 10  # the browser's helper processes (its group) may outlive it a moment
        while time.time() < deadline:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM if time.time() < deadline - 5 else signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        shutil.rmtree(self.profile, ignore_errors=True)


# --------------------------------------------------------------------------------------------- the browser part

# per panel: canvas size and the number of distinct RGBA values drawn
PIXELS_JS = """(() => Object.fromEntries(['truth', 'observation', 'mean', 'std'].map((k) => {
  const c = document.querySelector(`figure[data-panel="${k}"] canvas`);
  if (!c) return [k, null];
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, seen = new Set();
  for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return [k, {w: c.width, h: c.height, distinct: seen.size, alt: c.getAttribute('aria-label')}];
})))()"""


def test_browser(s, b):
    cdp = b.cdp
    b.goto(s.url + "/")
    ok(cdp.wait("!!document.querySelector('#submit-form') && !!document.querySelector('#jobs') && "
                "document.querySelector('#jobs-h + p').textContent.startsWith('No jobs')", 10),
       "the page loads: the form and an empty job list", cdp.js("document.querySelector('#main').innerText"))
    options = cdp.js("[...document.querySelectorAll('#example option')].map((o) => o.value)")
    ok(options == list(EXAMPLES), "the form offers the embedded examples", options)
    ok(cdp.js("[...document.querySelectorAll('input, select')].every((e) => document.querySelector(`label[for=\"${e.id}\"]`))"),
       "every form control has a label")

    # submit denoise through the form, with labels; the page goes to the new job
    cdp.js("document.querySelector('#example').value = 'denoise'; document.querySelector('#labels').value = "
           "'suite=web, run=1'; document.querySelector('#submit-form button').click(); true")
    h = cdp.wait("/^#\\/jobs\\/[0-9a-f]{32}$/.test(location.hash) && location.hash", 10)
    if not ok(h, "submitting the form opens the new job's page", cdp.js("document.body.innerText.slice(0, 500)")):
        return
    jid = h[len("#/jobs/"):]
    job = api_json(s.port, "/v1/jobs/" + jid)
    ok(job and job["labels"] == {"suite": "web", "run": "1"}, "the job carries the form's labels", job)
    t0 = time.time()
    done = cdp.wait("document.querySelector('#job').dataset.status === 'succeeded' && "
                    "document.querySelectorAll('figure.panel canvas').length === 4 && !!document.querySelector('#metrics')", 60)
    ok(done, "the page shows the job succeeded, four images and the metrics (%.1f s)" % (time.time() - t0),
       cdp.js("document.querySelector('#main').innerText.slice(0, 800)"))
    px = cdp.js(PIXELS_JS)
    for k in ("truth", "observation", "mean", "std"):
        p = px.get(k) or {}
        ok(p.get("w", 0) >= 48 and p.get("h", 0) >= 48 and p.get("distinct", 0) >= 16 and p.get("alt"),
           "the %s image is drawn (%s distinct colours) with alt text" % (k, p.get("distinct")), p)
    ok(px.get("mean", {}).get("w") == 240, "48 x 48 images are drawn 5x, nearest neighbour (240 px)", px.get("mean"))

    # the common scale is the range of truth, observation and mean; the std has its own
    with open(os.path.join(ROOT, "examples", "denoise.json")) as f:
        example = json.load(f)
    mean = npy_floats(request(s.port, "GET", "/v1/jobs/%s/result/mean.npy" % jid)[2])
    std = npy_floats(request(s.port, "GET", "/v1/jobs/%s/result/std.npy" % jid)[2])
    values = floats(example["ground_truth"]) + floats(example["observation"]) + mean
    bars = cdp.js("[...document.querySelectorAll('figure.bar figcaption')].map((c) => [...c.children].map((s) => s.textContent))")
    ok(len(bars) == 2, "two colour bars: the common scale and the std's", bars)
    if len(bars) == 2:
        close = lambda shown, want: abs(float(shown) - want) <= 1e-3 * max(1.0, abs(want))
        ok(close(bars[0][0], min(values)) and close(bars[0][2], max(values)) and
           bars[0][1] == "common scale: truth, observation, mean",
           "the common colour bar spans truth, observation and mean", (bars[0], min(values), max(values)))
        ok(close(bars[1][0], min(std)) and close(bars[1][2], max(std)) and "std" in bars[1][1],
           "the std's colour bar spans the std", (bars[1], min(std), max(std)))
    result = api_json(s.port, "/v1/jobs/%s/result" % jid)
    rows = dict(cdp.js("[...document.querySelectorAll('#metrics tr')].map((r) => [...r.cells].map((c) => c.textContent))") or [])
    psnr = rows.get("PSNR (dB)")
    ok(psnr is not None and result and abs(float(psnr) - result["metrics"]["psnr"]) < 0.01,
       "the metrics table shows the result's PSNR", (rows, result and result.get("metrics")))
    stats = cdp.js("document.querySelector('#stats') && document.querySelector('#stats').innerText")
    ok(stats and "score_evals" in stats and "rhat.max" in stats, "the statistics table (nested stats flattened)", stats)
    png = b.screenshot()
    ok(png.startswith(b"\x89PNG\r\n\x1a\n") and struct.unpack(">I", png[16:20])[0] == 1280,
       "a 1280 px wide screenshot of the job's page", png[:24])
    for path in [os.path.join(os.path.dirname(BIN), "web.png")] + ([SCREENSHOT] if SCREENSHOT else []):
        with open(path, "wb") as f:
            f.write(png)
    print("web: screenshot in " + ", ".join(p for p in [os.path.join(os.path.dirname(BIN), "web.png"), SCREENSHOT] if p))

    # a long k-space job: its page shows the observation as log-magnitude, progress moves (event stream), the list
    # shows it running, and the page's Cancel button stops it
    with open(os.path.join(ROOT, "examples", "mri.json")) as f:
        mri = json.load(f)
    mri["sampler"]["steps"] = 400000
    status, _, body = request(s.port, "POST", "/v1/jobs", mri)
    if not ok(status == 202, "a long mri job is accepted", body[:300]):
        return
    mid = json.loads(body)["id"]
    b.goto(s.url + "/#/jobs/" + mid)
    ok(cdp.wait("document.querySelector('#job') && document.querySelector('#job').dataset.status === 'running' && "
                "document.querySelector('#job progress').value > 0", 20),
       "the long job's page shows it running", cdp.js("document.querySelector('#main').innerText.slice(0, 600)"))
    p1 = cdp.js("document.querySelector('#job progress').value")
    ok(cdp.wait("document.querySelector('#job progress').value > %r" % p1, 5),
       "its progress bar moves (event stream)", (p1, cdp.js("document.querySelector('#job progress').value")))
    obs = cdp.js(PIXELS_JS).get("observation") or {}
    note = cdp.js("document.querySelector('figure[data-panel=observation]').innerText")
    ok(obs.get("distinct", 0) >= 16 and "k-space" in note and "log" in note and "own scale" in note,
       "the complex observation is shown as k-space log-magnitude on its own scale", (obs, note))
    bars = cdp.js("[...document.querySelectorAll('figure.bar figcaption')].map((c) => c.children[1].textContent)")
    ok(sorted(bars) == ["common scale: truth, mean", "log₁₀ |y|"],
       "k-space has its own colour bar; the common scale is truth and mean", bars)
    b.goto(s.url + "/#/")
    ok(cdp.wait("(() => { const r = document.querySelector('#jobs tr[data-id=\"%s\"]'); return r && "
                "r.querySelector('.badge').textContent === 'running' && r.querySelector('progress').value > 0; })()" % mid, 10),
       "the list shows the long job running, with its progress", cdp.js("document.querySelector('#jobs').innerText"))
    rows = cdp.js("[...document.querySelectorAll('#jobs tbody tr')].map((r) => r.dataset.id)")
    ok(rows == [mid, jid], "the list is newest first", rows)
    ok("suite=web" in cdp.js("document.querySelector('#jobs tr[data-id=\"%s\"]').innerText" % jid),
       "the list shows labels")
    b.goto(s.url + "/#/jobs/" + mid)
    cdp.wait("document.querySelector('#job').dataset.status === 'running'", 10)
    cdp.js("[...document.querySelectorAll('#job button')].find((x) => x.textContent === 'Cancel job').click(); true")
    ok(cdp.wait("document.querySelector('#job').dataset.status === 'cancelled'", 15), "Cancel job stops it",
       cdp.js("document.querySelector('#job').innerText.slice(0, 400)"))
    j = api_json(s.port, "/v1/jobs/" + mid)
    ok(j and j["status"] == "cancelled", "the server agrees: cancelled", j)


def test_token(b, s):
    """A server with --token-file: the page asks for the token, refuses a wrong one, lists with the right one."""
    cdp = b.cdp
    token = "web-s3cret"
    status, _, body = request(s.port, "POST", "/v1/jobs", {"shape": [4, 4], "operator": {"type": "none"},
                                                           "prior": {"type": "gaussian", "std": 1}, "num_samples": 1,
                                                           "sampler": {"type": "mala", "steps": 10}}, token=token)
    ok(status == 202, "token server: a job submitted with the token", body[:300])
    b.goto(s.url + "/")
    ok(cdp.wait("!document.querySelector('#token-form').hidden", 10), "the page asks for the token on a 401",
       cdp.js("document.body.innerText.slice(0, 400)"))
    ok(cdp.js("document.activeElement && document.activeElement.id") == "token-input", "the token field has the focus")
    ok(cdp.js("document.querySelectorAll('#jobs tbody tr').length") == 0, "nothing is listed without the token")

    def type_token(t):
        cdp.js("document.querySelector('#token-input').focus(); true")
        cdp.call("Input.insertText", {"text": t})
        cdp.js("document.querySelector('#token-form button').click(); true")

    type_token("wrong")
    ok(cdp.wait("!document.querySelector('#token-form').hidden && "
                "document.querySelector('#token-why').textContent.includes('refused')", 10),
       "a wrong token is refused and asked for again", cdp.js("document.querySelector('#token-form').innerText"))
    type_token(token)
    ok(cdp.wait("document.querySelector('#token-form').hidden && document.querySelectorAll('#jobs tbody tr').length === 1", 10),
       "with the right token the list loads", cdp.js("document.querySelector('#main').innerText.slice(0, 400)"))
    ok(cdp.js("sessionStorage.getItem('scorerecon.token')") == token, "the token is kept in sessionStorage")


# --------------------------------------------------------------------------------------------- main


def main():
    t_start = time.time()
    servers = []
    try:
        a = Server("plain")
        servers.append(a)
        test_static(a)
        try:
            b = Chromium()
        except (OSError, RuntimeError, ValueError) as e:
            print("web: SKIPPED: the browser part (the static checks above still count): %s" % e)
            b = None
        if b:
            try:
                test_browser(a, b)
                tok = os.path.join(TMP, "token.txt")
                with open(tok, "w") as f:
                    f.write("web-s3cret\n")
                t = Server("token", "--token-file", tok)
                test_token(b, t)
                problems = b.cdp.problems()
                ok(not problems, "no JavaScript exception or Content-Security-Policy report in the page", problems)
            except Exception as e:  # noqa: BLE001 — one failure, with what happened
                import traceback
                traceback.print_exc()
                ok(False, "the browser part raised", repr(e))
            finally:
                b.stop()
    finally:
        for s in SERVERS:
            s.stop()
    for s in SERVERS:
        report = harness.sanitizer_report(s.stderr())
        ok(not report, "server stderr is free of sanitizer reports", report)
    finish(since=t_start, tmp=TMP)


if __name__ == "__main__":
    main()
