"""The world-model evaluator as a MetaSchedule cost model, and cost models chosen by name.

``predict`` reads each candidate's design actions straight from its trace and rolls them out in latent space
from the encoded initial program (encoded once per task); no candidate program is built or re-encoded. The
prior's scores are blended with the run's own model (:class:`workbench.tuning.online.OnlineBlend`), each
weighted by how well it predicted the run's batches before it saw them, and handed to the search as positive
scores that grow with the blended rank (MetaSchedule draws mutation parents in proportion to them).
``update`` judges both models on the measured batch, trains the run's model, and appends the batch's record to
``workbench_rounds.json`` in the work dir (predicted vs measured, per batch).

``"world_verify"`` drafts then verifies (:class:`VerifiedCostModel`): the world model scores every candidate,
and MetaSchedule's ``XGBModel`` fitted on the same logs (saved as ``verifier/`` in the model directory by
``workbench train --verifier``) re-scores its best :data:`VERIFY_K` from the built programs' features.

Importing this module loads TVM (``WorldModelCostModel`` is a MetaSchedule ``PyCostModel``).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from workbench._tvm import import_tvm
from workbench.hardware import hardware_descriptor
from workbench.measure import median_latency
from workbench.subgraphs import estimate_flops, structural_hash
from workbench.tuning.online import OnlineBlend
from workbench.tuning.search import PLANNED
from workbench.tuning.state import read_run_file
from workbench.worldmodel import Evaluator, ModelFileError, default_model_dir, load_default

import_tvm()

from tvm.ir.utils import derived_object  # noqa: E402
from tvm.s_tir.meta_schedule.cost_model import CostModel, PyCostModel  # noqa: E402

COST_MODELS = ("world", "world_verify", "xgb", "random")
VERIFY_K = 64  # world_verify: how many of the world model's best the verifier re-scores (tune_search's default)


@derived_object
class WorldModelCostModel(PyCostModel):
    """MetaSchedule cost model backed by a :class:`workbench.worldmodel.Evaluator`.

    ``online``: blend the prior with the run's own model (see the module docstring); without it the search
    ranks by the prior alone (each batch is still judged and recorded). ``rounds_file``: where each measured batch's record is appended.
    """

    def __init__(self, evaluator: Evaluator, *, hardware: dict[str, Any] | None = None, online: bool = True,
                 rounds_file: str | Path | None = None, seed: int = 0) -> None:
        super().__init__()
        self.evaluator = evaluator
        self.hardware = hardware if hardware is not None else hardware_descriptor()
        self.blend = OnlineBlend(seed=seed, learn=online)
        self.rounds_file = Path(rounds_file) if rounds_file is not None else None
        self.round_info: dict[str, dict[str, Any]] = {}  # task -> what the search adds to its next batch record
        self.online_last: np.ndarray | None = None  # the online model's scores of the last predicted candidates
        self._flops: dict[int, float] = {}
        self.stats = {"predict_calls": 0, "predicted": 0, "predict_seconds": 0.0, "update_calls": 0,
                      "updated": 0, "update_seconds": 0.0}

    def flops_of(self, mod: Any) -> float:
        """The FLOPs of a task (estimated once)."""
        key = structural_hash(mod)
        if key not in self._flops:
            self._flops[key] = estimate_flops(mod)
        return self._flops[key]

    def _items(self, context: Any, candidates: list[Any]) -> list[Any]:
        mod = context.mod
        return self.evaluator.items_from_schedules(
            mod, [c.sch for c in candidates], group=str(context.task_name or structural_hash(mod)),
            flops=self.flops_of(mod),
            hardware=self.hardware, target_kind=str(context.target.kind.name))

    def predict(self, context: Any, candidates: list[Any]) -> np.ndarray:
        start = time.perf_counter()
        scores = np.zeros(0)
        if candidates:
            items = self._items(context, candidates)
            x = self.evaluator.feature_matrix(items)
            # What the run's own model alone says of these candidates: blended in, and kept for a verifier
            # that mixes it into its own order (VerifiedCostModel(online=True)).
            self.online_last = self.blend.online_scores(x) if self.blend.model is not None else None
            scores = self.blend.scores(x, self.evaluator.ranker.predict(x), items[0].group, self.online_last)
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
            record = self.blend.observe(x, self.evaluator.ranker.predict(x), latency, [it.group for it in items])
            record["task"] = str(context.task_name)
            record["time"] = time.time()
            # What the search strategy adds about this batch (the planner's counts).
            record.update(self.round_info.pop(str(context.task_name), {}))
            self._write(record)
        self.stats["update_calls"] += 1
        self.stats["updated"] += len(ok)
        self.stats["update_seconds"] += time.perf_counter() - start

    def _write(self, record: dict[str, Any]) -> None:
        """Append the batch's record; a record that cannot be written is a warning, never the end of the run."""
        if self.rounds_file is None:
            return
        try:
            with open(self.rounds_file, "a") as f:
                f.write(json.dumps(_plain(record), allow_nan=False) + "\n")
        except (OSError, TypeError, ValueError) as err:
            warnings.warn(f"{self.rounds_file}: batch {record.get('batch')} not recorded ({err})", stacklevel=2)

    def save(self, path: str) -> None:
        """Save the evaluator (with the ranker as updated so far) as a model directory."""
        self.evaluator.save(path)

    def load(self, path: str) -> None:
        self.evaluator = Evaluator.load(path)


