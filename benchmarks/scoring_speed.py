"""Scoring speed: the world model vs MetaSchedule's XGBModel.predict on the same 1,000 candidates.

Both sides start from the same TVM schedules (what the evolutionary search hands a cost model) and include
their own feature work: PerStoreFeature extraction for XGBModel; reading the trace's design actions, the
latent rollout and the ranker for the world model. Repeats are interleaved in one process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _report import stats, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subgraph", default="conv2d_7x7x512_3x3")
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=None, help="evaluator dir (default: the shipped CPU model)")
    parser.add_argument("--logs", default="sample_logs/cpu", help="records to train the XGBModel baseline on")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from workbench.actions import DesignSpace
    from workbench.logs import load_logs
    from workbench.subgraphs import load_subgraph
    from workbench.worldmodel import Evaluator, load_default
    from workbench.worldmodel.baseline import MetaScheduleXGB
    from workbench.worldmodel.evaluate import split_by_subgraph
    from workbench.worldmodel.metrics import kendall_tau

    evaluator = Evaluator.load(args.model) if args.model else load_default("cpu")
    holdout = evaluator.config.info.get("holdout") or "default"
    train, _ = split_by_subgraph(load_logs(args.logs, progress=False), holdout)
    baseline = MetaScheduleXGB().fit(train[train["status"] == "ok"].reset_index(drop=True), seed=args.seed)

    sg = load_subgraph(args.subgraph)
    t = time.perf_counter()
    cands = DesignSpace(sg).sample(args.candidates, seed=args.seed)
    sample_s = time.perf_counter() - t
    schedules = []
    from tvm import s_tir

    for c in cands:  # fresh schedules, as the search builds them (nothing cached on our Candidate objects)
        sch = s_tir.Schedule(sg.mod)
        c.trace.apply_to_schedule(sch, remove_postproc=False)
        schedules.append(sch)
    n = len(schedules)

    def world() -> tuple[np.ndarray, dict[str, float]]:
        parts = {}
        t0 = time.perf_counter()
        items = evaluator.items_from_schedules(sg.mod, schedules, group=sg.name, flops=sg.flops or 0.0)
        parts["read_actions"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        x = evaluator.feature_matrix(items)
        parts["rollout_and_features"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        scores = evaluator.ranker.predict(x)
        parts["ranker"] = time.perf_counter() - t2
        parts["total"] = time.perf_counter() - t0
        return scores, parts

    world()  # warm-up: encodes the initial program once (cached), as in a search
    times = {"world_model": [], "metaschedule_xgb": []}
    world_parts = []
    for _ in range(args.repeats):
        scores_w, parts = world()
        world_parts.append(parts)
        times["world_model"].append(parts["total"])
        t = time.perf_counter()
        scores_x = baseline.predict_schedules(sg.mod, schedules)
        times["metaschedule_xgb"].append(time.perf_counter() - t)
    s_w, s_x = stats(times["world_model"]), stats(times["metaschedule_xgb"])
    ratio = [x / w for w, x in zip(times["world_model"], times["metaschedule_xgb"], strict=True)]
    part_med = {k: float(np.median([p[k] for p in world_parts])) for k in world_parts[0]}
    tau = kendall_tau(scores_w, -np.asarray(scores_x))  # agreement of the two rankings (info only)
    rows = [
        "| scorer | median s / 1,000 candidates | per candidate | min-max s |",
        "|---|---|---|---|",
        f"| world model (read actions + rollout + ranker) | {s_w['median'] * 1000 / n:.3f} | "
        f"{s_w['median'] / n * 1e3:.3f} ms | {s_w['min']:.3f}-{s_w['max']:.3f} |",
        f"| MetaSchedule XGBModel.predict (PerStoreFeature + XGBoost) | {s_x['median'] * 1000 / n:.3f} | "
        f"{s_x['median'] / n * 1e3:.3f} ms | {s_x['min']:.3f}-{s_x['max']:.3f} |",
    ]
    body = (f"Subgraph `{sg.name}` ({args.subgraph}), {n} candidates sampled from its design space "
            f"(seed {args.seed}, {sample_s:.1f} s to sample), scored {args.repeats} times, interleaved.\n\n"
            + "\n".join(rows)
            + f"\n\n**Speed-up: {np.median(ratio):.1f}x** (per repeat: {', '.join(f'{r:.1f}x' for r in ratio)}).\n\n"
            f"World-model time split (median): " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in part_med.items())
            + f".\n\nKendall tau between the two models' rankings of these candidates: {tau:.2f} (not a "
            "quality measure: there are no measurements here).\n")
    path = write_report("scoring_speed", title="Scoring speed: world model vs MetaSchedule XGBModel",
                        body=body, data={"subgraph": sg.name, "candidates": n, "seconds": times,
                                         "speedup": ratio, "world_parts": world_parts, "kendall_between": tau})
    print(path.read_text())


if __name__ == "__main__":
    main()
