"""The answer's process: limits and isolation first, then the setup and the
answer's code, then it serves calls of the code's functions from the tests'
process over the socket it was given. Nothing it prints or returns is a verdict.

    python -I code_host.py SOCKET_FD MEMORY_BYTES CPU_SECONDS
"""

import asyncio
import ctypes
import inspect
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402

_FD, _MEM, _CPU = (int(a) for a in sys.argv[1:4])
sys.path.pop(0)
sys.path.insert(0, os.getcwd())


def _limits():
    try:
        import resource
    except ImportError:
        return
    for kind, soft in ((resource.RLIMIT_AS, _MEM), (resource.RLIMIT_CPU, _CPU),
                       (resource.RLIMIT_FSIZE, 64 * 2**20), (resource.RLIMIT_CORE, 0)):
        try:
            _, hard = resource.getrlimit(kind)
            resource.setrlimit(kind, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
        except (ValueError, OSError):
            pass  # cannot be lowered here: the wall-clock timeout still applies


def _no_network():
    """A network namespace of its own (no interfaces: nothing gets out, whatever the
    code uses: _socket, ctypes, a subprocess); where the kernel refuses one, socket
    creation is blocked in Python (a guard that determined code can undo)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for flags in (0x40000000, 0x40000000 | 0x10000000):  # CLONE_NEWNET, + CLONE_NEWUSER
            if libc.unshare(flags) == 0:
                break
    except (OSError, AttributeError):
        pass

    def refuse(*a, **k):
        raise OSError("network disabled by PythonTestsVerifier")

    class _Socket(socket.socket):  # wrapping an fd (socketpair, asyncio) and AF_UNIX stay allowed
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
            if fileno is None and family != getattr(socket, "AF_UNIX", object()):
                refuse()
            super().__init__(family, type, proto, fileno)

    socket.socket = socket.SocketType = _Socket
    socket.create_connection = socket.getaddrinfo = refuse


def _failure(phase, exc, src):
    line = ""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<" + phase + ">":
            lines = src.splitlines()
            if 0 < tb.tb_lineno <= len(lines):
                line = f" at line {tb.tb_lineno}: {lines[tb.tb_lineno - 1].strip()[:160]}"
        tb = tb.tb_next
    msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{phase}: {type(exc).__name__}{': ' + msg if msg else ''}{line}"


def main():
    chan = socket.socket(fileno=_FD).makefile("rwb")
    _limits()
    _no_network()
    ns = {"__name__": "solution"}
    for phase in ("setup", "code"):
        with open(phase + ".py", encoding="utf-8") as fh:
            src = fh.read()
        try:
            exec(compile(src, "<" + phase + ">", "exec"), ns)
        except BaseException as exc:  # SystemExit too: an exit is not a definition
            wire.send(chan, {"failed": _failure(phase, exc, src)})
            return
    names = {k: ("async" if inspect.iscoroutinefunction(v) else "call")
             for k, v in ns.items() if callable(v) and not inspect.isclass(v) and not k.startswith("__")}
    modules = {k: v.__name__ for k, v in ns.items() if inspect.ismodule(v)}  # the tests may use them too
    wire.send(chan, {"names": names, "modules": modules})
    while True:
        try:
            msg = wire.receive(chan)
        except EOFError:
            return
        try:
            fn = ns[msg["call"]]
            args = wire.decode(msg["args"])
            kwargs = wire.decode(msg["kwargs"])
            result = asyncio.run(fn(*args, **kwargs)) if names[msg["call"]] == "async" else fn(*args, **kwargs)
            reply = {"value": wire.encode(result)}
        except BaseException as exc:
            reply = {"raised": type(exc).__name__, "message": _failure("code", exc, "")}
        wire.send(chan, reply)


main()
os._exit(0)
