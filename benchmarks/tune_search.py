"""Search quality: the world model inside MetaSchedule's search vs MetaSchedule's default, same budget.

Part ``search``: every subgraph is tuned with ``--trials`` trials per run, once per cost model and seed
(``world``: the shipped world model; ``xgb``: MetaSchedule's default XGBModel, default settings), runs
interleaved. None of the subgraphs was used to train the shipped model (they are in its holdout). The best
schedule of every run is then re-measured side by side in one final pass (same process, interleaved,
``--final-repeat`` repeats), so the ratio does not depend on when each run happened to measure.

Part ``efficiency``: MetaSchedule's default search with ``--long-trials`` trials (its default 64 candidates per
round) on the first ``--efficiency-subgraphs`` subgraphs, against the world model's 64-trial runs of part
``search`` (seed 0), re-measured side by side the same way.

Work dirs live under ``--work-root`` and are resumed when the benchmark is run again.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

SUBGRAPHS = ["conv2d_7x7x512_3x3", "depthwise_14x14x512_s2", "matmul_256", "conv1d_64x256x256_k5",
             "batch_matmul_12x128x64", "conv2d_transpose_4x4x512", "softmax_256x256", "norm_256x256"]


def _run(sub: str, cost_model: str, seed: int, trials: int, per_iter: int, root: Path, target: str = "cpu",
         world_model: str | None = None) -> dict:
    from workbench.tuning.run import TuningRun

    work_dir = root / f"{sub.replace('/', '__')}-{cost_model}-t{trials}-s{seed}"
    run = TuningRun(sub, trials=trials, trials_per_iter=per_iter, cost_model=cost_model, work_dir=work_dir, seed=seed,
                    target=target, evaluator=world_model if cost_model == "world" else None)
    before = run.measured
    start = time.perf_counter()
    run.run(progress=False)
    wall = time.perf_counter() - start
    best = run.progress().loc[sub, "best_ms"]
    print(f"{sub:<28} {cost_model:<6} seed {seed} trials {trials}: best {best:.4f} ms "
          f"({run.measured - before} new trials, {wall:.0f} s: {run.timings()})", flush=True)
    import json

    sessions = json.loads((work_dir / "workbench_run.json").read_text())["sessions"]
    timed = [s for s in sessions if s.get("timings") and s.get("measured_after", 0) > s.get("measured_before", 0)]
    return {"subgraph": sub, "cost_model": cost_model, "seed": seed, "trials": trials, "work_dir": str(work_dir),
            "target": target,
            "best_ms_during_run": float(best), "timings": [s["timings"] for s in timed],
            "cost_model_stats": [s.get("cost_model") for s in timed],
            "failures": int(run.progress().loc[sub, "build_errors"] + run.progress().loc[sub, "run_errors"])}


def _remeasure(runs: list[dict], repeat: int, rounds: int, target: str = "cpu") -> None:
    """Time the best schedule of every run again, interleaved, ``rounds`` times; adds ``best_ms``."""
    from workbench.measure import Measurer
    from workbench.tuning.run import TuningRun

    mods = []
    for r in runs:
        run = TuningRun(r["subgraph"], trials=r["trials"], cost_model=r["cost_model"], seed=r["seed"],
                        trials_per_iter=r.get("per_iter", 16), work_dir=r["work_dir"], target=target)
        mods.append(run.best_schedule().mod)
    times: list[list[float]] = [[] for _ in runs]
    with Measurer(target, repeat=repeat, min_repeat_ms=50) as measurer:
        for k in range(rounds):
            order = list(range(len(runs))) if k % 2 == 0 else list(reversed(range(len(runs))))
            results = measurer.measure_mods([mods[i] for i in order])
            for i, res in zip(order, results, strict=True):
                times[i].append(res.latency if res.ok else math.inf)
    for r, t in zip(runs, times, strict=True):
        r["best_ms"] = statistics.median(t) * 1e3
        r["remeasured_ms"] = [x * 1e3 for x in t]


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=["search", "efficiency"], default="search")
    parser.add_argument("--subgraphs", nargs="+", default=SUBGRAPHS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--trials-per-iter", type=int, default=16)
    parser.add_argument("--long-trials", type=int, default=640)
    parser.add_argument("--efficiency-subgraphs", type=int, default=4)
    parser.add_argument("--final-repeat", type=int, default=5)
    parser.add_argument("--final-rounds", type=int, default=3)
    parser.add_argument("--work-root", default="work/bench/search")
    parser.add_argument("--target", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--world-model", default=None,
                        help="evaluator dir for the world model (default: the shipped one of the target)")
    args = parser.parse_args()
    from _report import write_report

    from workbench.worldmodel import Evaluator, load_default

    model = Evaluator.load(args.world_model) if args.world_model else load_default(args.target)
    trained_on = set(model.config.info.get("subgraphs", []))
    seen = [s for s in args.subgraphs if s in trained_on]
    if seen:
        raise SystemExit(f"the world model was trained on {seen}: pick held-out subgraphs")
    root = Path(args.work_root)
    kw = {"target": args.target, "world_model": args.world_model}
    suffix = "" if args.target == "cpu" else f"_{args.target}"
    t0 = time.perf_counter()
    if args.part == "search":
        runs = []
        for seed in args.seeds:
            for i, sub in enumerate(args.subgraphs):
                order = ["world", "xgb"] if (i + seed) % 2 == 0 else ["xgb", "world"]  # alternate who goes first
                for cm in order:
                    r = _run(sub, cm, seed, args.trials, args.trials_per_iter, root, **kw)
                    r["per_iter"] = args.trials_per_iter
                    runs.append(r)
        _remeasure(runs, args.final_repeat, args.final_rounds, args.target)
        body = _search_report(runs, args)
        name = "tune_search" + suffix
        title = f"Search: world model vs MetaSchedule default at the same trial budget ({args.target.upper()})"
    else:
        runs = []
        for sub in args.subgraphs[: args.efficiency_subgraphs]:
            r = _run(sub, "xgb", 0, args.long_trials, 64, root, **kw)
            r["per_iter"] = 64
            runs.append(r)
            w = _run(sub, "world", 0, args.trials, args.trials_per_iter, root, **kw)  # done by part search
            w["per_iter"] = args.trials_per_iter
            runs.append(w)
        _remeasure(runs, args.final_repeat, args.final_rounds, args.target)
        body = _efficiency_report(runs, args)
        name = "tune_efficiency" + suffix
        title = f"Sample efficiency: world model at 64 trials vs MetaSchedule at 640 ({args.target.upper()})"
    body += f"\n\nWhole benchmark: {time.perf_counter() - t0:.0f} s (runs already in the work root are resumed).\n"
    path = write_report(name, title=title, body=body, data={"runs": runs, "args": vars(args)})
    print(path.read_text())


def _search_report(runs: list[dict], args: argparse.Namespace) -> str:
    by = {(r["subgraph"], r["cost_model"], r["seed"]): r for r in runs}
    lines = ["| subgraph | " + " | ".join(f"world s{s} (ms) | xgb s{s} (ms) | xgb/world s{s}" for s in args.seeds)
             + " |", "|---" * (1 + 3 * len(args.seeds)) + "|"]
    ratios: dict[int, list[float]] = {s: [] for s in args.seeds}
    for sub in args.subgraphs:
        cells = []
        for s in args.seeds:
            w, x = by[(sub, "world", s)]["best_ms"], by[(sub, "xgb", s)]["best_ms"]
            ratios[s].append(x / w)
            cells += [f"{w:.4f}", f"{x:.4f}", f"{x / w:.2f}x"]
        lines.append(f"| {sub} | " + " | ".join(cells) + " |")
    per_seed = {s: _geomean(v) for s, v in ratios.items()}
    all_ratios = [x for v in ratios.values() for x in v]
    wins = sum(x > 1 for x in all_ratios)
    times = {cm: [t for r in runs if r["cost_model"] == cm for t in r["timings"]] for cm in ("world", "xgb")}

    def split(cm: str) -> str:
        ts = times[cm]
        if not ts:
            return "n/a"
        keys = ("search", "build", "run", "total")
        return " | ".join(f"{statistics.mean(t[k] for t in ts):.1f}" for k in keys)

    return (
        f"{len(args.subgraphs)} held-out subgraphs, {args.trials} trials per run, {args.trials_per_iter} candidates "
        f"per search round, seeds {args.seeds}. Best latency of each run re-measured side by side at the end "
        f"(median of {args.final_rounds} interleaved rounds of {args.final_repeat} repeats). Ratio > 1: the world "
        "model found the faster schedule.\n\n" + "\n".join(lines)
        + "\n\n**Geomean xgb/world: " + ", ".join(f"seed {s} {v:.2f}x" for s, v in per_seed.items())
        + f"; over all runs {_geomean(all_ratios):.2f}x (min {min(all_ratios):.2f}x, max {max(all_ratios):.2f}x); "
        f"the world model is faster in {wins} of {len(all_ratios)} pairs.**\n\n"
        "## Wall time per run (mean seconds)\n\n| cost model | search | build | run | total |\n|---|---|---|---|---|\n"
        f"| world | {split('world')} |\n| xgb | {split('xgb')} |\n\n"
        "`search` is everything but building and running: candidate generation, the cost model's predict and "
        "update, bookkeeping. `xgb` is MetaSchedule's `XGBModel` with its defaults, including "
        "`num_warmup_samples=100`: below 100 measured records it ranks candidates randomly, so at 64 trials its "
        "search is evolutionary search without a trained model, as a MetaSchedule user gets it."
    )


def _efficiency_report(runs: list[dict], args: argparse.Namespace) -> str:
    by = {(r["subgraph"], r["cost_model"]): r for r in runs}
    subs = args.subgraphs[: args.efficiency_subgraphs]
    lines = ["| subgraph | world 64 trials (ms) | xgb 640 trials (ms) | world / xgb |", "|---|---|---|---|"]
    gaps = []
    for sub in subs:
        w, x = by[(sub, "world")]["best_ms"], by[(sub, "xgb")]["best_ms"]
        gaps.append(w / x)
        lines.append(f"| {sub} | {w:.4f} | {x:.4f} | {w / x:.3f} |")
    g = _geomean(gaps)
    return (f"World model: {args.trials} trials ({args.trials_per_iter} per round, seed 0, the runs of "
            f"`tune_search`). MetaSchedule default: {args.long_trials} trials (64 per round, seed 0). Best "
            "schedules re-measured side by side.\n\n" + "\n".join(lines)
            + f"\n\n**Geomean world(64)/xgb({args.long_trials}) latency: {g:.3f}** "
            f"(1.000 = same latency; the goal is within 3%, i.e. <= 1.03).")


if __name__ == "__main__":
    main()
