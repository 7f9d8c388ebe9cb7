"""State that saves itself: on a timer, at exit, and leaving a `with` block;
two processes in a row, the second starts warm."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from shared_core import Engine, Request, SimulatedCandidate, SLSConfig
from shared_core.storage import open_store

ROOT = Path(__file__).resolve().parents[2]


def config(state: Path) -> SLSConfig:
    return SLSConfig.from_dict({"candidates": [{"name": "m", "price_in": 1.0, "price_out": 1.0}],
                                "state": {"path": str(state)}})


def engine(state: Path) -> Engine:
    cfg = config(state)
    return Engine(cfg, [SimulatedCandidate(cfg.candidate("m"), lambda r, rng: f"answer to {r.query}")])


def ask(text: str) -> Request:
    return Request(messages=[{"role": "user", "content": text}])


def test_the_timer_saves_changed_state_without_save_or_close(tmp_path, monkeypatch):
    monkeypatch.setattr(Engine, "autosave_s", 0.05)
    eng = engine(tmp_path / "state")
    eng.feedback(eng.run(ask("what is two plus two")).request_id, 1.0)
    deadline = time.monotonic() + 30
    while open_store(str(tmp_path / "state"), "local").get("state.json") is None and time.monotonic() < deadline:
        time.sleep(0.02)
    warm = engine(tmp_path / "state")  # a second engine, as a restarted process would build it
    assert warm.run(ask("what is two plus two")).tier == "exact" and warm.updater.events == 1
    eng.close()
    warm.close()


def test_leaving_a_with_block_saves_and_a_second_close_is_harmless(tmp_path):
    with engine(tmp_path / "state") as eng:
        eng.run(ask("name a prime number"))
    eng.close()
    with engine(tmp_path / "state") as warm:
        assert warm.run(ask("name a prime number")).tier == "exact"


def test_no_store_no_autosave(tmp_path):
    cfg = SLSConfig.from_dict({"candidates": [{"name": "m", "price_in": 1.0, "price_out": 1.0}]})
    assert Engine(cfg)._autosave is None


def test_two_runs_of_the_langchain_example_the_second_starts_warm(tmp_path):
    """The issue's report: with `state:` set, every run of examples/langchain_chain.py started cold."""
    data = yaml.safe_load((ROOT / "examples" / "router.yaml").read_text())
    data["state"] = {"path": str(tmp_path / "state")}
    cfg = tmp_path / "router.yaml"
    cfg.write_text(yaml.safe_dump(data))
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    runs = [subprocess.run([sys.executable, str(ROOT / "examples" / "langchain_chain.py"), str(cfg)], env=env,
                           capture_output=True, text=True, timeout=300) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    first_tier = [re.search(r"== chain.invoke\n.*\n.*cache: (\w+)", r.stdout).group(1) for r in runs]
    assert first_tier == ["none", "exact"]


def test_a_process_that_never_saves_is_saved_at_exit(tmp_path):
    script = ("from shared_core import Engine, Request, SimulatedCandidate, SLSConfig\n"
              "cfg = SLSConfig.from_dict({{'candidates': [{{'name': 'm', 'price_in': 1.0, 'price_out': 1.0}}],\n"
              "                           'state': {{'path': {state!r}}}}})\n"
              "eng = Engine(cfg, [SimulatedCandidate(cfg.candidate('m'), lambda r, rng: f'answer to {{r.query}}')])\n"
              "ask = Request(messages=[{{'role': 'user', 'content': 'what is the boiling point of water'}}])\n"
              "eng.feedback(eng.run(ask).request_id, 1.0)  # and no save(), no close()\n"
              ).format(state=str(tmp_path / "state"))
    assert subprocess.run([sys.executable, "-c", script], timeout=300).returncode == 0
    with engine(tmp_path / "state") as warm:
        assert warm.updater.events == 1 and warm.run(ask("what is the boiling point of water")).tier == "exact"
