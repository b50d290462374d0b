"""ARRAYs of the job and result documents (docs/job-format.md, "ARRAY") to and from numpy."""
import base64

import numpy as np


def encode_array(a):
    """A numpy array (or anything numpy.asarray takes) as a base64 ARRAY: complex data as "complex64"
    (interleaved little-endian float32 re, im), everything else as "float32"."""
    a = np.asarray(a)
    dtype, np_dtype = ("complex64", "<c8") if np.iscomplexobj(a) else ("float32", "<f4")
    data = np.ascontiguousarray(a, dtype=np_dtype).tobytes()
    return {"dtype": dtype, "shape": list(a.shape), "data": base64.b64encode(data).decode("ascii")}


def decode_array(obj):
    """An ARRAY as numpy: a base64 ARRAY gives float32 or complex64 of its shape; nested lists give float32
    (a complex field in list form, [re, im] pairs, comes back with a last axis of 2)."""
    if isinstance(obj, dict):
        np_dtype = {"float32": "<f4", "complex64": "<c8"}[obj["dtype"]]
        data = base64.b64decode(obj["data"], validate=True)
        return np.frombuffer(data, dtype=np_dtype).reshape(obj["shape"]).copy()
    return np.asarray(obj, dtype=np.float32)


def encode_job(obj):
    """A copy of a job document with every numpy array replaced by its base64 ARRAY and numpy scalars by
    Python numbers (a 0-d array is a number: the service wants at least one dimension for an ARRAY)."""
    if isinstance(obj, np.ndarray):
        return obj.item() if obj.ndim == 0 else encode_array(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: encode_job(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode_job(v) for v in obj]
    return obj
