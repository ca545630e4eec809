"""Real builds and runs on the CPU; failures come back as explicit records."""

from __future__ import annotations

import psutil
import pytest

from workbench.actions import DesignSpace
from workbench.hardware import hardware_descriptor, has_cuda
from workbench.measure import (
    MeasureConfig,
    Measurer,
    MeasureResult,
    classify_failure,
    is_build_failure,
    measure_config,
    median_latency,
)
from workbench.subgraphs import load_subgraph, parse_tvmscript


@pytest.fixture(scope="module")
def measurer():
    with Measurer("cpu", build_workers=2, repeat=3, min_repeat_ms=5) as m:
        yield m


def test_one_median_one_failure_classifier():
    assert median_latency([3.0, 1.0, 2.0]) == 2.0 and median_latency([1.0, 2.0]) == 1.5
    assert median_latency([]) != median_latency([])  # NaN
    assert MeasureResult("ok", run_secs=[1.0, 4.0]).latency == 2.5
    assert classify_failure("LocalBuilder: Timeout, killed after 60.0 seconds", "build") == "timeout"
    assert classify_failure("LocalRunner: An exception occurred", "run") == "run_error"
    assert is_build_failure("build_error", None) and is_build_failure("timeout", "LocalBuilder: Timeout")
    assert not is_build_failure("timeout", "LocalRunner: Timeout") and not is_build_failure("ok", None)


def test_measurement_settings_are_one_config():
    assert measure_config(repeat=5) == MeasureConfig(repeat=5)
    with pytest.raises(TypeError, match="unknown measurement settings \\['repeats'\\]"):
        measure_config(repeats=5)
    with pytest.raises(TypeError, match="not both"):
        measure_config(MeasureConfig(), repeat=2)
    assert MeasureConfig(repeat=4, min_repeat_ms=7).evaluator_config().repeat == 4


@pytest.mark.slow
def test_measure_real_candidates(matmul_space, measurer):
    cands = matmul_space.sample(3, seed=4)
    results = measurer.measure(cands)
    assert [r.status for r in results] == ["ok"] * 3
    for r in results:
        assert len(r.run_secs) == 3 and all(0 < s < 1 for s in r.run_secs)
        assert r.latency == sorted(r.run_secs)[1]
        assert r.hardware == hardware_descriptor()["id"]


def test_built_once_timed_many_rounds(matmul_space, measurer, monkeypatch):
    """``time_rounds`` builds each module once and times its artifact every round; a module that cannot build
    has its build failure in every round."""
    mods = [c.mod for c in matmul_space.sample(2, seed=5)] + [parse_tvmscript(UNBUILDABLE)]
    from tvm.s_tir.meta_schedule import builder

    rounds, inputs, real = [], [], builder.BuilderInput
    monkeypatch.setattr(builder, "BuilderInput", lambda *a, **k: inputs.append(1) or real(*a, **k))
    out = measurer.time_rounds(mods, rounds=3, seed=1, on_round=rounds.append)
    assert len(inputs) == 3  # one build of each module for three rounds of timing
    assert rounds == [0, 1, 2] and [len(x) for x in out] == [3, 3, 3]
    assert all(r.ok and len(r.run_secs) == 3 for x in out[:2] for r in x)
    assert len({r.latency for r in out[0]}) > 1  # three timings, not one copied
    assert all(r.status == "build_error" for r in out[2])
    assert measurer.time_rounds([], rounds=2) == []
    with pytest.raises(ValueError, match="rounds"):
        measurer.time_rounds(mods, rounds=0)


UNBUILDABLE = """
@T.prim_func
def main(A: T.Buffer((16,), "float32")):
    for i in T.parallel(16):
        for j in T.parallel(4):
            A[i] = A[i] + T.float32(1)
"""


UNRESOLVED_CALL = """
@T.prim_func
def main(A: T.Buffer((16,), "float32")):
    for i in range(16):
        A[i] = T.call_extern("float32", "workbench_no_such_symbol", A[i])
"""


@pytest.mark.slow
def test_failures_are_explicit_records(measurer, matmul_space):
    broken = parse_tvmscript(UNRESOLVED_CALL)
    good = matmul_space.sample(1, seed=8)[0].mod
    bad, ok = measurer.measure_mods([broken, good])
    assert bad.status in ("build_error", "run_error") and not bad.ok
    # The unresolved symbol kills the runner's worker process; the message says so.
    assert "workbench_no_such_symbol" in bad.error or "Subprocess terminated" in bad.error
    assert bad.run_secs == [] and bad.latency == float("inf")
    assert ok.ok  # a failure in a batch does not take the rest with it


@pytest.mark.slow
def test_a_closed_measurer_stops_its_worker_processes(matmul_space):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    m = Measurer("cpu", build_workers=1, min_repeat_ms=1)
    m.measure(matmul_space.sample(1, seed=2))
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert len(started) >= 2  # a build worker and a run worker
    m.close()
    _, alive = psutil.wait_procs(started, timeout=10)
    assert not alive


@pytest.mark.cuda
@pytest.mark.skipif(not has_cuda(), reason="no CUDA GPU on this machine")
def test_measure_on_cuda():
    space = DesignSpace(load_subgraph("matmul_128"), "cuda")
    results = Measurer("cuda").measure(space.sample(2, seed=1))
    assert any(r.ok for r in results)
