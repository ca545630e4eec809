"""One trace identity: the same program has the same key however its trace was written (bools, floats, postproc)."""

from __future__ import annotations

import json

import pytest
from tvm.s_tir import meta_schedule as ms

from workbench import sample_logs_dir
from workbench.actions import DesignSpace
from workbench.hardware import make_target
from workbench.logs import MEASURE_FILE, RECORD_FILE, WorkDir, load_logs
from workbench.measure import MeasureResult
from workbench.subgraphs import load_subgraph
from workbench.traces import canonical_json, first_error_line, json_hash, trace_key, trace_to_json


@pytest.fixture(scope="module")
def softmax_candidates():
    # softmax's traces hold floats (SampleCategorical's probabilities) and compute locations.
    return DesignSpace(load_subgraph("softmax_256x256")).sample(3, seed=1)


@pytest.fixture(scope="module")
def matmul_candidates(matmul_space):
    # matmul's hold booleans (Split's preserve_unit_iters) and post-processing (parallel, vectorize, unroll).
    return matmul_space.sample(2, seed=1)


def _has(obj, kind):
    return isinstance(obj, kind) if not isinstance(obj, list) else any(_has(x, kind) for x in obj)


def test_key_is_the_same_for_trace_objects_and_every_json_form(softmax_candidates, matmul_candidates):
    forms = [trace_to_json(c.trace) for c in (softmax_candidates[0], matmul_candidates[0])]
    assert _has(forms[0], float) and _has(forms[1], bool)
    assert all(any(i[0] == "EnterPostproc" for i in f[0]) for f in forms)
    for cand, plain in zip((softmax_candidates[0], matmul_candidates[0]), forms, strict=True):
        as_tvm_writes = json.loads(json.dumps(canonical_json(plain)))
        assert not _has(as_tvm_writes, bool)
        assert trace_key(cand.trace) == trace_key(plain) == trace_key(as_tvm_writes) == cand.key
    # The raw forms differ where booleans are: that is what the key absorbs.
    assert json_hash(forms[1]) != json_hash(canonical_json(forms[1]))


def test_different_programs_get_different_keys(softmax_candidates):
    keys = {c.key for c in softmax_candidates}
    assert len(keys) == len(softmax_candidates)
    cand = softmax_candidates[0]
    location = next(a for a in cand.actions if a.kind == "SampleComputeLocation")
    other = next(v for v in (-1, -2, 0, 1) if v != location.decision)
    assert cand.with_decision(location.index, other).key != cand.key


def test_records_written_by_tvm_and_by_the_workbench_have_the_candidates_key(tmp_path, matmul_candidates):
    cand = matmul_candidates[1]
    sub, target = cand.space.subgraph, make_target("cpu")
    # TVM's own writer (what a tuning run's database does), with the workbench's side line beside it.
    tvm_dir = tmp_path / "tvm"
    tvm_dir.mkdir()
    db = ms.database.JSONDatabase(work_dir=str(tvm_dir))
    workload = db.commit_workload(sub.mod)
    db.commit_tuning_record(ms.database.TuningRecord(cand.trace, workload, [1e-4], target,
                                                     ms.arg_info.ArgInfo.from_prim_func(sub.mod["main"])))
    stored = json.loads((tvm_dir / RECORD_FILE).read_text().splitlines()[0])[1][0]
    assert not _has(stored, bool)  # TVM stores booleans as 1/0
    wd = WorkDir(tvm_dir)
    wd.add_measurement(sub, cand.trace, status="ok", error=None, run_secs=[1e-4], hardware="hw")
    # The workbench's own writer (collect).
    ours = WorkDir(tmp_path / "ours", create=True)
    ours.append(sub, cand, MeasureResult("ok", run_secs=[1e-4], hardware="hw"), target=target)
    for path in (tvm_dir, tmp_path / "ours"):
        df = load_logs(path, progress=False)
        assert list(df["trace_key"]) == [cand.key]
        assert df["hardware"].iloc[0] == {"id": "hw"}  # the side line was matched to its record


def test_side_lines_of_older_logs_still_match_their_records():
    """The shipped logs' side lines hash the trace as stored (with true/false): every record finds its own."""
    path = sample_logs_dir() / "cpu" / "matmul_128"
    raw = [json.loads(line) for line in (path / RECORD_FILE).read_text().splitlines()]
    assert _has(raw[0][1][0], bool)
    side = {json.loads(line)["trace_hash"] for line in (path / MEASURE_FILE).read_text().splitlines()}
    assert json_hash(raw[0][1][0]) in side and trace_key(raw[0][1][0]) not in side
    df = load_logs(path, progress=False)
    assert len(df) == len(raw) and df["hardware"].map(lambda h: isinstance(h, dict) and "cpu_model" in h).all()
    assert not df.duplicated(["trace_key", "machine"]).any()  # a trace may be measured on two machines


def test_first_error_line_skips_the_backtrace():
    err = RuntimeError("Traceback:\n  File \"x.py\", line 3\n  at tvm::foo()\n^^^^\nScheduleError: the loop is bad\n")
    assert first_error_line(err) == "ScheduleError: the loop is bad"
    assert first_error_line(ValueError("")) == "ValueError"
