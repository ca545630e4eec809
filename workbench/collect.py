"""Collect measured tuning records: random, diverse candidates per subgraph, appended as measured; resumable."""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.actions import DesignSpace
from workbench.logfiles import raw_lines
from workbench.logs import WorkDir
from workbench.measure import Measurer
from workbench.subgraphs import Subgraph, load_subgraph


@dataclass
class CollectSummary:
    subgraph: str
    existing: int  # records already in the work dir before this run
    measured: int  # records added by this run
    ok: int
    failed: int
    best_ms: float
    seconds: float


def _stable_seed(*parts: Any) -> int:
    digest = hashlib.sha1("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") % (2**31 - 2) + 1


def collect(subgraphs: Sequence[str | Subgraph], *, out: str | Path, target: Any = "cpu", trials: int = 64,
            batch_size: int = 32, seed: int = 0, measurer: Measurer | None = None,
            split: bool = False, progress: bool = True) -> list[CollectSummary]:
    """Measure ``trials`` random candidates of each subgraph into the work dir ``out``.

    Resumes where it stopped: records this machine (the measurer's hardware id) already measured in ``out``
    count towards ``trials`` and are never measured again; records of other machines in the same work dir do
    not count (a second machine measures its own ``trials``). Every record is appended as soon as it is
    measured, failures included.
    With ``split``, each subgraph gets its own work dir ``out/<name>`` (``/`` in names becomes ``__``).
    """
    own_measurer = measurer is None
    measurer = measurer or Measurer(target)
    try:
        return _collect(subgraphs, out=out, trials=trials, batch_size=batch_size, seed=seed, measurer=measurer,
                        split=split, progress=progress)
    finally:
        if own_measurer:
            measurer.close()


def _collect(subgraphs: Sequence[str | Subgraph], *, out: str | Path, trials: int, batch_size: int, seed: int,
             measurer: Measurer, split: bool, progress: bool) -> list[CollectSummary]:
    from tqdm.auto import tqdm

    if trials < 1 or batch_size < 1:
        raise ValueError(f"trials and batch_size must be positive (got {trials}, {batch_size})")
    resolved = [s if isinstance(s, Subgraph) else load_subgraph(s) for s in subgraphs]
    workdirs: dict[str, WorkDir] = {}
    try:
        plan = []
        done: dict[tuple[str, int], set[str]] = {}
        for sub in resolved:
            path = Path(out) / sub.name.replace("/", "__") if split else Path(out)
            if str(path) not in workdirs:
                wd = workdirs[str(path)] = WorkDir(path, create=True)
                wd.lock.acquire()  # one writer per work dir, for the whole collection (WorkDirBusy otherwise)
                for problem in wd.repair():
                    warnings.warn(f"moved out of the work dir: {problem}", stacklevel=3)
                wd.add_hardware(measurer.hardware)
                mine = measurer.hardware["id"]
                for row in wd.records(errors="warn"):
                    if row.get("hardware") in (None, mine):  # a record without a machine counts as ours
                        done.setdefault((str(path), row["workload"]), set()).add(row["trace_key"])
            wd = workdirs[str(path)]
            plan.append((sub, wd, (str(path), wd.workload_index(sub))))
        total = sum(max(0, trials - len(done.get(key, ()))) for _, _, key in plan)
        bar = tqdm(total=total, desc="collect", unit="rec", disable=not progress, dynamic_ncols=True)
        summaries = []
        try:
            for sub, workdir, key in plan:
                summaries.append(_collect_one(sub, workdir, done.setdefault(key, set()), trials=trials,
                                              batch_size=batch_size, seed=seed, measurer=measurer, bar=bar))
        finally:
            bar.close()
        return summaries
    finally:
        for wd in workdirs.values():
            wd.close()


