"""MetaSchedule-compatible logs: round trips with TVM's JSONDatabase, malformed files, safe appends."""

from __future__ import annotations

import json
import math
import warnings

import pytest
from tvm.s_tir import meta_schedule as ms

from workbench.hardware import make_target
from workbench.logs import RECORD_FILE, WORKLOAD_FILE, LogFormatError, WorkDir, load_logs
from workbench.measure import MeasureResult


def _fake_free_results(n):
    """Results as the measurer returns them, without timing (the format is what is under test)."""
    return [MeasureResult("ok", run_secs=[1e-3 * (i + 1), 1.1e-3 * (i + 1), 0.9e-3 * (i + 1)], hardware="hw")
            for i in range(n)]


@pytest.fixture()
def written(tmp_path, matmul_space):
    cands = matmul_space.sample(4, seed=3)
    results = _fake_free_results(3) + [MeasureResult("build_error", error="LocalBuilder: boom", hardware="hw")]
    wd = WorkDir(tmp_path / "wd", create=True)
    wd.add_hardware({"id": "hw", "cpu_model": "test cpu"})
    target = make_target("cpu")
    for i, (c, r) in enumerate(zip(cands, results, strict=True)):
        wd.append(matmul_space.subgraph, c, r, target=target, trial=i)
    return wd, cands, results


def test_our_logs_open_in_tvm(written):
    wd, cands, results = written
    db = ms.database.JSONDatabase(work_dir=str(wd.path), allow_missing=False)
    assert len(db) == 4
    workload = db.commit_workload(cands[0].space.subgraph.mod)
    (best,) = db.get_top_k(workload, 1)
    assert [float(s) for s in best.run_secs] == pytest.approx(results[0].run_secs)
    # TVM rebuilds the best schedule from our record.
    sch = db.query_schedule(cands[0].space.subgraph.mod, make_target("cpu"), workload_name="main")
    assert sch is not None


def test_dataframe_has_records_actions_and_status(written):
    wd, cands, results = written
    df = load_logs(wd.path)
    assert list(df["subgraph"].unique()) == ["matmul_128"]
    assert list(df["status"]) == ["ok", "ok", "ok", "build_error"]
    assert df["latency"].iloc[0] == pytest.approx(1e-3)
    assert math.isnan(df["latency"].iloc[3]) and df["error"].iloc[3] == "LocalBuilder: boom"
    assert df["hardware"].iloc[0]["cpu_model"] == "test cpu" and (df["machine"] == "hw").all()
    assert df["actions"].iloc[1] == cands[1].actions
    assert list(df["run_secs"].iloc[2]) == pytest.approx(results[2].run_secs)
    assert df["spread"].iloc[0] == pytest.approx(0.2)


def test_tvm_written_logs_open_here(tmp_path, matmul_space):
    """A database written by plain TVM (no workbench side files) loads unchanged."""
    cands = matmul_space.sample(3, seed=9)
    db = ms.database.JSONDatabase(work_dir=str(tmp_path))
    workload = db.commit_workload(matmul_space.subgraph.mod)
    target = make_target("cpu")
    args = ms.arg_info.ArgInfo.from_prim_func(matmul_space.subgraph.mod["main"])
    for i, c in enumerate(cands):
        db.commit_tuning_record(ms.database.TuningRecord(c.trace, workload, [0.002 * (i + 1)], target, args))
    df = load_logs(tmp_path)
    assert len(df) == 3 and (df["status"] == "ok").all()
    assert sorted(df["latency"]) == pytest.approx([0.002, 0.004, 0.006])
    assert df["subgraph"].iloc[0] == "workload_0"
    assert {a.kind for a in df["actions"].iloc[0]} >= {"SamplePerfectTile", "Split"}


def test_malformed_line_names_file_and_line_and_keeps_the_rest(written):
    wd, _, _ = written
    path = wd.file(RECORD_FILE)
    lines = path.read_text().splitlines()
    lines[1] = lines[1][: len(lines[1]) // 2]  # a broken record in the middle
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LogFormatError, match=rf"{RECORD_FILE}:2: invalid JSON") as info:
        load_logs(wd.path)
    assert len(info.value.partial) == 3  # the valid records around it are not lost
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = load_logs(wd.path, errors="warn")
    assert len(df) == 3 and any(f"{RECORD_FILE}:2" in str(w.message) for w in caught)


