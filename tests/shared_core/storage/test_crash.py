"""kill -9 a process in the middle of saves while another process reads: every
read gets one whole save (both backends), and the state still opens afterwards."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from shared_core.storage import load_arrays, open_store

WRITER = """
import json, sys
import numpy as np
from shared_core.storage import dump_arrays, open_store
store = open_store(sys.argv[1], sys.argv[2])
i = int(sys.argv[3])
print("ready", flush=True)
while True:
    i += 1
    store.put_many({"state.json": json.dumps({"i": i, "pad": "x" * (i % 5000)}).encode(),
                    "arrays.npz": dump_arrays({"v": np.full(1 + i % 3000, i)})})
"""


def _whole(blobs) -> int | None:
    if blobs["state.json"] is None:
        return None
    i = json.loads(blobs["state.json"])["i"]
    v = load_arrays(blobs["arrays.npz"])["v"]
    assert len(v) == 1 + i % 3000 and (v == i).all(), f"save {i} read with arrays of save {v[0]}"
    return i


@pytest.mark.parametrize("backend", ["local", "sqlite"])
def test_reads_during_killed_saves_always_see_one_whole_save(tmp_path, backend):
    path = str(tmp_path / ("state" if backend == "local" else "state.sqlite"))
    rng = random.Random(0)
    reader = open_store(path, backend)
    seen, reads, kills = 0, 0, 0
    for kill in range(3):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, path, backend, str(kill * 10**6)],
                                  stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + rng.uniform(0.1, 0.4)
        while time.monotonic() < deadline:
            got = _whole(reader.get_many(["state.json", "arrays.npz"]))
            assert got is not None or seen == 0  # never empty once something was saved
            seen = max(seen, got or 0)
            reads += 1
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        kills += 1
        assert _whole(open_store(path, backend).get_many(["state.json", "arrays.npz"])) is not None
    reader.close()
    assert kills == 3 and reads > 20 and seen > 0
