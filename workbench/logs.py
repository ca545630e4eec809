"""Tuning logs in MetaSchedule's JSON database layout, with workbench side files, loaded into pandas.

A work dir holds TVM's two files, unchanged in format, so plain TVM logs open here and ours open in TVM:

* ``database_workload.json``: one line a workload, ``[structural_hash, base64 IR JSON]``;
* ``database_tuning_record.json``: one line a record, ``[workload_index, [trace, run_secs, target, args_info]]``.

The workbench adds side files that TVM ignores (JSON lines as well):

* ``workbench_subgraphs.json``: the name, weight, op and FLOPs of each workload (by structural hash);
* ``workbench_measurements.json``: per record its status, error message, repeats and hardware id;
* ``workbench_hardware.json``: the hardware descriptors, by id.

Every line is appended in one ``write`` and flushed, so a killed run leaves at most one partial last line;
readers report it and keep everything else, and the next append moves it aside to ``*.partial`` first.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._tvm import import_tvm

WORKLOAD_FILE = "database_workload.json"
RECORD_FILE = "database_tuning_record.json"
SUBGRAPH_FILE = "workbench_subgraphs.json"
MEASURE_FILE = "workbench_measurements.json"
HARDWARE_FILE = "workbench_hardware.json"
FAILED_RUN_SECS = 1e10  # MetaSchedule stores failed measurements with this time


class LogFormatError(ValueError):
    """A malformed log line; ``partial`` holds everything that was read correctly."""

    def __init__(self, problems: list[str], partial: Any = None) -> None:
        self.problems = problems
        self.partial = partial
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}; pass errors='warn' to load the valid records around it")


def trace_hash(trace_json: Any) -> str:
    """A short stable id of a trace (its canonical JSON)."""
    return hashlib.sha1(json.dumps(trace_json, separators=(",", ":"), sort_keys=True).encode()).hexdigest()[:16]


def _bools_as_ints(obj: Any) -> Any:
    if isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, list | tuple):
        return [_bools_as_ints(x) for x in obj]
    return obj


def _read_lines(path: Path, problems: list[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for each valid line; bad lines are described in ``problems``."""
    if not path.is_file():
        return
    with path.open("rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            last = number == len(lines) and not data.endswith(b"\n")
            reason = getattr(err, "msg", None) or getattr(err, "reason", None) or str(err)
            why = "truncated last line (was a run killed while writing?)" if last else f"invalid JSON ({reason})"
            problems.append(f"{path}:{number}: {why}")


def _append_line(path: Path, obj: Any) -> None:
    """Append one JSON line atomically enough for crash safety (one write, then fsync)."""
    payload = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)


def _repair_tail(path: Path) -> None:
    """End the file with a newline before appending.

    A complete last line that only lacks its newline is kept; a partial one (from a killed writer) is moved
    to ``<file>.partial`` so that nothing is silently dropped and appends start on a clean line.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":  # the common case: only the last byte is read
            return
        f.seek(0)
        data = f.read()
        cut = data.rfind(b"\n") + 1
        try:
            json.loads(data[cut:])
        except ValueError:
            pass
        else:
            f.write(b"\n")  # a whole record without its newline: keep it
            return
        with open(str(path) + ".partial", "ab") as side:
            side.write(data[cut:] + b"\n")
        f.truncate(cut)


@dataclass
class WorkloadEntry:
    index: int  # line index in database_workload.json (what records refer to)
    shash: str  # TVM structural hash, as TVM writes it
    raw: list  # the line as stored
    name: str = ""  # subgraph name from the side file ("workload_<i>" for plain TVM logs)
    info: dict[str, Any] = field(default_factory=dict)

    def module(self) -> Any:
        """The workload's IRModule (decoded by TVM)."""
        import_tvm()
        from tvm.s_tir.meta_schedule.database import Workload

        return Workload.from_json(self.raw).mod


