"""A run's settings, run file and live state, without tuning: resume accounting, sessions, refusals, the lock."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest

from workbench import sample_logs_dir
from workbench.logs import load_logs
from workbench.subgraphs import load_subgraph
from workbench.tuning import TuningError, TuningRun
from workbench.tuning.state import RUN_FILE, RunConfig, RunFile, RunState

SUBGRAPH = "matmul_128"


def _config(**changes):
    base = {"tasks": [SUBGRAPH], "model": None, "target": "cpu", "trials": 8, "cost_model": "xgb", "seed": 0,
            "trials_per_iter": 16, "runner": "local"}
    return RunConfig(**(base | changes))


def test_resume_accounting_counts_every_record_of_the_work_dir():
    df = load_logs(sample_logs_dir() / "cpu" / SUBGRAPH, with_actions=False, progress=False)
    state = RunState([load_subgraph(SUBGRAPH)])
    state.load(df)
    task = state.tasks[0]
    ok = df[df["status"] == "ok"]
    assert state.measured == task.trials == len(df)
    assert task.ok == len(ok) and task.build_errors + task.run_errors == len(df) - len(ok)
    assert task.best_latency == ok["latency"].min() and state.seen[SUBGRAPH] == set(df["trace_key"])
    history = state.history_frame()
    assert list(history["trial"]) == list(range(len(df))) and (history["best_ms"].diff().dropna() <= 0).all()


def test_batches_are_counted_in_order_with_their_timings():
    state = RunState([load_subgraph(SUBGRAPH)])
    state.begin_session(0, budget=10)
    state.batch_sent()
    state.record(0, [("ok", 2e-3, None), ("build_error", math.nan, "LocalBuilder: Timeout"), ("ok", 1e-3, None)])
    state.batch_joined()
    state.add_build_time(0.5)
    progress = state.progress().loc[SUBGRAPH]
    assert (progress["trials"], progress["ok"], progress["build_errors"]) == (3, 2, 1)
    assert progress["best_ms"] == pytest.approx(1.0) and progress["best_trial"] == 2
    live = state.timings_now()
    assert live["build"] == 0.5 and live["run"] >= 0 and live["total"] >= 0
    # A build, then a batch under way count as build and run while they last: the search time never goes back.
    seen = [state.timings_now()]
    state.build_started()
    time.sleep(0.05)
    seen.append(state.timings_now())
    state.add_build_time(0.05)
    seen.append(state.timings_now())
    state.batch_sent()
    time.sleep(0.05)
    seen.append(state.timings_now())
    state.batch_joined()
    seen.append(state.timings_now())
    assert seen[1]["build"] > seen[0]["build"] and seen[3]["run"] > seen[2]["run"]
    for key in ("search", "build", "run", "total"):
        assert all(b[key] >= a[key] - 0.02 for a, b in zip(seen[:-1], seen[1:], strict=True)), (key, seen)
    assert seen[3]["search"] - seen[2]["search"] < 0.02  # the batch's time was never search time
    state.end_session()
    assert state.timings_now()["total"] == state.timings.total  # frozen once the session ends


def test_callbacks_and_readers_share_the_state_safely():
    state = RunState([load_subgraph(SUBGRAPH)])
    state.begin_session(0, budget=10)

    def write():
        for _ in range(2000):
            state.add_build_time(0.001)
            state.record(0, [("ok", 1e-3, None)])

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        state.progress(), state.history_frame(), state.timings_now()  # readers never see a torn update
    assert state.measured == 8000 and len(state.history_frame()) == 8000
    assert state.timings.build == pytest.approx(8.0)
    assert sorted(state.history_frame()["trial"]) == list(range(8000))


def test_run_file_keeps_one_entry_per_session(tmp_path):
    run_file = RunFile(tmp_path, _config())
    assert run_file.begin_session(0) == 0
    run_file.end_session(status="stopped", measured_after=4)
    assert RunFile(tmp_path, _config()).begin_session(4) == 1
    sessions = json.loads((tmp_path / RUN_FILE).read_text())["sessions"]
    assert sessions[0]["status"] == "stopped" and "ended" in sessions[0] and "ended" not in sessions[1]


def test_a_work_dir_holds_one_run(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / RUN_FILE).write_text(json.dumps({"config": vars(_config()), "sessions": []}))
    # Resuming it with another cost model is refused, naming the difference; the budget may grow.
    with pytest.raises(TuningError, match="cost_model: was 'xgb', now 'world'"):
        TuningRun(SUBGRAPH, cost_model="world", work_dir=tmp_path / "b")
    TuningRun(SUBGRAPH, cost_model="xgb", trials=16, work_dir=tmp_path / "b")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(TuningError, match="not a tuning work dir"):
        TuningRun(SUBGRAPH, work_dir=tmp_path / "notes")



def test_an_unreadable_run_file_is_rebuilt_from_the_records(tmp_path):
    (tmp_path / RUN_FILE).write_text("[]")
    run_file = RunFile(tmp_path, _config())
    run_file.check()  # not refused: the records are the truth, the run file only their history
    with pytest.warns(UserWarning, match="unreadable run file rebuilt"):
        assert run_file.begin_session(0) == 0
    assert (tmp_path / (RUN_FILE + ".bak")).read_text() == "[]"
    assert json.loads((tmp_path / RUN_FILE).read_text())["config"]["cost_model"] == "xgb"
