"""The declared floors of the adapters' frameworks work: a virtual environment with
exactly the lowest langchain-core and llama-index-core that pyproject.toml allows,
both adapters imported there and each answers a routed call.

The environment is built once per (pyproject.toml, Python) and kept under the user
cache dir ($XDG_CACHE_HOME/sls/floors, else ~/.cache/sls/floors), so a second run
takes seconds; the first takes minutes. Without the package registry the test is
skipped with the reason. Alone: python -m pytest tests/test_floors.py
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")

ROOT = Path(__file__).resolve().parents[1]
FLOORS = {"langchain": "langchain-core", "llamaindex": "llama-index-core"}  # extra -> framework

SMOKE = """
import sys
from importlib.metadata import version

import langchain_sls.chat_models, llama_index_sls.llm  # noqa: F401  (what the floors must import)
from langchain_sls import SmartRouterLLM as LangChainRouter
from llama_index_sls import SmartRouterLLM as LlamaIndexRouter

examples = sys.argv[1]
with LangChainRouter.from_config(f"{examples}/router.yaml") as router:
    msg = router.invoke("What is the capital of France?")
    assert msg.content and msg.response_metadata["sls_model"], msg
with LlamaIndexRouter.from_config(f"{examples}/llamaindex_router.yaml", simulated=True) as llm:
    response = llm.complete("What is the capital of France?")
    assert response.text and response.additional_kwargs["sls"]["sls_model"], response
print("langchain-core", version("langchain-core"), "llama-index-core", version("llama-index-core"))
"""


def declared_floors() -> dict[str, str]:
    """{distribution: lowest version} of the framework extras in pyproject.toml."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    floors = {}
    for extra, dist in FLOORS.items():
        spec = next(s for s in extras[extra] if re.match(rf"{dist}\s*>=", s))
        floors[dist] = spec.split(">=", 1)[1].split(",")[0].strip()
    return floors


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sls" / "floors"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def pip(venv: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv_python(venv)), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=1500)


def build_floor_venv(floors: dict[str, str]) -> Path:
    """The cached environment with the floors and this checkout installed (editable, so
    the code is today's). A folder without the marker of a finished build is rebuilt."""
    key = hashlib.sha256(f"{(ROOT / 'pyproject.toml').read_text()}|{ROOT}|{sys.version}".encode()).hexdigest()[:16]
    name = "-".join(f"{d}{v}" for d, v in floors.items())
    venv = cache_root() / f"{name}-py{sys.version_info.major}{sys.version_info.minor}-{key}"
    built = venv / "sls-floors-built"
    if built.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    pinned = [f"{d}=={v}" for d, v in floors.items()]
    probe = next(iter(floors))  # its latest release: the registry answers at all, or we skip (not a floor's fault)
    with tempfile.TemporaryDirectory() as folder:
        reach = pip(venv, "download", "--no-deps", "-q", "-d", folder, probe)
    if reach.returncode:
        last = (reach.stderr or reach.stdout).strip().splitlines()[-1:]
        pytest.skip(f"package registry unreachable: pip download {probe} failed: {last}")
    done = pip(venv, "install", "-q", "-e", str(ROOT), *pinned)
    assert done.returncode == 0, f"the declared floors do not install together:\n{done.stderr[-3000:]}"
    built.write_text(" ".join(pinned) + "\n")
    return venv


def test_adapters_work_at_the_declared_floors(tmp_path):
    floors = declared_floors()
    venv = build_floor_venv(floors)
    run = subprocess.run([str(venv_python(venv)), "-c", SMOKE, str(ROOT / "examples")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    assert run.stdout.split() == ["langchain-core", floors["langchain-core"], "llama-index-core",
                                  floors["llama-index-core"]], run.stdout
