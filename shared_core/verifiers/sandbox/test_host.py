"""The tests' process: reads the setup and the tests from stdin, calls the
answer's functions in the other process through proxies, and prints the verdict
as its last line. The answer's code never runs here.

    python -I test_host.py SOCKET_FD
"""

import importlib
import json
import os
import socket
import sys
import builtins

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402

sys.path.pop(0)


def _where(exc, src):
    tb, line = exc.__traceback__, ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<tests>":
            lines = src.splitlines()
            if 0 < tb.tb_lineno <= len(lines):
                line = f" at line {tb.tb_lineno}: {lines[tb.tb_lineno - 1].strip()[:160]}"
        tb = tb.tb_next
    return line


def _proxy(chan, name, kind):
    def call(*args, **kwargs):
        wire.send(chan, {"call": name, "args": wire.encode(list(args)), "kwargs": wire.encode(kwargs)})
        reply = wire.receive(chan)
        if "raised" in reply:
            cls = getattr(builtins, reply["raised"], None)
            if not (isinstance(cls, type) and issubclass(cls, Exception)):
                cls = RuntimeError
            raise cls(reply["message"])
        return wire.decode(reply["value"])

    async def acall(*args, **kwargs):
        return call(*args, **kwargs)

    return acall if kind == "async" else call


def verdict(passed, error=""):
    sys.stdout.flush()
    sys.stdout.write("\n" + json.dumps({"passed": passed, "error": error[:400]}) + "\n")
    sys.stdout.flush()
    os._exit(0)


def main():
    job = json.loads(sys.stdin.read())
    chan = socket.socket(fileno=int(sys.argv[1])).makefile("rwb")
    try:
        hello = wire.receive(chan)
    except EOFError as exc:
        verdict(False, str(exc))
    if "failed" in hello:
        verdict(False, hello["failed"])
    ns = {"__name__": "tests"}
    for alias, module in hello.get("modules", {}).items():  # imported here from our own path, not the code's
        try:
            ns[alias] = importlib.import_module(module)
        except Exception:
            pass
    exec(compile(job["setup"], "<setup>", "exec"), ns)
    ns.update({name: _proxy(chan, name, kind) for name, kind in hello["names"].items()})
    try:
        exec(compile(job["tests"], "<tests>", "exec"), ns)
    except BaseException as exc:
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        verdict(False, f"tests: {type(exc).__name__}{': ' + msg if msg else ''}{_where(exc, job['tests'])}")
    verdict(True)


main()
