"""The ranker: XGBoost over [predicted final latent, action features, hardware features], ranked per subgraph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.worldmodel.config import DEFAULTS
from workbench.worldmodel.files import ModelFileError


def relevance(latency: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Within each group: best latency / latency (1 for the fastest, toward 0 for slow; 0 for failures)."""
    lat = np.asarray(latency, dtype=np.float64)
    out = np.zeros(len(lat), dtype=np.float32)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        ok = idx[np.isfinite(lat[idx]) & (lat[idx] > 0)]
        if len(ok):
            out[ok] = lat[ok].min() / lat[ok]
    return out


OBJECTIVES = {
    # pairs sampled uniformly inside each subgraph: every order matters equally
    "pairwise": {"objective": "rank:pairwise", "lambdarank_pair_method": "mean",
                 "lambdarank_num_pair_per_sample": 8},
    # LambdaMART on NDCG with graded relevance (best/latency in 32 grades): the top of the ranking matters most
    "ndcg": {"objective": "rank:ndcg", "lambdarank_pair_method": "topk", "lambdarank_num_pair_per_sample": 16},
    # pairs drawn around the top of each subgraph's order: the order of the best candidates matters most
    "pairwise_top": {"objective": "rank:pairwise", "lambdarank_pair_method": "topk",
                     "lambdarank_num_pair_per_sample": 8},
    # regression on best/latency per subgraph, as MetaSchedule's XGBModel does
    "regression": {"objective": "reg:squarederror"},
}


class Ranker:
    """XGBoost trained to rank candidates inside each subgraph (query group)."""

    def __init__(self, *, rounds: int = DEFAULTS.ranker_rounds, max_depth: int = DEFAULTS.ranker_max_depth,
                 eta: float = DEFAULTS.ranker_eta, subsample: float = DEFAULTS.ranker_subsample,
                 colsample: float = DEFAULTS.ranker_colsample,
                 min_child_weight: float = DEFAULTS.ranker_min_child_weight, threads: int = DEFAULTS.ranker_threads,
                 seed: int = DEFAULTS.seed, feature_names: list[str] | None = None,
                 objective: str = DEFAULTS.ranker_objective) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown ranker objective {objective!r}; choose from {sorted(OBJECTIVES)}")
        self.params = {"max_depth": max_depth, "eta": eta, "subsample": subsample, "colsample_bytree": colsample,
                       "min_child_weight": min_child_weight, "seed": seed, "nthread": threads,
                       **OBJECTIVES[objective]}
        self.rounds = rounds
        self.feature_names = feature_names
        self.booster: Any = None
        self.base_rounds = 0
        self._online: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def _dmatrix(self, x: np.ndarray, latency: np.ndarray | None = None, groups: np.ndarray | None = None) -> Any:
        import xgboost as xgb

        if latency is None:
            return xgb.DMatrix(x, feature_names=self.feature_names)
        order = np.argsort(groups, kind="stable")
        _, qid = np.unique(groups[order], return_inverse=True)
        label = relevance(latency, groups)[order]
        if self.params["objective"] == "rank:ndcg":
            label = np.floor(label * 31.0)  # graded relevance 0..31, as NDCG's exponential gain needs
        return xgb.DMatrix(x[order], label=label, qid=qid, feature_names=self.feature_names)

    def fit(self, x: np.ndarray, latency: np.ndarray, groups: np.ndarray) -> Ranker:
        """Train on feature rows ``x``, measured latencies (NaN for failures) and group labels."""
        import xgboost as xgb

        groups = np.asarray(groups)
        self.booster = xgb.train(self.params, self._dmatrix(np.asarray(x, np.float32), latency, groups),
                                 num_boost_round=self.rounds)
        self.base_rounds = self.rounds
        self._online = []
        return self

    def update(self, x: np.ndarray, latency: np.ndarray, groups: np.ndarray, *, rounds: int = 20) -> None:
        """Online update with new measurements: add trees fitted to all measurements seen since ``fit``."""
        import xgboost as xgb

        if self.booster is None:
            raise RuntimeError("the ranker is not trained; call fit first")
        self._online.append((np.asarray(x, np.float32), np.asarray(latency, np.float64), np.asarray(groups)))
        xs, ls, gs = (np.concatenate(parts) for parts in zip(*self._online, strict=True))
        base = self.booster[: self.base_rounds] if self.booster.num_boosted_rounds() > self.base_rounds else self.booster
        self.booster = xgb.train(self.params, self._dmatrix(xs, ls, gs), num_boost_round=rounds, xgb_model=base)

    def copy(self) -> Ranker:
        """A copy whose online updates leave this ranker unchanged."""
        other = Ranker(feature_names=self.feature_names)
        other.params, other.rounds, other.base_rounds = dict(self.params), self.rounds, self.base_rounds
        other.booster = self.booster.copy() if self.booster is not None else None
        other._online = list(self._online)
        return other

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.booster is None:
            raise RuntimeError("the ranker is not trained; call fit first")
        return self.booster.predict(self._dmatrix(np.asarray(x, np.float32)))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature SHAP contributions to each score (last column: bias)."""
        return self.booster.predict(self._dmatrix(np.asarray(x, np.float32)), pred_contribs=True)

    def save(self, path: str | Path) -> None:
        self.booster.save_model(str(path))

    def load_booster(self, path: str | Path) -> None:
        import xgboost as xgb

        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: missing file")
        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except xgb.core.XGBoostError as err:
            raise ModelFileError(f"{path}: not a valid XGBoost JSON model ({str(err).splitlines()[0]})") from err
        self.booster = booster
        self.base_rounds = booster.num_boosted_rounds()
        if self.feature_names and booster.num_features() != len(self.feature_names):
            raise ModelFileError(f"{path}: the ranker expects {booster.num_features()} features, "
                                 f"the evaluator config gives {len(self.feature_names)}")
