"""Tuning runs: real short searches with each cost model, stop and resume, a killed run, bad input."""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.logs import CONFIRM_FILE, MEASURE_FILE, RECORD_FILE, load_logs
from workbench.tuning import TuningError, TuningRun
from workbench.tuning.run import WORLD_EXPLORE
from workbench.tuning.state import RUN_FILE

SUBGRAPH = "matmul_128"  # small: a candidate builds and runs in well under a second


def _records(work_dir: Path):
    return load_logs(work_dir, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("cost_model", ["world", "world_verify", "xgb"])
def test_short_real_run_with_each_cost_model(tmp_path, cost_model):
    confirm = 2 if cost_model == "world" else 0  # one of the two confirms its best records at the end
    run = TuningRun(SUBGRAPH, trials=8, trials_per_iter=4, cost_model=cost_model, work_dir=tmp_path / "run",
                    confirm=confirm, confirm_rounds=2)
    run.run(progress=False)
    assert run.status == "done" and run.error is None
    df = _records(tmp_path / "run")
    assert len(df) == 8 and df["trace_key"].nunique() == 8
    # Every record has its side line (status, repeats, hardware), matched to TVM's own record line.
    assert df["hardware"].map(lambda h: isinstance(h, dict) and "cpu_model" in h).all()
    assert sorted(df["trial"]) == list(range(8))
    ok = df[df["status"] == "ok"]
    assert len(ok) >= 6 and (ok["latency"] > 0).all()
    history = run.history()
    assert len(history) == 8 and (history["best_ms"].diff().dropna() <= 0).all()
    assert history["best_ms"].iloc[-1] == pytest.approx(ok["latency"].min() * 1e3)  # the lowest logged timing
    times = run.timings()
    assert times["build"] > 0 and times["run"] > 0
    assert times["total"] >= times["build"] + times["run"] + times["confirm"]
    best = run.best().loc[SUBGRAPH]
    assert math.isfinite(best["latency_ms"]) and "for " in best["tir"]
    assert run.progress().loc[SUBGRAPH, "trials"] == 8
    assert run.progress().loc[SUBGRAPH, "best_ms"] == pytest.approx(best["latency_ms"])
    if confirm:  # the reported best is the median of re-measurements of the top records, not a logged minimum
        lines = [json.loads(x) for x in (tmp_path / "run" / CONFIRM_FILE).read_text().splitlines()]
        assert len(lines) == 2 and all(len(x["latencies"]) == 2 and x["pass"] == 0 for x in lines)
        winner = min(lines, key=lambda x: statistics.median(x["latencies"]))
        assert best["confirmed"] and best["latency_ms"] == pytest.approx(statistics.median(winner["latencies"]) * 1e3)
        assert set(ok.nsmallest(2, "latency")["trace_key"]) == {x["trace_hash"] for x in lines}
        assert times["confirm"] > 0
        run.run(progress=False)  # nothing new measured: nothing confirmed again
        assert len((tmp_path / "run" / CONFIRM_FILE).read_text().splitlines()) == 2
    else:
        assert not best["confirmed"] and best["latency_ms"] == pytest.approx(ok["latency"].min() * 1e3)
    sessions = json.loads((tmp_path / "run" / RUN_FILE).read_text())["sessions"]
    assert sessions[-1]["status"] == "done" and sessions[-1]["measured_after"] == 8
    if cost_model == "world_verify":  # the world model scored every candidate; the verifier re-scored its best
        stats = sessions[-1]["cost_model"]
        assert stats["predicted"] > stats["verified"] > 8 and stats["verify_seconds"] > 0
        assert run.cost_model.draft.stats["updated"] >= 4  # measurements fed back to the world model
        assert run.explore == WORLD_EXPLORE  # as the world model's runs
        assert not run.cost_model.online  # the verifier's order alone (online=True: tune_search's world_online)
    if cost_model == "world":
        stats = sessions[-1]["cost_model"]
        assert stats["predicted"] > 8 and stats["updated"] >= 4  # the search scored candidates; measurements fed back
        # Each measured batch left its record: what the prior predicted for it, before training on it.
        rounds = run.rounds()
        assert len(rounds) == 2 and set(rounds["task"]) == {SUBGRAPH} and list(rounds["batch"]) == [0, 1]
        assert all(len(r.latency) == len(r.prior) == r.n for r in rounds.itertuples())
        assert rounds["weights"].iloc[0] == [0.5, 0.0]  # nothing judged yet: the prior alone


@pytest.mark.slow
def test_diverse_strategy_runs_batches_picked_from_a_wider_search(tmp_path, monkeypatch):
    import workbench.tuning.search as search

    seen = []

    def spy(candidates, want, **kwargs):
        got = pick(candidates, want, **kwargs)
        seen.append((len(candidates), want, len(got)))
        return got

    pick = search.diverse_picks
    monkeypatch.setattr(search, "diverse_picks", spy)
    run = TuningRun(SUBGRAPH, trials=8, trials_per_iter=4, cost_model="world", work_dir=tmp_path / "run",
                    confirm=0, strategy="diverse")
    run.run(progress=False)
    assert run.status == "done" and run.error is None
    df = _records(tmp_path / "run")
    assert len(df) == 8 and df["trace_key"].nunique() == 8
    # the first batch of 4 was picked from a search of 16 (4x); the second is the plain search's
    assert len(seen) == 1 and seen[0][0] > 4 and seen[0][1:] == (4, 4)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["hedge", "local"])
