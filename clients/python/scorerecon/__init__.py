"""Python client of the scorerecon HTTP service (stdlib and numpy only).

    import numpy as np, scorerecon
    c = scorerecon.Client("http://127.0.0.1:8080")
    job = c.submit(shape=[8, 8], operator={"type": "identity"}, noise={"sigma": 0.1},
                   observation=np.zeros((8, 8)), prior={"type": "gaussian", "std": 1})
    job.wait()
    print(job.result().mean)

See clients/python/README.md for the whole API.
"""
from .arrays import decode_array, encode_array, encode_job
from .client import FINAL, Client, Job, Response, Result
from .errors import (ApiError, ClientError, ConnectionFailed, InvalidJob, JobFailed, NotFound, ScorereconError,
                     ServerError, Unauthorized, WaitTimeout)

__version__ = "0.1.0"
__all__ = ["Client", "Job", "Result", "Response", "FINAL", "encode_array", "decode_array", "encode_job",
           "ScorereconError", "ApiError", "ClientError", "ServerError", "Unauthorized", "NotFound", "InvalidJob",
           "ConnectionFailed", "WaitTimeout", "JobFailed"]
