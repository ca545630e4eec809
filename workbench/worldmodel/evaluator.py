"""The world-model evaluator: encoder + transition + ranker in one object, saved as a plain directory.

``score`` encodes each subgraph's initial program once, rolls every candidate's actions out in latent space
(no candidate program is built or re-encoded), and ranks [final latent, action features, hardware features].
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.subgraphs import structural_hash
from workbench.worldmodel import features as feats
from workbench.worldmodel import items as items_
from workbench.worldmodel.config import EvaluatorConfig, check_parallel_exponent
from workbench.worldmodel.decisions import batch_features
from workbench.worldmodel.effects import Machine, ProgramInfo, program_info
from workbench.worldmodel.encoders import Encoder
from workbench.worldmodel.files import (
    ModelFileError,
    check_manifest,
    json_digest,
    load_tensors,
    manifest,
    read_json,
    write_dir,
)
from workbench.worldmodel.items import Item, TraceReader, final_program
from workbench.worldmodel.ranker import Ranker
from workbench.worldmodel.text import program_text
from workbench.worldmodel.transition import Rollouts, TransitionModel

FORMAT_VERSION = 3  # 2: the transition has a value head; 3: steps know their operands, traces their effects
CONFIG_FILE = "config.json"
TRANSITION_FILE = "transition.safetensors"
RANKER_FILE = "ranker.json"
ENCODER_DIR = "encoder"


class Evaluator:
    """Scores candidates from their action trajectories: higher is predicted faster (within a subgraph)."""

    def __init__(self, encoder: Encoder, transition: TransitionModel | None, ranker: Ranker,
                 config: EvaluatorConfig) -> None:
        self.encoder, self.transition, self.ranker, self.config = encoder, transition, ranker, config
        self.reader = TraceReader()  # reads search candidates' traces, learning each sketch once
        self.source: Path | None = None  # the directory it was loaded from (files saved beside it: the verifier)
        self._initial: dict[int, np.ndarray] = {}
        self._programs: dict[int, ProgramInfo] = {}

    # ---- inputs -------------------------------------------------------------------------------------
    items_from_candidates = staticmethod(items_.items_from_candidates)
    items_from_logs = staticmethod(items_.items_from_logs)
    as_items = staticmethod(items_.as_items)

    def items_from_schedules(self, mod: Any, schedules: Sequence[Any], **kwargs: Any) -> list[Item]:
        """Items for MetaSchedule schedules of one subgraph, read by this evaluator's :class:`TraceReader`
        (``group``, ``flops``, ``hardware``, ``target_kind`` as in :func:`items.items_from_schedules`)."""
        return items_.items_from_schedules(mod, schedules, reader=self.reader, **kwargs)

    # ---- the world model ----------------------------------------------------------------------------
    def encode_initial(self, mod: Any) -> np.ndarray:
        """Encoding of a subgraph's initial program (cached by structural hash)."""
        key = structural_hash(mod)
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
        toks, params, indices, trace_x = self._candidate_features(items)
        if not len(items):
            trace_x = np.zeros((0, len(feats.TRACE_FEATURES)), dtype=np.float32)
        return Rollouts.pack(z0, toks, params), indices, trace_x

    def _candidate_features(self, items: Sequence[Item]) -> tuple[list, list, list, np.ndarray]:
        """``features.candidate_features`` of every item (tokens, params, action indices, trace features), with
        its program's blocks and its machine, computed per sketch (``decisions.batch_features``)."""
        infos: dict[int, ProgramInfo] = {}
        machines: dict[int, Machine] = {}
        for it in items:
            if id(it.mod) not in infos:
                infos[id(it.mod)] = self.program_info(it.mod)
            if id(it.hardware) not in machines:
                machines[id(it.hardware)] = Machine.of(it.hardware)
        return batch_features([it.actions for it in items], infos=[infos[id(it.mod)] for it in items],
                              machines=[machines[id(it.hardware)] for it in items],
                              flops=[it.flops for it in items])

    def program_info(self, mod: Any) -> ProgramInfo:
        """The blocks of a subgraph's initial program (read once per subgraph, cached)."""
        key = structural_hash(mod)
        if key not in self._programs:
            self._programs[key] = program_info(mod, key)
        return self._programs[key]

    def final_latents(self, items: Sequence[Item]) -> np.ndarray:
        """Predicted (standardized) final latent of each candidate; the static encoding without a transition."""
        if not self.config.use_transition or self.transition is None:
            texts = [program_text(final_program(it)) for it in items]
            return self.encoder.encode(texts)
        batch, _, _ = self.rollout_inputs(items)
        return self.transition.final(batch).numpy()

    def trajectories(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        """Predicted standardized latents after every program-changing action of each candidate, and the
        value head along the way (``values[0]`` for the initial program, then one per action)."""
        if self.transition is None:
            raise ValueError("this evaluator has no transition model (a static ablation): no trajectories")
        batch, indices, _ = self.rollout_inputs(items)
        start, pred, v0, v = self.transition.trajectory(batch)
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
                trace_x = (self._candidate_features(items)[3] if items
                           else np.zeros((0, len(feats.TRACE_FEATURES))))
            cols.append(trace_x if self.config.use_effect_features else trace_x[:, :len(feats.BASE_TRACE_FEATURES)])
        if self.config.use_hardware_features:
            cache: dict[tuple[int, str], np.ndarray] = {}  # items of one search share one descriptor
            for it in items:
                key = (id(it.hardware), it.target_kind)
                if key not in cache:
                    cache[key] = feats.hardware_features(it.hardware, it.target_kind)
            cols.append(np.stack([cache[(id(it.hardware), it.target_kind)] for it in items])
                        if items else np.zeros((0, len(feats.HARDWARE_FEATURES))))
        return np.concatenate(cols, axis=1).astype(np.float32)

    def features_from_steps(self, mod: Any, tokens: Sequence[Sequence[int]], params: Sequence[Any],
                            trace_x: np.ndarray, *, hardware: dict[str, Any] | None,
                            target_kind: str = "llvm") -> np.ndarray:
        """Ranker inputs of candidates of the subgraph ``mod`` given as their steps and trace features (what
        ``decisions.group_features`` computes from decision vectors, without any Item or action): the rollout
        from the encoded initial program, then [final latent, trace features, hardware features]."""
        if not self.config.use_transition or self.transition is None:
            raise ValueError("this evaluator encodes final programs (no transition): it cannot score decisions")
        n = len(tokens)
        z0 = np.repeat(self.encode_initial(mod)[None, :], n, axis=0)
        cols = [self.transition.final(Rollouts.pack(z0, tokens, params)).numpy().reshape(n, -1)]
        if self.config.use_action_features:
            cols.append(trace_x if self.config.use_effect_features else trace_x[:, :len(feats.BASE_TRACE_FEATURES)])
        if self.config.use_hardware_features:
            cols.append(np.repeat(feats.hardware_features(hardware, target_kind)[None, :], n, axis=0))
        return np.concatenate(cols, axis=1).astype(np.float32)

    def encode_states(self, programs: Sequence[Any]) -> np.ndarray:
        """Encodings of real programs (IRModules), in the transition's standardized units: where a rollout's
        predicted states should land."""
        z = self.encoder.encode([program_text(m) for m in programs])
        return self.transition.standardized(z) if self.transition is not None else z

    def score(self, candidates: Any) -> np.ndarray:
        """Scores (higher = predicted faster) for Candidates, Items or a ``load_logs`` DataFrame."""
        items = self.as_items(candidates)
        if not items:
            return np.zeros(0, dtype=np.float32)
        return self.ranker.predict(self.feature_matrix(items))

    def explain(self, candidate: Any) -> dict[str, Any]:
        """Why a candidate got its score: the latent trajectory, named features and their contributions."""
        item = self.as_items([candidate])[0]
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
        ev = Evaluator(self.encoder, self.transition, self.ranker.copy(), self.config)
        ev._initial = dict(self._initial)
        ev._programs = dict(self._programs)
        ev.source = self.source
        return ev

    # ---- persistence --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write config JSON, encoder files, transition safetensors and ranker XGBoost JSON to ``path``.

        Everything is written to a temporary directory beside ``path`` and renamed into place, so an
        interrupted save leaves the old model (or none), never a mix; ``path`` must be new, empty or a model
        directory (anything else is refused, never deleted). ``config.json`` is written last, with a
        manifest of every other file (size and sha256) and a digest of its own content, which :meth:`load`
        checks: a file from another model, or a hand-edited config, is refused.
        """
        return write_dir(path, self._write, marker=CONFIG_FILE)

    def _write(self, path: Path) -> None:
        from safetensors.torch import save_file

        self.encoder.save(path / ENCODER_DIR)
        cfg = {"format": FORMAT_VERSION, "latent_dim": self.config.latent_dim,
               "use_transition": self.config.use_transition,
               "use_action_features": self.config.use_action_features,
               "use_hardware_features": self.config.use_hardware_features,
               "use_effect_features": self.config.use_effect_features, "seed": self.config.seed,
               "feature_names": self.config.feature_names(), "ranker_params": self.ranker.params,
               "ranker_rounds": self.ranker.rounds, "ranker_parallel_exponent": self.ranker.parallel_exponent,
               "info": self.config.info}
        if self.transition is not None:
            cfg["transition"] = self.transition.config()
            save_file({k: v.contiguous() for k, v in self.transition.state_dict().items()}, str(path / TRANSITION_FILE))
        self.ranker.save(path / RANKER_FILE)
        cfg = json.loads(json.dumps(cfg, default=_jsonable))  # plain JSON values, as load will read them
        cfg["manifest"] = manifest(path)
        cfg["config_sha256"] = json_digest(cfg)
        (path / CONFIG_FILE).write_text(json.dumps(cfg, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Evaluator:
        """Load a saved evaluator; ModelFileError names the missing or corrupt file."""
        path = Path(path)
        if not path.is_dir():
            raise ModelFileError(f"{path}: no such model directory")
        cfg = read_json(path / CONFIG_FILE)
        if not isinstance(cfg, dict):
            raise ModelFileError(f"{path / CONFIG_FILE}: expected a JSON object, got {type(cfg).__name__}")
        if cfg.get("format") != FORMAT_VERSION:
            raise ModelFileError(f"{path / CONFIG_FILE}: a model of format {cfg.get('format')!r}, made by another "
                                 f"version of the workbench (this one reads format {FORMAT_VERSION}: its features "
                                 f"differ); retrain it with `workbench train --logs ... --out {path}`")
        if "manifest" in cfg:
            digest = cfg.pop("config_sha256", None)
            if digest != json_digest(cfg):
                raise ModelFileError(f"{path / CONFIG_FILE}: changed after the model was saved (its digest differs); "
                                     "re-save the model with Evaluator.save or retrain it with `workbench train`")
            check_manifest(path, cfg["manifest"])
        else:
            warnings.warn(f"{path}: saved without a manifest, so nothing checks that its files belong together; "
                          "save it again with Evaluator.save", stacklevel=2)
        try:
            config = EvaluatorConfig(latent_dim=int(cfg["latent_dim"]), use_transition=bool(cfg["use_transition"]),
                                     use_action_features=bool(cfg["use_action_features"]),
                                     use_hardware_features=bool(cfg["use_hardware_features"]),
                                     use_effect_features=bool(cfg.get("use_effect_features", True)),
                                     seed=int(cfg.get("seed", 0)), info=cfg.get("info", {}))
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(f"{path / CONFIG_FILE}: missing or bad field {err}") from err
        if cfg.get("feature_names") is not None and cfg["feature_names"] != config.feature_names():
            saved, now = cfg["feature_names"], config.feature_names()
            diff = sorted(set(saved) ^ set(now))[:6] or ["(the same names in another order)"]
            raise ModelFileError(f"{path / CONFIG_FILE}: trained on other features than this workbench computes "
                                 f"({len(saved)} vs {len(now)}; differing: {', '.join(diff)}): scoring with it would "
                                 f"be silently wrong; retrain it with `workbench train --logs ... --out {path}`")
        encoder = Encoder.load(path / ENCODER_DIR)
        if encoder.dim != config.latent_dim:
            raise ModelFileError(f"{path / ENCODER_DIR}: an encoder of dimension {encoder.dim}, but {CONFIG_FILE} "
                                 f"says {config.latent_dim}: a file from another model?")
        transition = None
        if "transition" in cfg:
            try:
                transition = TransitionModel(**cfg["transition"])
            except (TypeError, ValueError) as err:
                raise ModelFileError(f"{path / CONFIG_FILE}: bad transition settings ({err})") from err
            try:
                transition.load_state_dict(load_tensors(path / TRANSITION_FILE))
            except RuntimeError as err:
                raise ModelFileError(f"{path / TRANSITION_FILE}: weights do not match {CONFIG_FILE} ({err})") from err
            transition.eval()
        ranker = Ranker(feature_names=config.feature_names())
        try:
            ranker.params = dict(cfg.get("ranker_params", ranker.params))
            ranker.rounds = int(cfg.get("ranker_rounds", ranker.rounds))
            # models saved before the exponent existed were trained without it
            ranker.parallel_exponent = float(cfg.get("ranker_parallel_exponent", 0.0))
            objective = ranker.params.get("objective")
            check_parallel_exponent(ranker.parallel_exponent,
                                    "regression" if objective == "reg:squarederror" else str(objective))
        except (TypeError, ValueError) as err:
            raise ModelFileError(f"{path / CONFIG_FILE}: bad ranker settings ({err})") from err
        ranker.load_booster(path / RANKER_FILE)
        evaluator = cls(encoder, transition, ranker, config)
        evaluator.source = path
        return evaluator


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
    """The evaluator shipped for ``target`` ("cpu" or "cuda")."""
    path = default_model_dir(target)
    if not (path / CONFIG_FILE).is_file():
        raise ModelFileError(f"{path}: no shipped default model for {target!r}; train one with `workbench train` "
                             "and pass its directory as evaluator=")
    return Evaluator.load(path)