def test_hedge_strategy_picks_by_plan_from_a_wider_search_and_resumes_with_its_plans(tmp_path, monkeypatch, strategy):
    import workbench.tuning.search as search

    calls, nears = [], []

    def spy(plans, scores, n, *, plan_best, near=None):
        calls.append((len(plans), len(set(plans)), n, dict(plan_best)))
        nears.append(near)
        return pick(plans, scores, n, plan_best=plan_best, near=near)

    pick = search.hedge_picks
    monkeypatch.setattr(search, "hedge_picks", spy)
    work_dir = tmp_path / "run"  # softmax: many compute-location plans, a candidate builds in about a second
    run = TuningRun("softmax_256x256", trials=8, trials_per_iter=4, cost_model="world_verify", work_dir=work_dir,
                    confirm=0, strategy=strategy)
    run.run(progress=False)
    assert run.status == "done" and run.error is None
    df = _records(work_dir)
    assert len(df) == 8 and df["trace_key"].nunique() == 8
    # each batch of 4 is picked from a search of 16 plus the reserve, the second knowing the plans measured
    assert len(calls) == 2 and calls[0][0] > 4 and calls[0][1] > 1 and calls[0][3] == {}
    assert calls[1][0] > calls[0][0] - 4 and calls[1][3]
    # a resumed session starts from the plans its records measured: no plan-blind first batch
    run = TuningRun("softmax_256x256", trials=12, trials_per_iter=4, cost_model="world_verify", work_dir=work_dir,
                    confirm=0, strategy=strategy)
    run.run(progress=False)
    df = _records(work_dir)
    assert run.status == "done" and len(df) == 12 and df["trace_key"].nunique() == 12
    assert len(calls) == 3 and len(calls[2][3]) >= len(calls[1][3])
    # "local" measures the distance of every candidate to the fastest program once one is measured (resumed: from
    # the database's records); "hedge" never does
    assert [near is not None for near in nears] == ([False, True, True] if strategy == "local" else [False] * 3)
    if strategy == "local":
        assert all(len(near) == n for near, (n, *_) in zip(nears[1:], calls[1:], strict=True))


@pytest.mark.slow
def test_stop_and_resume_keeps_every_record_once(tmp_path):
    work_dir = tmp_path / "run"
    run = TuningRun(SUBGRAPH, trials=16, trials_per_iter=4, cost_model="world", work_dir=work_dir, seed=3,
                    confirm=0)
    run.start()
    deadline = time.time() + 300
    while run.measured < 4 and run.running and time.time() < deadline:
        time.sleep(0.2)
    run.stop()
    assert run.status == "stopped" and 4 <= run.measured < 16
    first = _records(work_dir)
    assert len(first) == run.measured
    resumed = TuningRun(SUBGRAPH, trials=16, trials_per_iter=4, cost_model="world", work_dir=work_dir, seed=3,
                    confirm=0)
    assert resumed.measured == len(first)
    resumed.run(progress=False)
    df = _records(work_dir)
    assert resumed.status == "done" and len(df) == 16
    assert df["trace_key"].nunique() == 16  # nothing measured twice
    assert set(first["trace_key"]) <= set(df["trace_key"])  # nothing lost
    sessions = json.loads((work_dir / RUN_FILE).read_text())["sessions"]
    assert [s["status"] for s in sessions] == ["stopped", "done"]


@pytest.mark.slow
def test_killed_run_resumes_from_its_work_dir(tmp_path):
    work_dir = tmp_path / "run"
    code = ("from workbench.tuning.run import TuningRun; "
            f"TuningRun({SUBGRAPH!r}, trials=12, trials_per_iter=4, cost_model='xgb', confirm=0, work_dir={str(work_dir)!r})"
            ".run(progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    records = work_dir / RECORD_FILE
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            if records.is_file() and records.read_bytes().count(b"\n") >= 4:
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its build and run workers
        proc.wait()
    before = _records(work_dir)
    assert 4 <= len(before) < 12
    with open(records, "ab") as f:  # a write torn by the kill
        f.write(b'[0, [[["GetSBlock"')
    with open(work_dir / MEASURE_FILE, "ab") as f:
        f.write(b'{"workload": 0, "tra')
    run = TuningRun(SUBGRAPH, trials=12, trials_per_iter=4, cost_model="xgb", work_dir=work_dir, confirm=0)
    assert run.measured == len(before)
    run.run(progress=False)
    df = _records(work_dir)
    assert run.status == "done" and len(df) == 12 and df["trace_key"].nunique() == 12
    assert set(before["trace_key"]) <= set(df["trace_key"])
    # The torn lines were moved out before TVM opened the files, named, and kept (in the .bak copies).
    rejected = (work_dir / "workbench_rejected.txt").read_text()
    assert f"{RECORD_FILE}:{len(before) + 1}: truncated last line" in rejected and MEASURE_FILE in rejected
    assert any(b'[0, [[["GetSBlock"' in p.read_bytes() for p in work_dir.glob(f"{RECORD_FILE}.*.bak"))


def test_bad_input_gives_clear_errors(tmp_path):
    with pytest.raises(TuningError, match="no_such_op"):
        TuningRun("no_such_op", work_dir=tmp_path / "a")
    with pytest.raises(TuningError, match="unknown target 'tpu'"):
        TuningRun(SUBGRAPH, target="tpu", work_dir=tmp_path / "a")
    with pytest.raises(TuningError, match="trials must be a positive integer"):
        TuningRun(SUBGRAPH, trials=0, work_dir=tmp_path / "a")
    with pytest.raises(TuningError, match="unknown cost model 'svm'"):
        TuningRun(SUBGRAPH, cost_model="svm", work_dir=tmp_path / "a")
    with pytest.raises(TuningError, match="rpc://host:port/key"):
        TuningRun(SUBGRAPH, runner="ssh://box", work_dir=tmp_path / "a")
    with pytest.raises(TuningError, match="exactly one"):
        TuningRun(work_dir=tmp_path / "a")
