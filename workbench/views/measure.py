"""Real measurements of single candidates beside the world model's predicted rank, one table row each."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MEASUREMENT_COLUMNS = ["subgraph", "device", "status", "latency_ms", "spread_%", "min_ms", "max_ms", "GFLOP/s",
                       "predicted rank"]


def predicted_rank(evaluator: Any, candidate: Any, population: Sequence[Any]) -> tuple[int, int]:
    """(rank, out of) of ``candidate`` among ``population`` and itself by world-model score
    (1 = predicted fastest)."""
    scores = evaluator.score([*population, candidate])
    return int((scores > scores[-1]).sum()) + 1, len(scores)


def measurement_row(candidate: Any, result: Any, *, device: str, rank: tuple[int, int] | None = None
                    ) -> dict[str, Any]:
    """One measured candidate (a :class:`workbench.measure.MeasureResult`): latency, spread, min and max of the
    repeats (ms), GFLOP/s (NaN where it failed), and its predicted rank ("3 of 64") when given."""
    nan = math.nan
    secs = list(result.run_secs)
    flops = candidate.space.subgraph.flops or 0.0
    return {"subgraph": candidate.space.subgraph.name, "device": device, "status": result.status,
            "latency_ms": result.latency * 1e3 if result.ok else nan,
            "spread_%": 100 * result.spread if result.ok else nan,
            "min_ms": min(secs) * 1e3 if secs else nan, "max_ms": max(secs) * 1e3 if secs else nan,
            "GFLOP/s": flops / result.latency / 1e9 if result.ok else nan,
            "predicted rank": f"{rank[0]} of {rank[1]}" if rank else ""}


def measurements_table(rows: Sequence[dict[str, Any]]) -> Any:
    """The rows of :func:`measurement_row` as a DataFrame (empty, with its columns, for none)."""
    import pandas as pd

    return pd.DataFrame(list(rows), columns=MEASUREMENT_COLUMNS)
