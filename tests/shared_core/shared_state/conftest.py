"""A real redis-server on a free 127.0.0.1 port, started and stopped by the tests.

`.ci/run` installs the Debian package where it is missing; without a server
binary or the client the Redis tests skip, saying which is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


class RedisServer:
    """One redis-server process without persistence; `kill` and `start` again on the same port."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.poll() is not None else "no answer in 10 s"
                    self.kill()
                    pytest.skip(f"redis-server could not be started on 127.0.0.1:{self.port}: {err[:200]}")
                time.sleep(0.02)
            finally:
                client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(workdir: Path) -> RedisServer:
    pytest.importorskip("redis", reason="the Redis client is not installed: pip install 'sls[redis]'")
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH (bash .ci/run installs the Debian package redis-server)")
    return RedisServer(workdir)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = _server(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.kill()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own, for tests that kill it."""
    server = _server(tmp_path).start()
    yield server
    server.kill()


@pytest.fixture
def prefix() -> str:
    """A key namespace no other test shares."""
    return f"t{uuid.uuid4().hex[:10]}"
