"""The accuracy-cost plot: no empty panel, one legend that covers no mark and names
every kind of mark, labels that overlap neither each other nor a mark."""

from __future__ import annotations

import itertools

import pytest

from shared_core.bench import plot as plotting

matplotlib = pytest.importorskip("matplotlib")


def _row(method, acc, cost):
    return {"method": method, "accuracy": acc, "cost_usd": cost, "time_s": 1.0, "llm_calls": 10}


def _result(task="qa", files=2):
    rows = [_row("sls", 0.70, 0.10), _row("sls-no-cache", 0.70, 0.10), _row("sls-online-train", 0.705, 0.101),
            _row("sls-cascade", 0.8, 0.2), _row("optllm-style", 0.6, 0.12), _row("random", 0.5, 1.0),
            _row("oracle", 0.95, 0.08), _row("best-single", 0.75, 2.0)]
    rows += [_row(f"single:model-{i}", 0.4 + 0.01 * i, 0.05 + 0.001 * i) for i in range(8)]  # a tight cluster
    rows += [_row("single:big", 0.75, 2.0)]
    curves = {"optllm-style": [{"accuracy": 0.5, "cost_usd": 0.05}, {"accuracy": 0.66, "cost_usd": 0.09}]}
    entry = {"queries": 50, "rows": rows, "curves": curves}
    out = {"task": task, "queries": 100, "rows": rows, "curves": curves}
    if files > 1:
        out["files"] = {f"f{i}": dict(entry) for i in range(files)}
    return out


@pytest.mark.parametrize("n, expected", [(1, (1, 1)), (2, (1, 2)), (3, (1, 3)), (4, (2, 2)), (5, (2, 3)),
                                         (7, (4, 2)), (19, (10, 2))])
def test_grid_leaves_at_most_the_legends_slot_free(n, expected):
    rows, cols = plotting.grid(n)
    assert (rows, cols) == expected and 0 <= rows * cols - n <= 1


def test_a_file_without_rows_gets_no_panel():
    result = _result(files=2)
    result["files"]["f1"]["rows"] = []
    assert [title for title, _ in plotting.panels([result])] == ["qa: f0 (50 queries)"]


def _draw(monkeypatch, results):
    """plot() into memory, keeping the figure to inspect it."""
    import io

    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    plotting.plot(results, io.BytesIO())
    return figures[0]


def _marks_px(ax):
    return [ax.transData.transform(xy) for coll in ax.collections for xy in coll.get_offsets()]


@pytest.mark.parametrize("results", [[_result(files=2), _result("codegen", files=1)], [_result("codegen", files=1)]])
def test_the_legend_names_every_kind_and_covers_no_mark(monkeypatch, results):
    fig = _draw(monkeypatch, results)
    renderer = fig.canvas.get_renderer()
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert len(legends) == 1
    texts = {t.get_text() for t in legends[0].get_texts()}
    for kind in ("sls", "sls-cascade", "single", "best-cheap", "random", "oracle"):
        assert plotting.KINDS[kind][0] in texts
    assert "optllm-style (line: its knob swept)" in texts and "Pareto front of the methods" in texts
    box = legends[0].get_window_extent(renderer)
    drawn = [ax for ax in fig.axes if ax.collections]
    assert len(drawn) == len(plotting.panels(results))  # every panel slot but the legend's has data
    for ax in drawn:
        assert not any(box.contains(x, y) for x, y in _marks_px(ax))


def test_labels_overlap_no_other_label_and_coincident_points_share_one(monkeypatch):
    fig = _draw(monkeypatch, [_result("codegen", files=1)])
    renderer = fig.canvas.get_renderer()
    ax = next(ax for ax in fig.axes if ax.collections)
    labels = [t for t in ax.texts if t.get_text()]
    text = [t.get_text() for t in labels]
    assert "sls-no-cache / sls-online-train" in text  # at sls's point, one label
    names = [n for t in text for n in t.split(" / ") if n.startswith("model-")]
    assert sorted(names) == [f"model-{i}" for i in range(8)]  # each named once, near ones together
    boxes = [t.get_window_extent(renderer) for t in labels]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), "two labels overlap"
