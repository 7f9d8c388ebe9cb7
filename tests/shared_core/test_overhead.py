import math

from shared_core.overhead import paired_overhead


def _counter():
    calls = []
    return calls, lambda: calls.append(1)


def test_each_arm_runs_the_same_number_of_times_and_the_floor_is_reported_only_when_asked():
    counts = [_counter() for _ in range(4)]
    engine, adapter, framework, bare = (f for _, f in counts)
    with_floor = paired_overhead("x", engine, adapter, framework=(framework, bare), calls=30, warmup=5)
    assert [len(c) for c, _ in counts] == [35, 35, 35, 35]
    assert set(with_floor) == {"name", "engine_p50_us", "adapter_p50_us", "adapter_p99_us", "framework_p50_us"}
    assert all(math.isfinite(v) for k, v in with_floor.items() if k != "name")
    without = paired_overhead("x", engine, adapter, calls=30, warmup=5)
    assert "framework_p50_us" not in without
    assert len(counts[2][0]) == 35  # the framework arms were not called again