def _plain(value: Any) -> Any:
    """``value`` as plain JSON: numpy numbers as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@derived_object
class CountingCostModel(PyCostModel):
    """Any MetaSchedule cost model, counting the candidates it scores (``stats["predicted"]``), as the world
    model's cost model does: the search benchmark reports how many candidates each arm looked at."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner
        self.stats = {"predict_calls": 0, "predicted": 0}

    def predict(self, context: Any, candidates: list[Any]) -> np.ndarray:
        self.stats["predict_calls"] += 1
        self.stats["predicted"] += len(candidates)
        return self.inner.predict(context, candidates)

    def update(self, context: Any, candidates: list[Any], results: list[Any]) -> None:
        self.inner.update(context, candidates, results)

    def save(self, path: str) -> None:
        self.inner.save(path)

    def load(self, path: str) -> None:
        self.inner.load(path)


@derived_object
class VerifiedCostModel(PyCostModel):
    """Draft then verify: the ``draft`` cost model (the world model, fast: no candidate is built) scores every
    candidate, and the ``verifier`` (e.g. MetaSchedule's ``XGBModel`` on the built program's features, slower)
    re-scores only the draft's top ``k``, which then rank above the rest in the verifier's order; the rest keep
    the draft's order below them. Both models see every measured batch. ``stats`` counts what each scored.

    ``mix=True`` orders the verified top by the mean of both models' rank orders instead of the verifier's
    alone (``k=None``: the verifier scores every candidate). On the searches' pooled programs the mean picked
    better than either order (``pool_ranking.md``); as a search (``tune_search_znver3_mix45.md``, ``world_mix``)
    it ties the verifier's order and searches longer, so no named cost model uses it.

    ``online=True`` (``tune_search.py``'s arm ``world_online``) lets the run's own model overrule the verifier
    inside the verified top: once the draft's online model (:class:`~workbench.tuning.online.OnlineBlend`,
    trained on the run's own measurements) exists, the top is ordered by the sum of both models' standardized
    scores, each weighted by its skill (2 x prospective pairwise accuracy - 1) on the run's measured batches,
    judged before each batch trains anything. A frozen verifier cannot learn the task; replayed on the programs
    the searches measured, the online model ranked inside the best plan better than the verifier
    (``online_ranking_diag.md``; on a larger pool neither beat a random order, ``online_ranking_all.md``), and as
    a search it lost (1.04x ``world_verify``'s latency, [1.01, 1.07],
    ``tune_search_online.md``), so no named cost model uses it."""

    def __init__(self, draft: Any, verifier: Any, k: int | None = 64, *, update_verifier: bool = True,
                 mix: bool = False, online: bool = False) -> None:
        """``update_verifier``: also feed measured batches to the verifier (False for one that never retrains,
        as a loaded :class:`~workbench.worldmodel.baseline.MetaScheduleXGB`: its features would be wasted)."""
        super().__init__()
        if k is not None and k < 1:
            raise ValueError(f"the verified top k must be >= 1 (or None: every candidate), got {k}")
        if mix and online:
            raise ValueError("mix and online are two orders of the verified top: choose one")
        self.draft, self.verifier, self.update_verifier, self.mix = draft, verifier, update_verifier, bool(mix)
        self.online = bool(online)
        self.k = None if k is None else int(k)
        self.stats = {"predict_calls": 0, "predicted": 0, "verified": 0, "verify_seconds": 0.0}
        self.verifier_pairs = [0, 0]  # online: pairs of measured batches the verifier ordered right, judged

    def predict(self, context: Any, candidates: list[Any]) -> np.ndarray:
        self.stats["predict_calls"] += 1
        self.stats["predicted"] += len(candidates)
        draft = np.asarray(self.draft.predict(context, candidates), dtype="float64")
        if len(draft) == 0:
            return draft
        order = np.argsort(-draft, kind="stable")
        k = len(order) if self.k is None else self.k
        top, rest = order[:k], order[k:]
        start = time.perf_counter()
        verified = np.asarray(self.verifier.predict(context, [candidates[i] for i in top]), dtype="float64")
        # XGBModel's pack-sum leaves out trailing candidates without any store feature: they score 0.
        verified = np.concatenate([verified, np.zeros(len(top) - len(verified))])
        self.stats["verify_seconds"] += time.perf_counter() - start
        self.stats["verified"] += len(top)
        # Positive scores (MetaSchedule draws mutation parents in proportion to them) that keep both orders:
        # the rest in (0, 0.5] by the draft's rank, the verified top in [1, 2] by the verifier's scores.
        out = np.empty(len(draft))
        out[rest] = 0.5 * (1.0 - np.arange(len(rest)) / max(len(rest), 1))
        if self.mix:  # the mean of both rank orders within the verified top, in [1, 2]
            out[top] = 1.0 + 0.5 * (_rank01(draft[top]) + _rank01(verified))
            return out
        online = getattr(self.draft, "online_last", None) if self.online else None
        if online is not None and len(online) == len(draft):
            verified = self.online_order(verified, np.asarray(online, dtype="float64")[top])
        span = float(verified.max() - verified.min())
        out[top] = 1.0 + ((verified - verified.min()) / span if span > 0 else 0.5)
        return out

    def weights(self) -> tuple[float, float]:
        """(verifier, online model) weights of the verified top's order: each one's skill on the run's batches
        (the verifier's 0.5 before it was judged; the online model's 0 before it exists or was judged)."""
        good, total = self.verifier_pairs
        w_verifier = max(0.0, 2.0 * good / total - 1.0) if total else 0.5
        blend = getattr(self.draft, "blend", None)
        w_online = (blend.skill("online") or 0.0) if blend is not None and blend.model is not None else 0.0
        return w_verifier, w_online

    def online_order(self, verified: np.ndarray, online: np.ndarray) -> np.ndarray:
        """The verified top's scores with the online model mixed in by :meth:`weights` (the verifier's own
        scores where neither has any skill)."""
        w_verifier, w_online = self.weights()
        if w_online <= 0:
            return verified
        return (w_verifier * _z(verified) + w_online * _z(online)) / (w_verifier + w_online)

    def update(self, context: Any, candidates: list[Any], results: list[Any]) -> None:
        blend = getattr(self.draft, "blend", None)
        if self.online and blend is not None and blend.model is not None:
            # Judge the verifier on the batch before anything trains on it, as the draft judges its models.
            from workbench.tuning.online import pairwise_counts

            ok = [i for i, r in enumerate(results) if r.error_msg is None and r.run_secs]
            if len(ok) > 1:
                scores = np.asarray(self.verifier.predict(context, [candidates[i] for i in ok]), dtype="float64")
                scores = np.concatenate([scores, np.zeros(len(ok) - len(scores))])
                latency = [median_latency([float(s) for s in results[i].run_secs]) for i in ok]
                good, total = pairwise_counts(scores, np.array(latency), [0] * len(ok))
                self.verifier_pairs[0] += good
                self.verifier_pairs[1] += total
                info = getattr(self.draft, "round_info", None)  # the batch's record (workbench_rounds.json)
                if isinstance(info, dict):
                    info.setdefault(str(getattr(context, "task_name", "")), {}).update(
                        verifier_pairwise=good / total if total else None, verifier_weights=list(self.weights()))
        self.draft.update(context, candidates, results)
        if self.update_verifier:
            self.verifier.update(context, candidates, results)

    def save(self, path: str) -> None:
        self.draft.save(path)

    def load(self, path: str) -> None:
        self.draft.load(path)


