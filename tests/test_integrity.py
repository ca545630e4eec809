"""Checking a work dir before TVM opens it, repairing it under the lock, and reading damaged files safely."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from workbench.integrity import (
    FILES,
    MEASURE_FILE,
    RECORD_FILE,
    WORKLOAD_FILE,
    check,
    clean_copy,
)
from workbench.logfiles import WriterLock
from workbench.logs import WorkDir, load_logs
from workbench.testing import sample_work_dir
from workbench.testing.mutations import mutate_lines
from workbench.traces import trace_key


def _digest(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir()) if p.is_file()}


def _tvm_opens(paths: list[Path]) -> list[int]:
    """The number of records TVM's JSONDatabase opens in each dir, in a separate process (a crash fails here)."""
    code = ("import sys; from workbench._tvm import import_tvm; import_tvm(); "
            "from tvm.s_tir.meta_schedule.database import JSONDatabase; "
            "print(*[len(JSONDatabase(work_dir=p)) for p in sys.argv[1:]])")
    done = subprocess.run([sys.executable, "-c", code, *map(str, paths)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"TVM crashed or raised (rc {done.returncode}):\n{done.stderr[-3000:]}"
    return [int(n) for n in done.stdout.split()]


@pytest.fixture()
def workdir(tmp_path):
    return sample_work_dir(tmp_path / "wd")


def test_a_clean_dir_passes_every_check(workdir):
    assert check(workdir, tvm=True).ok
    assert len(load_logs(workdir, progress=False)) == 24


def test_damage_is_found_named_and_repaired_under_the_lock(workdir):
    records = (workdir / RECORD_FILE).read_text().splitlines()
    foreign = json.loads(records[13])  # a softmax record ...
    foreign[0] = 0  # ... pointing at the matmul workload, as a second writer's stale numbering left it
    lines = records[:3] + [""] + records[3:5] + [records[5][:40]] + records[5:] + [json.dumps(foreign)]
    lines.append(json.dumps([1, [json.loads(records[14])[1][0], [-1.0], {"kind": "llvm"}, []]]))  # negative time
    (workdir / RECORD_FILE).write_text("\n".join(lines) + "\n")
    workloads = (workdir / WORKLOAD_FILE).read_text()
    (workdir / WORKLOAD_FILE).write_text(workloads + workloads.splitlines()[0] + "\n")  # a duplicate workload
    before = _digest(workdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(load_logs(workdir, errors="warn", progress=False)) == 25  # reading keeps every good record
    report = check(workdir, tvm=True)
    assert _digest(workdir) == before  # reading and checking never modify the dir
    problems = "\n".join(report.problems())
    for where, why in ((4, "blank line"), (7, "invalid JSON"), (27, "its trace names blocks"), (28, "run times must be a list of finite, positive")):
        assert f"{RECORD_FILE}:{where}: {why}" in problems, problems
    assert f"{WORKLOAD_FILE}:3: duplicates workload line 1" in problems
    assert len(_tvm_opens([clean_copy(workdir, report)])) == 1  # readers open a cleaned copy
    with pytest.raises(RuntimeError, match="needs its writer lock"):
        from workbench.integrity import repair

        repair(workdir, WriterLock(workdir))
    wd = WorkDir(workdir)
    moved = wd.repair(tvm=True)
    wd.close()
    assert len(moved) == len(report.problems())
    assert check(workdir, tvm=True).ok and _tvm_opens([workdir]) == [24]
    assert len(list(workdir.glob(f"{RECORD_FILE}.*.bak"))) == 1  # the original is kept
    assert "names blocks" in (workdir / "workbench_rejected.txt").read_text()
    df = load_logs(workdir, progress=False)
    assert len(df) == 24 and df["hardware"].notna().all()


def test_the_reported_crashes_of_load_logs_are_problems(workdir):
    """The inputs that used to crash ``load_logs(errors="warn")`` (and lose every good record)."""
    records = (workdir / RECORD_FILE).read_text()
    with open(workdir / RECORD_FILE, "a") as f:
        f.write(json.dumps([5, []]) + "\n")
        f.write(json.dumps([0.9, json.loads(records.splitlines()[0])[1]]) + "\n")
        f.write("[" * 50000 + "]" * 50000 + "\n")
    with open(workdir / MEASURE_FILE, "a") as f:
        f.write(json.dumps({"workload": 0, "trace_hash": "x", "status": "ok", "run_secs": [float("nan")]}) + "\n")
    hardware_line = len((workdir / "workbench_hardware.json").read_text().splitlines()) + 1
    with open(workdir / "workbench_hardware.json", "a") as f:
        f.write(json.dumps({"hardware": ["x"]}) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = load_logs(workdir, errors="warn", progress=False)
    assert len(df) == 24
    messages = "\n".join(str(w.message) for w in caught)
    for where in (f"{RECORD_FILE}:25", f"{RECORD_FILE}:26", f"{RECORD_FILE}:27", f"{MEASURE_FILE}:25",
                  f"workbench_hardware.json:{hardware_line}"):
        assert where in messages, messages


@pytest.mark.parametrize("name", FILES)
def test_seeded_mutations_never_crash_and_keep_every_good_line(tmp_path, name):
    """A seeded subset of the fuzz benchmark (benchmarks/fuzz_logs.py runs 1,000 per file)."""
    base = sample_work_dir(tmp_path / "base", records=6)
    keys = {i + 1: trace_key(json.loads(line)[1][0]) for i, line in enumerate((base / RECORD_FILE).read_text().splitlines())}
    copies = []
    for seed in range(12):
        wd = tmp_path / f"m{seed}"
        wd.mkdir()
        for f in FILES:
            (wd / f).write_bytes((base / f).read_bytes() if (base / f).is_file() else b"")
        mutation = mutate_lines(wd / name, random.Random(seed))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            df = load_logs(wd, errors="warn", progress=False)
        assert all(":" in str(w.message).split(" ")[0] for w in caught)  # every problem names file:line
        if name == RECORD_FILE:
            intact = {keys[i] for i in _original_lines(mutation, len(keys))}
            assert intact <= set(df["trace_key"]), mutation
        copies.append(clean_copy(wd))
    _tvm_opens(copies)  # never a crash, whatever the damage


def _original_lines(mutation, n):
    """The original line numbers of the lines a mutation left intact."""
    if mutation.kind in ("truncate", "byte_flip", "torn_middle", "wrong_type", "bad_numbers"):
        return mutation.intact
    return [i if i < mutation.line else i - 1 for i in mutation.intact]  # one line was inserted


def test_a_duplicate_of_a_bad_workload_line_is_the_good_copy(workdir):
    workloads = (workdir / WORKLOAD_FILE).read_text().splitlines()
    damaged = json.loads(workloads[0])
    damaged[1] = damaged[1][:40] + "!!!" + damaged[1][43:]  # valid JSON, an IR TVM cannot decode
    (workdir / WORKLOAD_FILE).write_text("\n".join([json.dumps(damaged), workloads[1], workloads[0]]) + "\n")
    records = [json.loads(line) for line in (workdir / RECORD_FILE).read_text().splitlines()]
    (workdir / RECORD_FILE).write_text("".join(json.dumps([2 if r[0] == 0 else r[0], r[1]]) + "\n" for r in records))
    report = check(workdir, tvm=True)
    assert 1 in report.bad[WORKLOAD_FILE] and not report.duplicates  # line 3 is the one good copy
    wd = WorkDir(workdir)
    wd.repair(tvm=True)
    wd.close()
    assert _tvm_opens([workdir]) == [24] and len(load_logs(workdir, progress=False)) == 24


def test_a_repair_cut_short_is_finished_or_forgotten_never_half_done(workdir):
    from workbench.integrity import STAGING

    records = (workdir / RECORD_FILE).read_text()
    (workdir / RECORD_FILE).write_text(records.replace("\n", "\n\n", 1))  # a blank line to repair
    staging = workdir / STAGING
    staging.mkdir()
    (staging / RECORD_FILE).write_text(records)  # staged, but the crash came before READY
    assert len(load_logs(workdir.parent, errors="ignore", progress=False)) == 24  # readers skip the staging dir
    wd = WorkDir(workdir)
    wd.repair()
    assert not staging.exists() and check(workdir).ok
    staging.mkdir()
    (staging / RECORD_FILE).write_text("".join(records.splitlines(True)[:5]))
    (staging / "READY").write_text("")  # a crash between putting the staged files in place: finish it
    wd.repair()
    wd.close()
    assert len(load_logs(workdir, progress=False)) == 5 and not staging.exists()
