"""Scoring speed: the world model vs MetaSchedule's XGBModel.predict on the same 1,000 candidates.

Both sides start from the same TVM schedules (what the evolutionary search hands a cost model) and include
their own feature work: PerStoreFeature extraction for XGBModel; reading the trace's design actions, the
latent rollout and the ranker for the world model. A third row times draft then verify (the ``world_verify``
cost model, the default of an evolutionary run): the world model scores all candidates, then the verifier
(MetaSchedule's XGBModel saved beside the world model) re-scores the world model's top ``--verify-k``. Its cost
per candidate depends on how many candidates one call scores (the verified top is a fixed count); here it is
``--candidates``. Repeats are interleaved in one process.
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
    parser.add_argument("--logs", default="sample_logs/cpu", help="records to fit the XGBModel on where the model has no verifier saved beside it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verify-k", type=int, default=None,
                        help="draft then verify: how many of the world model's best the verifier re-scores "
                             "(default: world_verify's)")
    args = parser.parse_args()

    from workbench.actions import DesignSpace
    from workbench.logs import load_logs
    from workbench.subgraphs import load_subgraph
    from workbench.tuning.cost_model import VERIFY_K, verifier_dir
    from workbench.worldmodel import Evaluator, ModelFileError, load_default
    from workbench.worldmodel.baseline import MetaScheduleXGB
    from workbench.worldmodel.evaluate import split_by_subgraph
    from workbench.worldmodel.metrics import kendall_tau

    verify_k = VERIFY_K if args.verify_k is None else args.verify_k
    evaluator = Evaluator.load(args.model) if args.model else load_default("cpu")
    try:  # the verifier saved beside the world model: what world_verify loads (and the same XGBModel's cost)
        baseline_from = str(verifier_dir(evaluator))
        baseline = MetaScheduleXGB.load(baseline_from)
    except ModelFileError as err:
        print(f"{err}: fitting MetaSchedule's XGBModel on the training records of {args.logs}", flush=True)
        holdout = evaluator.config.info.get("holdout") or "default"
        train, _ = split_by_subgraph(load_logs(args.logs, progress=False), holdout)
        baseline = MetaScheduleXGB().fit(train[train["status"] == "ok"].reset_index(drop=True), seed=args.seed)
        baseline_from = f"fitted here on the training records of {args.logs} (seed {args.seed})"

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

    def draft_then_verify() -> float:
        t0 = time.perf_counter()
        scores, _ = world()
        top = np.argsort(-scores, kind="stable")[:verify_k]
        baseline.predict_schedules(sg.mod, [schedules[i] for i in top])
        return time.perf_counter() - t0

    world()  # warm-up: encodes the initial program once (cached), as in a search
    times = {"world_model": [], "metaschedule_xgb": [], "world_verify": []}
    world_parts = []
    for _ in range(args.repeats):
        scores_w, parts = world()
        world_parts.append(parts)
        times["world_model"].append(parts["total"])
        t = time.perf_counter()
        scores_x = baseline.predict_schedules(sg.mod, schedules)
        times["metaschedule_xgb"].append(time.perf_counter() - t)
        times["world_verify"].append(draft_then_verify())
    s_w, s_x, s_v = (stats(times[k]) for k in ("world_model", "metaschedule_xgb", "world_verify"))
    ratio = [x / w for w, x in zip(times["world_model"], times["metaschedule_xgb"], strict=True)]
    ratio_v = [x / v for v, x in zip(times["world_verify"], times["metaschedule_xgb"], strict=True)]
    part_med = {k: float(np.median([p[k] for p in world_parts])) for k in world_parts[0]}
    tau = kendall_tau(scores_w, -np.asarray(scores_x))  # agreement of the two rankings (info only)
    rows = [
        "| scorer | median s / 1,000 candidates | per candidate | min-max s |",
        "|---|---|---|---|",
        f"| world model (read actions + rollout + ranker) | {s_w['median'] * 1000 / n:.3f} | "
        f"{s_w['median'] / n * 1e3:.3f} ms | {s_w['min']:.3f}-{s_w['max']:.3f} |",
        f"| MetaSchedule XGBModel.predict (PerStoreFeature + XGBoost) | {s_x['median'] * 1000 / n:.3f} | "
        f"{s_x['median'] / n * 1e3:.3f} ms | {s_x['min']:.3f}-{s_x['max']:.3f} |",
        f"| draft then verify (world model on all, XGBModel on its top {verify_k}) | "
        f"{s_v['median'] * 1000 / n:.3f} | "
        f"{s_v['median'] / n * 1e3:.3f} ms | {s_v['min']:.3f}-{s_v['max']:.3f} |",
    ]
    body = (f"Subgraph `{sg.name}` ({args.subgraph}), {n} candidates sampled from its design space "
            f"(seed {args.seed}, {sample_s:.1f} s to sample), scored {args.repeats} times, interleaved.\n\n"
            + "\n".join(rows)
            + f"\n\n**Speed-up: {np.median(ratio):.1f}x** (per repeat: {', '.join(f'{r:.1f}x' for r in ratio)}).\n\n"
            f"Draft then verify ({n} candidates per call, the verifier on {min(verify_k, n)}): "
            f"**{np.median(ratio_v):.1f}x** faster than XGBModel.predict on all of them (per repeat: "
            f"{', '.join(f'{r:.1f}x' for r in ratio_v)}).\n\n"
            f"XGBModel: {baseline_from}.\n\n"
            f"World-model time split (median): " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in part_med.items())
            + f".\n\nKendall tau between the two models' rankings of these candidates: {tau:.2f} (not a "
            "quality measure: there are no measurements here).\n")
    path = write_report("scoring_speed", title="Scoring speed: world model vs MetaSchedule XGBModel",
                        body=body, data={"subgraph": sg.name, "candidates": n, "seconds": times,
                                         "speedup": ratio, "speedup_world_verify": ratio_v, "verify_k": verify_k,
                                         "xgb_model": baseline_from, "world_parts": world_parts,
                                         "kendall_between": tau})
    print(path.read_text())


if __name__ == "__main__":
    main()
