"""Tuning runs: real short searches with each cost model, stop and resume, a killed run, RPC, bad input."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.logs import MEASURE_FILE, RECORD_FILE, load_logs
from workbench.tuning.run import RUN_FILE, TuningError, TuningRun

pytestmark = pytest.mark.slow
SUBGRAPH = "matmul_128"  # small: a candidate builds and runs in well under a second


def _records(work_dir: Path):
    return load_logs(work_dir, progress=False)


@pytest.mark.parametrize("cost_model", ["world", "xgb"])
def test_short_real_run_with_each_cost_model(tmp_path, cost_model):
    run = TuningRun(SUBGRAPH, trials=8, trials_per_iter=4, cost_model=cost_model, work_dir=tmp_path / "run")
    run.run(progress=False)
    assert run.status == "done" and run.error is None
    df = _records(tmp_path / "run")
    assert len(df) == 8 and df["trace_hash"].nunique() == 8
    # Every record has its side line (status, repeats, hardware), matched to TVM's own record line.
    assert df["hardware"].map(lambda h: isinstance(h, dict) and "cpu_model" in h).all()
    assert sorted(df["trial"]) == list(range(8))
    ok = df[df["status"] == "ok"]
    assert len(ok) >= 6 and (ok["latency"] > 0).all()
    progress = run.progress()
    assert progress.loc[SUBGRAPH, "trials"] == 8
    assert progress.loc[SUBGRAPH, "best_ms"] == pytest.approx(ok["latency"].min() * 1e3)
    history = run.history()
    assert len(history) == 8 and (history["best_ms"].diff().dropna() <= 0).all()
    times = run.timings()
    assert times["build"] > 0 and times["run"] > 0 and times["total"] >= times["build"] + times["run"]
    best = run.best()
    assert math.isfinite(best.loc[SUBGRAPH, "latency_ms"]) and "for " in best.loc[SUBGRAPH, "tir"]
    sessions = json.loads((tmp_path / "run" / RUN_FILE).read_text())["sessions"]
    assert sessions[-1]["status"] == "done" and sessions[-1]["measured_after"] == 8
    if cost_model == "world":
        stats = sessions[-1]["cost_model"]
        assert stats["predicted"] > 8 and stats["updated"] >= 4  # the search scored candidates; measurements fed back


def test_stop_and_resume_keeps_every_record_once(tmp_path):
    work_dir = tmp_path / "run"
    run = TuningRun(SUBGRAPH, trials=16, trials_per_iter=4, cost_model="world", work_dir=work_dir, seed=3)
    run.start()
    deadline = time.time() + 300
    while run.measured < 4 and run.running and time.time() < deadline:
        time.sleep(0.2)
    run.stop()
    assert run.status == "stopped" and 4 <= run.measured < 16
    first = _records(work_dir)
    assert len(first) == run.measured
    resumed = TuningRun(SUBGRAPH, trials=16, trials_per_iter=4, cost_model="world", work_dir=work_dir, seed=3)
    assert resumed.measured == len(first)
    resumed.run(progress=False)
    df = _records(work_dir)
    assert resumed.status == "done" and len(df) == 16
    assert df["trace_hash"].nunique() == 16  # nothing measured twice
    assert set(first["trace_hash"]) <= set(df["trace_hash"])  # nothing lost
    sessions = json.loads((work_dir / RUN_FILE).read_text())["sessions"]
    assert [s["status"] for s in sessions] == ["stopped", "done"]


def test_killed_run_resumes_from_its_work_dir(tmp_path):
    work_dir = tmp_path / "run"
    code = ("from workbench.tuning.run import TuningRun; "
            f"TuningRun({SUBGRAPH!r}, trials=12, trials_per_iter=4, cost_model='xgb', work_dir={str(work_dir)!r})"
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
    run = TuningRun(SUBGRAPH, trials=12, trials_per_iter=4, cost_model="xgb", work_dir=work_dir)
    assert run.measured == len(before)
    run.run(progress=False)
    df = _records(work_dir)
    assert run.status == "done" and len(df) == 12 and df["trace_hash"].nunique() == 12
    assert set(before["trace_hash"]) <= set(df["trace_hash"])
    assert (work_dir / (RECORD_FILE + ".partial")).is_file()  # the torn line is kept aside, not dropped silently


def test_tuning_through_a_local_rpc_tracker_and_two_servers(tmp_path):
    from workbench.tuning.rpc import LocalRPCCluster, count_servers

    with LocalRPCCluster(servers=2) as cluster:
        assert cluster.url.startswith("rpc://127.0.0.1:")  # loopback by default
        assert count_servers(cluster.url) == 2
        run = TuningRun(SUBGRAPH, trials=4, trials_per_iter=4, cost_model="xgb", work_dir=tmp_path / "rpc",
                        runner=cluster.url)
        run.run(progress=False)
    df = _records(tmp_path / "rpc")
    assert run.status == "done" and len(df) == 4 and (df["status"] == "ok").sum() >= 3


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
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(TuningError, match="not a tuning work dir"):
        TuningRun(SUBGRAPH, work_dir=tmp_path / "notes")
    # A work dir holds one run: resuming it with another cost model is refused, naming the difference.
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / RUN_FILE).write_text(json.dumps({"config": {"tasks": [SUBGRAPH], "model": None, "target": "cpu",
                                                                  "trials": 8, "cost_model": "xgb", "seed": 0,
                                                                  "trials_per_iter": 16, "runner": "local"},
                                                       "sessions": []}))
    with pytest.raises(TuningError, match="cost_model: was 'xgb', now 'world'"):
        TuningRun(SUBGRAPH, cost_model="world", work_dir=tmp_path / "b")


def test_cli_tune_and_bad_subgraph(tmp_path, capsys):
    from workbench.cli import main

    assert main(["tune", "--subgraph", SUBGRAPH, "--trials", "4", "--trials-per-iter", "4", "--cost-model", "xgb",
                 "--work-dir", str(tmp_path / "cli"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert SUBGRAPH in out and "time (s): search" in out
    assert len(_records(tmp_path / "cli")) == 4
    assert main(["tune", "--subgraph", "no_such_op", "--work-dir", str(tmp_path / "x"), "--quiet"]) == 2
    assert "no_such_op" in capsys.readouterr().err


def test_whole_model_run_compiles_and_matches_pytorch(tmp_path):
    from workbench._tvm import torch_ready
    from workbench.tuning.e2e import TorchModel

    torch = torch_ready()
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32)).eval()
    model = TorchModel("tiny_mlp", mlp, (torch.randn(4, 64),))
    run = TuningRun(model=model, trials=8, trials_per_iter=4, cost_model="world", work_dir=tmp_path / "mlp")
    assert len(run.subgraphs) == 2 and run.budget == 8
    # Each task's batch is saved (and the run stoppable) as soon as it is measured, not after every task has
    # been searched once, as TVM's own gradient scheduler does: a stop asked for at once ends the run after
    # the first task's batch, with that batch saved.
    run.start()
    run.stop(timeout=300)
    assert run.status == "stopped" and run.measured == 4 and len(_records(tmp_path / "mlp")) == 4
    run = TuningRun(model=model, trials=8, trials_per_iter=4, cost_model="world", work_dir=tmp_path / "mlp")
    run.run(progress=False)
    assert run.status == "done" and run.measured == 8 and len(_records(tmp_path / "mlp")) == 8  # budget, exactly
    assert (run.progress()["trials"] == 4).all()  # the resumed warm-up pass went to the untuned task first
    db = run.database()
    assert all(db.has_workload(s.mod) for s in run.subgraphs)  # every task tuned, under its own key
    cmp = run.compare_with_torch(repeat=3, try_compile=False)
    assert cmp.outputs_match and cmp.max_abs_err < 1e-4
    # Every fused task got its tuned schedule (TVM 0.27's compile_relax alone finds none of them: op_pattern).
    assert sorted(run.compile_coverage["tuned"]) == sorted(s.name.split("/")[-1] for s in run.subgraphs)
    assert run.compile_coverage["untuned"] == []
    assert cmp.tvm_ms > 0 and cmp.eager_ms > 0 and len(cmp.times["tvm"]) == 3
    single = TuningRun(SUBGRAPH, trials=4, work_dir=tmp_path / "single")
    with pytest.raises(TuningError, match="whole-model run"):
        single.compile()
