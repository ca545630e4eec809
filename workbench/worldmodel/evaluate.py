"""Honest evaluation: split by subgraph, score held-out subgraphs, compare with MetaSchedule's XGBModel."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

# Held out of the shipped model and of every evaluation by default: two whole models (their subgraphs never
# appear in training) and built-in operators of every family. Tuning benchmarks use these subgraphs too.
DEFAULT_HOLDOUT = (
    "model:mobilenet_v2", "model:vit_b16",
    "conv2d_7x7x512_3x3", "depthwise_14x14x512_s2", "matmul_256", "conv1d_64x256x256_k5",
    "batch_matmul_12x128x64", "conv2d_transpose_4x4x512", "softmax_256x256", "norm_256x256",
    "max_pool2d_56x56x64",
)


def holdout_names(spec: Iterable[str] | str | None, names: Iterable[str]) -> set[str]:
    """Subgraph names selected by a holdout spec: names, ``model:<name>`` for all of a model's subgraphs,
    ``default`` (those of :data:`DEFAULT_HOLDOUT` that the logs have) or ``none``; ValueError for an entry that
    matches nothing."""
    if spec is None:
        return set()
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if items == ["none"]:
        return set()
    names = set(names)
    out: set[str] = set()
    for item in items:
        if item == "default":
            for entry in DEFAULT_HOLDOUT:  # the frozen test split: every part of it these logs hold
                try:
                    out |= holdout_names([entry], names)
                except ValueError:
                    pass
            continue
        hit = {n for n in names if n.startswith(item[6:] + "/")} if item.startswith("model:") else (
            {item} & names)
        if not hit:
            raise ValueError(f"holdout entry {item!r} matches no subgraph in the logs")
        out |= hit
    return out


def split_by_subgraph(df: Any, holdout: Iterable[str] | str | None) -> tuple[Any, Any]:
    """(train, test) DataFrames: every record of a held-out subgraph goes to test, never to train."""
    held = holdout_names(holdout, df["subgraph"].unique())
    mask = df["subgraph"].isin(held)
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


def evaluate_scores(test: Any, scores: np.ndarray, name: str) -> tuple[dict[str, Any], Any]:
    """Summary metrics and per-group metrics of ``scores`` on the measured test records: one group per
    subgraph and machine (indexed by ``subgraph`` and ``machine``), as latencies compare only on one machine."""
    from workbench.worldmodel.metrics import RANKING_KEYS, group_metrics, summarize

    frame = test.assign(score=np.asarray(scores, dtype=np.float64))
    if "machine" not in frame:
        frame["machine"] = None
    per_group = group_metrics(frame, "score", group_col=RANKING_KEYS)
    summary = summarize(per_group)
    summary["model"] = name
    return summary, per_group.assign(model=name)


def draft_then_verify(test: Any, draft: np.ndarray, verify: np.ndarray, k: int) -> np.ndarray:
    """Scores of a draft-then-verify ranking: in each group of records (one subgraph on one machine), the
    draft model's top ``k`` are re-ordered by the verifier's scores and ranked above the rest, which keep the
    draft's order. This is what a search does that scores its whole population with the world model and has a
    slower static model (MetaSchedule's XGBModel on the built program) re-score only the best few."""
    from workbench.worldmodel.metrics import RANKING_KEYS

    if k < 1:
        raise ValueError(f"the verified top k must be >= 1, got {k}")
    draft, verify = np.asarray(draft, dtype=np.float64), np.asarray(verify, dtype=np.float64)
    if not len(draft) == len(verify) == len(test):
        raise ValueError(f"{len(draft)} draft and {len(verify)} verifier scores for {len(test)} records")
    keys = test[RANKING_KEYS].astype(str) if set(RANKING_KEYS) <= set(test.columns) else test[["subgraph"]]
    out = np.empty(len(test))
    for idx in keys.groupby(list(keys.columns), sort=False).indices.values():
        order = idx[np.argsort(-draft[idx], kind="stable")]  # the draft's ranking, best first
        top, rest = order[:k], order[k:]
        # Shifted scores, so ties stay ties: the rest at or below -1 in the draft's order, the verified top at
        # or above 1 in the verifier's.
        if len(rest):
            out[rest] = draft[rest] - draft[rest].max() - 1.0
        out[top] = verify[top] - verify[top].min() + 1.0
    return out
