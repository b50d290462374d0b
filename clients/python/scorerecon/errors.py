"""The exceptions the client raises. Everything it raises on purpose is a ScorereconError."""


class ScorereconError(Exception):
    """Base class of every error of this package."""


class ConnectionFailed(ScorereconError, ConnectionError):
    """The server could not be reached (or the connection broke) and the retries, if any, ran out."""


class WaitTimeout(ScorereconError, TimeoutError):
    """Job.wait() ran past its timeout; .job is the Job, .info its last status."""

    def __init__(self, job, info):
        super().__init__("job %s is still %s" % (job.id, (info or {}).get("status")))
        self.job, self.info = job, info


class JobFailed(ScorereconError):
    """The job ended with status "failed"; .error is its {"detail", "field"}, .info the whole status."""

    def __init__(self, job, info):
        self.job, self.info = job, info
        self.error = info.get("error") or {}
        self.detail, self.field = self.error.get("detail"), self.error.get("field")
        super().__init__("job %s failed: %s" % (job.id, self.detail))


class ApiError(ScorereconError):
    """An HTTP error answer (status >= 400), from its application/problem+json body.

    .status (int), .type (the full URN, e.g. "urn:scorerecon:problem:invalid-job"), .problem (its slug,
    "invalid-job"), .title, .detail, .field (the job path, header or query parameter at fault, or None),
    .retry_after (seconds, from Retry-After, or None), .body (the body as bytes)."""

    def __init__(self, status, problem, body=b"", retry_after=None):
        self.status = status
        self.type = problem.get("type")
        self.problem = self.type.rsplit(":", 1)[-1] if self.type else None
        self.title = problem.get("title")
        self.detail = problem.get("detail")
        self.field = problem.get("field")
        self.retry_after = retry_after
        self.body = body
        msg = "%d %s" % (status, self.problem or self.title or "error")
        if self.detail:
            msg += ": " + self.detail
        super().__init__(msg)


class ClientError(ApiError):
    """A 4xx answer: the request is at fault."""


class ServerError(ApiError):
    """A 5xx answer: the server is at fault (or stopping, or out of space)."""


class Unauthorized(ClientError):
    """401: no token, or the wrong one."""


class NotFound(ClientError):
    """404: no such job (deleted, or past the server's retention), path or result file."""


class InvalidJob(ClientError):
    """422: the job document breaks a rule (.field names it), a limit, or an Idempotency-Key was reused."""


_BY_STATUS = {401: Unauthorized, 404: NotFound, 422: InvalidJob}


def api_error(status, problem, body=b"", retry_after=None):
    """The ApiError subclass for an HTTP status."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ClientError)
    return cls(status, problem, body, retry_after)
