"""Checks generated Python code by running it against asserts in a subprocess.

This is a guard against accidents (an answer that loops forever, eats memory or
calls the network), NOT a security sandbox: the child runs with the caller's
user and file-system rights, and determined code can undo every guard. Run
untrusted answers in a container or VM if that matters.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

from ..request import Request
from .base import Verifier

log = logging.getLogger(__name__)

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_PY_TAGS = {"", "python", "python3", "py"}
_OK_MARK = "SLS_OK_"  # + a per-run nonce: a stray sys.exit(0) before the tests must not count as a pass
_TAIL = 4096  # bytes of child output kept for the error message


def extract_code(answer: str) -> str:
    """The code in an answer: all ```python / ```py / untagged fenced blocks joined
    in order (an unclosed last fence, as in a truncated reply, runs to the end);
    blocks tagged with another language (bash, text, ...) are skipped. Without any
    such block the whole answer is taken as code. Example-usage blocks are not
    filtered out, so they run too."""
    blocks = [body for tag, body in _FENCE.findall(answer) if tag.lower() in _PY_TAGS]
    if blocks:
        return "\n\n".join(b.strip("\n") for b in blocks) + "\n"
    return answer.strip("\n") + "\n"


@dataclass
class TestRun:
    """Outcome of one run: `error` is a short reason when it did not pass."""

    __test__ = False  # not a pytest test class despite the name

    passed: bool
    timed_out: bool = False
    error: str = ""
    duration_s: float = 0.0


# Runs in the child before any user code. Limits are set here rather than in a
# preexec_fn, which the subprocess docs call unsafe when the parent has threads.
_PRELUDE = r'''
import os, socket, sys, traceback
_nonce = os.environ.pop("SLS_NONCE", "")
try:
    import resource
    def _limit(kind, soft):
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(kind, (soft, hard))
    _limit(resource.RLIMIT_AS, {mem})
    _limit(resource.RLIMIT_CPU, {cpu})
    _limit(resource.RLIMIT_FSIZE, 64 * 2**20)
except (ImportError, ValueError, OSError):
    pass  # not POSIX, or the limit cannot be lowered: the wall-clock timeout still applies

def _no_net(*a, **k):
    raise OSError("network disabled by PythonTestsVerifier")

class _Socket(socket.socket):
    # Only wrapping an existing fd (socketpair, as asyncio's event loop needs) or
    # AF_UNIX is allowed; creating an inet socket raises.
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None and family != getattr(socket, "AF_UNIX", object()):
            _no_net()
        super().__init__(family, type, proto, fileno)

socket.socket = socket.SocketType = _Socket
socket.create_connection = socket.getaddrinfo = _no_net

def _run(name, src, ns):
    try:
        exec(compile(src, "<" + name + ">", "exec"), ns)
    except BaseException as e:
        where = ""
        for fr in traceback.extract_tb(e.__traceback__):
            if fr.filename == "<" + name + ">":
                lines = src.splitlines()
                if 0 < fr.lineno <= len(lines):
                    where = " at line %d: %s" % (fr.lineno, lines[fr.lineno - 1].strip()[:160])
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        sys.stdout.flush()
        sys.stderr.write("\nSLS_FAIL %s: %s%s%s\n" % (name, type(e).__name__, ": " + msg if msg else "", where))
        sys.stderr.flush()
        os._exit(1)

_ns = {{"__name__": "solution"}}
for _name in ("setup", "code", "tests"):
    with open(_name + ".py", encoding="utf-8") as _f:
        _run(_name, _f.read(), _ns)
sys.stdout.flush()
sys.stderr.write("\n{mark}" + _nonce + "\n")
sys.stderr.flush()
os._exit(0)
'''


def run_tests(code: str, tests: str | list[str], setup: str = "", timeout_s: float = 10.0,
              memory_bytes: int = 2 * 2**30) -> TestRun:
    """Run `setup`, then `code`, then `tests` in one namespace in a fresh
    `python -I` child (temp dir as cwd, minimal env, no network, resource limits).

    The namespace's `__name__` is "solution", so `if __name__ == "__main__":` demo
    blocks in answers do not run. Passes only if every phase finishes.
    """
    if isinstance(tests, (list, tuple)):
        tests = "\n".join(tests)
    nonce = secrets.token_hex(8)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sls_pytests_") as tmp:
        for name, src in (("setup", setup or ""), ("code", code), ("tests", tests)):
            with open(os.path.join(tmp, name + ".py"), "w", encoding="utf-8") as f:
                f.write(src)
        runner = os.path.join(tmp, "_sls_runner.py")
        with open(runner, "w", encoding="utf-8") as f:
            f.write(_PRELUDE.format(mem=int(memory_bytes), cpu=math.ceil(timeout_s) + 1, mark=_OK_MARK))
        env = {"PATH": os.defpath, "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8", "SLS_NONCE": nonce}
        if os.name == "nt":  # Python needs these to start on Windows
            env.update({k: os.environ[k] for k in ("SYSTEMROOT", "SYSTEMDRIVE") if k in os.environ})
        # Output goes to a file, not a pipe: nothing can block on a full pipe, and
        # lingering grandchildren holding it open cannot stall us.
        out_path = os.path.join(tmp, "_out.txt")
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-I", runner], cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=(os.name == "posix"))
            timed_out = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)  # also reaps anything the answer left running
        with open(out_path, "rb") as f:
            f.seek(max(0, os.path.getsize(out_path) - _TAIL))
            tail = f.read().decode("utf-8", "replace")
    duration = time.monotonic() - start
    if timed_out:
        return TestRun(False, True, f"timed out after {timeout_s:g}s", duration)
    if proc.returncode == 0 and (_OK_MARK + nonce) in tail:
        return TestRun(True, False, "", duration)
    return TestRun(False, False, _reason(tail, proc.returncode), duration)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass  # already gone
    proc.wait()


def _reason(tail: str, returncode: int | None) -> str:
    fails = [ln for ln in tail.splitlines() if ln.startswith("SLS_FAIL ")]
    if fails:
        return fails[-1][len("SLS_FAIL "):][:400]
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name} (resource limit?)"
        except ValueError:
            return f"killed by signal {-returncode}"
    last = [ln for ln in tail.splitlines() if ln.strip()]
    return (f"exited with code {returncode} before the tests finished"
            + (f": {last[-1].strip()[:200]}" if last else ""))


class PythonTestsVerifier(Verifier):
    """1.0 if the answer's code passes the request's asserts, 0.0 if not, None if
    the request has no tests (or the run itself could not start).

    Tests come from `request.metadata["tests"]` (code string or list of asserts),
    else from `tests_for(request)`; optional `request.metadata["test_setup"]` runs
    first (imports, helpers). The answer must contain complete code (e.g. the
    whole function, not only its body).
    """

    name = "python_tests"

    def __init__(self, tests_for: Callable[[Request], str | list[str] | None] | None = None,
                 timeout_s: float = 10.0, memory_bytes: int = 2 * 2**30,
                 tasks: tuple[str, ...] | list[str] = ()):
        super().__init__(tasks)
        self.tests_for = tests_for
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes

    def tests_of(self, request: Request) -> str | list[str] | None:
        tests = request.metadata.get("tests")
        if not tests and self.tests_for is not None:
            tests = self.tests_for(request)
        return tests or None

    def verify(self, request: Request, answer: str) -> float | None:
        tests = self.tests_of(request)
        if tests is None:
            return None
        try:
            run = run_tests(extract_code(answer), tests, request.metadata.get("test_setup") or "",
                            timeout_s=self.timeout_s, memory_bytes=self.memory_bytes)
        except OSError as e:  # could not write the temp dir or start Python: cannot tell
            log.warning("python_tests: could not run tests: %s", e)
            return None
        return 1.0 if run.passed else 0.0
