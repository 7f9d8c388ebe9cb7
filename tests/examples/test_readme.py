"""The README's snippets run as written (offline: the example YAMLs use simulated
models), and every file `sls report` reads is one an earlier command writes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def block(heading: str, lang: str, nth: int = 0) -> str:
    """The nth ```lang block of the README section under `heading`."""
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", section, re.S)[nth]


def run(tmp_path: Path, cmd: list[str]) -> subprocess.CompletedProcess:
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the README's paths are relative to the checkout
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `sls` of this venv
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("heading, prints", [("Use it from LangChain", "Paris"), ("Use it from LlamaIndex", "France"),
                                             ("State and stats", "'quality'")])
def test_python_snippets_run_as_written(tmp_path, heading, prints):
    done = run(tmp_path, [sys.executable, "-c", block(heading, "python")])
    assert done.returncode == 0, done.stderr[-3000:]
    assert prints in done.stdout


def test_sls_run_snippet_runs_as_written(tmp_path):
    done = run(tmp_path, ["bash", "-ec", block("Batch jobs: `sls run`", "bash")])
    assert done.returncode == 0, done.stderr[-3000:]
    answers = (tmp_path / "answers.jsonl").read_text().splitlines()
    assert len(answers) == 3 and (tmp_path / "summary.json").exists()


def test_sls_report_reads_only_files_the_readme_writes_first():
    commands = [line for line in README.splitlines() if line.startswith("sls ")]
    written: set[str] = set()
    for line in commands:
        if line.startswith("sls report"):
            reads = [w for w in line.split()[2:] if w.endswith(".json")]
            assert reads and set(reads) <= written, f"{line!r} reads {set(reads) - written} that no earlier line writes"
        written.update(re.findall(r"--out (\S+\.json)", line))
