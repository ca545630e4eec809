"""MetaSchedule's own cost model (``XGBModel`` over ``PerStoreFeature``) as the baseline, trained on logs.

Everything model-related is MetaSchedule's code: features come from its ``PerStoreFeature`` extractor,
labels from ``XGBModel.update`` (median run time, normalized per workload as ``min_cost / cost``), training
from its pack-sum XGBoost routine, scores from ``XGBModel.predict``. This module only replays the logged
traces into ``MeasureCandidate`` objects and feeds them in.

Training happens once. ``XGBModel.update`` retrains on all data after every call unless its adaptive-training
threshold says otherwise (``data_size - last_train_size < last_train_size / 5``); :meth:`MetaScheduleXGB.fit`
holds ``last_train_size`` above any data size while the workloads are added, one ``update`` each, and resets
it to 0 before the last workload's ``update``, which then trains on everything, as in a tuning session.

Failed measurements (NaN latency), by default as MetaSchedule's tuning loop treats them: its
``UpdateCostModel`` callback drops candidates that failed to build and passes those that failed to run on
with no ``run_secs``, which ``XGBModel.update`` costs at 1e10 s (label ~0, sample weight ~0). Here a record
failed to build when its status is ``build_error`` or its error names the builder (``LocalBuilder: Timeout``);
other failures (``run_error``, runner timeouts, plain-TVM ``error``) are run failures. ``failures="drop"``
drops them all. A workload with no successful record is skipped (its min-cost normalization would be
meaningless) and listed in ``skipped``.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from workbench._tvm import ensure_intrinsics, import_tvm
from workbench.actions import CandidateError
from workbench.hardware import make_target
from workbench.logs import RECORD_FILE, WorkDir
from workbench.measure import is_build_failure
from workbench.traces import first_error_line
from workbench.worldmodel.files import (
    ModelFileError,
    check_manifest,
    json_digest,
    manifest,
    read_json,
    write_dir,
)

_NO_TRAINING = 1 << 62  # a last_train_size no data size reaches: XGBModel.update only adds data
VERIFIER_DIR = "verifier"  # in a world model's directory: MetaSchedule's XGBModel fitted on its training records
VERIFIER_FILE = "verifier.json"  # settings and manifest of a saved model, written last
BOOSTER_FILE = "booster.json"  # the trained booster, XGBoost's JSON model format
VERIFIER_FORMAT = 1
_REQUIRED = ("subgraph", "workload", "trace", "latency", "logdir", "args_info")


class MetaScheduleXGB:
    """MetaSchedule's XGBoost cost model trained on tuning logs; scores are higher for predicted-faster programs.

    Settings: MetaSchedule's defaults (``XGBConfig()``: max_depth 10, gamma 0.001, min_child_weight 0,
    eta 0.2, tree_method "auto"; early stopping after 50 rounds without a better training p-rmse, up to
    10,000 rounds; average_peak_n 32), with the XGBoost ``seed`` of :meth:`fit`, ``nthread`` = physical
    cores unless given, and ``num_warmup_samples=0`` (MetaSchedule's default of 100 makes ``predict``
    return random numbers until 100 records were seen; here the model is trained before it predicts).
    The exact values are in ``settings`` after :meth:`fit`.
    """

    def __init__(self, target: Any = "cpu", *, failures: Literal["metaschedule", "drop"] = "metaschedule",
                 nthread: int | None = None, num_threads: int | Literal["physical", "logical"] = "physical",
                 progress: bool | None = None) -> None:
        """``nthread``: XGBoost threads; ``num_threads``: feature-extraction threads (``TuneContext``)."""
        if failures not in ("metaschedule", "drop"):
            raise ValueError("failures must be 'metaschedule' or 'drop'")
        import_tvm()
        self.target = make_target(target)
        ensure_intrinsics(self.target)  # TuneContext imports tensor intrinsics: only this target's, quickly
        self.failures = failures
        self.nthread = nthread
        self.num_threads = num_threads
        self.progress = progress
        self.model: Any = None
        self.settings: dict[str, Any] = {}
        self.skipped: list[str] = []  # workloads left out of training (no successful record)
        self.timings: dict[str, float] = {}
        self.info: dict[str, Any] = {}  # what a saved model says of its training (see save)
        self._contexts: dict[str, Any] = {}  # structural hash -> TuneContext
        self._workloads: dict[str, dict[int, Any]] = {}  # logdir -> workload index -> WorkloadEntry
        self._modules: dict[tuple[str, int], Any] = {}
        self._arg_infos: dict[str, list[Any]] = {}  # args_info JSON -> [ArgInfo]
        self._entry_args: dict[str, list[Any]] = {}  # structural hash -> [ArgInfo] of the entry function

    # -- replay ------------------------------------------------------------------------------------
    def _module(self, logdir: str, index: int) -> tuple[str, Any]:
        key = (str(logdir), int(index))
        if key not in self._modules:
            if key[0] not in self._workloads:
                self._workloads[key[0]] = {w.index: w for w in WorkDir(key[0]).workloads()}
            entry = self._workloads[key[0]].get(key[1])
            if entry is None:
                raise CandidateError(f"{logdir}: no workload {index} in its database_workload.json")
            self._modules[key] = (entry.name, entry.module())
        return self._modules[key]

    def _context(self, mod: Any, name: str = "main", key: str | None = None) -> Any:
        """One ``TuneContext`` per workload (by structural hash), as MetaSchedule has one per task."""
        from tvm.s_tir import meta_schedule as ms
        from tvm.s_tir.meta_schedule.utils import shash2hex

        key = key or shash2hex(mod)
        if key not in self._contexts:
            self._contexts[key] = ms.TuneContext(mod=mod, target=self.target, task_name=name,
                                                 num_threads=self.num_threads)
        return self._contexts[key]

    def _args(self, args_info: Any) -> list[Any]:
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo

        key = json.dumps(args_info, separators=(",", ":"))
        if key not in self._arg_infos:
            self._arg_infos[key] = [ArgInfo.from_json(a) for a in args_info]
        return self._arg_infos[key]

    def _candidates(self, mod: Any, rows: Any, name: str) -> list[Any]:
        """``MeasureCandidate`` of each row: its trace replayed on the workload, with its args_info."""
        from tvm import s_tir
        from tvm.s_tir.meta_schedule import MeasureCandidate

        out = []
        for row in rows.itertuples(index=False):
            sch = s_tir.Schedule(mod)
            try:
                s_tir.Trace.apply_json_to_schedule(row.trace, sch)
            except Exception as err:  # noqa: BLE001 - TVM raises builtin error types of many kinds
                record = getattr(row, "record", None)
                where = f"{Path(row.logdir) / RECORD_FILE}:{record + 1}" if record is not None else row.logdir
                raise CandidateError(f"subgraph {name!r} ({where}): trace does not apply: "
                                     f"{first_error_line(err)}") from err
            out.append(MeasureCandidate(sch, self._args(row.args_info)))
        return out

    def _groups(self, df: Any) -> list[tuple[tuple[str, int], Any]]:
        missing = [c for c in _REQUIRED if c not in df.columns]
        if missing:
            raise ValueError(f"the DataFrame lacks columns {missing}: use workbench.logs.load_logs")
        # XGBModel normalizes each update's throughputs by their best: one group per machine, too.
        if "machine" not in df:
            return list(df.groupby(["logdir", "workload"], sort=False))
        return [((logdir, index), rows) for (logdir, index, _), rows in
                df.groupby(["logdir", "workload", "machine"], sort=False, dropna=False)]

    def _bar(self, items: Sequence, desc: str) -> Any:
        from tqdm.auto import tqdm

        show = len(items) > 1 if self.progress is None else self.progress
        return tqdm(items, desc=desc, unit="subgraph", disable=not show, leave=False)

    # -- training ----------------------------------------------------------------------------------
    def _results(self, rows: Any) -> list[Any]:
        """A ``RunnerResult`` per row: its repeats, or no run_secs for a run failure (XGBModel: 1e10 s)."""
        from tvm.s_tir.meta_schedule.runner import RunnerResult

        out = []
        for row in rows.itertuples(index=False):
            if np.isnan(row.latency):
                error = getattr(row, "error", None)
                out.append(RunnerResult(None, error if isinstance(error, str) and error else "failed"))
            else:
                secs = [float(s) for s in (getattr(row, "run_secs", None) or [])] or [float(row.latency)]
                out.append(RunnerResult(secs, None))
        return out

    def training_rows(self, rows: Any) -> Any:
        failed = rows["latency"].isna()
        if self.failures == "drop":
            return rows[~failed]
        status = rows["status"] if "status" in rows else [None] * len(rows)
        error = rows["error"] if "error" in rows else [None] * len(rows)
        build = np.array([is_build_failure(s, e) for s, e in zip(status, error, strict=True)], dtype=bool)
        return rows[~(failed.to_numpy() & build)]

    def fit(self, df: Any, seed: int = 0) -> MetaScheduleXGB:
        """Train a fresh ``XGBModel`` on every record of ``df`` (a ``load_logs`` DataFrame)."""
        import_tvm()
        from tvm.s_tir.meta_schedule.cost_model import XGBModel
        from tvm.s_tir.meta_schedule.cost_model.xgb_model import XGBConfig
        from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature
        from tvm.s_tir.meta_schedule.utils import cpu_count

        start = time.perf_counter()
        plan = []
        self.skipped = []
        for (logdir, index), rows in self._groups(df):
            kept = self.training_rows(rows)
            if kept["latency"].notna().any():
                plan.append((logdir, int(index), kept))
            else:
                self.skipped.append(f"{rows['subgraph'].iloc[0]} ({logdir})")
        if self.skipped:
            warnings.warn(f"no successful record, left out of training: {', '.join(self.skipped)}", stacklevel=2)
        if not plan:
            raise ValueError("no successful record to train on")
        config = XGBConfig(seed=seed, nthread=self.nthread or cpu_count(logical=False))
        model = XGBModel(extractor=PerStoreFeature(), config=config, num_warmup_samples=0, adaptive_training=True)
        model.last_train_size = _NO_TRAINING  # add data only; the last update below trains once on all of it
        replay = update = 0.0
        n_records = 0
        for i, (logdir, index, rows) in enumerate(self._bar(plan, "MetaSchedule XGB: features")):
            name, mod = self._module(logdir, index)
            t0 = time.perf_counter()
            candidates = self._candidates(mod, rows, name)
            results = self._results(rows)
            t1 = time.perf_counter()
            if i == len(plan) - 1:
                model.last_train_size = 0  # XGBModel.update retrains on all its data
            model.update(self._context(mod, name), candidates, results)
            replay += t1 - t0
            update += time.perf_counter() - t1
            n_records += len(rows)
        if model.booster is None:
            raise RuntimeError("XGBModel.update did not train (no candidate had features)")
        self.model = model
        self.settings = {"config": config.to_dict(), "extractor": "PerStoreFeature()", "num_warmup_samples": 0,
                         "early_stopping_rounds": model.early_stopping_rounds, "num_boost_round": 10000,
                         "average_peak_n": model.average_peak_n, "failures": self.failures,
                         "target": str(self.target), "workloads": len(plan), "records": n_records,
                         "data_size": int(model.data_size), "rounds": int(model.booster.num_boosted_rounds())}
        self.timings = {"fit": time.perf_counter() - start, "replay": replay, "update": update}
        return self

    def cost_model(self) -> Any:
        """A fresh ``XGBModel`` holding this trained model (booster and training data copied), for one tuning
        run: the run's own measurements go to the copy. MetaSchedule retrains it only once its data grows by a
        fifth (``adaptive_training``), so over a short run it ranks with what it learned from the logs."""
        from collections import OrderedDict

        from tvm.s_tir.meta_schedule.cost_model import XGBModel
        from tvm.s_tir.meta_schedule.cost_model.xgb_model import FeatureGroup
        from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature

        if self.model is None:
            raise RuntimeError("MetaScheduleXGB is not trained: call fit() first")
        base = self.model
        model = XGBModel(extractor=PerStoreFeature(), config=base.config, num_warmup_samples=0,
                         adaptive_training=True)
        model.booster = base.booster.copy()
        model.data = OrderedDict((k, FeatureGroup(group_hash=k, features=list(g.features), costs=g.costs.copy()))
                                 for k, g in base.data.items())
        # A fitted model retrains once its data grows by a fifth; a loaded one (no training data) never does.
        model.data_size, model.last_train_size = base.data_size, base.last_train_size
        return model

    # -- scoring -----------------------------------------------------------------------------------
    def _predict(self, context: Any, candidates: list[Any]) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("MetaScheduleXGB is not trained: call fit() first")
        if not candidates:
            return np.zeros(0)
        scores = np.asarray(self.model.predict(context, candidates), dtype=np.float64)
        # Pack-sum sums block predictions per candidate with bincount: trailing candidates without any
        # store feature get no entry; like such candidates elsewhere in the batch, they score 0.
        if len(scores) < len(candidates):
            scores = np.concatenate([scores, np.zeros(len(candidates) - len(scores))])
        return scores

    def predict(self, df: Any) -> np.ndarray:
        """Scores of the rows of ``df`` (higher = predicted faster), in row order; traces are replayed."""
        out = np.full(len(df), np.nan)
        positions = {label: i for i, label in enumerate(df.index)}
        if len(positions) != len(df):
            raise ValueError("the DataFrame's index has duplicates: reset_index() first")
        for (logdir, index), rows in self._bar(self._groups(df), "MetaSchedule XGB: scoring"):
            name, mod = self._module(logdir, int(index))
            scores = self._predict(self._context(mod, name), self._candidates(mod, rows, name))
            out[[positions[label] for label in rows.index]] = scores
        return out

    def predict_schedules(self, mod: Any, schedules: Sequence[Any]) -> np.ndarray:
        """Scores of already-built ``s_tir.Schedule`` objects of one workload ``mod`` (features included)."""
        from tvm.s_tir.meta_schedule import MeasureCandidate
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo
        from tvm.s_tir.meta_schedule.utils import shash2hex

        key = shash2hex(mod)
        context = self._context(mod, key=key)
        if key not in self._entry_args:
            self._entry_args[key] = ArgInfo.from_entry_func(context.mod, remove_preproc=True)
        args = self._entry_args[key]
        return self._predict(context, [MeasureCandidate(sch, args) for sch in schedules])

    # -- files -------------------------------------------------------------------------------------
    def save(self, path: str | Path, *, info: dict[str, Any] | None = None) -> Path:
        """Write the trained booster (XGBoost's JSON format) and the settings to the directory ``path``, in one
        step (as :meth:`Evaluator.save <workbench.worldmodel.Evaluator.save>`). Only the booster is kept, not
        the training features: a loaded model scores as this one and does not retrain during a tuning run."""
        import tvm

        if self.model is None:
            raise RuntimeError("MetaScheduleXGB is not trained: call fit() first")
        meta = json.loads(json.dumps({"format": VERIFIER_FORMAT, "model": "MetaSchedule XGBModel",
                                      "extractor": "PerStoreFeature()", "tvm_version": tvm.__version__,
                                      "settings": self.settings, "info": self.info if info is None else info},
                                     default=str))

        def write(staged: Path) -> None:
            self.model.booster.save_model(str(staged / BOOSTER_FILE))
            meta["manifest"] = manifest(staged)
            meta["config_sha256"] = json_digest(meta)
            (staged / VERIFIER_FILE).write_text(json.dumps(meta, indent=1))

        final = write_dir(path, write, marker=VERIFIER_FILE)
        self.info = meta["info"]
        return final

    @classmethod
    def load(cls, path: str | Path, target: Any = "cpu", **kwargs: Any) -> MetaScheduleXGB:
        """A model saved by :meth:`save`; ModelFileError names a missing, changed or foreign file."""
        import tvm
        import xgboost as xgb

        path = Path(path)
        meta = read_json(path / VERIFIER_FILE)
        retrain = "fit it again (`workbench train ... --verifier`)"
        if not isinstance(meta, dict) or meta.get("format") != VERIFIER_FORMAT:
            raise ModelFileError(f"{path / VERIFIER_FILE}: not a saved MetaSchedule XGBModel of format "
                                 f"{VERIFIER_FORMAT}; {retrain}")
        digest = meta.pop("config_sha256", None)
        if digest != json_digest(meta):
            raise ModelFileError(f"{path / VERIFIER_FILE}: changed after the model was saved (its digest differs); "
                                 f"{retrain}")
        check_manifest(path, meta.get("manifest"))
        if meta.get("tvm_version") != tvm.__version__:  # PerStoreFeature's layout is TVM's: other features
            raise ModelFileError(f"{path}: trained on the features of TVM {meta.get('tvm_version')}, this is TVM "
                                 f"{tvm.__version__}: its scores would be silently wrong; {retrain}")
        self = cls(target, **kwargs)
        from tvm.s_tir.meta_schedule.cost_model import XGBModel
        from tvm.s_tir.meta_schedule.cost_model.xgb_model import XGBConfig
        from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature
        from tvm.s_tir.meta_schedule.utils import cpu_count

        booster = xgb.Booster()
        try:
            booster.load_model(str(path / BOOSTER_FILE))
        except xgb.core.XGBoostError as err:
            raise ModelFileError(f"{path / BOOSTER_FILE}: not an XGBoost model ({err}); {retrain}") from err
        try:
            config = {**meta["settings"]["config"], "nthread": self.nthread or cpu_count(logical=False)}
            model = XGBModel(extractor=PerStoreFeature(), config=XGBConfig(**config), num_warmup_samples=0,
                             adaptive_training=True)
        except (KeyError, TypeError) as err:
            raise ModelFileError(f"{path / VERIFIER_FILE}: bad settings ({err}); {retrain}") from err
        model.booster, model.last_train_size = booster, _NO_TRAINING
        self.model, self.settings, self.info = model, meta["settings"], meta.get("info", {})
        return self


def fit_verifier(train: Any, *, seed: int = 0, progress: bool | None = None) -> MetaScheduleXGB:
    """MetaSchedule's XGBModel fitted on the successful records of ``train`` (a ``load_logs`` DataFrame), as
    ``benchmarks/tune_search.py`` fits its ``xgb_pretrained`` arm and the verifier of ``world_verify``."""
    ok = train[train["status"] == "ok"].reset_index(drop=True)
    return MetaScheduleXGB(progress=progress).fit(ok, seed=seed)
