"""Client and Job: the HTTP API of `scorerecon serve` (docs/service.md, openapi.yaml) over http.client."""
import collections
import email.utils
import http.client
import io
import json
import re
import time
import urllib.parse
import uuid

import numpy as np

from .arrays import encode_job
from .errors import ClientError, ConnectionFailed, JobFailed, NotFound, WaitTimeout, api_error

FINAL = ("succeeded", "failed", "cancelled")
OUTPUTS = ("mean", "std", "samples")

Result = collections.namedtuple("Result", "mean std samples document")
Result.__doc__ = """A job's result: mean, std, samples as numpy float32 arrays (None for an output the job did not
ask for) and document, the result document (a dict: stats, sampler, metrics, warnings, ...) without mean, std and
samples, or None when not fetched."""


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def _retry_after(value):
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error(resp):
    try:
        problem = resp.json()
        if not isinstance(problem, dict):
            raise ValueError
    except ValueError:  # not problem+json (libmicrohttpd's own pages: 413 from a proxy, 431, ...)
        problem = {"detail": resp.body[:200].decode("utf-8", "replace")}
    return api_error(resp.status, problem, resp.body, _retry_after(resp.headers.get("retry-after")))


class Client:
    """A connection to one scorerecon service.

    url: the service, e.g. "http://127.0.0.1:8080" (https and a path prefix behind a proxy work too).
    token: the bearer token (the server's --token-file), or None.
    timeout: seconds for the socket (connect, each read); a long-poll adds its wait to it.
    retries, retry_time, backoff, max_backoff: submissions and reads are retried on connection errors, 429 and
        503, at most `retries` more times and while the total time (waits included) stays within `retry_time`
        seconds; the wait before retry k (1, 2, ...) is backoff * 2**(k-1), at most max_backoff, and at least
        the server's Retry-After. A wait that would pass retry_time is not started: the last error is raised.
    sleep: the function that waits between retries (time.sleep; tests replace it).
    """

    def __init__(self, url="http://127.0.0.1:8080", token=None, timeout=30.0, retries=6, retry_time=120.0,
                 backoff=0.5, max_backoff=30.0):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("url must be http://HOST[:PORT][/PREFIX] or https://...: %r" % url)
        self.url = url
        self._conn_class = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        self._netloc = u.netloc
        self._prefix = u.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries, self.retry_time = retries, retry_time
        self.backoff, self.max_backoff = backoff, max_backoff
        self.sleep = time.sleep
        self.max_wait = None  # the server's --max-wait, once a long-poll has run into it

    def __repr__(self):
        return "Client(%r)" % self.url

    # ------------------------------------------------------------------------------------------- HTTP

    def _once(self, method, path, body, headers, timeout):
        conn = self._conn_class(self._netloc, timeout=timeout)
        try:
            conn.request(method, self._prefix + path, body=body, headers=headers)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def request(self, method, path, query=None, body=None, headers=None, retry=None, timeout=None):
        """One request (path below the url, e.g. "/v1/models"; query a dict or a list of pairs; body a dict
        sent as JSON, or bytes). Returns a Response (.status, .headers with lower-case names, .body, .json())
        for a 2xx/3xx answer and raises ApiError for any other. retry (default: GET only) retries connection
        errors, 429 and 503 as described in the class."""
        h = {"Accept": "application/json", "User-Agent": "scorerecon-python/0.1"}
        if self.token is not None:
            h["Authorization"] = "Bearer " + self.token
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        if query:
            path += "?" + urllib.parse.urlencode(query)
        if retry is None:
            retry = method in ("GET", "HEAD")
        start, attempt = time.monotonic(), 0
        while True:
            try:
                resp = self._once(method, path, body, h, self.timeout if timeout is None else timeout)
                if resp.status < 400:
                    return resp
                err = _error(resp)
                if not retry or resp.status not in (429, 503):
                    raise err
            except (OSError, http.client.HTTPException) as e:  # refused, reset, timed out, closed early
                err = ConnectionFailed("%s %s: %s" % (method, self.url + path, e))
                err.__cause__ = e
                if not retry:
                    raise err
            attempt += 1
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            delay = max(delay, getattr(err, "retry_after", None) or 0)
            if attempt > self.retries or time.monotonic() - start + delay > self.retry_time:
                raise err
            self.sleep(delay)

    def get_json(self, path, query=None, timeout=None):
        return self.request("GET", path, query, timeout=timeout).json()

    # ------------------------------------------------------------------------------------------- API

    def submit(self, job=None, idempotency_key=None, **fields):
        """Submits a job (POST /v1/jobs) and returns its Job.

        job: the job document (a dict); fields: top-level fields given directly or overriding job's
        (shape=, operator=, noise=, observation=, prior=, sampler=, num_samples=, seed=, ground_truth=,
        outputs=, labels=). numpy arrays may stand anywhere an ARRAY goes: they are sent as base64 float32,
        or complex64 for complex data. The request carries an Idempotency-Key (a new uuid4 unless given) and
        is retried with the same key and the same bytes, so a retry never makes a second job."""
        doc = encode_job(dict(job or {}, **fields))
        body = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
        key = idempotency_key or str(uuid.uuid4())
        info = self.request("POST", "/v1/jobs", body=body, retry=True,
                            headers={"Content-Type": "application/json", "Idempotency-Key": key}).json()
        return Job(self, info["id"], info)

    def job(self, job_id):
        """The Job of an id (nothing is fetched)."""
        return Job(self, job_id)

    def jobs(self, status=None, label=None, limit=None, page_size=100):
        """Yields the jobs (Job, with .info its listing entry), newest first, following every page.

        status: one status or a list of them; label: "key:value", a list of them, or a dict {key: value}
        (jobs carrying all of them); limit: at most this many jobs in all (None: all); page_size: jobs per
        request (1-1000)."""
        statuses = [status] if isinstance(status, str) else list(status or [])
        if isinstance(label, dict):
            labels = ["%s:%s" % kv for kv in label.items()]
        else:
            labels = [label] if isinstance(label, str) else list(label or [])
        cursor, n = None, 0
        while limit is None or n < limit:
            size = page_size if limit is None else min(page_size, limit - n)
            query = [("limit", size)] + [("status", s) for s in statuses] + [("label", s) for s in labels]
            if cursor:
                query.append(("cursor", cursor))
            page = self.get_json("/v1/jobs", query)
            for info in page["jobs"]:
                yield Job(self, info["id"], info)
                n += 1
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def models(self):
        """GET /v1/models: {"models": [...], "invalid": [...], "models_dir", "default_samplers"}."""
        return self.get_json("/v1/models")


