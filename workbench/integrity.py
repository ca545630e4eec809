"""Checking a work dir line by line before anything opens it, and repairing it under the writer lock.

TVM's ``JSONDatabase`` crashes the process on some bad lines (a blank or deeply nested line in the record
file) and refuses the whole dir on others (one record it cannot parse). :func:`check` finds every such line
first, in plain Python (shapes, types, ranges, duplicate workloads) and, with ``tvm=True``, with TVM's own
parsers on each line and a check that each record's trace names blocks its workload has. :func:`repair`
(which needs the writer lock) moves the bad lines out; :func:`clean_copy` gives readers a cleaned copy to
open, so that reading never modifies a work dir.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.logfiles import WriterLock, parse_lines, raw_lines, write_atomically

WORKLOAD_FILE = "database_workload.json"
RECORD_FILE = "database_tuning_record.json"
SUBGRAPH_FILE = "workbench_subgraphs.json"
MEASURE_FILE = "workbench_measurements.json"
HARDWARE_FILE = "workbench_hardware.json"
CONFIRM_FILE = "workbench_confirmations.json"
FILES = (WORKLOAD_FILE, RECORD_FILE, SUBGRAPH_FILE, MEASURE_FILE, HARDWARE_FILE, CONFIRM_FILE)
FAILED_RUN_SECS = 1e10  # MetaSchedule stores failed measurements with this time
STATUSES = ("ok", "build_error", "run_error", "timeout", "error")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _times_problem(secs: Any, *, allow_failed: bool) -> str | None:
    if not isinstance(secs, list) or not all(_is_number(s) and s > 0 for s in secs):
        return "run times must be a list of finite, positive seconds"
    if not allow_failed and any(s >= FAILED_RUN_SECS for s in secs):
        return "run times hold MetaSchedule's failure marker"
    return None


def trace_problem(trace: Any) -> str | None:
    """Why ``trace`` is not a MetaSchedule trace JSON ``[insts, decisions]`` (None when it is one).

    Every instruction is ``[kind, inputs, attrs, outputs]`` and may only use random variables that earlier
    instructions defined; decisions are ``[instruction index, value]``.
    """
    if not (isinstance(trace, list) and len(trace) == 2 and all(isinstance(x, list) for x in trace)):
        return "the trace is not [instructions, decisions]"
    defined: set[str] = set()
    for i, inst in enumerate(trace[0]):
        if not (isinstance(inst, list) and len(inst) == 4 and isinstance(inst[0], str)
                and all(isinstance(x, list) for x in inst[1:])):
            return f"instruction #{i} is not [kind, inputs, attrs, outputs]"
        for name in inst[1]:
            if isinstance(name, str) and name[:1] in "blv" and name[1:].isdigit() and name not in defined:
                return f"instruction #{i} ({inst[0]}) uses {name}, which no earlier instruction defines"
        if not all(isinstance(o, str) for o in inst[3]):
            return f"instruction #{i} ({inst[0]}) has outputs that are not names"
        defined.update(inst[3])
    for d in trace[1]:
        if not (isinstance(d, list) and len(d) == 2 and _is_int(d[0]) and 0 <= d[0] < len(trace[0])):
            return "a decision is not [instruction index, value]"
    return None


def record_problem(obj: Any, n_workloads: int) -> str | None:
    """Why a line of ``database_tuning_record.json`` is not a tuning record of one of ``n_workloads``."""
    if not (isinstance(obj, list) and len(obj) == 2 and isinstance(obj[1], list) and len(obj[1]) == 4):
        return "not a MetaSchedule tuning record ([workload, [trace, run_secs, target, args_info]])"
    index, (trace, secs, target, args) = obj[0], obj[1]
    if not _is_int(index) or index < 0:
        return f"the workload index {index!r} is not a non-negative integer"
    if index >= n_workloads:
        return f"refers to workload {index}, which {WORKLOAD_FILE} lacks ({n_workloads} workloads)"
    why = trace_problem(trace)
    if why:
        return why
    if secs is not None and (why := _times_problem(secs, allow_failed=True)):
        return why
    if not (isinstance(target, dict) and isinstance(target.get("kind"), str)):
        return "the target is not a target dict with a kind"
    if not (isinstance(args, list) and all(isinstance(a, list) and len(a) == 3 and a[0] == "TENSOR"
                                            and isinstance(a[1], str) and isinstance(a[2], list)
                                            and all(_is_int(n) for n in a[2]) for a in args)):
        return "args_info is not a list of [\"TENSOR\", dtype, shape]"
    return None


def measurement_problem(obj: Any) -> str | None:
    """Why a line of ``workbench_measurements.json`` is not a measurement side line."""
    if not isinstance(obj, dict):
        return "expected an object with workload, trace_hash, status"
    if not _is_int(obj.get("workload")) or obj["workload"] < 0:
        return "workload is not a non-negative integer"
    if not isinstance(obj.get("trace_hash"), str):
        return "trace_hash is not a string"
    if obj.get("status", "ok") not in STATUSES:
        return f"unknown status {obj.get('status')!r} (known: {', '.join(STATUSES)})"
    if (why := _times_problem(obj.get("run_secs", []), allow_failed=False)):
        return why
    if obj.get("status", "ok") == "ok" and not obj.get("run_secs"):
        return "an ok measurement without run times"
    for key, kind in (("error", str), ("hardware", str), ("source", str)):
        if obj.get(key) is not None and not isinstance(obj[key], kind):
            return f"{key} is not a string"
    for key in ("trial", "session"):
        if obj.get(key) is not None and not (_is_int(obj[key]) and obj[key] >= 0):
            return f"{key} is not a non-negative integer"
    if obj.get("elapsed") is not None and not (_is_number(obj["elapsed"]) and obj["elapsed"] >= 0):
        return "elapsed is not a non-negative number"
    if obj.get("build_secs") is not None and not (_is_number(obj["build_secs"]) and obj["build_secs"] >= 0):
        return "build_secs is not a non-negative number"
    return None


def subgraph_problem(obj: Any) -> str | None:
    """Why a line of ``workbench_subgraphs.json`` is not a subgraph side entry."""
    if not (isinstance(obj, dict) and isinstance(obj.get("shash"), str) and isinstance(obj.get("name"), str)):
        return "expected an object with a string shash and name"
    if obj.get("op") is not None and not isinstance(obj["op"], str):
        return "op is not a string"
    if obj.get("flops") is not None and not (_is_number(obj["flops"]) and obj["flops"] >= 0):
        return "flops is not a non-negative number"
    if obj.get("weight") is not None and not (_is_int(obj["weight"]) and obj["weight"] >= 1):
        return "weight is not a positive integer"
    return None


def hardware_problem(obj: Any) -> str | None:
    """Why a line of ``workbench_hardware.json`` is not a hardware descriptor."""
    if not (isinstance(obj, dict) and isinstance(obj.get("id"), str) and obj["id"]):
        return "expected a hardware descriptor object with a string id"
    return None


def confirmation_problem(obj: Any) -> str | None:
    """Why a line of ``workbench_confirmations.json`` is not a confirmation (a re-measurement of a record)."""
    if not isinstance(obj, dict):
        return "expected an object with workload, trace_hash, latencies"
    if not _is_int(obj.get("workload")) or obj["workload"] < 0 or not isinstance(obj.get("trace_hash"), str):
        return "workload or trace_hash missing or of the wrong type"
    if not obj.get("latencies") or _times_problem(obj["latencies"], allow_failed=False):
        return "latencies must be a non-empty list of finite, positive seconds"
    if not _is_int(obj.get("pass")) or obj["pass"] < 0:
        return "pass is not a non-negative integer"
    if obj.get("hardware") is not None and not isinstance(obj["hardware"], str):
        return "hardware is not a string"
    return None


def workload_problem(obj: Any) -> str | None:
    if not (isinstance(obj, list) and len(obj) == 2 and isinstance(obj[0], str) and isinstance(obj[1], str)):
        return "expected [structural_hash, base64 IR]"
    return None


CHECKS: dict[str, Callable[[Any], str | None]] = {
    SUBGRAPH_FILE: subgraph_problem, MEASURE_FILE: measurement_problem, HARDWARE_FILE: hardware_problem,
    CONFIRM_FILE: confirmation_problem,
}


@dataclass
class Report:
    """What is wrong with a work dir: bad lines by file (1-based line -> reason), and duplicate workloads."""

    path: Path
    bad: dict[str, dict[int, str]] = field(default_factory=lambda: {name: {} for name in FILES})
    duplicates: dict[int, int] = field(default_factory=dict)  # workload index -> earlier index, same program
    other: list[str] = field(default_factory=list)  # problems of whole files (unreadable)

    @property
    def ok(self) -> bool:
        return not self.other and not self.duplicates and not any(self.bad.values())

    def problems(self) -> list[str]:
        """Every problem, each naming its file and line."""
        out = list(self.other)
        for name in FILES:
            out += [f"{self.path / name}:{line}: {why}" for line, why in sorted(self.bad[name].items())]
        out += [f"{self.path / WORKLOAD_FILE}:{dup + 1}: duplicates workload line {orig + 1} (the same program; "
                f"records after it would be numbered wrongly)" for dup, orig in sorted(self.duplicates.items())]
        return out


def _collect(report: Report, name: str, problems: list[str]) -> None:
    for p in problems:
        where, _, why = p.partition(": ")
        head, _, line = where.rpartition(":")
        if line.isdigit() and head.endswith(name):
            report.bad[name][int(line)] = why
        else:
            report.other.append(p)


def check(path: str | Path, *, tvm: bool = False) -> Report:
    """Every problem of the work dir at ``path``; ``tvm`` also runs TVM's own parsers on each line."""
    path = Path(path)
    report = Report(path)
    lines: dict[str, dict[int, Any]] = {}
    for name in FILES:
        problems: list[str] = []
        lines[name] = dict(parse_lines(path / name, problems))
        _collect(report, name, problems)
        check_line = CHECKS.get(name)
        for number, obj in lines[name].items():
            why = workload_problem(obj) if name == WORKLOAD_FILE else check_line(obj) if check_line else None
            if why:
                report.bad[name][number] = why
    workloads = {n: obj for n, obj in lines[WORKLOAD_FILE].items() if n not in report.bad[WORKLOAD_FILE]}
    n_lines = max(lines[WORKLOAD_FILE], default=0)  # TVM numbers workloads by line
    blocks = _workload_blocks(workloads, report) if tvm else {}
    first: dict[str, int] = {}  # duplicates among the lines that are good (TVM decoded them, with tvm)
    for number, obj in sorted(workloads.items()):
        if number in report.bad[WORKLOAD_FILE]:
            continue
        if obj[0] in first:
            report.duplicates[number - 1] = first[obj[0]] - 1
        else:
            first[obj[0]] = number
    valid_workloads = {n - 1 for n in workloads if n not in report.bad[WORKLOAD_FILE]}
    for number, obj in lines[RECORD_FILE].items():
        why = record_problem(obj, n_lines)
        if why is None and obj[0] not in valid_workloads:
            why = f"refers to workload {obj[0]}, whose line is bad"
        if why is None and tvm:
            why = _tvm_record_problem(obj, blocks.get(obj[0]))
        if why:
            report.bad[RECORD_FILE][number] = why
    return report


