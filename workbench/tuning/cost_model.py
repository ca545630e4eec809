"""The world-model evaluator as a MetaSchedule cost model, and cost models chosen by name.

``predict`` reads each candidate's design actions straight from its trace and rolls them out in latent space
from the encoded initial program (encoded once per task); no candidate program is built or re-encoded.
``update`` feeds the new measurements to the ranker online (XGBoost trees added on top of the shipped ones).

Importing this module loads TVM (``WorldModelCostModel`` is a MetaSchedule ``PyCostModel``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from workbench._tvm import import_tvm
from workbench.hardware import hardware_descriptor
from workbench.measure import median_latency
from workbench.subgraphs import estimate_flops, structural_hash
from workbench.worldmodel import Evaluator, load_default

import_tvm()

from tvm.ir.utils import derived_object  # noqa: E402
from tvm.s_tir.meta_schedule.cost_model import CostModel, PyCostModel  # noqa: E402

COST_MODELS = ("world", "xgb", "random")


@derived_object
class WorldModelCostModel(PyCostModel):
    """MetaSchedule cost model backed by a :class:`workbench.worldmodel.Evaluator`.

    ``update_rounds``: XGBoost trees fitted to all measurements of the run at each update (added to
    the evaluator's trained trees, never stacked on earlier updates). The evaluator is changed in place:
    pass a fresh one per tuning run (``Evaluator.load``), as :func:`make_cost_model` does.
    """

    def __init__(self, evaluator: Evaluator, *, update_rounds: int = 20, hardware: dict[str, Any] | None = None
                 ) -> None:
        super().__init__()
        self.evaluator = evaluator
        self.update_rounds = update_rounds
        self.hardware = hardware if hardware is not None else hardware_descriptor()
        self._flops: dict[int, float] = {}
        self.stats = {"predict_calls": 0, "predicted": 0, "predict_seconds": 0.0, "update_calls": 0,
                      "updated": 0, "update_seconds": 0.0}

    def _items(self, context: Any, candidates: list[Any]) -> list[Any]:
        mod = context.mod
        key = structural_hash(mod)
        if key not in self._flops:
            self._flops[key] = estimate_flops(mod)
        return self.evaluator.items_from_schedules(
            mod, [c.sch for c in candidates], group=str(context.task_name or key), flops=self._flops[key],
            hardware=self.hardware, target_kind=str(context.target.kind.name))

    def predict(self, context: Any, candidates: list[Any]) -> np.ndarray:
        start = time.perf_counter()
        scores = self.evaluator.score(self._items(context, candidates)) if candidates else np.zeros(0)
        self.stats["predict_calls"] += 1
        self.stats["predicted"] += len(candidates)
        self.stats["predict_seconds"] += time.perf_counter() - start
        return np.asarray(scores, dtype="float64")

    def update(self, context: Any, candidates: list[Any], results: list[Any]) -> None:
        start = time.perf_counter()
        ok = [i for i, r in enumerate(results) if r.error_msg is None and r.run_secs]
        if ok:
            items = self._items(context, [candidates[i] for i in ok])
            latency = np.array([median_latency([float(s) for s in results[i].run_secs]) for i in ok])
            x = self.evaluator.feature_matrix(items)
            self.evaluator.ranker.update(x, latency, np.array([it.group for it in items]),
                                         rounds=self.update_rounds)
        self.stats["update_calls"] += 1
        self.stats["updated"] += len(ok)
        self.stats["update_seconds"] += time.perf_counter() - start

    def save(self, path: str) -> None:
        """Save the evaluator (with the ranker as updated so far) as a model directory."""
        self.evaluator.save(path)

    def load(self, path: str) -> None:
        self.evaluator = Evaluator.load(path)


def world_cost_model(evaluator: Any = None, *, target: Any = "cpu", **kwargs: Any) -> WorldModelCostModel:
    """A fresh world-model cost model: ``evaluator`` is a model dir, an Evaluator (copied), or None for the
    shipped default of the target's kind."""
    if evaluator is None:
        kind = "cuda" if getattr(getattr(target, "kind", None), "name", str(target)) == "cuda" else "cpu"
        evaluator = load_default(kind)
    elif isinstance(evaluator, Evaluator):
        evaluator = evaluator.copy()
    else:
        evaluator = Evaluator.load(evaluator)
    return WorldModelCostModel(evaluator, **kwargs)


def make_cost_model(spec: Any, *, target: Any = "cpu", evaluator: Any = None, num_tuning_cores: int = 1,
                    hardware: dict[str, Any] | None = None) -> Any:
    """A MetaSchedule cost model by name (``"world"``, ``"xgb"``, ``"random"``) or the instance itself;
    ``hardware``: the descriptor of the machine that measures (default: this one)."""
    if isinstance(spec, CostModel):
        return spec
    if spec == "world":
        return world_cost_model(evaluator, target=target, hardware=hardware)
    if spec in ("xgb", "random"):
        kwargs = {"num_tuning_cores": num_tuning_cores, "tree_method": "auto"} if spec == "xgb" else {}
        return CostModel.create(spec, **kwargs)
    raise ValueError(f"unknown cost model {spec!r}: choose from {', '.join(COST_MODELS)} or pass a CostModel")
