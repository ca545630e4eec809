"""What a run found: the best measured schedule of each task, read back from its work dir."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from workbench._tvm import import_tvm
from workbench.logs import load_logs
from workbench.subgraphs import Subgraph


def apply_trace(subgraph: Subgraph, trace: Any) -> Any:
    """A TVM Schedule of ``subgraph`` with a trace (JSON, as in a record) applied."""
    import_tvm()
    from tvm import s_tir

    sch = s_tir.Schedule(subgraph.mod)
    s_tir.Trace.apply_json_to_schedule(trace, sch)
    return sch


def best_records(work_dir: str | Path, subgraphs: list[Subgraph]) -> Any:
    """One row per subgraph: its best measured latency (ms), GFLOP/s, trace (JSON) and TIR (NaN/None if none)."""
    import pandas as pd

    df = load_logs(work_dir, errors="warn", with_actions=False, progress=False)
    rows = []
    for sub in subgraphs:
        ok = df[(df["subgraph"] == sub.name) & (df["status"] == "ok")] if len(df) else df
        if ok.empty:
            rows.append({"task": sub.name, "latency_ms": math.nan, "gflops": math.nan, "trace": None, "tir": None})
            continue
        row = ok.loc[ok["latency"].idxmin()]
        rows.append({"task": sub.name, "latency_ms": row.latency * 1e3,
                     "gflops": sub.flops / row.latency / 1e9 if sub.flops else math.nan, "trace": row.trace,
                     "tir": apply_trace(sub, row.trace).mod.script()})
    return pd.DataFrame(rows).set_index("task")
