"""Collect measured tuning records: random, diverse candidates per subgraph, appended as measured; resumable."""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.actions import DesignSpace
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

    Resumes where it stopped: records already in ``out`` count towards ``trials`` and are never
    measured again. Every record is appended as soon as it is measured, failures included.
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
                for row in wd.records(errors="warn"):
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