def _collect_one(sub: Subgraph, workdir: WorkDir, seen: set[str], *, trials: int, batch_size: int, seed: int,
                 measurer: Measurer, bar: Any) -> CollectSummary:
    """Measure one subgraph up to ``trials`` records; ``seen`` holds the trace hashes already measured."""
    start = time.perf_counter()
    summary = CollectSummary(sub.name, len(seen), 0, 0, 0, float("inf"), 0.0)
    if len(seen) >= trials:
        return summary
    space = DesignSpace(sub, measurer.target)
    stalls = 0
    while len(seen) < trials and stalls < 3:
        want = min(batch_size, trials - len(seen))
        batch = space.sample(want, seed=_stable_seed(seed, sub.name, len(seen), stalls), exclude=seen)
        if not batch:
            stalls += 1  # the space may be smaller than ``trials``
            continue

        def save(i: int, res: Any, batch: list = batch) -> None:
            # Appended the moment it is measured: a kill loses at most the candidate being timed.
            workdir.append(sub, batch[i], res, target=measurer.target, trial=len(seen))
            seen.add(batch[i].key)
            summary.measured += 1
            summary.ok += res.ok
            summary.failed += not res.ok
            summary.best_ms = min(summary.best_ms, res.latency * 1e3)
            bar.update(1)

        measurer.measure(batch, on_result=save)
        bar.set_postfix_str(f"{sub.name} best {summary.best_ms:.3f} ms, failed {summary.failed}")
    summary.seconds = time.perf_counter() - start
    return summary


@dataclass
class ImportSummary:
    run: str  # the tuning work dir read
    subgraphs: list[str]
    imported: int  # records added to the target
    skipped: int  # already there (same trace measured on the same machine)
    source: str


def import_runs(runs: Sequence[str | Path], *, out: str | Path, progress: bool = True) -> list[ImportSummary]:
    """Copy the records of tuning work dirs into sample logs: one work dir per subgraph under ``out`` (``/`` in
    names becomes ``__``), as ``collect --split`` lays them out, each record keeping its side line (status,
    repeats, hardware) and saying where it came from (``source``: ``tune:<cost model>``).

    A record is skipped when the target already holds the same trace measured on the same machine, so
    importing again adds nothing. Every target work dir is written under its writer lock.
    """
    from tqdm.auto import tqdm

    from workbench.logfiles import parse_lines
    from workbench.logs import MEASURE_FILE, RECORD_FILE, SideLines, load_logs

    summaries = []
    targets: dict[Path, tuple[WorkDir, dict[tuple[str, str | None], bool]]] = {}
    try:
        for run in tqdm([Path(r) for r in runs], desc="importing runs", unit="run", disable=not progress):
            wd = WorkDir(run)
            df = load_logs(run, errors="warn", with_actions=False, progress=False)
            sides = SideLines(obj for _, obj in parse_lines(run / MEASURE_FILE, []))
            lines = raw_lines(run / RECORD_FILE)  # numbered as load_logs numbers them
            workloads = {w.index: w for w in wd.workloads()}
            hardware = wd.hardware()
            summary = ImportSummary(str(run), sorted(df["subgraph"].unique()) if len(df) else [], 0, 0,
                                    str(df["source"].iloc[0]) if len(df) else "")
            for row in df.itertuples(index=False):
                target = Path(out) / row.subgraph.replace("/", "__")
                if target not in targets:
                    twd = WorkDir(target, create=True)
                    twd.lock.acquire()
                    seen: dict[tuple[str, str | None], bool] = {}  # (trace, machine) -> measured ok there
                    for r in twd.records(errors="warn"):
                        key = (r["trace_key"], r["hardware"])
                        seen[key] = seen.get(key, False) or r["status"] == "ok"
                    targets[target] = (twd, seen)
                twd, seen = targets[target]
                hw_id = row.hardware.get("id") if isinstance(row.hardware, dict) else row.hardware
                key = (row.trace_key, hw_id)
                record = json.loads(lines[row.record])
                # Taken for every row in record order, as load_logs took them (one per measurement of a trace).
                side = (sides.take(row.workload, record[1][0], row.trace_key)
                        or {"status": row.status, "run_secs": row.run_secs, "hardware": hw_id, "error": row.error})
                if key in seen and (seen[key] or row.status != "ok"):  # a success still joins a failure
                    summary.skipped += 1
                    continue
                if hw_id in hardware:
                    twd.add_hardware(hardware[hw_id])
                twd.import_record(workloads[row.workload], record, {**side, "source": row.source})
                seen[key] = seen.get(key, False) or row.status == "ok"
                summary.imported += 1
            summaries.append(summary)
    finally:
        for twd, _ in targets.values():
            twd.close()
    return summaries
