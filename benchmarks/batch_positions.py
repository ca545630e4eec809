"""Does the order of a search's picks carry information? Latency by position inside each measured batch.

MetaSchedule's evolutionary search hands the builder each batch in order: its model's picks by descending score,
then its random share (``eps_greedy``; the world model's runs draw :data:`workbench.tuning.run.WORLD_EXPLORE` of
every batch at random, the last two of 16). If the model's order carries information, a batch's first picks run
faster than its later ones. Per run (one subgraph's tuning records on one machine, in trial order), per batch of
``--per-iter`` and per position: the log latency against the batch's median (failures left out and counted),
where each batch's fastest program sat, and where the run's fastest did; then, per arm, the mean of the first
half of the model's picks against the second half, with a bootstrap 95% CI over runs.

Reads the tuning records in ``--logs`` (imported runs; source ``tune:<cost model>``), training subgraphs only
unless ``--include-test`` (the search benchmark's frozen test split is for measuring, not for choosing), and any
``--runs`` work dirs (diagnosis: a run of the test split may be read, never used to choose).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _report import write_report  # noqa: E402

# Sources of runs whose batches end with the world model's random share: the world model, and the draft-then-verify
# model of ``tune_search.py``'s ``world_verify`` arm (it runs with the same share). ``tune:CountingCostModel`` is
# ``tune_search.py``'s wrapper of MetaSchedule's own models (``xgb``, ``random``): no random tail at 16 a batch.
TAILED = ("tune:world", "tune:VerifiedCostModel")


def batch_offsets(latency: np.ndarray, per_iter: int) -> list[np.ndarray]:
    """Per full batch of ``per_iter`` (with at least half its programs measured): each position's log latency
    minus the batch's median log latency (NaN where the candidate failed)."""
    out = []
    for start in range(0, len(latency) - per_iter + 1, per_iter):
        lat = latency[start:start + per_iter]
        ok = np.isfinite(lat) & (lat > 0)
        if ok.sum() < per_iter // 2:
            continue
        logs = np.where(ok, np.log(np.where(ok, lat, 1.0)), np.nan)
        out.append(logs - np.nanmedian(logs))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", default="sample_logs/cpu", help="imported tuning records ('' for none)")
    parser.add_argument("--runs", nargs="*", default=[], help="work dirs of tuning runs (diagnosis)")
    parser.add_argument("--per-iter", type=int, default=16, help="candidates per measured batch")
    parser.add_argument("--random-tail", type=int, default=2,
                        help="random picks at the end of a world-model batch (int(16 x WORLD_EXPLORE))")
    parser.add_argument("--include-test", action="store_true", help="keep the frozen test split's subgraphs")
    parser.add_argument("--min-trials", type=int, default=32, help="shorter runs are left out")
    parser.add_argument("--name", default="batch_positions", help="report name under benchmarks/results/")
    args = parser.parse_args()

    import pandas as pd
    from tune_search import TEST_SPLIT

    from workbench.logs import load_logs

    frames = []
    if args.logs:
        df = load_logs(args.logs, progress=False, with_actions=False)
        df = df[df["source"].astype(str).str.startswith("tune:")]
        frames.append(df.assign(run=df["subgraph"] + " @ " + df["machine"].astype(str) + " " + df["source"]))
    for d in args.runs:
        df = load_logs(d, progress=False, with_actions=False)
        frames.append(df.assign(run=str(d), source=df["source"].astype(str)))
    if not frames:
        raise SystemExit("nothing to read: give --logs or --runs")
    df = pd.concat(frames, ignore_index=True)
    if not args.include_test:
        df = df[~df["subgraph"].isin(TEST_SPLIT)]
    n, tail = args.per_iter, args.random_tail
    rows, runs = [], []
    for (run, arm), g in df.groupby(["run", "source"], sort=True):
        if len(g) < args.min_trials or g["trial"].isna().any():
            continue
        g = g.sort_values("trial", kind="stable")
        lat = g["latency"].to_numpy(dtype=np.float64)
        offsets = batch_offsets(lat, n)
        if not offsets:
            continue
        picks = n - tail if arm.startswith(TAILED) else n
        half = picks // 2
        runs.append({"run": run, "arm": arm, "batches": len(offsets),
                     "first_half_minus_second": float(np.nanmean([np.nanmean(o[:half]) - np.nanmean(o[half:picks])
                                                                  for o in offsets])),
                     "best_position": int(np.argmin(np.where(np.isfinite(lat), lat, np.inf)) % n)})
        for b, o in enumerate(offsets):
            for i, v in enumerate(o):
                rows.append({"arm": arm, "later": b > 0, "position": i, "offset": v,
                             "batch_best": bool(i == int(np.nanargmin(o))), "failed": bool(np.isnan(v))})
    if not runs:
        raise SystemExit("no tuning run with trial numbers and at least --min-trials records")
    pos, per_run = pd.DataFrame(rows), pd.DataFrame(runs)
    rng = np.random.default_rng(0)
    counts = ", ".join(f"{a}: {k}" for a, k in per_run["arm"].value_counts().items())
    scope = ("all subgraphs" if args.include_test
             else "training subgraphs only (the search benchmark's test split left out)")
    dirs = "; work dirs " + ", ".join(f"`{r}`" for r in args.runs) if args.runs else ""
    lines = [f"{len(per_run)} runs ({counts}), batches of {n}, {scope}{dirs}.\n",
             "Log latency of each position against its batch's median (exp of it: x the median; `-` failed), "
             "mean over batches; `best`: share of batches whose fastest program sat there; `run best`: share of runs "
             "whose fastest program did.\n"]
    summary = []
    for arm, g in pos.groupby("arm"):
        r = per_run[per_run["arm"] == arm]
        lines += [f"### {arm} ({len(r)} runs)", "", "| position | first batch | later batches | best (later) | "
                  "run best | failed |", "|---|---|---|---|---|---|"]
        for i in range(n):
            first, rest = g[(g["position"] == i) & ~g["later"]], g[(g["position"] == i) & g["later"]]
            lines.append(f"| {i} | {np.exp(first['offset'].mean()):.2f}x | {np.exp(rest['offset'].mean()):.2f}x | "
                         f"{rest['batch_best'].mean():.2f} | {(r['best_position'] == i).mean():.2f} | "
                         f"{g[g['position'] == i]['failed'].mean():.2f} |")
        diff = r["first_half_minus_second"].to_numpy()
        boot = [np.mean(rng.choice(diff, len(diff))) for _ in range(2000)]
        picks = n - tail if arm.startswith(TAILED) else n
        summary.append({"arm": arm, "runs": len(r), "model_picks": picks,
                        "first_vs_second_half": float(np.exp(diff.mean())),
                        "ci": [float(np.exp(np.percentile(boot, 2.5))), float(np.exp(np.percentile(boot, 97.5)))],
                        "random_tail_vs_median": float(np.exp(g[g["position"] >= picks]["offset"].mean()))
                        if picks < n else None,
                        "run_best_in_random_tail": float((r["best_position"] >= picks).mean()) if picks < n else None})
        lines.append("")
    lines += ["### Summary", "", "| arm | runs | model picks per batch | first half of the picks / second half (latency) "
              "| 95% CI | random tail x median | runs whose best came from the random tail |",
              "|---|---|---|---|---|---|---|"]
    for s in summary:
        tail_txt = (f"{s['random_tail_vs_median']:.2f}x | {s['run_best_in_random_tail']:.2f} "
                    f"(share of picks {1 - s['model_picks'] / n:.3f})") if s["random_tail_vs_median"] else "- | -"
        lines.append(f"| {s['arm']} | {s['runs']} | {s['model_picks']} | {s['first_vs_second_half']:.3f} | "
                     f"[{s['ci'][0]:.3f}, {s['ci'][1]:.3f}] | {tail_txt} |")
    lines.append("\nBelow 1: the first half of a batch's model picks ran faster than the second (the order carries "
                 "information); 1: no more than chance.")
    path = write_report(args.name, title="Latency by position in a measured batch: does the search's order "
                        "carry information?", body="\n".join(lines) + "\n",
                        data={"summary": summary, "runs": runs})
    print(path.read_text())


if __name__ == "__main__":
    main()
