"""sls bench route: one row per size, the whole plan() path measured, probes reported."""

from __future__ import annotations

import json

from shared_core.bench import route
from shared_core.bench.scale import load_corpus


def test_route_bench_prints_a_row_per_size_with_every_figure(tmp_path, capsys):
    out = tmp_path / "route.json"
    # the adapters' real probes take ~25 s each; discovery is tested below with a distribution of its own
    assert route.main("300,900", observations=500, out=str(out), quiet=True, probes=False) == 0
    result = json.loads(out.read_text())
    rows = result["sizes"]
    assert [(r["entries"], r["observations"]) for r in rows] == [(300, 300), (900, 500)]
    for r in rows:
        assert r["miss_share"] == 1.0  # novel lines: the whole path ran, no tier answered
        assert r["exact_hit_share"] == 1.0  # repeats: the exact tier answered
        assert 0 < r["plan_p50_us"] <= r["plan_p99_us"] and 0 < r["exact_p50_us"] <= r["exact_p99_us"]
    text = capsys.readouterr().out
    assert "plan p50 us" in text and "exact hit p50" in text


def test_novel_lines_fit_no_stored_template():
    corpus = load_corpus()
    for line in corpus.held_lines[:200]:
        assert route.novel(line) != line


def test_probes_are_read_from_installed_entry_points(tmp_path, monkeypatch):
    # a real distribution on sys.path, as an adapter package installs its probe
    (tmp_path / "probe_mod.py").write_text(
        "def good():\n"
        "    return {'name': 'x', 'engine_p50_us': 100.0, 'adapter_p50_us': 180.0, 'adapter_p99_us': 400.0}\n"
        "def floor():\n"
        "    return {'name': 'y', 'engine_p50_us': 1.0, 'adapter_p50_us': 2.0, 'adapter_p99_us': 3.0,"
        " 'framework_p50_us': 1.5}\n"
        "def bad():\n"
        "    raise RuntimeError('probe broke')\n")
    info = tmp_path / "probe_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: probe-dist\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{route.PROBE_GROUP}]\ngood = probe_mod:good\nfloor = probe_mod:floor\nbad = probe_mod:bad\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rows, failed = route.adapter_probes(only={"good", "floor", "bad"})
    assert {"name": "x", "engine_p50_us": 100.0, "adapter_p50_us": 180.0, "adapter_p99_us": 400.0,
            "framework_p50_us": None} in rows  # a probe that does not time its framework's floor
    assert {"name": "y", "engine_p50_us": 1.0, "adapter_p50_us": 2.0, "adapter_p99_us": 3.0,
            "framework_p50_us": 1.5} in rows
    assert "bad: RuntimeError: probe broke" in failed
