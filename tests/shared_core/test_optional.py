"""The extras: the engine runs without the adapters' frameworks, scikit-learn and
scipy, and a missing framework is named with the pip install that brings it.
Each case runs in a subprocess where the missing packages cannot be imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared_core.errors import SLSError
from shared_core.optional import MissingDependency, require

BLOCK = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None  # import of it fails, as if not installed\n"
FRAMEWORKS = ["langchain_core", "langchain", "llama_index", "llama_index.core"]


def run_without(names: list[str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK.format(names=names) + code], capture_output=True,
                          text=True, timeout=300)


def test_require_names_the_extra():
    with pytest.raises(MissingDependency, match=r"sls bench --ceiling needs scikit-learn, which is not installed: "
                                                r"pip install 'sls\[bench\]'") as info:
        require("no_such_module_sls", "scikit-learn", "bench", "sls bench --ceiling")
    assert isinstance(info.value, ImportError) and isinstance(info.value, SLSError)
    require("numpy", "numpy", "core", "the engine")  # installed: no error


@pytest.mark.parametrize("package, blocked, extra", [("langchain_sls", ["langchain_core"], "langchain"),
                                                     ("llama_index_sls", ["llama_index", "llama_index.core"],
                                                      "llamaindex")])
def test_an_adapter_without_its_framework_says_what_to_install(package, blocked, extra):
    done = run_without(blocked, f"import {package}")
    assert done.returncode != 0
    assert f"{package} needs" in done.stderr and f"pip install 'sls[{extra}]'" in done.stderr, done.stderr[-2000:]


def test_the_engine_runs_without_frameworks_scikit_learn_or_scipy(tmp_path):
    code = ("from shared_core.cli import main\n"
            f"raise SystemExit(main(['demo', '--queries', '60', '--state', {str(tmp_path)!r}]))\n")
    done = run_without(FRAMEWORKS + ["sklearn", "scipy"], code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "always sim-large" in done.stdout


def test_a_bench_with_baselines_stops_before_running_without_scikit_learn():
    done = run_without(["sklearn"], "from shared_core.cli import main\n"
                                    "raise SystemExit(main(['bench', 'codegen', '--limit', '5']))\n")
    if "no data" in done.stderr or "SLS_DATA" in done.stderr:
        pytest.skip("shared replay data not found")
    assert done.returncode == 2 and "pip install 'sls[bench]'" in done.stderr, done.stderr[-2000:]
