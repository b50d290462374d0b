"""tests/harness.py — what the Python suites (test_service.py, test_web.py, test_client.py) share: counted checks that end in one
line "SUITE: N passed, N failed" (tests/run_all.sh reads it), `scorerecon serve` started on a free port, and the
sanitizer reports in a server's stderr. Standard library only."""
import os
import re
import shutil
import subprocess
import sys
import threading
import time


class Checks:
    """Counts checks (from any thread) and prints each failure; SR_VERBOSE=1 prints the passes too."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = 0
        self.failed = 0
        self._lock = threading.Lock()

    def ok(self, cond, name, detail=""):
        with self._lock:
            if cond:
                self.passed += 1
                if os.environ.get("SR_VERBOSE"):
                    print("ok: " + name, flush=True)
            else:
                self.failed += 1
                print("FAIL: %s%s" % (name, (": " + str(detail)[:600]) if detail != "" else ""), flush=True)
        return bool(cond)

    def finish(self, since=None, tmp=None):
        """The closing line and the exit status (1 on any failure); with `since`, the time taken; `tmp` (the
        servers' logs) is removed when all passed and named when not."""
        if since is not None:
            print("%s: %.1f s in all" % (self.suite, time.time() - since), flush=True)
        if tmp and self.failed == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            print("%s: server logs kept in %s" % (self.suite, tmp), flush=True)
        print("%s: %d passed, %d failed" % (self.suite, self.passed, self.failed), flush=True)
        sys.exit(1 if self.failed else 0)


def serve(binary, data_dir, port_file, err_path, args=(), limit=20.0, port=0, threads=2, append=False):
    """Starts `BINARY serve` on 127.0.0.1 and a free port (--port-file), with no SCORERECON_* variable and its stderr
    in err_path (appended to with `append`); `port` 0 picks a free one. Returns (process, port); the port is None
    when the server did not start within `limit` seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORERECON_")}
    cmd = [binary, "serve", "--listen", "127.0.0.1:%d" % port, "--port-file", port_file, "--data-dir", data_dir,
           "--job-threads", str(threads)] + list(args)
    if os.path.exists(port_file):
        os.unlink(port_file)
    with open(err_path, "ab" if append else "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        try:
            with open(port_file) as f:
                text = f.read()
            if text.endswith("\n"):
                return proc, int(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    return proc, None


def stop(proc, limit=10.0):
    """SIGTERM, then SIGKILL after `limit` seconds; waits for the process."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(limit)


def sanitizer_report(text):
    """The first AddressSanitizer, LeakSanitizer or UBSan report in a server's stderr, with context; '' if none."""
    hit = re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error", text)
    return text[max(0, hit.start() - 200):hit.start() + 1500] if hit else ""
