"""The ranker: XGBoost over [predicted final latent, action features, hardware features], ranked per subgraph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.worldmodel.config import DEFAULTS, check_parallel_exponent
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


def parallel_share(x: np.ndarray, feature_names: list[str] | None) -> np.ndarray | None:
    """The cores each row's program keeps busy on the machine it runs on: parallel extent over the rounds the
    threads need for it (``par_balance`` x threads, e.g. 1 of 2 for a serial program, 1.5 for an extent of 3
    on 2 threads); 1 where the extent is unknown. None when the features do not include the parallel extent."""
    names = feature_names or []
    need = ("act:par_extent", "act:par_per_core", "act:par_balance")
    if not all(n in names for n in need):
        return None
    ext, per_core, balance = np.asarray(x)[:, [names.index(n) for n in need]].astype(np.float64).T
    with np.errstate(invalid="ignore", over="ignore"):
        busy = balance * np.exp2(ext - per_core)  # par_extent - par_per_core = log2(threads)
    return np.where(np.isfinite(busy) & (busy > 0), busy, 1.0)


class Ranker:
    """XGBoost trained to rank candidates inside each subgraph (query group).

    ``parallel_exponent`` (regression only) makes the ranker learn speed per busy core and read it back on the
    machine at hand: measured latencies are multiplied by ``parallel_share(x) ** parallel_exponent`` before
    training, and predicted relevances (best latency / latency) are multiplied by the same factor. Records of
    one-thread machines are unchanged by it (every program keeps its one core busy); on a machine with more
    threads a program that leaves cores idle is scored down by the share it leaves idle, which the trees cannot
    learn from one-thread records. 0 turns it off; None: the default's with regression, 0 otherwise.
    """

    def __init__(self, *, rounds: int = DEFAULTS.ranker_rounds, max_depth: int = DEFAULTS.ranker_max_depth,
                 eta: float = DEFAULTS.ranker_eta, subsample: float = DEFAULTS.ranker_subsample,
                 colsample: float = DEFAULTS.ranker_colsample,
                 min_child_weight: float = DEFAULTS.ranker_min_child_weight, threads: int = DEFAULTS.ranker_threads,
                 seed: int = DEFAULTS.seed, feature_names: list[str] | None = None,
                 objective: str = DEFAULTS.ranker_objective,
                 parallel_exponent: float | None = None) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown ranker objective {objective!r}; choose from {sorted(OBJECTIVES)}")
        if parallel_exponent is None:
            parallel_exponent = DEFAULTS.ranker_parallel_exponent if objective == "regression" else 0.0
        check_parallel_exponent(parallel_exponent, objective)
        self.parallel_exponent = float(parallel_exponent)
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
        label = relevance(np.asarray(latency, np.float64) * self._scale(x), groups)[order]
        if self.params["objective"] == "rank:ndcg":
            label = np.floor(label * 31.0)  # graded relevance 0..31, as NDCG's exponential gain needs
        return xgb.DMatrix(x[order], label=label, qid=qid, feature_names=self.feature_names)

    def _scale(self, x: np.ndarray) -> np.ndarray | float:
        """``parallel_share(x) ** parallel_exponent`` (1.0 when off or when the features lack the extent)."""
        share = parallel_share(x, self.feature_names) if self.parallel_exponent else None
        return 1.0 if share is None else share ** self.parallel_exponent

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
        other = Ranker(feature_names=self.feature_names, parallel_exponent=0)
        other.params, other.rounds, other.base_rounds = dict(self.params), self.rounds, self.base_rounds
        other.parallel_exponent = self.parallel_exponent
        other.booster = self.booster.copy() if self.booster is not None else None
        other._online = list(self._online)
        return other

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.booster is None:
            raise RuntimeError("the ranker is not trained; call fit first")
        x = np.asarray(x, np.float32)
        return (self.booster.predict(self._dmatrix(x)) * self._scale(x)).astype(np.float32)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature SHAP contributions to each score (last column: bias), scaled as :meth:`predict` scales
        the score, so they still sum to it."""
        x = np.asarray(x, np.float32)
        scale = np.broadcast_to(np.asarray(self._scale(x), np.float64), (len(x),))
        return self.booster.predict(self._dmatrix(x), pred_contribs=True) * scale[:, None]

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
