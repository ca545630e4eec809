"""What a run found: the best schedule of each task, confirmed by measuring its top records again.

During a run each candidate is timed once (a few short repeats). The run's best is the minimum over many such
noisy timings, so it is biased low: on this project's 2-core machines the logged best of 21 runs re-measured 8%
slower in the median (up to 17%), while records picked at random re-measured as logged in the median (0.99;
``benchmarks/results/remeasure_before_confirm.md``): selection on noise, not a different program (the
schedule rebuilt from a record is the one TVM's own database rebuilds). So at the end of a run the top records
of each task are measured again, ``rounds`` times in an interleaved order with long repeats
(:data:`CONFIRM_SETTINGS`), and the best reported is the lowest median of those re-measurements: a latency
the same schedule shows again.
"""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path
from typing import Any

from workbench._tvm import import_tvm
from workbench.logs import HARDWARE_FILE, WorkDir, load_logs
from workbench.measure import MeasureConfig, Measurer, median_latency
from workbench.subgraphs import Subgraph

CONFIRM_SETTINGS = MeasureConfig(repeat=10, min_repeat_ms=100)  # ~1 s a schedule a round: stable to ~3%


def apply_trace(subgraph: Subgraph, trace: Any) -> Any:
    """A TVM Schedule of ``subgraph`` with a trace (JSON, as in a record) applied."""
    import_tvm()
    from tvm import s_tir

    sch = s_tir.Schedule(subgraph.mod)
    s_tir.Trace.apply_json_to_schedule(trace, sch)
    return sch


def confirm_best(workdir: WorkDir, subgraphs: list[Subgraph], measurer: Measurer, *, top: int = 3,
                 rounds: int = 3, seed: int = 0, stop: Any = None) -> dict[str, float]:
    """Measure each subgraph's ``top`` records (by logged latency, and its confirmed best so far) again,
    ``rounds`` times, all interleaved; append them to the work dir as a new confirmation pass. Returns each
    subgraph's confirmed best latency (seconds). ``stop`` (an Event): asked between rounds, ends the pass with
    what was measured (a pass of fewer rounds)."""
    import pandas as pd

    df = load_logs(workdir.path, errors="warn", with_actions=False, progress=False)
    passes = workdir.confirmation_passes()
    chosen = []  # (subgraph, row)
    for sub in subgraphs:
        ok = df[(df["subgraph"] == sub.name) & (df["status"] == "ok")] if len(df) else df
        if ok.empty:
            continue
        picks = ok.nsmallest(top, "latency")
        if ok["confirmed_latency"].notna().any():  # last pass's winner stays in the contest
            winner = ok.loc[[ok["confirmed_latency"].idxmin()]]
            picks = pd.concat([picks, winner]).drop_duplicates("trace_key")
        chosen += [(sub, row) for row in picks.itertuples(index=False)]
    if not chosen:
        return {}
    mods = [apply_trace(sub, row.trace).mod for sub, row in chosen]
    times: list[list[float]] = [[] for _ in chosen]
    errors: dict[int, str] = {}
    rng = random.Random(seed)
    for k in range(rounds):
        if k and stop is not None and stop.is_set():
            break
        order = list(range(len(chosen)))
        rng.shuffle(order)  # each round in a new order: no schedule always follows the same one
        for i, result in zip(order, measurer.measure_mods([mods[i] for i in order]), strict=True):
            if result.ok:
                times[i].append(result.latency)
            else:
                errors.setdefault(i, f"{result.status}: {str(result.error or '').strip()[-300:]}")
    best: dict[str, float] = {}
    for i, ((sub, row), t) in enumerate(zip(chosen, times, strict=True)):
        if not t and i in errors:  # never silently: best() then shows the latency logged in the search
            warnings.warn(f"{sub.name}: a best record ({row.trace_key}) failed every re-measurement ({errors[i]})",
                          stacklevel=2)
        if t:
            workdir.add_confirmation(int(row.workload), row.trace_key, t, pass_index=passes.get(row.workload, -1) + 1,
                                     hardware=measurer.hardware["id"])
            best[sub.name] = min(best.get(sub.name, math.inf), median_latency(t))
    return best


def best_of(ok: Any) -> tuple[Any, float, bool]:
    """The best of a subgraph's successful records (a ``load_logs`` frame): (row, latency in seconds, whether
    that latency is confirmed). Confirmed when the latest confirmation pass covered the record logged fastest:
    then the lowest confirmed median wins; otherwise the lowest logged latency stands, unconfirmed."""
    fastest = ok.loc[ok["latency"].idxmin()]
    if math.isnan(fastest["confirmed_latency"]):
        return fastest, float(fastest["latency"]), False
    row = ok.loc[ok["confirmed_latency"].idxmin()]
    return row, float(row["confirmed_latency"]), True


def needs_confirmation(df: Any, subgraphs: list[Subgraph], top: int) -> bool:
    """True when some subgraph's ``top`` records (by logged latency) are not all in its latest confirmation."""
    for sub in subgraphs:
        ok = df[(df["subgraph"] == sub.name) & (df["status"] == "ok")] if len(df) else df
        if len(ok) and ok.nsmallest(top, "latency")["confirmed_latency"].isna().any():
            return True
    return False


def best_records(work_dir: str | Path, subgraphs: list[Subgraph]) -> Any:
    """One row per subgraph: its best latency (ms) and GFLOP/s, whether that latency is confirmed (the median
    of re-measurements, see :func:`confirm_best` and :func:`best_of`) or only logged during the run, the
    latency the run logged, the trace (JSON) and the TIR (NaN/None when nothing was measured)."""
    import pandas as pd

    df = load_logs(work_dir, errors="warn", with_actions=False, progress=False)
    rows = []
    for sub in subgraphs:
        ok = df[(df["subgraph"] == sub.name) & (df["status"] == "ok")] if len(df) else df
        if ok.empty:
            rows.append({"task": sub.name, "latency_ms": math.nan, "gflops": math.nan, "confirmed": False,
                         "logged_ms": math.nan, "trace": None, "tir": None})
            continue
        row, latency, confirmed = best_of(ok)
        rows.append({"task": sub.name, "latency_ms": latency * 1e3,
                     "gflops": sub.flops / latency / 1e9 if sub.flops else math.nan, "confirmed": bool(confirmed),
                     "logged_ms": row.latency * 1e3, "trace": row.trace,
                     "tir": apply_trace(sub, row.trace).mod.script()})
    return pd.DataFrame(rows).set_index("task")


def warn_other_machines(work_dir: Path, df: Any, hardware: dict[str, Any]) -> None:
    """Warn when records of a work dir were measured by another machine than the one measuring now (another
    hardware id: another CPU, or TVM's runtime on another number of threads): the search mixes their latencies."""
    other = df[df["machine"].notna() & (df["machine"] != hardware["id"])] if len(df) and "machine" in df else df[:0]
    if len(other):
        warnings.warn(f"{work_dir}: {len(other)} of its records were measured on other hardware "
                      f"({', '.join(sorted(set(other['machine'])))}) than this run measures on ({hardware['id']}); "
                      "the search mixes their latencies with the new ones. Their descriptors are in "
                      f"{HARDWARE_FILE} (one without runtime_threads ran TVM's CPU kernels on half the logical "
                      "cores on x86); a new work dir keeps the runs apart.", stacklevel=3)
