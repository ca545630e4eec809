"""Training the world model from tuning logs: replay traces for (state, action, next state) data, fit the
encoder, the transition on free rollouts, then the ranker on measured records."""

from __future__ import annotations

import platform
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench._tvm import torch_ready
from workbench.actions import Action
from workbench.worldmodel import encoders
from workbench.worldmodel import features as feats
from workbench.worldmodel.config import EvaluatorConfig, TrainConfig
from workbench.worldmodel.decisions import batch_features
from workbench.worldmodel.effects import Machine, program_info
from workbench.worldmodel.encoders import Encoder
from workbench.worldmodel.evaluator import Evaluator
from workbench.worldmodel.items import Item, items_from_logs, replay_states
from workbench.worldmodel.metrics import ranking_groups
from workbench.worldmodel.ranker import Ranker
from workbench.worldmodel.text import program_text
from workbench.worldmodel.transition import Measured, Rollouts, TransitionModel, fit_transition


@dataclass
class Trajectory:
    group: str
    mod: Any
    actions: list[Action]
    texts: list[str]  # program text after each program-changing action


def replay_trajectories(df: Any, per_subgraph: int, *, seed: int = 0, progress: bool = True
                        ) -> tuple[dict[str, str], list[Trajectory]]:
    """Initial program text per subgraph, and replayed trajectories of up to ``per_subgraph`` traces each."""
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    items = items_from_logs(df.drop_duplicates(["subgraph", "trace_key"]))
    by_group: dict[str, list[Item]] = {}
    for it in items:
        by_group.setdefault(it.group, []).append(it)
    initial, trajs = {}, []
    chosen = []
    for group in sorted(by_group):
        pool = by_group[group]
        initial[group] = program_text(pool[0].mod)
        chosen += rng.sample(pool, min(per_subgraph, len(pool)))
    for it in tqdm(chosen, desc="replaying traces", unit="trace", disable=not progress, leave=False):
        _, _, idx = feats.steps(it.actions)
        mods = replay_states(it.mod, it.extra["trace"], [i + 1 for i in idx])
        trajs.append(Trajectory(it.group, it.mod, it.actions, [program_text(m) for m in mods]))
    return initial, trajs


def rollouts_for(encoder: Encoder, initial: dict[str, str], trajs: Sequence[Trajectory], *,
                 progress: bool = False) -> Rollouts:
    texts = [t for tr in trajs for t in tr.texts]
    groups = sorted({tr.group for tr in trajs})
    z_init = dict(zip(groups, encoder.encode([initial[g] for g in groups]), strict=True))
    z_all = encoder.encode(texts, progress=progress) if texts else np.zeros((0, encoder.dim), np.float32)
    targets, pos = [], 0
    for tr in trajs:
        targets.append(z_all[pos:pos + len(tr.texts)])
        pos += len(tr.texts)
    infos = {id(tr.mod): program_info(tr.mod) for tr in trajs}
    tokens, params, _, _ = batch_features([tr.actions for tr in trajs], infos=[infos[id(tr.mod)] for tr in trajs],
                                          machines=[Machine()] * len(trajs), flops=[0.0] * len(trajs))
    return Rollouts.pack(np.stack([z_init[tr.group] for tr in trajs]), tokens, params, targets)


def measured_for(encoder: Encoder, ok: Any, items: Sequence[Item]) -> Measured:
    """Rollout inputs, log latencies and groups of measured records (``ok``: successful rows only)."""
    probe = Evaluator(encoder, None, None, EvaluatorConfig(latent_dim=encoder.dim))
    batch, _, _ = probe.rollout_inputs(items)
    return Measured(batch, np.log(ok["latency"].to_numpy(dtype=np.float64)), ranking_groups(ok))


def fit_world(df: Any, config: TrainConfig, *, progress: bool = True, log: Callable[[str], None] = print,
              encoder: Encoder | None = None, replayed: tuple[dict[str, str], list[Trajectory]] | None = None,
              items: Sequence[Item] | None = None) -> tuple[Encoder, TransitionModel, dict[str, Any]]:
    """Fit the encoder (unless given) and the transition on replayed traces of the subgraphs in ``df``
    and, for the value head, on its measured records (``replayed``: the output of ``replay_trajectories``,
    to reuse one replay for several fits; ``items``: ``items_from_logs`` of the successful rows)."""
    torch = torch_ready()
    report: dict[str, Any] = {}
    t0 = time.perf_counter()
    initial, trajs = replayed or replay_trajectories(df, config.replay_traces, seed=config.seed, progress=progress)
    report["replay"] = {"traces": len(trajs), "states": sum(len(t.texts) for t in trajs),
                        "seconds": time.perf_counter() - t0}
    log(f"replayed {len(trajs)} traces ({report['replay']['states']} states) in {report['replay']['seconds']:.0f} s")
    if encoder is None:
        encoder = encoders.create(config.encoder, **_encoder_kwargs(config))
        groups: dict[str, list[str]] = {g: [t] for g, t in initial.items()}
        for tr in trajs:
            groups[tr.group].extend(tr.texts)
        t1 = time.perf_counter()
        stats = encoder.fit(groups, progress=progress, **_encoder_fit_kwargs(config))
        stats["seconds"] = time.perf_counter() - t1
        report["encoder"] = {k: v for k, v in stats.items() if k != "losses"}
        report["encoder_losses"] = stats.get("losses")
        log(f"encoder {encoder.name}: {report['encoder']}")
    rng = random.Random(config.seed)
    by_group: dict[str, list[int]] = {}
    for i, tr in enumerate(trajs):
        by_group.setdefault(tr.group, []).append(i)
    val_idx = []
    for idx in by_group.values():
        if len(idx) > config.validation_traces + 1:
            val_idx += rng.sample(idx, config.validation_traces)
    train_idx = [i for i in range(len(trajs)) if i not in set(val_idx)]
    t2 = time.perf_counter()
    batch = rollouts_for(encoder, initial, trajs, progress=progress)
    report["encode_seconds"] = time.perf_counter() - t2
    torch.manual_seed(config.seed)
    transition = TransitionModel(encoder.dim, hidden=config.transition_hidden, token_dim=config.transition_token_dim)
    val = batch.subset(torch.tensor(val_idx, dtype=torch.long)) if val_idx else None
    measured = None
    if config.value_weight > 0:
        ok = df[df["status"] == "ok"].reset_index(drop=True)
        measured = measured_for(encoder, ok, items if items is not None else items_from_logs(ok))
    stats = fit_transition(transition, batch.subset(torch.tensor(train_idx, dtype=torch.long)), measured=measured,
                           epochs=config.transition_epochs, batch_size=config.transition_batch_size,
                           lr=config.transition_lr, weight_decay=config.transition_weight_decay,
                           grad_clip=config.grad_clip, value_weight=config.value_weight,
                           groups_per_step=config.value_groups_per_step, per_group=config.value_per_group,
                           seed=config.seed, progress=progress, validation=val)
    report["transition"] = stats
    value = (f"; value loss {stats['value_loss_first']:.3f} -> {stats['value_loss_last']:.3f}"
             if "value_loss_last" in stats else "")
    log(f"transition: loss {stats['loss_first']:.3f} -> {stats['loss_last']:.3f}{value} in {stats['seconds']:.0f} s")
    return encoder, transition, report