def _workload_blocks(workloads: dict[int, Any], report: Report) -> dict[int, tuple[Any, set[str]]]:
    """Per valid workload index: TVM's Workload and the names of its blocks (bad ones go to the report)."""
    from workbench._tvm import import_tvm

    import_tvm()
    from tvm import s_tir
    from tvm.s_tir.meta_schedule.database import Workload

    out = {}
    for number, obj in workloads.items():
        try:
            workload = Workload.from_json(obj)
            sch = s_tir.Schedule(workload.mod)
            names, todo = {"root"}, list(sch.get_child_blocks(sch.get_sblock("root")))
            while todo:  # every block, nested ones too
                block = todo.pop()
                names.add(sch.get(block).name_hint)
                todo += list(sch.get_child_blocks(block))
        except Exception as err:  # noqa: BLE001 - TVM raises many error types for a corrupt IR
            report.bad[WORKLOAD_FILE][number] = f"TVM cannot decode this workload ({_last_line(err)})"
            continue
        out[number - 1] = (workload, names)
    return out


def _tvm_record_problem(obj: list, workload: tuple[Any, set[str]] | None) -> str | None:
    from tvm.s_tir.meta_schedule.database import TuningRecord

    if workload is None:
        return f"refers to workload {obj[0]}, which TVM cannot decode"
    wl, names = workload
    trace = obj[1][0]
    wanted = []
    for inst in trace[0]:  # the blocks a trace looks up before it changes anything are the workload's own
        if inst[0] == "GetSBlock" and inst[2] and isinstance(inst[2][0], str):
            wanted.append(inst[2][0])
        elif inst[0] not in ("GetSBlock", "GetLoops", "GetChildBlocks", "GetConsumers", "GetProducers"):
            break
    missing = [b for b in wanted if b not in names]
    if missing:
        return (f"its trace names blocks {missing} that workload {obj[0]} lacks (its blocks: {sorted(names)}): "
                "the record belongs to another workload (two writers on one work dir?)")
    try:
        TuningRecord.from_json(obj[1], wl)
    except Exception as err:  # noqa: BLE001 - TVM raises many error types for a record it cannot parse
        return f"TVM cannot parse this record ({_last_line(err)})"
    return None


