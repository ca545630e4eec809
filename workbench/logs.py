"""Tuning logs in MetaSchedule's JSON database layout, with workbench side files, loaded into pandas.

A work dir holds TVM's two files, unchanged in format, so plain TVM logs open here and ours open in TVM:

* ``database_workload.json``: one line a workload, ``[structural_hash, base64 IR JSON]``;
* ``database_tuning_record.json``: one line a record, ``[workload_index, [trace, run_secs, target, args_info]]``.

The workbench adds side files that TVM ignores (JSON lines as well):

* ``workbench_subgraphs.json``: the name, weight, op and FLOPs of each workload (by structural hash);
* ``workbench_measurements.json``: per record its status, error message, repeats and hardware id;
* ``workbench_hardware.json``: the hardware descriptors, by id.

Reading never modifies a work dir and never fails on a bad line: every line is parsed and checked
(:mod:`workbench.integrity`), bad ones are reported by file and line and the rest is kept. Writing needs the
work dir's writer lock (:class:`workbench.logfiles.WriterLock`), which a :class:`WorkDir` takes at its first
write (or is handed); every line is appended in one fsync'd write that completes or raises, and a partial last
line left by a killed writer is moved aside to ``*.partial`` before the next append.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._tvm import import_tvm
from workbench.actions import CandidateError, actions_from_json
from workbench.integrity import (
    CONFIRM_FILE,
    FAILED_RUN_SECS,
    HARDWARE_FILE,
    MEASURE_FILE,
    RECORD_FILE,
    SUBGRAPH_FILE,
    WORKLOAD_FILE,
    confirmation_problem,
    hardware_problem,
    measurement_problem,
    record_problem,
    subgraph_problem,
    workload_problem,
)
from workbench.integrity import repair as repair_work_dir
from workbench.logfiles import WriterLock, append_line, parse_lines, repair_tail
from workbench.measure import median_latency
from workbench.traces import canonical_json, json_hash, to_plain_json, trace_key

__all__ = ["CONFIRM_FILE", "FAILED_RUN_SECS", "HARDWARE_FILE", "MEASURE_FILE", "RECORD_FILE", "SUBGRAPH_FILE", "WORKLOAD_FILE",
           "LogFormatError", "WorkDir", "WorkloadEntry", "load_logs"]


class LogFormatError(ValueError):
    """A malformed log line; ``partial`` holds everything that was read correctly."""

    def __init__(self, problems: list[str], partial: Any = None) -> None:
        self.problems = problems
        self.partial = partial
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}; pass errors='warn' to load the valid records around it")


def _checked(path: Path, problems: list[str], check: Any) -> list[tuple[int, Any]]:
    """The lines of ``path`` that parse and pass ``check``; the others are described in ``problems``."""
    out = []
    for number, obj in parse_lines(path, problems):
        why = check(obj)
        if why:
            problems.append(f"{path}:{number}: {why}")
        else:
            out.append((number, obj))
    return out


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
    """Read and append a MetaSchedule-compatible work dir.

    Appending takes the work dir's writer lock at the first write (``lock``: one already held, e.g. a tuning
    run's) and keeps it until :meth:`close`; another process's writer is refused (``WorkDirBusy``).
    """

    def __init__(self, path: str | Path, *, create: bool = False, lock: WriterLock | None = None) -> None:
        self.path = Path(path)
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_dir():
            raise FileNotFoundError(f"{self.path}: no such log directory")
        self.lock = lock or WriterLock(self.path)
        self._own_lock = lock is None
        self._workloads: dict[str, WorkloadEntry] | None = None
        self._info_written: dict[str, str] = {}  # subgraph name -> structural hash, side entry checked

    def file(self, name: str) -> Path:
        return self.path / name

    def _writable(self, *names: str) -> None:
        """Before an append: hold the writer lock, and end the files with a clean line."""
        self.lock.acquire()
        for name in names:
            repair_tail(self.file(name))

    def close(self) -> None:
        """Release the writer lock (if this WorkDir took it)."""
        if self._own_lock:
            self.lock.release()

    # -- reading -----------------------------------------------------------------------------------
    def workloads(self, problems: list[str] | None = None) -> list[WorkloadEntry]:
        """The valid workload lines (``index``: the line's position, as TVM numbers them), named by the
        side file; problems are described in ``problems``."""
        problems = problems if problems is not None else []
        names = {obj["shash"]: obj for _, obj in _checked(self.file(SUBGRAPH_FILE), problems, subgraph_problem)}
        entries: list[WorkloadEntry] = []
        seen: set[str] = set()
        for number, obj in _checked(self.file(WORKLOAD_FILE), problems, workload_problem):
            if obj[0] in seen:
                problems.append(f"{self.file(WORKLOAD_FILE)}:{number}: duplicates an earlier workload line (the "
                                "same program; TVM would number the records after it wrongly)")
            seen.add(obj[0])
            info = names.get(obj[0], {})
            entries.append(WorkloadEntry(index=number - 1, shash=obj[0], raw=obj,
                                         name=info.get("name", f"workload_{number - 1}"), info=info))
        return entries

    def default_source(self) -> str:
        """Where records without a ``source`` on their side line come from: ``tune:<cost model>`` in a tuning
        run's work dir, ``random`` (a collection) otherwise."""
        try:
            return f"tune:{json.loads(self.file('workbench_run.json').read_text())['config']['cost_model']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "random"

    def confirmations(self, problems: list[str] | None = None) -> dict[tuple[int, str], list[float]]:
        """Per (workload, trace key): the latencies of its re-measurements in the latest confirmation pass of
        its workload (see :mod:`workbench.tuning.results`)."""
        problems = problems if problems is not None else []
        lines = [obj for _, obj in _checked(self.file(CONFIRM_FILE), problems, confirmation_problem)]
        latest = self.confirmation_passes(lines)
        return {(o["workload"], o["trace_hash"]): o["latencies"] for o in lines if o["pass"] == latest[o["workload"]]}

    def confirmation_passes(self, lines: list[dict[str, Any]] | None = None) -> dict[int, int]:
        """Per workload: the index of its latest confirmation pass."""
        if lines is None:
            lines = [obj for _, obj in _checked(self.file(CONFIRM_FILE), [], confirmation_problem)]
        latest: dict[int, int] = {}
        for obj in lines:
            latest[obj["workload"]] = max(latest.get(obj["workload"], 0), obj["pass"])
        return latest

    def add_confirmation(self, workload: int, key: str, latencies: list[float], *, pass_index: int,
                         hardware: str) -> None:
        """Append the re-measured latencies (one per round) of the record ``key`` of ``workload``."""
        self._writable(CONFIRM_FILE)
        append_line(self.file(CONFIRM_FILE), {"workload": workload, "trace_hash": key, "latencies": latencies,
                                              "pass": pass_index, "hardware": hardware})

    def hardware(self, problems: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """The hardware descriptors, by id."""
        problems = problems if problems is not None else []
        return {o["id"]: o for _, o in _checked(self.file(HARDWARE_FILE), problems, hardware_problem)}

    def records(self, *, errors: str = "raise") -> list[dict[str, Any]]:
        """Every tuning record as a dict, joined with its workload and measurement details."""
        if errors not in ("raise", "warn", "ignore"):
            raise ValueError("errors must be 'raise', 'warn' or 'ignore'")
        problems: list[str] = []
        self.hardware(problems)  # its problems are the dir's too
        workloads = {w.index: w for w in self.workloads(problems)}
        n_lines = max(workloads, default=-1) + 1
        measures = SideLines(obj for _, obj in _checked(self.file(MEASURE_FILE), problems, measurement_problem))
        confirmed = self.confirmations(problems)
        default_source = self.default_source()
        rows = []
        for number, obj in _checked(self.file(RECORD_FILE), problems, lambda o: record_problem(o, n_lines)):
            wl_index, (trace, run_secs, target, args_info) = obj[0], obj[1]
            if wl_index not in workloads:
                problems.append(f"{self.file(RECORD_FILE)}:{number}: refers to workload {wl_index}, whose line in "
                                f"{WORKLOAD_FILE} is bad")
                continue
            wl = workloads[wl_index]
            key = trace_key(trace)
            extra = measures.take(wl_index, trace, key)
            secs = [float(s) for s in run_secs or []]
            failed = not secs or any(s >= FAILED_RUN_SECS for s in secs)
            status = extra.get("status", "error" if failed else "ok")
            if failed and status == "ok":
                status = "error"  # the record file (what TVM reads) says it failed
            repeats = [] if failed else secs
            rows.append({
                "subgraph": wl.name, "workload": wl_index, "trace_key": key, "trace": trace,
                "latency": median_latency(repeats),
                "run_secs": repeats, "status": status, "error": extra.get("error"),
                "hardware": extra.get("hardware"), "target": target, "args_info": args_info,
                "record": number - 1, "op": wl.info.get("op", ""), "flops": wl.info.get("flops", math.nan),
                "weight": wl.info.get("weight", 1), "trial": extra.get("trial"),
                "confirmed_latency": median_latency(confirmed.get((wl_index, key), [])),
                "source": extra.get("source") or default_source,
                "session": extra.get("session"), "elapsed": extra.get("elapsed"),
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

        if self._workloads is None:
            self._workloads = {w.shash: w for w in self.workloads([])}
        raw = to_plain_json(Workload(subgraph.mod).as_json())
        info = {"shash": str(raw[0]), "name": subgraph.name, "op": subgraph.op, "weight": subgraph.weight,
                "flops": subgraph.flops, "source": subgraph.source}
        return self.commit_workload(raw, info)

    def commit_workload(self, raw: list, info: dict[str, Any]) -> int:
        """The index of the workload ``raw`` (its line as TVM stores it), appending it and its side entry
        ``info`` if new (e.g. a workload read from another work dir)."""
        if self._workloads is None:
            self._workloads = {w.shash: w for w in self.workloads([])}
        shash = str(raw[0])
        info = {**info, "shash": shash}
        self._writable(WORKLOAD_FILE, SUBGRAPH_FILE)
        known = self._workloads.get(shash)
        if known is not None:
            if not known.info:  # a plain TVM workload, or a run killed between the two writes
                append_line(self.file(SUBGRAPH_FILE), info)
                known.name, known.info = info["name"], info
            return known.index
        # The side line goes first: an orphan side line is harmless, a nameless workload is not.
        append_line(self.file(SUBGRAPH_FILE), info)
        path = self.file(WORKLOAD_FILE)
        index = path.read_bytes().count(b"\n") if path.is_file() else 0  # TVM indexes workloads by line
        append_line(path, raw)
        self._workloads[shash] = WorkloadEntry(index=index, shash=shash, raw=raw, name=info["name"], info=info)
        return index

    def add_subgraph_info(self, subgraph: Any) -> str:
        """Write only the side entry of ``subgraph`` (name, op, weight, FLOPs) if missing; returns its hash.

        For work dirs whose TVM files TVM itself writes (a tuning run's ``JSONDatabase``).
        """
        import_tvm()
        from tvm.s_tir.meta_schedule.database import Workload

        cache = self._info_written
        if subgraph.name in cache:
            return cache[subgraph.name]
        shash = str(to_plain_json(Workload(subgraph.mod).as_json())[0])
        known = {o["shash"] for _, o in _checked(self.file(SUBGRAPH_FILE), [], subgraph_problem)}
        if shash not in known:
            self._writable(SUBGRAPH_FILE)
            append_line(self.file(SUBGRAPH_FILE), {"shash": shash, "name": subgraph.name, "op": subgraph.op,
                                                    "weight": subgraph.weight, "flops": subgraph.flops,
                                                    "source": subgraph.source})
        cache[subgraph.name] = shash
        return shash

    def add_measurement(self, subgraph: Any, trace: Any, *, status: str, error: str | None, run_secs: list[float],
                        hardware: str, trial: int | None = None, source: str | None = None,
                        session: int | None = None, elapsed: float | None = None) -> None:
        """Write the side line of a candidate whose TVM record line TVM writes itself (``AddToDatabase``).

        The workload must already be in ``database_workload.json`` (TVM commits it when tuning starts).
        ``session`` and ``elapsed`` (seconds since that session of the run started) place the measurement on a
        run's wall clock (:func:`workbench.views.curves_from_work_dirs`).
        """
        shash = self.add_subgraph_info(subgraph)
        entry = (self._workloads or {}).get(shash)
        if entry is None:
            self._workloads = {w.shash: w for w in self.workloads([])}
            entry = self._workloads.get(shash)
        if entry is None:
            raise ValueError(f"{self.file(WORKLOAD_FILE)}: no workload for subgraph {subgraph.name!r} yet")
        self._writable(MEASURE_FILE)
        append_line(self.file(MEASURE_FILE), {
            "workload": entry.index, "trace_hash": trace_key(trace), "status": status,
            "error": error, "run_secs": run_secs, "hardware": hardware, "build_secs": None, "trial": trial,
            "source": source, "session": session, "elapsed": None if elapsed is None else round(float(elapsed), 3),
        })

    def add_hardware(self, desc: dict[str, Any]) -> None:
        if desc["id"] not in self.hardware([]):
            self._writable(HARDWARE_FILE)
            append_line(self.file(HARDWARE_FILE), desc)

    def append(self, subgraph: Any, candidate: Any, result: Any, *, target: Any, trial: int | None = None) -> None:
        """Append one measured candidate: the workbench side line first, then TVM's record line.

        A kill between the two leaves an orphan side line (ignored) rather than a record without its status.
        """
        import_tvm()
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo
        from tvm.s_tir.meta_schedule.database import TuningRecord, Workload

        wl_index = self.workload_index(subgraph)
        self._writable(RECORD_FILE, MEASURE_FILE)
        secs = result.run_secs if result.ok else [FAILED_RUN_SECS]
        record = TuningRecord(candidate.trace, Workload(subgraph.mod), secs, target,
                              ArgInfo.from_prim_func(subgraph.mod["main"]))
        body = canonical_json(to_plain_json(record.as_json()))  # booleans as 1/0, as TVM's own writer stores them
        append_line(self.file(MEASURE_FILE), {
            "workload": wl_index, "trace_hash": trace_key(body[0]), "status": result.status,
            "error": result.error, "run_secs": result.run_secs, "hardware": result.hardware,
            "build_secs": round(result.build_secs, 4), "trial": trial, "source": "random",
        })
        append_line(self.file(RECORD_FILE), [wl_index, body])

    def import_record(self, workload: WorkloadEntry, record: list, side: dict[str, Any]) -> None:
        """Append a record read from another work dir (its workload, its record line, its side line)."""
        index = self.commit_workload(workload.raw, workload.info or {"name": workload.name})
        self._writable(RECORD_FILE, MEASURE_FILE)
        append_line(self.file(MEASURE_FILE), {**side, "workload": index, "trace_hash": trace_key(record[1][0])})
        append_line(self.file(RECORD_FILE), [index, record[1]])

    def repair(self, *, tvm: bool = False) -> list[str]:
        """Take the writer lock and move every bad line out (:func:`workbench.integrity.repair`); returns the
        problems found (``tvm``: also lines TVM's own parsers refuse)."""
        self.lock.acquire()
        self._workloads = None
        return repair_work_dir(self.path, self.lock, tvm=tvm).problems()


class SideLines:
    """Side lines of a measurement file by (workload, trace key), handed out in file order: the n-th record of a
    trace gets that trace's n-th side line, so the same trace measured on two machines (or measured again) keeps
    each measurement's own status and machine. Side lines written before the canonical key hash the trace as
    stored (booleans as true/false); a trace's lines under either hash are one list, in file order. A record
    beyond its trace's side lines gets the last one."""

    def __init__(self, objs: Any) -> None:
        self._lines: dict[tuple[int, str], list[tuple[int, dict[str, Any]]]] = {}
        self._used: dict[tuple[int, str], int] = {}
        for position, obj in enumerate(objs):
            if isinstance(obj, dict) and "workload" in obj and "trace_hash" in obj:
                self._lines.setdefault((obj["workload"], obj["trace_hash"]), []).append((position, obj))

    def take(self, workload: int, trace: Any, key: str | None = None) -> dict[str, Any]:
        """The next side line of ``trace`` in ``workload`` ({} if it has none)."""
        key = key or trace_key(trace)
        lines = self._lines.get((workload, key), [])
        legacy = json_hash(trace)
        if legacy != key:
            lines = sorted(lines + self._lines.get((workload, legacy), []), key=lambda pair: pair[0])
        if not lines:
            return {}
        used = self._used.get((workload, key), 0)
        self._used[(workload, key)] = used + 1
        return lines[min(used, len(lines) - 1)][1]


def load_logs(*paths: str | Path, errors: str = "raise", with_actions: bool = True,
              progress: bool | None = None) -> Any:
    """Tuning records of one or more work dirs (or a folder of work dirs) as a pandas DataFrame.

    Columns: subgraph, workload, trace_key (see :func:`workbench.traces.trace_key`), trace, actions, n_actions, latency (median seconds, NaN on
    failure), run_secs (repeats), spread, status, error, hardware (dict), machine (its hardware id, or None),
    target, op, flops, weight, logdir, and confirmed_latency (the median of the record's re-measurements, NaN if it was not confirmed) and source
    (``random`` for collected samples, ``tune:<cost model>`` for records of a tuning run), session and elapsed (a
    tuning run's session of the record and the seconds since it started; None for records written before).
    A progress bar shows while many work dirs load (``progress`` forces it on or off).
    """
    import pandas as pd

    dirs: list[Path] = []
    for p in map(Path, paths):
        if (p / RECORD_FILE).is_file() or (p / WORKLOAD_FILE).is_file():
            dirs.append(p)
        elif p.is_dir():
            # Dot dirs (a repair's staging) are not work dirs of their own.
            dirs += sorted(d.parent for d in p.rglob(RECORD_FILE)
                           if not any(part.startswith(".") for part in d.relative_to(p).parts))
        else:
            raise FileNotFoundError(f"{p}: no such log directory")
    from tqdm.auto import tqdm

    rows_of_all: list[dict] = []
    show = len(dirs) > 4 if progress is None else progress  # a few seconds per few thousand records
    for d in tqdm(dirs, desc="loading logs", unit="dir", disable=not show, leave=False):
        wd = WorkDir(d)
        rows = wd.records(errors=errors)
        hardware = wd.hardware([])
        for row in rows:
            row["hardware"] = hardware.get(row["hardware"], {"id": row["hardware"]} if row["hardware"] else None)
            row["logdir"] = str(d)
        rows_of_all += rows
    columns = ["subgraph", "workload", "trace_key", "trace", "latency", "run_secs", "status", "error", "hardware",
               "machine", "target", "args_info", "op", "flops", "weight", "trial", "record", "confirmed_latency", "source",
               "session", "elapsed", "logdir"]
    # One frame of all rows, not a concat of one frame per dir: pandas deprecates concat's dtype rule for
    # columns that are all None in some dirs (session, elapsed of old records) and warns.
    df = pd.DataFrame(rows_of_all) if rows_of_all else pd.DataFrame(columns=columns)
    if df.empty:
        return df.assign(actions=[], n_actions=[], spread=[])
    # Latencies compare only within one machine: rank and normalize per (subgraph, machine).
    df.insert(df.columns.get_loc("hardware") + 1, "machine",
              [h.get("id") if isinstance(h, dict) else None for h in df["hardware"]])
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
    df["spread"] = [(max(r) - min(r)) / median_latency(r) if len(r) > 1 else 0.0 for r in df["run_secs"]]
    return df