def _encoder_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The encoder's constructor arguments from the config."""
    if config.encoder == "contrastive":
        return {"dim": config.latent_dim, "seed": config.seed, "positives": config.positives,
                "hidden": config.encoder_hidden, "layers": config.encoder_layers, "heads": config.encoder_heads,
                "vocab_size": config.encoder_vocab_size, "max_length": config.encoder_max_length}
    if config.encoder == "tfidf":
        return {"dim": config.latent_dim, "seed": config.seed, "max_features": config.tfidf_max_features}
    return {}


def _encoder_fit_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The encoder's training hyperparameters from the config (only the contrastive encoder has any)."""
    if config.encoder != "contrastive":
        return {}
    return {"steps": config.encoder_steps, "groups_per_batch": config.encoder_groups_per_batch,
            "per_group": config.encoder_per_group, "lr": config.encoder_lr,
            "weight_decay": config.encoder_weight_decay, "warmup_steps": config.encoder_warmup_steps,
            "temperature": config.temperature, "grad_clip": config.grad_clip}


def fit_ranker(encoder: Encoder, transition: TransitionModel | None, df: Any, config: TrainConfig,
               *, items: list[Item] | None = None, latents: np.ndarray | None = None) -> Evaluator:
    """Train the ranker on the measured records of ``df`` (ranking groups: each subgraph on each machine)."""
    dim = encoder.dim
    ev_config = EvaluatorConfig(latent_dim=dim, use_transition=config.use_transition,
                                use_action_features=config.use_action_features,
                                use_hardware_features=config.use_hardware_features,
                                use_effect_features=config.use_effect_features, seed=config.seed)
    ranker = Ranker(rounds=config.ranker_rounds, max_depth=config.ranker_max_depth, eta=config.ranker_eta,
                    subsample=config.ranker_subsample, colsample=config.ranker_colsample,
                    min_child_weight=config.ranker_min_child_weight, threads=config.ranker_threads,
                    seed=config.seed, feature_names=ev_config.feature_names(), objective=config.ranker_objective,
                    parallel_exponent=config.ranker_parallel_exponent)
    ev = Evaluator(encoder, transition, ranker, ev_config)
    items = items if items is not None else items_from_logs(df)
    x = ev.feature_matrix(items, latents)
    ranker.fit(x, df["latency"].to_numpy(dtype=np.float64), ranking_groups(df))
    return ev


def train_evaluator(df: Any, config: TrainConfig | None = None, *, progress: bool = True,
                    log: Callable[[str], None] = print) -> tuple[Evaluator, dict[str, Any]]:
    """Train encoder, transition and ranker on a ``load_logs`` DataFrame; returns the evaluator and a report."""
    config = config or TrainConfig()
    t0 = time.perf_counter()
    random.seed(config.seed)
    np.random.seed(config.seed)
    ok = df[df["status"] == "ok"].reset_index(drop=True)
    items = items_from_logs(ok)
    encoder, transition, report = fit_world(df, config, progress=progress, log=log, items=items)
    t1 = time.perf_counter()
    ev = fit_ranker(encoder, transition if config.use_transition else None, ok, config, items=items)
    report["ranker"] = {"records": len(ok), "subgraphs": int(ok["subgraph"].nunique()),
                        "seconds": time.perf_counter() - t1}
    report["total_seconds"] = time.perf_counter() - t0
    import xgboost

    ev.config.info = {"config": asdict(config), "subgraphs": sorted(df["subgraph"].unique().tolist()),
                      "records": len(ok), "hardware": sorted({str((h or {}).get("id")) for h in ok["hardware"]}),
                      "versions": {"python": platform.python_version(), "torch": torch_ready().__version__,
                                   "xgboost": xgboost.__version__},
                      "train_seconds": round(report["total_seconds"], 1),
                      "transition_steps": report["transition"].get("validation_steps")}
    log(f"trained in {report['total_seconds']:.0f} s")
    return ev, report