def _last_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(err).__name__)[:300]


def _cleaned(path: Path, report: Report, out: Path) -> list[str]:
    """Write the work dir's files without bad lines and duplicate workloads to ``out``; returns what moved."""
    moved = []
    remap: dict[int, int] = {}  # old workload index -> new
    dropped: set[int] = set()  # duplicate workload lines left out (their records go to the line they repeat)
    kept = 0
    for i in range(len(raw_lines(path / WORKLOAD_FILE))):
        if i + 1 in report.bad[WORKLOAD_FILE]:
            continue
        original = report.duplicates.get(i)
        if original is not None and original in remap:
            remap[i] = remap[original]
            dropped.add(i)
            continue
        remap[i] = kept  # kept (also a "duplicate" of a line that is itself bad: it is the good copy)
        kept += 1
    renumber = any(k != v for k, v in remap.items())
    for name in FILES:
        raw = raw_lines(path / name)
        if not raw and not (path / name).is_file():
            continue
        out_lines = []
        for number, line in enumerate(raw, start=1):
            why = report.bad[name].get(number)
            if name == WORKLOAD_FILE and why is None and number - 1 in dropped:
                why = f"duplicates workload line {report.duplicates[number - 1] + 1}"
            if why:
                moved.append(f"{path / name}:{number}: {why}")
                continue
            if name in (RECORD_FILE, MEASURE_FILE, CONFIRM_FILE) and renumber:
                obj = json.loads(line)
                if name == RECORD_FILE:
                    obj[0] = remap.get(obj[0], obj[0])
                elif _is_int(obj.get("workload")):
                    obj["workload"] = remap.get(obj["workload"], obj["workload"])
                line = json.dumps(obj, separators=(",", ":")).encode()
            out_lines.append(line)
        write_atomically(out / name, b"".join(x + b"\n" for x in out_lines))
    return moved




