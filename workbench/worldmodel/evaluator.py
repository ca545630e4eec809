"""The world-model evaluator: encoder + transition + ranker in one object, saved as a plain directory.

``score`` encodes each subgraph's initial program once, rolls every candidate's actions out in latent space
(no candidate program is built or re-encoded), and ranks [final latent, action features, hardware features].
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.actions import Action, Candidate, actions_from_json, actions_from_trace
from workbench.worldmodel import features as feats
from workbench.worldmodel.encoders import Encoder, ModelFileError, load_tensors, read_json
from workbench.worldmodel.ranker import Ranker
from workbench.worldmodel.text import program_text
from workbench.worldmodel.transition import Rollouts, TransitionModel, torch

FORMAT_VERSION = 2  # 2: the transition has a value head
CONFIG_FILE = "config.json"
TRANSITION_FILE = "transition.safetensors"
RANKER_FILE = "ranker.json"
ENCODER_DIR = "encoder"


@dataclass
class Item:
    """One candidate to score: the initial program, its actions, and the context of the measurement."""

    mod: Any
    actions: list[Action]
    flops: float = 0.0
    hardware: dict[str, Any] | None = None
    target_kind: str = "llvm"
    group: str = ""  # subgraph name (the ranking group)
    final_mod: Any = None  # only needed without a transition model (static ablation)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvaluatorConfig:
    latent_dim: int
    use_transition: bool = True
    use_action_features: bool = True
    use_hardware_features: bool = True
    seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)  # training data, timings, versions

    def feature_names(self) -> list[str]:
        names = [f"z{i}" for i in range(self.latent_dim)]
        if self.use_action_features:
            names += [f"act:{n}" for n in feats.TRACE_FEATURES]
        if self.use_hardware_features:
            names += [f"hw:{n}" for n in feats.HARDWARE_FEATURES]
        return names


class Evaluator:
    """Scores candidates from their action trajectories: higher is predicted faster (within a subgraph)."""

    def __init__(self, encoder: Encoder, transition: TransitionModel | None, ranker: Ranker,
                 config: EvaluatorConfig) -> None:
        self.encoder, self.transition, self.ranker, self.config = encoder, transition, ranker, config
        self._initial: dict[int, np.ndarray] = {}

    # ---- inputs -------------------------------------------------------------------------------------
    @staticmethod
    def items_from_candidates(candidates: Sequence[Candidate], *, hardware: dict[str, Any] | None = None
                              ) -> list[Item]:
        from workbench.hardware import hardware_descriptor

        hw = hardware if hardware is not None else hardware_descriptor()
        out = []
        for c in candidates:
            sg = c.space.subgraph
            out.append(Item(sg.mod, c.actions, flops=sg.flops or 0.0, hardware=hw,
                            target_kind=str(c.space.target.kind.name), group=sg.name, extra={"candidate": c}))
        return out

    @staticmethod
    def items_from_schedules(mod: Any, schedules: Sequence[Any], *, group: str = "", flops: float = 0.0,
                             hardware: dict[str, Any] | None = None, target_kind: str = "llvm") -> list[Item]:
        """Items for TVM schedules or traces of one subgraph (e.g. MetaSchedule's search candidates).

        Only the design actions are read (before post-processing), straight from the trace objects.
        """
        import tvm_ffi

        from workbench.hardware import hardware_descriptor

        hw = hardware if hardware is not None else hardware_descriptor()
        reader = _TraceReader(int(tvm_ffi.structural_hash(mod)))
        out = []
        for sch in schedules:
            trace = sch.trace if hasattr(sch, "trace") else sch
            out.append(Item(mod, reader.read(trace), flops=flops, hardware=hw, target_kind=target_kind,
                            group=group, extra={"schedule": sch}))
        return out

    @staticmethod
    def items_from_logs(df: Any) -> list[Item]:
        """Items for the rows of a ``load_logs`` DataFrame (initial programs read from each work dir)."""
        from workbench.logs import WorkDir

        mods: dict[tuple[str, int], Any] = {}
        out = []
        for row in df.itertuples(index=False):
            key = (row.logdir, int(row.workload))
            if key not in mods:
                entries = {w.index: w for w in WorkDir(row.logdir).workloads()}
                if key[1] not in entries:
                    raise ModelFileError(f"{row.logdir}: record refers to workload {key[1]}, which is missing")
                mods[key] = entries[key[1]].module()
            actions = row.actions if hasattr(row, "actions") and row.actions is not None else actions_from_json(row.trace)
            target = row.target if isinstance(row.target, dict) else {}
            out.append(Item(mods[key], actions, flops=float(row.flops or 0.0), hardware=row.hardware,
                            target_kind=str(target.get("kind", "llvm")), group=row.subgraph,
                            extra={"trace": row.trace}))
        return out

    def _as_items(self, candidates: Any) -> list[Item]:
        if hasattr(candidates, "itertuples"):
            return self.items_from_logs(candidates)
        candidates = list(candidates)
        if candidates and isinstance(candidates[0], Item):
            return candidates
        if all(isinstance(c, Candidate) for c in candidates):
            return self.items_from_candidates(candidates)
        raise TypeError("score() takes Candidates, Items, or a DataFrame from workbench.logs.load_logs")

    # ---- the world model ----------------------------------------------------------------------------
    def encode_initial(self, mod: Any) -> np.ndarray:
        """Encoding of a subgraph's initial program (cached by structural hash)."""
        import tvm_ffi

        key = int(tvm_ffi.structural_hash(mod))
        if key not in self._initial:
            self._initial[key] = self.encoder.encode([program_text(mod)])[0]
        return self._initial[key]

    def rollout_inputs(self, items: Sequence[Item]) -> tuple[Rollouts, list[list[int]], np.ndarray]:
        """Rollout inputs of the items, and their trace features (both from one pass over the actions)."""
        z_by_mod: dict[int, np.ndarray] = {}
        for it in items:
            if id(it.mod) not in z_by_mod:
                z_by_mod[id(it.mod)] = self.encode_initial(it.mod)
        z0 = np.stack([z_by_mod[id(it.mod)] for it in items]) if items else np.zeros((0, self.config.latent_dim))
        toks, params, indices, trace = [], [], [], []
        for it in items:
            t, p, ix, f = feats.candidate_features(it.actions, flops=it.flops, cores=_cores(it.hardware))
            toks.append(t)
            params.append(p)
            indices.append(ix)
            trace.append(f)
        trace_x = np.stack(trace) if trace else np.zeros((0, len(feats.TRACE_FEATURES)), dtype=np.float32)
        return Rollouts.pack(z0, toks, params), indices, trace_x

    def final_latents(self, items: Sequence[Item]) -> np.ndarray:
        """Predicted (standardized) final latent of each candidate; the static encoding without a transition."""
        if not self.config.use_transition or self.transition is None:
            from workbench.worldmodel.train import final_program

            texts = [program_text(it.final_mod if it.final_mod is not None else final_program(it)) for it in items]
            return self.encoder.encode(texts)
        batch, _, _ = self.rollout_inputs(items)
        return self.transition.final(batch).numpy()

    def trajectories(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        """Predicted standardized latents after every program-changing action of each candidate, and the
        value head along the way (``values[0]`` for the initial program, then one per action)."""
        if self.transition is None:
            raise ValueError("this evaluator has no transition model (a static ablation): no trajectories")
        batch, indices, _ = self.rollout_inputs(items)
        with torch.inference_mode():
            start = self.transition.standardize(batch.z0)
            pred = self.transition(batch) if batch.tokens.shape[1] else start[:, None, :0]
            v0 = self.transition.values(start).numpy()
            v = self.transition.values(pred).numpy() if pred.shape[-1] else np.zeros((len(items), 0))
            start, pred = start.numpy(), pred.numpy()
        return [{"action_index": ix, "initial": start[i], "latents": pred[i, :len(ix)],
                 "values": np.concatenate([[v0[i]], v[i, :len(ix)]])} for i, ix in enumerate(indices)]

    def feature_matrix(self, items: Sequence[Item], latents: np.ndarray | None = None) -> np.ndarray:
        """Ranker inputs: [final latent, action features, hardware features] (as configured)."""
        trace_x = None
        if latents is not None:
            z = latents
        elif self.config.use_transition and self.transition is not None:
            batch, _, trace_x = self.rollout_inputs(items)
            z = self.transition.final(batch).numpy()
        else:
            z = self.final_latents(items)
        cols = [np.asarray(z, dtype=np.float32).reshape(len(items), -1)]
        if self.config.use_action_features:
            if trace_x is None:
                trace_x = (np.stack([feats.trace_features(it.actions, flops=it.flops, cores=_cores(it.hardware))
                                     for it in items]) if items else np.zeros((0, len(feats.TRACE_FEATURES))))
            cols.append(trace_x)
        if self.config.use_hardware_features:
            cache: dict[tuple[int, str], np.ndarray] = {}  # items of one search share one descriptor
            for it in items:
                key = (id(it.hardware), it.target_kind)
                if key not in cache:
                    cache[key] = feats.hardware_features(it.hardware, it.target_kind)
            cols.append(np.stack([cache[(id(it.hardware), it.target_kind)] for it in items])
                        if items else np.zeros((0, len(feats.HARDWARE_FEATURES))))
        return np.concatenate(cols, axis=1).astype(np.float32)

    def score(self, candidates: Any) -> np.ndarray:
        """Scores (higher = predicted faster) for Candidates, Items or a ``load_logs`` DataFrame."""
        items = self._as_items(candidates)
        if not items:
            return np.zeros(0, dtype=np.float32)
        return self.ranker.predict(self.feature_matrix(items))

    def explain(self, candidate: Any) -> dict[str, Any]:
        """Why a candidate got its score: the latent trajectory, named features and their contributions."""
        item = self._as_items([candidate])[0]
        x = self.feature_matrix([item])
        names = self.config.feature_names()
        contrib = self.ranker.contributions(x)[0]
        groups = {"latent": 0.0, "action": 0.0, "hardware": 0.0}
        for n, c in zip(names, contrib[:-1], strict=True):
            groups["action" if n.startswith("act:") else "hardware" if n.startswith("hw:") else "latent"] += float(c)
        out = {"score": float(self.ranker.predict(x)[0]), "features": dict(zip(names, x[0].tolist(), strict=True)),
               "contributions": dict(zip(names, contrib[:-1].tolist(), strict=True)), "bias": float(contrib[-1]),
               "contribution_by_group": groups,
               "steps": [a.describe() for a in item.actions if a.mutates]}
        if self.transition is not None and self.config.use_transition:
            out["trajectory"] = self.trajectories([item])[0]
        return out

    def copy(self) -> Evaluator:
        """A copy whose ranker can be updated online without changing this one (the encoder and the
        transition, which scoring only reads, are shared)."""
        import copy

        ranker = copy.copy(self.ranker)
        ranker.params = dict(self.ranker.params)
        ranker.booster = self.ranker.booster.copy() if self.ranker.booster is not None else None
        ranker._online = list(self.ranker._online)
        ev = Evaluator(self.encoder, self.transition, ranker, self.config)
        ev._initial = dict(self._initial)
        return ev

    # ---- persistence --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write config JSON, encoder files, transition safetensors and ranker XGBoost JSON to ``path``."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.encoder.save(path / ENCODER_DIR)
        cfg = {"format": FORMAT_VERSION, "latent_dim": self.config.latent_dim,
               "use_transition": self.config.use_transition,
               "use_action_features": self.config.use_action_features,
               "use_hardware_features": self.config.use_hardware_features, "seed": self.config.seed,
               "feature_names": self.config.feature_names(), "ranker_params": self.ranker.params,
               "ranker_rounds": self.ranker.rounds, "info": self.config.info}
        if self.transition is not None:
            cfg["transition"] = self.transition.config()
            save_file({k: v.contiguous() for k, v in self.transition.state_dict().items()}, str(path / TRANSITION_FILE))
        self.ranker.save(path / RANKER_FILE)
        (path / CONFIG_FILE).write_text(json.dumps(cfg, indent=1, default=_jsonable))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Evaluator:
        """Load a saved evaluator; ModelFileError names the missing or corrupt file."""
        path = Path(path)
        if not path.is_dir():
            raise ModelFileError(f"{path}: no such model directory")
        cfg = read_json(path / CONFIG_FILE)
        if cfg.get("format") != FORMAT_VERSION:
            raise ModelFileError(f"{path / CONFIG_FILE}: format {cfg.get('format')!r}, expected {FORMAT_VERSION}")
        try:
            config = EvaluatorConfig(latent_dim=int(cfg["latent_dim"]), use_transition=bool(cfg["use_transition"]),
                                     use_action_features=bool(cfg["use_action_features"]),
                                     use_hardware_features=bool(cfg["use_hardware_features"]),
                                     seed=int(cfg.get("seed", 0)), info=cfg.get("info", {}))
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(f"{path / CONFIG_FILE}: missing or bad field {err}") from err
        encoder = Encoder.load(path / ENCODER_DIR)
        transition = None
        if "transition" in cfg:
            transition = TransitionModel(**cfg["transition"])
            try:
                transition.load_state_dict(load_tensors(path / TRANSITION_FILE))
            except RuntimeError as err:
                raise ModelFileError(f"{path / TRANSITION_FILE}: weights do not match {CONFIG_FILE} ({err})") from err
            transition.eval()
        ranker = Ranker(feature_names=config.feature_names())
        ranker.params = dict(cfg.get("ranker_params", ranker.params))
        ranker.rounds = int(cfg.get("ranker_rounds", ranker.rounds))
        ranker.load_booster(path / RANKER_FILE)
        return cls(encoder, transition, ranker, config)


class _TraceReader:
    """Design actions of many traces of one subgraph, read fast.

    Candidates of one design space share their instruction structure per sketch; only the decisions differ.
    The first trace of each structure (keyed by its instruction kinds) is decoded in full; later ones reuse the
    decoded operands and read only their decisions. A fast path recognizes a known structure from the trace's
    length and its decisions alone: each decision's instruction must sit exactly where the structure has it,
    and the kinds at a few other positions (the post-processing marker among them) must match; anything else
    takes the full path.
    """

    _templates: dict[tuple, list[Action]] = {}
    _fast: dict[tuple, tuple[list[Action], tuple[int, ...], tuple[tuple[int, str], ...]]] = {}
    _kind_names: dict[int, str] = {}
    _PROBES = 8  # non-decision positions whose kinds the fast path checks

    def __init__(self, workload: int) -> None:
        self.workload = workload

    def _kind(self, inst: Any) -> str:
        kind_obj = inst.kind
        kind = self._kind_names.get(kind_obj.__chandle__())
        if kind is None:  # instruction kinds are registered singletons: read each name once
            kind = self._kind_names[kind_obj.__chandle__()] = kind_obj.name
        return kind

    def read(self, trace: Any) -> list[Action]:
        insts = trace.insts
        decisions = list(trace.decisions.items())
        fast_key = (self.workload, len(insts), tuple(self._kind(inst) for inst, _ in decisions))
        fast = self._fast.get(fast_key)
        if fast is not None:
            template, positions, probes = fast
            if (all(insts[p].__chandle__() == inst.__chandle__()
                    for p, (inst, _) in zip(positions, decisions, strict=True))
                    and all(self._kind(insts[p]) == k for p, k in probes)):
                return self._with_decisions(template, zip(positions, (v for _, v in decisions), strict=True))
        return self._read_full(trace, fast_key, decisions)

    def _read_full(self, trace: Any, fast_key: tuple, decisions: list[tuple[Any, Any]]) -> list[Action]:
        kinds, handles = [], {}
        for index, inst in enumerate(trace.insts):
            kind = self._kind(inst)
            if kind == "EnterPostproc":
                break
            kinds.append(kind)
            handles[inst.__chandle__()] = index
        key = (self.workload, tuple(kinds))
        template = self._templates.get(key)
        if len(self._templates) > 10000:
            self._templates.clear()
            self._fast.clear()
        if template is None:
            template = self._templates[key] = actions_from_trace(trace, design_only=True, lean=True)
            actions = template
        else:
            actions = self._with_decisions(
                template, ((handles[i.__chandle__()], v) for i, v in decisions if i.__chandle__() in handles))
        positions = tuple(handles.get(inst.__chandle__(), -1) for inst, _ in decisions)
        others = [i for i in range(len(kinds)) if i not in set(positions)]
        step = max(1, len(others) // self._PROBES)
        probes = [(i, kinds[i]) for i in others[::step]]
        if len(kinds) < len(trace.insts):
            probes.append((len(kinds), "EnterPostproc"))
        # Decisions of post-processing instructions (position -1) are not design decisions: the fast path
        # must see them at the same place too, so they are probed by identity like the others.
        if -1 not in positions:
            self._fast[fast_key] = (template, positions, tuple(probes))
        return actions

    @staticmethod
    def _with_decisions(template: list[Action], decisions: Any) -> list[Action]:
        from workbench.actions import _plain

        actions = list(template)
        for index, value in decisions:
            a = template[index]
            if not isinstance(value, int):
                items = list(value) if hasattr(value, "__len__") else None  # tile sizes: an Array of ints
                value = items if items is not None and all(type(x) is int for x in items) else _plain(value, True)
            copy = object.__new__(Action)  # a frozen dataclass's __init__ costs more than the whole read
            copy.__dict__.update(a.__dict__, decision=value)
            actions[index] = copy
        return actions


def _cores(hw: dict[str, Any] | None) -> int:
    hw = hw or {}
    return int(hw.get("physical_cores") or hw.get("logical_cores") or 1)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def default_model_dir(target: str = "cpu") -> Path:
    """The evaluator shipped with the package for ``target``."""
    return Path(__file__).resolve().parent / "default" / target


def load_default(target: str = "cpu") -> Evaluator:
    path = default_model_dir(target)
    if not (path / CONFIG_FILE).is_file():
        raise ModelFileError(f"{path}: no shipped default model for {target!r}; train one with `workbench train`")
    return Evaluator.load(path)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t
