"""Online adaptation during a run: the run's own model beside the prior, each trusted as far as it predicts.

The shipped world model (the prior) ranks a subgraph it has never seen; the run's own measurements teach a second
model what the prior gets wrong on this subgraph and this machine. :class:`OnlineBlend` keeps both:

- before a measured batch trains anything, each model's *prospective* pairwise accuracy on it is counted (the
  pairs of the batch it orders as measured, among pairs of the same task), summed over the run's batches;
- a model's skill is ``2 * accuracy - 1`` (0 for a coin, 1 for a perfect order), and the search ranks by the
  skill-weighted sum of the two models' standardized scores, so the online model overrules the prior exactly as
  far as it has predicted better on this run's own batches;
- the online model is an XGBoost regression on the same features, retrained from scratch after each batch on
  every measurement of this session (a resumed run starts afresh; labels: best latency / latency within each
  task, as MetaSchedule's XGBModel).

Each batch leaves a record (scores of each model before training, latencies, accuracies, weights): the
cost model writes them to the work dir (``workbench_rounds.json``) for the dashboard's "predicted vs measured".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

PRIOR_SKILL = 0.5  # the prior's weight before the run has measured anything it could be judged on
ROUNDS_FILE = "workbench_rounds.json"  # one JSON line per measured batch: what the models predicted for it


def pairwise_counts(scores: np.ndarray, latency: np.ndarray, groups: Sequence[Any]) -> tuple[int, int]:
    """(pairs ordered as measured, pairs) among the candidates of each group with different latencies."""
    scores, latency = np.asarray(scores, dtype=np.float64), np.asarray(latency, dtype=np.float64)
    groups = np.asarray(groups)
    good = total = 0
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        s, lat = scores[idx], latency[idx]
        ds = s[:, None] - s[None, :]
        dl = lat[None, :] - lat[:, None]  # > 0 where i is faster than j
        mask = np.triu(dl != 0, k=1)
        total += int(mask.sum())
        good += int(((ds * dl > 0) & mask).sum())
    return good, total


class OnlineBlend:
    """The prior and the run's own model, blended by prospective skill (see the module docstring)."""

    def __init__(self, *, seed: int = 0, learn: bool = True, rounds: int = 60, max_depth: int = 4, eta: float = 0.2,
                 min_records: int = 8, sharpness: float = 1.5) -> None:
        self.seed, self.learn, self.rounds, self.max_depth, self.eta = seed, learn, rounds, max_depth, eta
        self.min_records = min_records  # measurements before the online model is trained
        self.sharpness = sharpness  # final score = exp(sharpness * blended z-score): parents drawn by it
        self.x: list[np.ndarray] = []
        self.latency: list[np.ndarray] = []
        self.groups: list[np.ndarray] = []
        self.model: Any = None
        self.pairs = {"prior": [0, 0], "online": [0, 0]}
        self.batches = 0
        self._stats: dict[tuple[str, str], tuple[float, float]] = {}  # (model, task): (mean, std) this round

    # ---- weights --------------------------------------------------------------------------------------
    def skill(self, name: str) -> float | None:
        """2 x prospective pairwise accuracy - 1 over the run's batches (None before any judged pair)."""
        good, total = self.pairs[name]
        return None if total == 0 else max(0.0, 2.0 * good / total - 1.0)

    def weights(self) -> tuple[float, float]:
        prior, online = self.skill("prior"), self.skill("online")
        w_prior = PRIOR_SKILL if prior is None else prior
        w_online = 0.0 if online is None or self.model is None else online
        if w_prior + w_online <= 0:
            w_prior = 1e-3  # neither has predicted anything: keep the prior's order
        return w_prior, w_online

    # ---- scoring --------------------------------------------------------------------------------------
    def _z(self, name: str, task: str, scores: np.ndarray) -> np.ndarray:
        """Scores standardized by the first population this model scored for ``task`` in the current round, so
        the scores of every population of a round (which the search compares with each other) share a scale."""
        stats = self._stats.get((name, task))
        if stats is None:
            std = float(np.std(scores)) if len(scores) > 1 else 1.0
            stats = (float(np.mean(scores)) if len(scores) else 0.0, std if std > 1e-12 else 1.0)
            self._stats[(name, task)] = stats
        return (scores - stats[0]) / stats[1]

    def blended(self, x: np.ndarray, prior: np.ndarray, task: str = "", online: np.ndarray | None = None
                ) -> np.ndarray:
        """The skill-weighted standardized score of each candidate of ``task`` (higher: predicted faster);
        ``online``: the online model's scores of ``x`` where the caller has them already."""
        prior = np.asarray(prior, dtype=np.float64)
        w_prior, w_online = self.weights()
        out = w_prior * self._z("prior", task, prior)
        if w_online > 0:
            out = out + w_online * self._z("online", task, self.online_scores(x) if online is None else online)
        return out / (w_prior + w_online)

    def scores(self, x: np.ndarray, prior: np.ndarray, task: str = "", online: np.ndarray | None = None
               ) -> np.ndarray:
        """What the search gets: positive, monotone in :meth:`blended` (its parents are drawn in proportion)."""
        return np.exp(np.clip(self.sharpness * self.blended(x, prior, task, online), -30.0, 30.0))

    def online_scores(self, x: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        if self.model is None:
            return np.zeros(len(x))
        return self.model.predict(xgb.DMatrix(np.asarray(x, dtype=np.float32)))

    # ---- learning -------------------------------------------------------------------------------------
    def observe(self, x: np.ndarray, prior: np.ndarray, latency: np.ndarray, groups: Sequence[Any]
                ) -> dict[str, Any]:
        """A measured batch: judge both models on it, then train the online model on everything so far.
        Returns the batch's record (what each model predicted before it saw the batch)."""
        x = np.asarray(x, dtype=np.float32)
        latency = np.asarray(latency, dtype=np.float64)
        groups = np.asarray([str(g) for g in groups])
        w_prior, w_online = self.weights()
        online = self.online_scores(x) if self.model is not None else None
        blended = self.blended(x, prior, str(groups[0]) if len(groups) else "", online)
        record: dict[str, Any] = {"batch": self.batches, "n": len(latency), "weights": [w_prior, w_online],
                                  "latency": latency.tolist(), "prior": np.asarray(prior, float).tolist(),
                                  "online": None if online is None else online.tolist(), "blended": blended.tolist()}
        for name, scores in (("prior", prior), ("online", online), ("blended", blended)):
            if scores is None:
                record[f"{name}_pairwise"] = None
                continue
            good, total = pairwise_counts(scores, latency, groups)
            record[f"{name}_pairwise"] = good / total if total else None
            if name in self.pairs:
                self.pairs[name][0] += good
                self.pairs[name][1] += total
        self.x.append(x)
        self.latency.append(latency)
        self.groups.append(groups)
        self.batches += 1
        self._fit()
        self._stats.clear()  # a new round: new scales
        record["skill"] = {name: self.skill(name) for name in self.pairs}
        return record

    def _fit(self) -> None:
        import xgboost as xgb

        x, latency, groups = np.concatenate(self.x), np.concatenate(self.latency), np.concatenate(self.groups)
        ok = np.isfinite(latency) & (latency > 0)
        if not self.learn or ok.sum() < self.min_records:
            return
        label = np.zeros(len(latency))
        for g in np.unique(groups[ok]):
            idx = np.flatnonzero(ok & (groups == g))
            label[idx] = latency[idx].min() / latency[idx]
        params = {"objective": "reg:squarederror", "max_depth": self.max_depth, "eta": self.eta, "subsample": 1.0,
                  "colsample_bytree": 0.8, "min_child_weight": 1.0, "seed": self.seed, "nthread": 1,
                  "verbosity": 0}
        self.model = xgb.train(params, xgb.DMatrix(x[ok], label=label[ok]), num_boost_round=self.rounds)


def read_rounds(work_dir: str | Path) -> Any:
    """The batch records of ``workbench_rounds.json`` in ``work_dir`` as a DataFrame (empty if none); a line
    cut short by a kill is skipped."""
    import pandas as pd

    path = Path(work_dir) / ROUNDS_FILE
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    columns = ["task", "batch", "n", "prior_pairwise", "online_pairwise", "blended_pairwise", "weights", "skill",
               "latency", "prior", "online", "blended", "time", "plan", "warm", "verifier_pairwise", "verifier_weights"]
    return pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