STAGING = ".repair"  # inside the work dir (same file system: renames), skipped by readers (a dot dir)


def _finish_staged(path: Path) -> None:
    """Complete a repair a crash interrupted: replace every staged file if staging had finished, else drop it."""
    staging = path / STAGING
    if not staging.is_dir():
        return
    if (staging / "READY").is_file():
        for name in FILES:
            if (staging / name).is_file():
                (staging / name).replace(path / name)
    shutil.rmtree(staging, ignore_errors=True)


def repair(path: str | Path, lock: WriterLock, *, tvm: bool = False) -> Report:
    """Move every bad line of the work dir out, and leave duplicate workload lines out (their records renumbered
    to the line they repeat). The original files are kept as ``<file>.<time>.bak``, and every line moved out is
    named, with its reason, in ``workbench_rejected.txt``. Needs the work dir's writer lock. The new files are
    staged first and put in place only once all are written: a crash leaves the old set or the new one.
    Returns what was found."""
    path = Path(path)
    if not lock.held or lock.path.parent.resolve() != path.resolve():
        raise RuntimeError(f"{path}: repairing a work dir needs its writer lock")
    _finish_staged(path)
    report = check(path, tvm=tvm)
    if report.ok:
        return report
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in FILES:
        if (path / name).is_file():
            shutil.copy2(path / name, path / f"{name}.{stamp}.bak")
    staging = path / STAGING
    staging.mkdir()
    moved = _cleaned(path, report, staging)
    write_atomically(staging / "READY", b"")
    _finish_staged(path)
    with open(path / "workbench_rejected.txt", "a") as f:
        f.writelines(line + "\n" for line in moved)
    return report


def clean_copy(path: str | Path, report: Report | None = None) -> Path:
    """A temporary copy of the work dir without its bad lines, for a reader to open (the dir is untouched)."""
    path = Path(path)
    report = report or check(path, tvm=True)
    out = Path(tempfile.mkdtemp(prefix="workbench-clean-"))
    _cleaned(path, report, out)
    return out