class WorkDir:
    """Read and append a MetaSchedule-compatible work dir."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_dir():
            raise FileNotFoundError(f"{self.path}: no such log directory")
        self._workloads: dict[str, WorkloadEntry] | None = None

    def file(self, name: str) -> Path:
        return self.path / name

    # -- reading -----------------------------------------------------------------------------------
    def workloads(self, problems: list[str] | None = None) -> list[WorkloadEntry]:
        problems = problems if problems is not None else []
        entries: list[WorkloadEntry] = []
        names: dict[str, dict[str, Any]] = {}
        for number, obj in _read_lines(self.file(SUBGRAPH_FILE), problems):
            if isinstance(obj, dict) and "shash" in obj:
                names[str(obj["shash"])] = obj
            else:
                problems.append(f"{self.file(SUBGRAPH_FILE)}:{number}: expected an object with 'shash'")
        for number, obj in _read_lines(self.file(WORKLOAD_FILE), problems):
            if not (isinstance(obj, list) and len(obj) == 2 and isinstance(obj[1], str)):
                problems.append(f"{self.file(WORKLOAD_FILE)}:{number}: expected [structural_hash, base64 IR]")
                continue
            info = names.get(str(obj[0]), {})
            entries.append(WorkloadEntry(index=number - 1, shash=str(obj[0]), raw=obj,
                                         name=info.get("name", f"workload_{number - 1}"), info=info))
        return entries

    def hardware(self, problems: list[str] | None = None) -> dict[str, dict[str, Any]]:
        problems = problems if problems is not None else []
        return {str(o.get("id")): o for _, o in _read_lines(self.file(HARDWARE_FILE), problems)
                if isinstance(o, dict)}

    def records(self, *, errors: str = "raise") -> list[dict[str, Any]]:
        """Every tuning record as a dict, joined with its workload and measurement details."""
        if errors not in ("raise", "warn", "ignore"):
            raise ValueError("errors must be 'raise', 'warn' or 'ignore'")
        problems: list[str] = []
        workloads = {w.index: w for w in self.workloads(problems)}
        measures: dict[tuple[int, str], dict[str, Any]] = {}
        for number, obj in _read_lines(self.file(MEASURE_FILE), problems):
            try:
                measures[(int(obj["workload"]), str(obj["trace_hash"]))] = obj
            except (KeyError, TypeError, ValueError):
                problems.append(f"{self.file(MEASURE_FILE)}:{number}: expected an object with workload, trace_hash")
        rows = []
        for number, obj in _read_lines(self.file(RECORD_FILE), problems):
            where = f"{self.file(RECORD_FILE)}:{number}"
            try:
                wl_index, (trace, run_secs, target, args_info) = int(obj[0]), obj[1][:4]
                if not (isinstance(trace, list) and len(trace) == 2):
                    raise ValueError("trace is not [insts, decisions]")
                secs = [float(s) for s in (run_secs or [])]
            except (TypeError, ValueError, IndexError, KeyError) as err:
                problems.append(f"{where}: not a MetaSchedule tuning record ({type(err).__name__}: {err})")
                continue
            if wl_index not in workloads:
                problems.append(f"{where}: refers to workload {wl_index}, which {self.file(WORKLOAD_FILE)} lacks")
                continue
            wl = workloads[wl_index]
            key = trace_hash(trace)
            extra = measures.get((wl_index, key), {})
            failed = not secs or any(s >= FAILED_RUN_SECS for s in secs)
            status = extra.get("status", "error" if failed else "ok")
            repeats = [] if failed else secs
            rows.append({
                "subgraph": wl.name, "workload": wl_index, "trace_hash": key, "trace": trace,
                "latency": statistics.median(repeats) if repeats else math.nan,
                "run_secs": repeats, "status": status, "error": extra.get("error"),
                "hardware": extra.get("hardware"), "target": target, "args_info": args_info,
                "record": number - 1, "op": wl.info.get("op", ""), "flops": wl.info.get("flops", math.nan),
                "weight": wl.info.get("weight", 1), "trial": extra.get("trial"),
            })
        if problems:
            if errors == "raise":
                raise LogFormatError(problems, partial=rows)
            if errors == "warn":
                for p in problems:
                    warnings.warn(p, stacklevel=2)
        return rows

    # -- appending ---------------------------------------------------------------------------------
    def workload_index(self, subgraph: Any) -> int:
        """The index of ``subgraph``'s workload, committing it (and its side entry) if new."""
        import_tvm()
        from tvm.s_tir.meta_schedule.database import Workload

        from workbench.actions import to_plain_json

        if self._workloads is None:
            self._workloads = {w.shash: w for w in self.workloads([])}
        raw = to_plain_json(Workload(subgraph.mod).as_json())
        shash = str(raw[0])
        info = {"shash": shash, "name": subgraph.name, "op": subgraph.op, "weight": subgraph.weight,
                "flops": subgraph.flops, "source": subgraph.source}
        for name in (WORKLOAD_FILE, SUBGRAPH_FILE):
            _repair_tail(self.file(name))
        known = self._workloads.get(shash)
        if known is not None:
            if not known.info:  # a plain TVM workload, or a run killed between the two writes
                _append_line(self.file(SUBGRAPH_FILE), info)
                known.name, known.info = subgraph.name, info
            return known.index
        # The side line goes first: an orphan side line is harmless, a nameless workload is not.
        _append_line(self.file(SUBGRAPH_FILE), info)
        path = self.file(WORKLOAD_FILE)
        index = path.read_bytes().count(b"\n") if path.is_file() else 0  # TVM indexes workloads by line
        _append_line(path, raw)
        self._workloads[shash] = WorkloadEntry(index=index, shash=shash, raw=raw, name=subgraph.name, info=info)
        return index

    def add_subgraph_info(self, subgraph: Any) -> str:
        """Write only the side entry of ``subgraph`` (name, op, weight, FLOPs) if missing; returns its hash.

        For work dirs whose TVM files TVM itself writes (a tuning run's ``JSONDatabase``).
        """
        import_tvm()
        from tvm.s_tir.meta_schedule.database import Workload

        from workbench.actions import to_plain_json

        cache = self.__dict__.setdefault("_info_written", {})
        if subgraph.name in cache:
            return cache[subgraph.name]
        shash = str(to_plain_json(Workload(subgraph.mod).as_json())[0])
        problems: list[str] = []
        known = {str(o.get("shash")) for _, o in _read_lines(self.file(SUBGRAPH_FILE), problems) if isinstance(o, dict)}
        if shash not in known:
            _repair_tail(self.file(SUBGRAPH_FILE))
            _append_line(self.file(SUBGRAPH_FILE), {"shash": shash, "name": subgraph.name, "op": subgraph.op,
                                                    "weight": subgraph.weight, "flops": subgraph.flops,
                                                    "source": subgraph.source})
        cache[subgraph.name] = shash
        return shash

    def add_measurement(self, subgraph: Any, trace: Any, *, status: str, error: str | None, run_secs: list[float],
                        hardware: str, trial: int | None = None) -> None:
        """Write the side line of a candidate whose TVM record line TVM writes itself (``AddToDatabase``).

        The workload must already be in ``database_workload.json`` (TVM commits it when tuning starts).
        """
        from workbench.actions import to_plain_json

        shash = self.add_subgraph_info(subgraph)
        entry = (self._workloads or {}).get(shash)
        if entry is None:
            self._workloads = {w.shash: w for w in self.workloads([])}
            entry = self._workloads.get(shash)
        if entry is None:
            raise ValueError(f"{self.file(WORKLOAD_FILE)}: no workload for subgraph {subgraph.name!r} yet")
        _repair_tail(self.file(MEASURE_FILE))
        # TVM's JSON writer stores booleans as 1/0: hash the trace as it will appear in the record file.
        written = _bools_as_ints(to_plain_json(trace.as_json(remove_postproc=False)))
        _append_line(self.file(MEASURE_FILE), {
            "workload": entry.index, "trace_hash": trace_hash(written), "status": status,
            "error": error, "run_secs": run_secs, "hardware": hardware, "build_secs": None, "trial": trial,
        })

    def add_hardware(self, desc: dict[str, Any]) -> None:
        if desc["id"] not in self.hardware([]):
            _repair_tail(self.file(HARDWARE_FILE))
            _append_line(self.file(HARDWARE_FILE), desc)

    def append(self, subgraph: Any, candidate: Any, result: Any, *, target: Any, trial: int | None = None) -> None:
        """Append one measured candidate: the workbench side line first, then TVM's record line.

        A kill between the two leaves an orphan side line (ignored) rather than a record without its status.
        """
        import_tvm()
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo
        from tvm.s_tir.meta_schedule.database import TuningRecord, Workload

        from workbench.actions import to_plain_json

        wl_index = self.workload_index(subgraph)
        for name in (RECORD_FILE, MEASURE_FILE):
            _repair_tail(self.file(name))
        secs = result.run_secs if result.ok else [FAILED_RUN_SECS]
        record = TuningRecord(candidate.trace, Workload(subgraph.mod), secs, target,
                              ArgInfo.from_prim_func(subgraph.mod["main"]))
        body = to_plain_json(record.as_json())
        _append_line(self.file(MEASURE_FILE), {
            "workload": wl_index, "trace_hash": trace_hash(body[0]), "status": result.status,
            "error": result.error, "run_secs": result.run_secs, "hardware": result.hardware,
            "build_secs": round(result.build_secs, 4), "trial": trial,
        })
        _append_line(self.file(RECORD_FILE), [wl_index, body])

    def repair(self) -> None:
        """Move partial last lines aside (done automatically before every append)."""
        for name in (WORKLOAD_FILE, RECORD_FILE, SUBGRAPH_FILE, MEASURE_FILE, HARDWARE_FILE):
            _repair_tail(self.file(name))


