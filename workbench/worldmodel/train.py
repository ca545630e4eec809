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

from workbench._tvm import import_tvm
from workbench.actions import Action, actions_from_json
from workbench.worldmodel import features as feats
from workbench.worldmodel.encoders import Encoder, get_encoder
from workbench.worldmodel.evaluator import Evaluator, EvaluatorConfig, Item
from workbench.worldmodel.ranker import Ranker
from workbench.worldmodel.text import program_text
from workbench.worldmodel.transition import Measured, Rollouts, TransitionModel, fit_transition, torch


@dataclass
class TrainConfig:
    encoder: str = "contrastive"  # tfidf | contrastive | hf:/path
    latent_dim: int = 64
    seed: int = 0
    replay_traces: int = 12  # traces per subgraph replayed for transition data (no measurement needed)
    validation_traces: int = 2  # of those, kept out of transition training to report its error
    encoder_steps: int = 300
    positives: str = "rewrite"  # contrastive positives: rewrite (renamed/expanded views) or dropout
    transition_epochs: int = 150
    value_weight: float = 1.0  # weight of the value head's ranking loss on measured records (0: state loss only)
    ranker_rounds: int = 300
    ranker_objective: str = "regression"  # chosen by cross-validation by subgraph (ranker_objective_cv.md)
    use_transition: bool = True
    use_action_features: bool = True
    use_hardware_features: bool = True


def _prefix_json(trace_json: list, k: int) -> list:
    insts, decisions = trace_json[0], trace_json[1]
    return [insts[:k], [d for d in decisions if int(d[0]) < k]]


def replay_states(mod: Any, trace_json: list, prefix_lengths: Sequence[int]) -> list[Any]:
    """The real program after each prefix of the trace (one fresh replay per prefix)."""
    import_tvm()
    from tvm import s_tir

    out = []
    for k in prefix_lengths:
        sch = s_tir.Schedule(mod, error_render_level="none")
        s_tir.Trace.apply_json_to_schedule(_prefix_json(trace_json, k), sch)
        out.append(sch.mod)
    return out


def final_program(item: Item) -> Any:
    if "candidate" in item.extra:
        return item.extra["candidate"].mod
    return replay_states(item.mod, item.extra["trace"], [len(item.actions)])[0]


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
    items = Evaluator.items_from_logs(df.drop_duplicates(["subgraph", "trace_hash"]))
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
    steps = [feats.steps(tr.actions) for tr in trajs]
    return Rollouts.pack(np.stack([z_init[tr.group] for tr in trajs]), [s[0] for s in steps], [s[1] for s in steps],
                         targets)


def measured_for(encoder: Encoder, ok: Any, items: Sequence[Item]) -> Measured:
    """Rollout inputs, log latencies and groups of measured records (``ok``: successful rows only)."""
    probe = Evaluator(encoder, None, None, EvaluatorConfig(latent_dim=encoder.dim))
    batch, _, _ = probe.rollout_inputs(items)
    return Measured(batch, np.log(ok["latency"].to_numpy(dtype=np.float64)), ok["subgraph"].to_numpy())


def fit_world(df: Any, config: TrainConfig, *, progress: bool = True, log: Callable[[str], None] = print,
              encoder: Encoder | None = None, replayed: tuple[dict[str, str], list[Trajectory]] | None = None,
              items: Sequence[Item] | None = None) -> tuple[Encoder, TransitionModel, dict[str, Any]]:
    """Fit the encoder (unless given) and the transition on replayed traces of the subgraphs in ``df``
    and, for the value head, on its measured records (``replayed``: the output of ``replay_trajectories``,
    to reuse one replay for several fits; ``items``: ``Evaluator.items_from_logs`` of the successful rows)."""
    report: dict[str, Any] = {}
    t0 = time.perf_counter()
    initial, trajs = replayed or replay_trajectories(df, config.replay_traces, seed=config.seed, progress=progress)
    report["replay"] = {"traces": len(trajs), "states": sum(len(t.texts) for t in trajs),
                        "seconds": time.perf_counter() - t0}
    log(f"replayed {len(trajs)} traces ({report['replay']['states']} states) in {report['replay']['seconds']:.0f} s")
    if encoder is None:
        encoder = get_encoder(config.encoder, **_encoder_kwargs(config))
        groups: dict[str, list[str]] = {g: [t] for g, t in initial.items()}
        for tr in trajs:
            groups[tr.group].extend(tr.texts)
        t1 = time.perf_counter()
        fit_kwargs = {"steps": config.encoder_steps, "progress": progress} if config.encoder == "contrastive" else {}
        stats = encoder.fit(groups, **fit_kwargs)
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
    transition = TransitionModel(encoder.dim)
    val = batch.subset(torch.tensor(val_idx, dtype=torch.long)) if val_idx else None
    measured = None
    if config.value_weight > 0:
        ok = df[df["status"] == "ok"].reset_index(drop=True)
        measured = measured_for(encoder, ok, items if items is not None else Evaluator.items_from_logs(ok))
    stats = fit_transition(transition, batch.subset(torch.tensor(train_idx, dtype=torch.long)), measured=measured,
                           value_weight=config.value_weight, epochs=config.transition_epochs, seed=config.seed,
                           progress=progress, validation=val)
    report["transition"] = stats
    value = (f"; value loss {stats['value_loss_first']:.3f} -> {stats['value_loss_last']:.3f}"
             if "value_loss_last" in stats else "")
    log(f"transition: loss {stats['loss_first']:.3f} -> {stats['loss_last']:.3f}{value} in {stats['seconds']:.0f} s")
    return encoder, transition, report