def _z(scores: np.ndarray) -> np.ndarray:
    """Scores standardized to mean 0 and deviation 1 (all 0 where they are all equal)."""
    std = float(np.std(scores))
    return (scores - float(np.mean(scores))) / (std if std > 1e-12 else 1.0)


def _rank01(scores: np.ndarray) -> np.ndarray:
    """Each score's rank among ``scores`` scaled to [0, 1] (1: the highest; ties share their mean rank)."""
    from scipy.stats import rankdata

    return (rankdata(scores) - 1.0) / max(len(scores) - 1, 1)


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


def verifier_dir(evaluator: Any = None, target: Any = "cpu") -> Path:
    """Where the verifier of ``world_verify`` is saved: beside the world model (``evaluator``: its directory, an
    Evaluator loaded from one, or None for the shipped default of the target's kind); ModelFileError if it is
    not there."""
    from workbench.worldmodel.baseline import VERIFIER_DIR, VERIFIER_FILE

    if isinstance(evaluator, Evaluator):
        if evaluator.source is None:
            raise ModelFileError("world_verify loads the verifier saved beside the world model, and this Evaluator "
                                 "was not loaded from a directory: save it, then pass its directory")
        evaluator = evaluator.source
    kind = "cuda" if getattr(getattr(target, "kind", None), "name", str(target)) == "cuda" else "cpu"
    path = (default_model_dir(kind) if evaluator is None else Path(evaluator)) / VERIFIER_DIR
    if not (path / VERIFIER_FILE).is_file():
        raise ModelFileError(f"{path}: no verifier beside the world model; fit one on the logs it was trained on "
                             "with `workbench verifier --logs ... --model DIR` (or `workbench train ... --verifier`)")
    return path


