"""Checks generated Python code by running it against asserts, in two processes.

The answer's code runs in one process and the tests in another, which calls the
code's functions across a socket and alone decides the verdict: code cannot
patch the test runner, skip the tests or print a pass. The code's process has
no network (a network namespace of its own where the kernel allows one), its
own temp dir, memory/CPU/file-size limits, and everything it starts is killed.

This guards against accidents and cheating answers (loops, memory hogs, network
calls, faked passes, leftover processes), NOT against an attacker: the code
still runs as the caller's user and can read (and write) whatever that user
can outside its temp dir. Run untrusted answers in a container or VM if that
matters (README: "Reliability and security").
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..request import Request
from .base import Verifier

log = logging.getLogger("sls.verifiers.python_tests")

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_PY_TAGS = {"", "python", "python3", "py"}


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


_SANDBOX = Path(__file__).resolve().parent / "sandbox"


def run_tests(code: str, tests: str | list[str], setup: str = "", timeout_s: float = 10.0,
              memory_bytes: int = 2 * 2**30) -> TestRun:
    """Run `setup` and `code` in one process and `tests` (after `setup`) in another,
    which calls the code's functions across a socket; the verdict is the tests'
    process's, read here. The code's namespace `__name__` is "solution", so
    `if __name__ == "__main__":` demo blocks in answers do not run.

    The code's process: `python -I`, its own temp dir as cwd, a minimal env, no
    network (its own network namespace where the kernel allows), memory, CPU and
    file-size limits, and every process it starts killed at the end (setsid()
    included). Values cross as plain data (numbers, strings, containers), so a
    test can only see what the code returned, never an object it made.
    """
    if isinstance(tests, (list, tuple)):
        tests = "\n".join(tests)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sls_code_") as code_dir, \
            tempfile.TemporaryDirectory(prefix="sls_tests_") as tests_dir:
        for name, src in (("setup", setup or ""), ("code", code)):
            with open(os.path.join(code_dir, name + ".py"), "w", encoding="utf-8") as f:
                f.write(src)
        ours, theirs = socket.socketpair()
        try:
            host = [sys.executable, "-I", str(_SANDBOX / "code_host.py"), str(theirs.fileno()), str(int(memory_bytes)),
                    str(math.ceil(timeout_s) + 1)]
            reaper = _start([sys.executable, "-I", str(_SANDBOX / "reaper.py"), str(theirs.fileno()), *host],
                            code_dir, theirs.fileno(), stdout=subprocess.DEVNULL)
            tester = _start([sys.executable, "-I", str(_SANDBOX / "test_host.py"), str(ours.fileno())],
                            tests_dir, ours.fileno(), stdout=subprocess.PIPE)
        finally:
            ours.close()
            theirs.close()
        timed_out, out = False, b""
        try:
            out, _ = tester.communicate(json.dumps({"setup": setup or "", "tests": tests}).encode(),
                                        timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _stop(tester, reaper)
    duration = time.monotonic() - start
    if timed_out:
        return TestRun(False, True, f"timed out after {timeout_s:g}s", duration)
    verdict = _verdict(out.decode("utf-8", "replace"))
    return TestRun(bool(verdict.get("passed")), False, verdict.get("error", ""), duration)


def _start(cmd: list[str], cwd: str, fd: int, stdout: int) -> subprocess.Popen:
    env = {"PATH": os.defpath, "HOME": cwd, "TMPDIR": cwd, "LANG": "C.UTF-8"}
    if os.name == "nt":  # Python needs these to start on Windows
        env.update({k: os.environ[k] for k in ("SYSTEMROOT", "SYSTEMDRIVE") if k in os.environ})
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=stdout,
                            stderr=subprocess.STDOUT if stdout == subprocess.PIPE else subprocess.DEVNULL,
                            pass_fds=(fd,), start_new_session=(os.name == "posix"))


def _stop(tester: subprocess.Popen, reaper: subprocess.Popen) -> None:
    """The tests' process, then the code's whole tree (the reaper kills it when its
    stdin closes), then the reaper itself if it did not exit."""
    _kill_group(tester)
    try:
        reaper.stdin.close()
        reaper.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        pass
    _kill_group(reaper)


def _verdict(out: str) -> dict:
    for line in reversed(out.strip().splitlines()):
        try:
            verdict = json.loads(line)
        except ValueError:
            continue
        if isinstance(verdict, dict) and "passed" in verdict:
            return verdict
        break
    tail = [ln for ln in out.splitlines() if ln.strip()]
    return {"passed": False, "error": "the tests' process failed" + (f": {tail[-1][:200]}" if tail else "")}


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass  # already gone
    proc.wait()


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