class Job:
    """One job of a Client. .id; .info is the last status seen (a dict, or None before the first)."""

    def __init__(self, client, job_id, info=None):
        self.client, self.id, self.info = client, job_id, info

    def __repr__(self):
        return "<Job %s %s>" % (self.id, (self.info or {}).get("status", "?"))

    def _path(self, tail=""):
        return "/v1/jobs/" + urllib.parse.quote(self.id, safe="") + tail

    def status(self, wait=0):
        """The job's status (GET /v1/jobs/{id}): id, status, progress, attempts, labels, error, ...
        wait > 0 long-polls: the answer comes when the status changes or after `wait` whole seconds (at most
        the server's --max-wait, which the client learns from the server's 400 the first time it asks for more)."""
        while True:
            w = int(wait) if self.client.max_wait is None else min(int(wait), self.client.max_wait)
            try:
                self.info = self.client.get_json(self._path(), {"wait": w} if w > 0 else None,
                                                 timeout=self.client.timeout + w)
                return self.info
            except ClientError as e:
                if e.status != 400 or e.field != "wait" or w == 0:
                    raise
                m = re.search(r"from 0 to (\d+)", e.detail or "")
                self.client.max_wait = int(m.group(1)) if m and int(m.group(1)) < w else 0

    def wait(self, timeout=None, poll=30, raise_on_failure=True):
        """Waits until the job is final (succeeded, failed or cancelled) and returns its status, long-polling
        with ?wait= at most `poll` seconds at a time (less where the server's --max-wait is smaller).

        A failed job raises JobFailed (with the job's error) unless raise_on_failure is False; a cancelled one
        returns. After `timeout` seconds (None: no limit) it raises WaitTimeout, a TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise WaitTimeout(self, self.info)
            w = int(poll if remaining is None else min(poll, remaining))
            info = self.status(w)
            if info["status"] in FINAL:
                break
            if w == 0 or self.client.max_wait == 0:  # under a second left, or a server without long-polls
                time.sleep(min(0.25, remaining if remaining is not None else 0.25))
        if info["status"] == "failed" and raise_on_failure:
            raise JobFailed(self, info)
        return info

    def file(self, name):
        """The bytes of a result file: mean.npy, std.npy, samples.npy, mean.png or std.png."""
        return self.client.request("GET", self._path("/result/" + name)).body

    def result(self, document=True):
        """The result of a succeeded job (ApiError 409 "no-result" otherwise) as a Result: mean, std and
        samples from the .npy files (None where the job's outputs did not ask for one), and the result
        document without those three arrays (document=False skips fetching it: document is None)."""
        doc, names = None, OUTPUTS
        if document:
            doc = self.client.get_json(self._path("/result"))
            names = [n for n in OUTPUTS if doc.pop(n, None) is not None]
        arrays = {}
        for n in names:
            try:
                arrays[n] = np.load(io.BytesIO(self.file(n + ".npy")), allow_pickle=False)
            except NotFound as e:
                if e.field == "id":  # the job itself is gone
                    raise
        return Result(arrays.get("mean"), arrays.get("std"), arrays.get("samples"), doc)

    def document(self):
        """The job document (GET /v1/jobs/{id}/job), generated masks and kernels as ARRAYs: submitted again it
        gives the same result."""
        return self.client.get_json(self._path("/job"))

    def cancel(self):
        """Cancels a queued or running job and returns its status ("cancelled", or "running" while a running
        job stops: wait() for it). A job that is already final is left alone (its status is returned): the
        server's DELETE would purge it. If it turns final between that check and the DELETE, the DELETE purges
        it and cancel returns None."""
        info = self.status()
        if info["status"] in FINAL:
            return info
        r = self.client.request("DELETE", self._path())
        self.info = r.json() if r.status != 204 else None
        return self.info

    def delete(self):
        """Removes the job, its record and its result files (a queued or running job is cancelled first, and
        waited for). Afterwards the job answers NotFound."""
        r = self.client.request("DELETE", self._path())
        if r.status != 204:
            self.wait(raise_on_failure=False)
            self.client.request("DELETE", self._path())
        self.info = None
