"""Ranking quality on held-out subgraphs: the world model, its ablations, and MetaSchedule's XGBModel.

Train/test split by subgraph (DEFAULT_HOLDOUT: two whole models plus built-ins of every family). The full
model at seed 0 is the shipped evaluator (``--model``); other seeds retrain its transition and ranker on the
same encoder. Ablations retrain on the same training records, same seeds, same run.
``value_head`` scores with the transition's value head alone (no XGBoost):

* no_transition: the ranker sees the static encoding of the real final program (built and encoded);
* no_value_grounding: the transition trained on the state loss alone (no ranking loss on measured records);
* no_action_features / no_effect_features / no_hardware_features: ranker columns removed (all trace features;
  only what post-processing makes of the decisions; the machine's);
* tfidf_encoder or contrastive_encoder: the other encoder than the shipped one (the contrastive transformer
  trains for ~20 minutes: on the first seed only unless ``--encoder-all-seeds``).

``ties``: pairs of different programs of the same subgraph (and machine) that get exactly the same score while
one runs more than 1.5x slower, among the records of the subgraphs where a blind spot showed them
(``TIE_SUBGRAPHS``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from _report import write_report

TIE_SUBGRAPHS = ("softmax_256x256", "norm_256x256", "vit_b16/layer_norm", "depthwise_14x14x512_s2")


def count_ties(test, scores: np.ndarray, *, ratio: float = 1.5) -> int:
    """Pairs of distinct programs of one subgraph and machine with identical scores, one > ``ratio`` slower."""
    frame = test.assign(score=np.asarray(scores, dtype=np.float64))
    frame = frame[frame["subgraph"].isin(TIE_SUBGRAPHS)]
    ties = 0
    for _, g in frame.groupby(["subgraph", "machine"], dropna=False):
        g = g.drop_duplicates("trace_key")
        for _, same in g.groupby("score"):
            lat = np.sort(same["latency"].to_numpy())
            for i in range(len(lat)):
                ties += int(np.sum(lat[i + 1:] > ratio * lat[i]))
    return ties


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="evaluator dir (default: the shipped CPU model)")
    parser.add_argument("--logs", default="sample_logs/cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--encoder-all-seeds", action="store_true",
                        help="train the other encoder on every seed (the contrastive one takes ~20 min each)")
    parser.add_argument("--skip-other-encoder", action="store_true",
                        help="leave out the other encoder's ablation (the report says so)")
    parser.add_argument("--name", default="eval_world_model", help="report name under benchmarks/results/")
    args = parser.parse_args()

    import pandas as pd

    from workbench._tvm import torch_ready
    from workbench.logs import load_logs
    from workbench.worldmodel import Evaluator, load_default
    from workbench.worldmodel.baseline import MetaScheduleXGB
    from workbench.worldmodel.evaluate import evaluate_scores, split_by_subgraph
    from workbench.worldmodel.items import final_program
    from workbench.worldmodel.metrics import kendall_tau
    from workbench.worldmodel.text import program_text
    from workbench.worldmodel.train import (
        TrainConfig,
        fit_ranker,
        fit_world,
        replay_trajectories,
        rollouts_for,
    )
    from workbench.worldmodel.transition import step_errors

    torch = torch_ready()

    t_start = time.perf_counter()
    shipped = Evaluator.load(args.model) if args.model else load_default("cpu")
    base_cfg = TrainConfig.from_saved(shipped.config.info["config"])
    holdout = shipped.config.info.get("holdout") or "default"
    df = load_logs(args.logs, progress=False)
    train, test = split_by_subgraph(df, holdout)
    train = train[train["status"] == "ok"].reset_index(drop=True)
    test = test[test["status"] == "ok"].reset_index(drop=True)
    overlap = set(shipped.config.info.get("subgraphs", [])) & set(test["subgraph"])
    if overlap:
        raise SystemExit(f"the model was trained on held-out subgraphs: {sorted(overlap)}")
    print(f"train {train['subgraph'].nunique()} subgraphs / {len(train)} records; "
          f"test {test['subgraph'].nunique()} / {len(test)}", flush=True)
    train_items = Evaluator.items_from_logs(train)
    test_items = Evaluator.items_from_logs(test)

    summaries, groups = [], []

    def record(name: str, seed: int, scores: np.ndarray) -> None:
        s, g = evaluate_scores(test, scores, name)
        s["seed"] = seed
        s["ties"] = count_ties(test, scores)
        summaries.append(s)
        groups.append(g.assign(seed=seed))
        print(f"{name:<22} seed {seed}: pairwise {s['pairwise']:.3f}  tau {s['kendall']:.3f}  "
              f"top1 {s['top1']:.3f}  top5 {s['top5']:.3f}  ties {s['ties']}", flush=True)

    # Static encodings of every real final program (for the no-transition ablation and the encoder probe).
    t = time.perf_counter()
    final_train = [program_text(final_program(it)) for it in train_items]
    final_test = [program_text(final_program(it)) for it in test_items]
    replay_final_s = time.perf_counter() - t
    static_train = shipped.encoder.encode(final_train)
    static_test = shipped.encoder.encode(final_test)

    replayed = replay_trajectories(train, base_cfg.replay_traces, seed=0, progress=False)
    other = "contrastive" if base_cfg.encoder == "tfidf" else "tfidf"
    other_encoders = {}
    for seed in args.seeds:
        cfg = replace(base_cfg, seed=seed)
        if seed == base_cfg.seed:
            full = shipped
        else:
            _, transition, _ = fit_world(train, cfg, progress=False, log=lambda _: None, encoder=shipped.encoder,
                                         replayed=replayed, items=train_items)
            full = fit_ranker(shipped.encoder, transition, train, cfg, items=train_items)
        record("world_model", seed, full.score(test_items))
        z_train, z_test = full.final_latents(train_items), full.final_latents(test_items)
        record("value_head", seed, full.transition.values(torch.from_numpy(z_test)).numpy())
        _, plain, _ = fit_world(train, replace(cfg, value_weight=0.0), progress=False, log=lambda _: None,
                                encoder=shipped.encoder, replayed=replayed, items=train_items)
        record("no_value_grounding", seed, fit_ranker(shipped.encoder, plain, train, cfg, items=train_items)
               .score(test_items))
        for name, change in (("no_action_features", {"use_action_features": False}),
                             ("no_effect_features", {"use_effect_features": False}),
                             ("no_hardware_features", {"use_hardware_features": False})):
            ev = fit_ranker(full.encoder, full.transition, train, replace(cfg, **change), items=train_items,
                            latents=z_train)
            record(name, seed, ev.ranker.predict(ev.feature_matrix(test_items, z_test)))
        ev = fit_ranker(full.encoder, None, train, replace(cfg, use_transition=False), items=train_items,
                        latents=static_train)
        record("no_transition", seed, ev.ranker.predict(ev.feature_matrix(test_items, static_test)))
        if not args.skip_other_encoder and (seed == args.seeds[0] or args.encoder_all_seeds):
            other_cfg = replace(cfg, encoder=other)
            other_enc, other_trans, _ = fit_world(train, other_cfg, progress=False, log=lambda _: None,
                                                  replayed=replayed, items=train_items)
            other_encoders[seed] = other_enc
            ev = fit_ranker(other_enc, other_trans, train, other_cfg, items=train_items)
            record(f"{other}_encoder", seed, ev.score(test_items))
        t = time.perf_counter()
        baseline = MetaScheduleXGB().fit(train, seed=seed)
        fit_s = time.perf_counter() - t
        record("metaschedule_xgb", seed, baseline.predict(test))
        print(f"  (XGBModel fit {fit_s:.0f} s)", flush=True)

    # Latent rollout error per step on held-out subgraphs (never seen by encoder or transition).
    initial, trajs = replay_trajectories(test, 4, seed=0, progress=False)
    batch = rollouts_for(shipped.encoder, initial, trajs)
    tr = shipped.transition
    with torch.inference_mode():
        std = type(batch)(batch.z0, batch.tokens, batch.params, batch.mask, tr.standardize(batch.targets))
        errs = step_errors(tr(std), std, tr.standardize(batch.z0))

    # Encoder probe: leave-one-out 5-NN latency prediction within each held-out subgraph (static encodings).
    def knn_probe(z: np.ndarray) -> float:
        taus = []
        for _, idx in test.groupby(["subgraph", "machine"], dropna=False).indices.items():
            if len(idx) < 10:
                continue
            zz = z[idx] / np.maximum(np.linalg.norm(z[idx], axis=1, keepdims=True), 1e-9)
            lat = np.log(test["latency"].to_numpy()[idx])
            sim = zz @ zz.T
            np.fill_diagonal(sim, -np.inf)
            nn = np.argsort(-sim, axis=1)[:, :5]
            taus.append(kendall_tau(-lat[nn].mean(axis=1), lat))
        return float(np.nanmean(taus))

    probe = {base_cfg.encoder: knn_probe(static_test)}
    if other_encoders:
        probe[other] = knn_probe(other_encoders[args.seeds[0]].encode(final_test))
    skipped = (f"\n\nNot run: the {other} encoder's ablation (`--skip-other-encoder`).\n"
               if args.skip_other_encoder else "")

    table = pd.DataFrame(summaries)
    cols = ["pairwise", "kendall", "top1", "top5", "top1_gmean"]
    agg = table.groupby("model")[cols].agg(["mean", "min", "max"])
    ties = table.groupby("model")["ties"].max()
    order = ["world_model", "metaschedule_xgb", "value_head", "no_value_grounding", "no_transition",
             "no_action_features", "no_effect_features", "no_hardware_features", f"{other}_encoder"]
    lines = ["| model | pairwise acc | Kendall tau | top-1 | top-5 | top-1 geomean | ties |",
             "|---|---|---|---|---|---|---|"]
    for name in order:
        if name in agg.index:
            r = agg.loc[name]
            lines.append(f"| {name} | " + " | ".join(
                f"{r[(c, 'mean')]:.3f} ({r[(c, 'min')]:.3f}-{r[(c, 'max')]:.3f})" for c in cols)
                + f" | {ties[name]} |")
    per = pd.concat(groups)
    # The same metrics on the search benchmark's frozen test split alone (tune_search.TEST_SPLIT).
    from tune_search import TEST_SPLIT

    from workbench.worldmodel.metrics import summarize
    frozen = per[per.index.get_level_values("subgraph").isin(TEST_SPLIT)]
    split_rows = [dict(summarize(g.drop(columns=["model", "seed"])), model=m, seed=sd)
                  for (m, sd), g in frozen.groupby(["model", "seed"])]
    split_agg = (pd.DataFrame(split_rows).groupby("model")[cols].agg(["mean", "min", "max"])
                 if split_rows else None)
    split_lines = ["| model | pairwise acc | Kendall tau | top-1 | top-5 | top-1 geomean |",
                   "|---|---|---|---|---|---|"]
    for name in order:
        if split_agg is not None and name in split_agg.index:
            r = split_agg.loc[name]
            split_lines.append(f"| {name} | " + " | ".join(
                f"{r[(c, 'mean')]:.3f} ({r[(c, 'min')]:.3f}-{r[(c, 'max')]:.3f})" for c in cols) + " |")
    # subgraphs scored (a group with one distinct latency is skipped: nothing to rank)
    n_split = frozen[frozen["pairwise"].notna()].index.get_level_values("subgraph").nunique()
    per_world = per[per["model"].isin(["world_model", "metaschedule_xgb"])].groupby(["subgraph", "model"])[
        ["pairwise", "top1"]].mean().unstack("model")
    step_lines = ["| step | held-out traces | rollout MSE | copy-initial MSE |", "|---|---|---|---|"]
    for i, (r, c, n) in enumerate(zip(errs["rollout"], errs["copy_initial"], errs["count"], strict=True)):
        step_lines.append(f"| {i + 1} | {n} | {r:.3f} | {c:.3f} |")
    body = (
        f"Split by subgraph: train {train['subgraph'].nunique()} subgraphs ({len(train)} measured records), "
        f"test {test['subgraph'].nunique()} held-out subgraphs ({len(test)} records; groups with one distinct "
        f"latency are skipped). Held out: `{holdout}`. Seeds {args.seeds}: mean (min-max) over seeds.\n\n"
        + "\n".join(lines) + skipped
        + "\n\nMetrics per held-out subgraph and machine, averaged: pairwise ranking accuracy, Kendall tau (score vs "
          "-latency), TenSet top-k (best latency / latency of the best of the model's top k; 1 is perfect). `ties`: "
          f"pairs of different programs with one score, one > 1.5x slower, in {', '.join(TIE_SUBGRAPHS)} (max over "
          "seeds).\n\n"
          f"## On the search benchmark's frozen test split ({n_split} of its {len(TEST_SPLIT)} subgraphs scored here; "
          "a subgraph whose records have one distinct latency has nothing to rank)\n\n"
        + "\n".join(split_lines)
        + "\n\n## Per held-out subgraph (mean over seeds)\n\n"
        + _markdown(per_world)
        + "\n\n## Latent rollout error per step (shipped model, held-out subgraphs)\n\n"
          "Standardized units (1.0 = the variance of a latent coordinate). `copy-initial` predicts the encoded "
          "initial program at every step: the error a model that ignores the actions would make.\n\n"
        + "\n".join(step_lines)
        + "\n\n## Encoder probe\n\nLeave-one-out 5-nearest-neighbour latency prediction inside each held-out "
          "subgraph, from static encodings of the real final programs (Kendall tau, mean over subgraphs): "
          + ", ".join(f"{k} {v:.3f}" for k, v in probe.items()) + ".\n\n"
          f"Replaying every final program for the static ablation took {replay_final_s:.0f} s; whole benchmark "
          f"{time.perf_counter() - t_start:.0f} s.\n")
    path = write_report(args.name, title="World model ranking quality on held-out subgraphs", body=body,
                        data={"summaries": summaries, "per_subgraph": per.to_dict(orient="records"),
                              "rollout_steps": errs, "probe": probe, "holdout": holdout})
    print(path.read_text())


def _markdown(frame) -> str:
    """A (subgraph x (metric, model)) table as markdown, without optional pandas dependencies."""
    heads = [f"{metric} {model}" for metric, model in frame.columns]
    out = ["| subgraph | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for name, row in frame.iterrows():
        out.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row.to_numpy()) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