def load_verifier(evaluator: Any = None, target: Any = "cpu") -> Any:
    """A fresh copy of the verifier saved beside a world model (see :func:`verifier_dir`), as a MetaSchedule
    ``XGBModel`` for one tuning run."""
    from workbench.worldmodel.baseline import MetaScheduleXGB

    return MetaScheduleXGB.load(verifier_dir(evaluator, target), target).cost_model()


def cost_model_problem(spec: Any, evaluator: Any = None, target: Any = "cpu", strategy: str = "evolutionary"
                       ) -> str | None:
    """Why a tuning run cannot use this cost model (None if it can), said before the run starts."""
    if isinstance(spec, str) and spec not in COST_MODELS:
        return f"unknown cost model {spec!r}: choose from {', '.join(COST_MODELS)}"
    if strategy in (*PLANNED, "warm") and not (spec in ("world", "world_verify")
                                               or isinstance(spec, WorldModelCostModel)
                                    or isinstance(getattr(spec, "draft", None), WorldModelCostModel)):
        return (f"the {strategy} strategy searches with the world model: use cost_model='world' (or "
                f"'world_verify', the world model's best built and re-scored by its verifier)")
    if strategy in PLANNED and (getattr(spec, "mix", False) or getattr(spec, "online", False)):
        return (f"the {strategy} strategy takes the verified top in the verifier's own order: a mixed or online "
                "order is for the evolutionary search")
    if spec == "world_verify":
        try:
            verifier_dir(evaluator, target)
        except ModelFileError as err:
            return str(err)
    return None


def default_cost_model(evaluator: Any = None, target: Any = "cpu", strategy: str = "evolutionary",
                       work_dir: str | Path | None = None) -> str:
    """The cost model of a run that names none: the one saved in ``work_dir``'s run file (a resumed run keeps
    its own), else ``"world_verify"`` where a verifier is saved beside the world model (the shipped CPU model has
    one) and the search is MetaSchedule's evolutionary one (plain, ``"warm"``, ``"hedge"`` or ``"local"``), else
    ``"world"``.
    The draft-then-verify runs found faster programs than the world model's alone on the AMD EPYC measured (0.92x its latency, 5 seeds,
    ``benchmarks/results/tune_search_znver3_verify45.md``) and, with a CI reaching 1.02, on the Intel Xeon
    (``tune_search_verify.md``)."""
    saved = (read_run_file(work_dir) or {}).get("config", {}).get("cost_model") if work_dir is not None else None
    if saved in COST_MODELS:
        return saved
    if strategy in ("evolutionary", "warm", "hedge", "local") and \
            cost_model_problem("world_verify", evaluator, target, strategy) is None:
        return "world_verify"
    return "world"


def make_cost_model(spec: Any, *, target: Any = "cpu", evaluator: Any = None, num_tuning_cores: int = 1,
                    hardware: dict[str, Any] | None = None, rounds_file: str | Path | None = None,
                    seed: int = 0) -> Any:
    """A MetaSchedule cost model by name (``"world"``, ``"world_verify"``, ``"xgb"``, ``"random"``) or the
    instance itself;
    ``hardware``: the descriptor of the machine that measures (default: this one); ``rounds_file``: where the
    world model writes each batch's predictions and measurements."""
    if isinstance(spec, CostModel):
        return spec
    if spec in ("world", "world_verify"):
        world = world_cost_model(evaluator, target=target, hardware=hardware, rounds_file=rounds_file, seed=seed)
        if spec == "world":
            return world
        return VerifiedCostModel(world, load_verifier(evaluator, target), VERIFY_K, update_verifier=False)
    if spec in ("xgb", "random"):
        kwargs = {"num_tuning_cores": num_tuning_cores, "tree_method": "auto"} if spec == "xgb" else {}
        return CostModel.create(spec, **kwargs)
    raise ValueError(f"unknown cost model {spec!r}: choose from {', '.join(COST_MODELS)} or pass a CostModel")
