"""Real measurements of single candidates beside the world model's predicted rank, one table row each."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MEASUREMENT_COLUMNS = ["subgraph", "candidate", "device", "status", "latency_ms", "logged_ms", "vs logged",
                       "spread_%", "min_ms", "max_ms", "GFLOP/s", "predicted rank"]


def predicted_rank(evaluator: Any, candidate: Any, population: Sequence[Any]) -> tuple[int, int]:
    """(rank, out of) of ``candidate`` among ``population`` and itself by world-model score
    (1 = predicted fastest)."""
    scores = evaluator.score([*population, candidate])
    return int((scores > scores[-1]).sum()) + 1, len(scores)


def measurement_row(candidate: Any, result: Any, *, device: str, rank: tuple[int, int] | None = None,
                    logged_ms: float | None = None, label: str = "") -> dict[str, Any]:
    """One measured candidate (a :class:`workbench.measure.MeasureResult`): which candidate (``label``, then its
    decisions), latency, the latency its log gives (``logged_ms``, NaN if none) and the ratio to it, spread, min
    and max of the repeats (ms), GFLOP/s (NaN where it failed), and its predicted rank ("3 of 64") when given."""
    from workbench.views.embedding import trace_summary

    nan = math.nan
    secs = list(result.run_secs)
    flops = candidate.space.subgraph.flops or 0.0
    latency = result.latency * 1e3 if result.ok else nan
    logged = float(logged_ms) if logged_ms is not None else nan
    return {"subgraph": candidate.space.subgraph.name,
            "candidate": " ".join(x for x in (label, trace_summary(candidate.actions)) if x),
            "device": device, "status": result.status, "latency_ms": latency, "logged_ms": logged,
            "vs logged": latency / logged if logged > 0 else nan,
            "spread_%": 100 * result.spread if result.ok else nan,
            "min_ms": min(secs) * 1e3 if secs else nan, "max_ms": max(secs) * 1e3 if secs else nan,
            "GFLOP/s": flops / result.latency / 1e9 if result.ok else nan,
            "predicted rank": f"{rank[0]} of {rank[1]}" if rank else ""}


def measurements_table(rows: Sequence[dict[str, Any]]) -> Any:
    """The rows of :func:`measurement_row` as a DataFrame (empty, with its columns, for none)."""
    import pandas as pd

    return pd.DataFrame(list(rows), columns=MEASUREMENT_COLUMNS)
