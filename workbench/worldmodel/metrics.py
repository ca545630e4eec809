"""Ranking metrics for cost models, computed per subgraph (numpy/scipy only, no TVM).

Convention everywhere: a higher score means "predicted faster", i.e. it should go with a lower latency.
Rows whose latency is NaN (failed measurements) or whose score is NaN are dropped before any metric.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

_PAIR_CHUNK = 1024  # rows per block when comparing all pairs (bounds memory at chunk x n)


def _clean(scores: Any, latencies: Any) -> tuple[np.ndarray, np.ndarray]:
    """Scores and latencies as float arrays, without rows where either is NaN."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    lat = np.asarray(latencies, dtype=np.float64).ravel()
    if s.shape != lat.shape:
        raise ValueError(f"scores and latencies differ in length ({len(s)} vs {len(lat)})")
    keep = ~(np.isnan(s) | np.isnan(lat))
    return s[keep], lat[keep]


def pairwise_accuracy(scores: Any, latencies: Any) -> float:
    """Fraction of pairs with different latencies that the scores order correctly (score ties count 0.5).

    NaN when no pair has different latencies.
    """
    s, lat = _clean(scores, latencies)
    right, total = 0.0, 0
    for start in range(0, len(s), _PAIR_CHUNK):
        ds = s[start:start + _PAIR_CHUNK, None] - s[None, :]  # > 0: row predicted faster than column
        dl = lat[start:start + _PAIR_CHUNK, None] - lat[None, :]  # < 0: row really faster than column
        pairs = dl < 0  # each unordered pair with different latencies counted once, from its faster member
        total += int(pairs.sum())
        right += float((pairs & (ds > 0)).sum()) + 0.5 * float((pairs & (ds == 0)).sum())
    return right / total if total else math.nan


def kendall_tau(scores: Any, latencies: Any) -> float:
    """Kendall's tau-b between scores and -latency (1 = same order, -1 = reversed); NaN when undefined."""
    from scipy.stats import kendalltau

    s, lat = _clean(scores, latencies)
    if len(s) < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: scipy warns and returns NaN, which is the answer
        tau = kendalltau(s, -lat, variant="b").statistic
    return float(tau)


def top_k_score(scores: Any, latencies: Any, k: int) -> float:
    """TenSet's top-k score: best latency of the group / best latency among the k highest-scored rows.

    1.0 means the best program is among the model's k picks. Score ties are broken by row order.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    s, lat = _clean(scores, latencies)
    if len(s) == 0:
        return math.nan
    picks = np.argsort(-s, kind="stable")[:k]
    return float(lat.min() / lat[picks].min())


def ranking_groups(df: Any) -> np.ndarray:
    """The ranking group of each row of a ``load_logs`` DataFrame: its subgraph on the machine that measured it.

    Latencies of one program on two machines are not comparable, so every ranking objective and metric ranks
    within a (subgraph, machine) pair. Labels read ``name@hardware-id`` (just ``name`` without a hardware id).
    """
    machines = df["machine"] if "machine" in df else [
        h.get("id") if isinstance(h, dict) else None for h in (df["hardware"] if "hardware" in df
                                                              else [None] * len(df))]
    return np.array([f"{s}@{m}" if m else str(s) for s, m in zip(df["subgraph"], machines, strict=True)],
                    dtype=object)


RANKING_KEYS = ["subgraph", "machine"]  # group_col for per-(subgraph, machine) metrics of load_logs frames


def group_metrics(df: Any, score_col: str, latency_col: str = "latency", group_col: Any = "subgraph") -> Any:
    """Per-group metrics: n (rows with a latency and a score), pairwise, kendall, top1, top5.

    Groups with fewer than 2 distinct latencies only report n (the other columns are NaN).
    ``group_col`` may be a column name or a list of them (e.g. :data:`RANKING_KEYS`); with a list the result
    has a MultiIndex of those columns. Missing values in the key columns form a group of their own.
    """
    import pandas as pd

    rows = []
    for key, g in df.groupby(group_col, sort=True, dropna=False):
        s, lat = _clean(g[score_col].to_numpy(dtype=np.float64), g[latency_col].to_numpy(dtype=np.float64))
        row: dict[str, Any] = {"group": key, "n": len(s), "pairwise": math.nan, "kendall": math.nan,
                               "top1": math.nan, "top5": math.nan}
        if len(np.unique(lat)) >= 2:
            row.update(pairwise=pairwise_accuracy(s, lat), kendall=kendall_tau(s, lat),
                       top1=top_k_score(s, lat, 1), top5=top_k_score(s, lat, 5))
        rows.append(row)
    out = pd.DataFrame(rows, columns=["group", "n", "pairwise", "kendall", "top1", "top5"])
    if isinstance(group_col, str):
        return out.rename(columns={"group": group_col}).set_index(group_col)
    index = pd.MultiIndex.from_tuples(out.pop("group").tolist(), names=list(group_col)) if len(out) else \
        pd.MultiIndex.from_arrays([[] for _ in group_col], names=list(group_col))
    return out.set_index(index)


def summarize(per_group: Any) -> dict[str, float]:
    """Means over evaluated groups of pairwise, kendall, top1, top5, plus geometric means of top1/top5.

    ``groups`` counts the evaluated groups, ``skipped`` those with fewer than 2 distinct latencies.
    """
    evaluated = per_group[per_group["pairwise"].notna()]
    out: dict[str, float] = {"groups": int(len(evaluated)), "skipped": int(len(per_group) - len(evaluated)),
                             "records": int(per_group["n"].sum())}
    for col in ("pairwise", "kendall", "top1", "top5"):
        values = evaluated[col].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        out[col] = float(values.mean()) if len(values) else math.nan
    for col in ("top1", "top5"):
        values = evaluated[col].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        out[f"{col}_gmean"] = float(np.exp(np.log(values).mean())) if len(values) else math.nan
    return out
