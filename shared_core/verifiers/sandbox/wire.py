"""Values between the answer's process and the tests' process, as tagged JSON
lines: plain data only (no pickle, no objects), so no behaviour crosses over."""

import ast
import json
import math

_SCALARS = (type(None), bool, int, str)


def encode(value):
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, float):
        return {"float": repr(value)} if not math.isfinite(value) else value
    if isinstance(value, (list, tuple, set, frozenset)):
        return {type(value).__name__: [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, (bytes, complex)):
        return {type(value).__name__: repr(value)}
    raise TypeError(f"a {type(value).__name__} cannot leave the answer's process (plain data only)")


_KINDS = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}


def decode(value):
    if not isinstance(value, dict):
        return value
    (kind, body), = value.items()
    if kind in _KINDS:
        return _KINDS[kind](decode(v) for v in body)
    if kind == "dict":
        return {decode(k): decode(v) for k, v in body}
    if kind == "float":
        return float(body)
    if kind in ("bytes", "complex"):
        return ast.literal_eval(body)
    raise ValueError(f"unknown wire kind {kind!r}")


def send(fh, message):
    fh.write(json.dumps(message).encode() + b"\n")
    fh.flush()


def receive(fh):
    line = fh.readline()
    if not line:
        raise EOFError("the answer's process ended before the tests finished "
                       "(it exited, crashed or hit a resource limit)")
    return json.loads(line)