def load_logs(*paths: str | Path, errors: str = "raise", with_actions: bool = True,
              progress: bool | None = None) -> Any:
    """Tuning records of one or more work dirs (or a folder of work dirs) as a pandas DataFrame.

    Columns: subgraph, workload, trace_hash, trace, actions, n_actions, latency (median seconds, NaN on
    failure), run_secs (repeats), spread, status, error, hardware (dict), target, op, flops, weight, logdir.
    A progress bar shows while many work dirs load (``progress`` forces it on or off).
    """
    import pandas as pd

    from workbench.actions import CandidateError, actions_from_json

    dirs: list[Path] = []
    for p in map(Path, paths):
        if (p / RECORD_FILE).is_file() or (p / WORKLOAD_FILE).is_file():
            dirs.append(p)
        elif p.is_dir():
            dirs += sorted(d.parent for d in p.rglob(RECORD_FILE))
        else:
            raise FileNotFoundError(f"{p}: no such log directory")
    from tqdm.auto import tqdm

    frames = []
    show = len(dirs) > 4 if progress is None else progress  # a few seconds per few thousand records
    for d in tqdm(dirs, desc="loading logs", unit="dir", disable=not show, leave=False):
        wd = WorkDir(d)
        rows = wd.records(errors=errors)
        hardware = wd.hardware([])
        for row in rows:
            row["hardware"] = hardware.get(row["hardware"], {"id": row["hardware"]} if row["hardware"] else None)
            row["logdir"] = str(d)
        frames.append(pd.DataFrame(rows))
    columns = ["subgraph", "workload", "trace_hash", "trace", "latency", "run_secs", "status", "error", "hardware",
               "target", "args_info", "op", "flops", "weight", "trial", "record", "logdir"]
    frames = [f for f in frames if not f.empty]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    if df.empty:
        return df.assign(actions=[], n_actions=[], spread=[])
    if with_actions:
        actions, bad = [], []
        for i, row in df.iterrows():
            try:
                actions.append(actions_from_json(row["trace"]))
            except CandidateError as err:
                actions.append(None)
                bad.append((i, f"{Path(row['logdir']) / RECORD_FILE}:{row['record'] + 1}: {err}"))
        df["actions"] = actions
        if bad:
            if errors == "raise":
                raise LogFormatError([msg for _, msg in bad], partial=df.drop(index=[i for i, _ in bad]))
            for _, msg in bad:
                if errors == "warn":
                    warnings.warn(msg, stacklevel=2)
            df = df.drop(index=[i for i, _ in bad]).reset_index(drop=True)
        df["n_actions"] = df["actions"].map(len)
    df["spread"] = [(max(r) - min(r)) / statistics.median(r) if len(r) > 1 else 0.0 for r in df["run_secs"]]
    return df