def _encoder_kwargs(config: TrainConfig) -> dict[str, Any]:
    if config.encoder == "contrastive":
        return {"dim": config.latent_dim, "seed": config.seed, "positives": config.positives}
    if config.encoder == "tfidf":
        return {"dim": config.latent_dim, "seed": config.seed}
    return {}


def fit_ranker(encoder: Encoder, transition: TransitionModel | None, df: Any, config: TrainConfig,
               *, items: list[Item] | None = None, latents: np.ndarray | None = None) -> Evaluator:
    """Train the ranker on the measured records of ``df`` (ranking groups: subgraphs)."""
    dim = encoder.dim
    ev_config = EvaluatorConfig(latent_dim=dim, use_transition=config.use_transition,
                                use_action_features=config.use_action_features,
                                use_hardware_features=config.use_hardware_features, seed=config.seed)
    ranker = Ranker(rounds=config.ranker_rounds, seed=config.seed, feature_names=ev_config.feature_names(),
                    objective=config.ranker_objective)
    ev = Evaluator(encoder, transition, ranker, ev_config)
    items = items if items is not None else Evaluator.items_from_logs(df)
    x = ev.feature_matrix(items, latents)
    ranker.fit(x, df["latency"].to_numpy(dtype=np.float64), df["subgraph"].to_numpy())
    return ev


def train_evaluator(df: Any, config: TrainConfig | None = None, *, progress: bool = True,
                    log: Callable[[str], None] = print) -> tuple[Evaluator, dict[str, Any]]:
    """Train encoder, transition and ranker on a ``load_logs`` DataFrame; returns the evaluator and a report."""
    config = config or TrainConfig()
    t0 = time.perf_counter()
    random.seed(config.seed)
    np.random.seed(config.seed)
    ok = df[df["status"] == "ok"].reset_index(drop=True)
    items = Evaluator.items_from_logs(ok)
    encoder, transition, report = fit_world(df, config, progress=progress, log=log, items=items)
    t1 = time.perf_counter()
    ev = fit_ranker(encoder, transition if config.use_transition else None, ok, config, items=items)
    report["ranker"] = {"records": len(ok), "subgraphs": int(ok["subgraph"].nunique()),
                        "seconds": time.perf_counter() - t1}
    report["total_seconds"] = time.perf_counter() - t0
    import torch as _torch  # noqa: F401 - versions for the record
    import xgboost

    ev.config.info = {"config": asdict(config), "subgraphs": sorted(df["subgraph"].unique().tolist()),
                      "records": len(ok), "hardware": sorted({str((h or {}).get("id")) for h in ok["hardware"]}),
                      "versions": {"python": platform.python_version(), "torch": torch.__version__,
                                   "xgboost": xgboost.__version__},
                      "train_seconds": round(report["total_seconds"], 1),
                      "transition_steps": report["transition"].get("validation_steps")}
    log(f"trained in {report['total_seconds']:.0f} s")
    return ev, report


def trace_items(mod: Any, traces: Sequence[list], *, group: str = "", flops: float = 0.0,
                hardware: dict[str, Any] | None = None, target_kind: str = "llvm") -> list[Item]:
    """Items from trace JSONs of one subgraph (e.g. MetaSchedule candidates)."""
    return [Item(mod, actions_from_json(t), flops=flops, hardware=hardware, target_kind=target_kind, group=group,
                 extra={"trace": t}) for t in traces]
