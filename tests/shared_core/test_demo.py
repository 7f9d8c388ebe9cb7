"""`sls demo` runs offline and shows the router learning."""

from shared_core.demo import main


def test_demo_learns_and_resumes(tmp_path):
    printed = []
    rows = main(n=400, state_dir=str(tmp_path / "state"), print_fn=printed.append)
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