def test_structurally_wrong_record_and_missing_workload(written):
    wd, _, _ = written
    with wd.file(RECORD_FILE).open("a") as f:
        f.write(json.dumps([0, "not a record"]) + "\n")
        f.write(json.dumps([7, [[[], []], [0.1], {}, []]]) + "\n")
    with pytest.raises(LogFormatError) as info:
        load_logs(wd.path)
    problems = "\n".join(info.value.problems)
    assert f"{RECORD_FILE}:5: not a MetaSchedule tuning record" in problems
    assert f"{RECORD_FILE}:6: refers to workload 7" in problems and WORKLOAD_FILE in problems


def test_truncated_last_line_is_reported_then_repaired_on_append(written, matmul_space):
    wd, _, _ = written
    path = wd.file(RECORD_FILE)
    text = path.read_text()
    path.write_text(text + text.splitlines()[0][:100])  # a write cut short by a kill
    with pytest.raises(LogFormatError, match="truncated last line"):
        load_logs(wd.path)
    cand = matmul_space.sample(1, seed=99)[0]
    wd.append(matmul_space.subgraph, cand, _fake_free_results(1)[0], target=make_target("cpu"))
    df = load_logs(wd.path)  # clean again: the fragment was moved aside
    assert len(df) == 5
    assert (wd.path / f"{RECORD_FILE}.partial").read_text().startswith(text.splitlines()[0][:100])
    assert len(ms.database.JSONDatabase(work_dir=str(wd.path), allow_missing=False)) == 5


def test_missing_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such log directory"):
        load_logs(tmp_path / "nope")


def test_complete_last_line_without_newline_is_kept(written, matmul_space):
    wd, _, _ = written
    path = wd.file(RECORD_FILE)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert len(load_logs(wd.path)) == 4
    cand = matmul_space.sample(1, seed=77)[0]
    wd.append(matmul_space.subgraph, cand, _fake_free_results(1)[0], target=make_target("cpu"))
    assert len(load_logs(wd.path)) == 5
    assert not (wd.path / f"{RECORD_FILE}.partial").exists()


def test_object_record_and_bad_trace_name_their_line(written):
    wd, _, _ = written
    path = wd.file(RECORD_FILE)
    good = path.read_text()
    path.write_text(good + json.dumps({"workload": 0}) + "\n")
    with pytest.raises(LogFormatError, match=rf"{RECORD_FILE}:5: not a MetaSchedule tuning record"):
        load_logs(wd.path)
    path.write_text(good + json.dumps([0, [[[[1, 2]], []], [0.1], {}, []]]) + "\n")
    with pytest.raises(LogFormatError, match=rf"{RECORD_FILE}:5: instruction #0 is not \[kind, inputs, attrs"):
        load_logs(wd.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(load_logs(wd.path, errors="warn")) == 4


def test_workload_side_entry_is_restored_after_a_kill(tmp_path, matmul_space):
    """A kill between the two workload writes must not leave a nameless workload forever."""
    wd = WorkDir(tmp_path, create=True)
    wd.workload_index(matmul_space.subgraph)
    wd.close()  # the writer goes away (its lock with it)
    (tmp_path / "workbench_subgraphs.json").unlink()  # as if only TVM's line had been written
    again = WorkDir(tmp_path)
    assert again.workloads()[0].name == "workload_0"
    assert again.workload_index(matmul_space.subgraph) == 0
    assert WorkDir(tmp_path).workloads()[0].name == "matmul_128"


def test_empty_workdir_has_the_usual_columns(tmp_path):
    WorkDir(tmp_path, create=True)
    (tmp_path / RECORD_FILE).write_text("")
    df = load_logs(tmp_path)
    assert df.empty and {"subgraph", "latency", "status", "actions", "machine"} <= set(df.columns)


def test_the_same_trace_measured_on_two_machines_keeps_each_machine():
    """A record whose side line predates the canonical trace key (hashed as stored) and the same trace measured
    later on another machine (canonical key): each record keeps its own side line, in file order."""
    from workbench import sample_logs_dir

    df = load_logs(sample_logs_dir() / "cpu" / "bert_base__fused_reshape10_gelu_reshape11", progress=False)
    assert df["trace_key"].nunique() == 1  # the task's only program, measured once on each machine
    assert sorted(df["machine"]) == ["5d3ac4897b93", "dd8c4261e282"]
    assert df.groupby("machine")["latency"].nunique().eq(1).all()
