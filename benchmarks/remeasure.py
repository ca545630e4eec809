"""Reproducibility: do the latencies a tuning run reports hold when the same schedules are measured again?

For every work dir given (tuning runs), the run's reported best (``TuningRun.best()``: the confirmed latency
where the run confirmed its best records, else the lowest logged one), its ``--top`` best records by logged
latency and ``--controls`` records drawn at random from the rest (seeded) are rebuilt from their traces and
timed again, ``--rounds`` times, interleaved across all runs in one process (each round in a new order), with
``--repeat`` repeats of at least ``--min-repeat-ms`` each (the settings a run confirms with). The report gives
the distribution of re-measured / reported for each run's best, and re-measured / logged for the top records
(selected as the minimum of many noisy timings) and for the controls (not selected): if the top re-measure
slower but the controls do not, the gap is selection on noise; if both do, the conditions differ.
With ``--confirm``, runs whose best records are not confirmed do so first (``TuningRun.confirm()``, as every run
now does at the end of a session).

Work dirs: ``--work-dirs`` (folders, or folders of work dirs), or the runs of a search benchmark's JSON
(``--from-json benchmarks/results/tune_search.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def _work_dirs(args: argparse.Namespace) -> list[Path]:
    from workbench.logs import RECORD_FILE

    dirs: list[Path] = []
    for p in map(Path, args.work_dirs or []):
        dirs += [p] if (p / RECORD_FILE).is_file() else sorted(d.parent for d in p.rglob(RECORD_FILE))
    if args.from_json:
        dirs += [Path(r["work_dir"]) for r in json.loads(Path(args.from_json).read_text())["runs"]]
    return [d for d in dirs if (d / "workbench_run.json").is_file()]


def _quantiles(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {}
    q = statistics.quantiles(v, n=10) if len(v) > 1 else [v[0]] * 9
    return {"n": len(v), "median": statistics.median(v), "p10": q[0], "p90": q[-1], "min": v[0], "max": v[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dirs", nargs="*", help="tuning work dirs, or folders holding them")
    parser.add_argument("--from-json", help="a search benchmark's JSON report: its runs' work dirs")
    parser.add_argument("--top", type=int, default=3, help="best records per run to re-measure")
    parser.add_argument("--controls", type=int, default=3, help="other records per run, drawn at random")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--min-repeat-ms", type=int, default=100)
    parser.add_argument("--confirm", action="store_true", help="let runs without a confirmation confirm first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="remeasure", help="report name under benchmarks/results/")
    args = parser.parse_args()
    from _report import write_report

    from workbench.logs import load_logs
    from workbench.measure import Measurer
    from workbench.tuning import TuningRun
    from workbench.tuning.results import apply_trace

    rng = random.Random(args.seed)
    items = []  # (run index, role, logged seconds, module)
    runs = []
    for d in _work_dirs(args):
        df = load_logs(d, errors="warn", with_actions=False, progress=False)
        ok = df[df["status"] == "ok"].sort_values("latency")
        if len(ok) < 2:
            continue
        config = json.loads((d / "workbench_run.json").read_text())["config"]
        if config["model"] is not None:
            continue  # a whole model's run: its tasks are not one subgraph's schedules
        run_obj = TuningRun(config["tasks"][0], trials=config["trials"], cost_model=config["cost_model"],
                            seed=config["seed"], trials_per_iter=config["trials_per_iter"], work_dir=d,
                            target=json.loads(config["target"]) if config["target"].startswith("{") else config["target"],
                            runner=config["runner"])
        if args.confirm:
            run_obj.confirm()  # only if its best records are not confirmed yet; measures nothing else
        reported = run_obj.best().iloc[0]
        sub = run_obj.subgraphs[0]
        top = ok.head(args.top)
        rest = ok.iloc[args.top:]
        controls = rest.iloc[sorted(rng.sample(range(len(rest)), min(args.controls, len(rest))))]
        run = {"work_dir": str(d), "subgraph": sub.name, "cost_model": config["cost_model"],
               "seed": config["seed"], "records": len(df), "logged_best_ms": float(ok["latency"].iloc[0]) * 1e3,
               "reported_ms": float(reported["latency_ms"]), "confirmed": bool(reported["confirmed"])}
        runs.append(run)
        items.append({"run": len(runs) - 1, "role": "reported", "rank": 0, "trace_key": "", "logged_ms":
                      run["reported_ms"], "repeats_ms": [], "mod": apply_trace(sub, reported["trace"]).mod,
                      "remeasured_ms": []})
        for role, rows in (("top", top), ("control", controls)):
            for rank, row in enumerate(rows.itertuples(index=False)):
                items.append({"run": len(runs) - 1, "role": role, "rank": rank, "trace_key": row.trace_key,
                              "logged_ms": row.latency * 1e3, "repeats_ms": [s * 1e3 for s in row.run_secs],
                              "mod": apply_trace(sub, row.trace).mod, "remeasured_ms": []})
    if not items:
        raise SystemExit("no tuning work dir with at least two successful records")
    print(f"{len(runs)} runs, {len(items)} schedules, {args.rounds} rounds", flush=True)
    with Measurer("cpu", repeat=args.repeat, min_repeat_ms=args.min_repeat_ms) as measurer:
        for k in range(args.rounds):
            order = list(range(len(items)))
            rng.shuffle(order)
            results = measurer.measure_mods([items[i]["mod"] for i in order])
            for i, res in zip(order, results, strict=True):
                items[i]["remeasured_ms"].append(res.latency * 1e3 if res.ok else math.inf)
            print(f"round {k + 1}/{args.rounds} done", flush=True)
    for it in items:
        del it["mod"]
        t = it["remeasured_ms"]
        it["median_ms"] = statistics.median(t)
        it["ratio"] = it["median_ms"] / it["logged_ms"]  # > 1: slower than logged
        it["spread"] = (max(t) - min(t)) / it["median_ms"] if it["median_ms"] > 0 else math.nan
    for i, run in enumerate(runs):
        mine = [it for it in items if it["run"] == i]
        best = next(it for it in mine if it["role"] == "reported")
        fastest = min((it for it in mine if it["role"] != "reported"), key=lambda it: it["median_ms"])
        run.update(remeasured_best_ms=best["median_ms"], ratio=best["ratio"],
                   fastest_remeasured_ms=fastest["median_ms"],
                   fastest_is_logged_best=fastest["role"] == "top" and fastest["rank"] == 0,
                   fastest_role=f"{fastest['role']} #{fastest['rank']}")
    summary = {"reported": _quantiles([r["ratio"] for r in runs]),
               "top": _quantiles([it["ratio"] for it in items if it["role"] == "top"]),
               "control": _quantiles([it["ratio"] for it in items if it["role"] == "control"]),
               "spread_between_rounds": _quantiles([it["spread"] for it in items]),
               "logged_best_is_fastest": sum(r["fastest_is_logged_best"] for r in runs) / len(runs)}
    lines = ["| subgraph | cost model | seed | logged best (ms) | reported (ms) | confirmed | re-measured (ms) | "
             "re-measured / reported | fastest re-measured |", "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['subgraph']} | {r['cost_model']} | {r['seed']} | {r['logged_best_ms']:.4f} | "
                     f"{r['reported_ms']:.4f} | {'yes' if r['confirmed'] else 'no'} | {r['remeasured_best_ms']:.4f} | "
                     f"{r['ratio']:.3f} | {r['fastest_role']} ({r['fastest_remeasured_ms']:.4f}) |")

    def row(name: str, q: dict[str, float]) -> str:
        return (f"| {name} | {q['n']} | {q['median']:.3f} | {q['p10']:.3f} | {q['p90']:.3f} | {q['min']:.3f} | "
                f"{q['max']:.3f} |")

    body = "\n".join([
        "Re-measured latency of the same schedule (rebuilt from its record's trace) over the latency the run "
        "reported for it (its best) or logged for it (the others): above 1 means slower than the run said.", "",
        "| records | n | median | p10 | p90 | min | max |", "|---|---|---|---|---|---|---|",
        row("each run's reported best", summary["reported"]),
        row(f"top {args.top} of each run (logged)", summary["top"]),
        row(f"{args.controls} random others of each run (logged)", summary["control"]), "",
        f"Spread of one schedule over the {args.rounds} rounds, (max-min)/median: median "
        f"{summary['spread_between_rounds']['median']:.3f}, p90 {summary['spread_between_rounds']['p90']:.3f}. "
        f"The logged best is also the fastest re-measured record in {100 * summary['logged_best_is_fastest']:.0f}% "
        "of the runs.", "", *lines])
    path = write_report(args.name, title="Reported vs re-measured latencies of tuning runs", body=body,
                        data={"summary": summary, "runs": runs, "records": items,
                              "settings": {k: v for k, v in vars(args).items()}})
    print(path.read_text())


if __name__ == "__main__":
    main()
