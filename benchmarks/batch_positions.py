"""Does the order of a search's picks carry information? Latency by position inside each measured batch.

MetaSchedule's evolutionary search hands the builder each batch in order: its model's picks by descending score,
then its random share (``eps_greedy``; the world model's runs draw :data:`workbench.tuning.run.WORLD_EXPLORE` of
every batch at random, the last two of 16). If the model's order carries information, a batch's first picks run
faster than its later ones. Per run (one subgraph's tuning records on one machine, in trial order), per batch of
``--per-iter`` and per position: the log latency against the batch's median (failures left out and counted),
where each batch's fastest program sat, and where the run's fastest did; then, per arm, the mean of the first
half of the model's picks against the second half, with a bootstrap 95% CI that resamples subgraphs (the runs of
one subgraph are not independent). Batch edges come from a run's ``workbench_rounds.json`` where it accounts for
every record, else every ``--per-iter`` records (said in the report). World-model runs tuned before the random share
existed (``--no-tail-machines``) count all 16 as model picks.

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
TAILED = ("tune:world", "tune:world_verify", "tune:VerifiedCostModel")


def cut_batches(latency: np.ndarray, sizes: list[int], per_iter: int) -> list[tuple[int, int, np.ndarray]]:
    """(batch ordinal, index of its first record, offsets) per full batch of ``per_iter`` (``sizes``: each batch's
    length in trial order) with at least half its programs measured; offsets: each position's log latency minus
    the batch's median log latency (NaN where the candidate failed)."""
    out, start = [], 0
    for b, size in enumerate(sizes):
        lat = latency[start:start + size]
        ok = np.isfinite(lat) & (lat > 0)
        if size == per_iter and len(lat) == size and ok.sum() >= per_iter // 2:
            logs = np.where(ok, np.log(np.where(ok, lat, 1.0)), np.nan)
            out.append((b, start, logs - np.nanmedian(logs)))
        start += size
    return out


def batch_sizes(logdir: str, records: int, per_iter: int) -> tuple[list[int], str]:
    """Each batch's length in trial order, and where it comes from: the run's ``workbench_rounds.json`` (one line a
    measured batch; its ``n`` counts the batch's successful measurements) where it accounts for every record, else
    cuts of ``per_iter`` (assumed: the search drops candidates already measured, so a batch can be shorter)."""
    from workbench.tuning.online import read_rounds

    rounds = read_rounds(logdir) if logdir and Path(logdir).is_dir() else None
    if rounds is not None and len(rounds) and int(rounds["n"].sum()) == records:
        return [int(k) for k in rounds["n"]], "rounds file"
    return [per_iter] * (records // per_iter) + ([records % per_iter] if records % per_iter else []), "assumed"


def cluster_ci(values: np.ndarray, clusters: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95% bootstrap CI of the mean of ``values``, resampling whole clusters (the runs of one subgraph)."""
    keys = np.unique(clusters)
    parts = [values[clusters == k] for k in keys]
    boot = [np.nanmean(np.concatenate([parts[i] for i in rng.integers(0, len(parts), len(parts))]))
            for _ in range(2000)]
    return float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", default="sample_logs/cpu", help="imported tuning records ('' for none)")
    parser.add_argument("--runs", nargs="*", default=[], help="work dirs of tuning runs (diagnosis)")
    parser.add_argument("--per-iter", type=int, default=16, help="candidates per measured batch")
    parser.add_argument("--random-tail", type=int, default=None,
                        help="random picks at the end of a world-model batch (default: int(per_iter x WORLD_EXPLORE))")
    parser.add_argument("--no-tail-machines", nargs="*", default=[],
                        help="machines whose world-model runs were tuned before the random share existed")
    parser.add_argument("--include-test", action="store_true", help="keep the frozen test split's subgraphs")
    parser.add_argument("--min-trials", type=int, default=32, help="shorter runs are left out")
    parser.add_argument("--name", default="batch_positions", help="report name under benchmarks/results/")
    args = parser.parse_args()

    import pandas as pd
    from tune_search import TEST_SPLIT

    from workbench.logs import load_logs
    from workbench.tuning.run import WORLD_EXPLORE

    n = args.per_iter
    tail = int(n * WORLD_EXPLORE) if args.random_tail is None else args.random_tail
    if not 0 <= tail < n:
        raise SystemExit(f"--random-tail must be in [0, {n}), got {tail}")
    frames = []
    if args.logs:
        df = load_logs(args.logs, progress=False, with_actions=False)
        frames.append(df[df["source"].astype(str).str.startswith("tune:")])
    for d in args.runs:
        frames.append(load_logs(d, progress=False, with_actions=False))
    if not frames:
        raise SystemExit("nothing to read: give --logs or --runs")
    df = pd.concat(frames, ignore_index=True)
    df["source"] = df["source"].astype(str)
    df["logdir"] = df["logdir"].astype(str)
    if not args.include_test:
        df = df[~df["subgraph"].isin(TEST_SPLIT)]
    if df.empty:
        raise SystemExit("no tuning records left (the test split's subgraphs are left out without --include-test)")
    rows, runs, left_out, assumed = [], [], [], 0
    for (logdir, sub, machine, arm), g in df.groupby(["logdir", "subgraph", "machine", "source"], sort=True,
                                                      dropna=False):
        name = f"{sub} @ {machine} {arm} ({Path(logdir).name})"
        if g["trial"].isna().any() or g["trial"].duplicated().any():
            left_out.append(f"{name}: trial numbers missing or repeated (more than one run in one place)")
            continue
        if len(g) < args.min_trials:
            left_out.append(f"{name}: {len(g)} records (< --min-trials {args.min_trials})")
            continue
        g = g.sort_values("trial", kind="stable")
        lat = g["latency"].to_numpy(dtype=np.float64)
        sizes, how = batch_sizes(logdir, len(g), n)
        assumed += how == "assumed"
        batches = cut_batches(lat, sizes, n)
        if not batches:
            left_out.append(f"{name}: no full batch of {n} with half its programs measured")
            continue
        picks = n - tail if arm.startswith(TAILED) and machine not in args.no_tail_machines else n
        half = picks // 2
        best = int(np.argmin(np.where(np.isfinite(lat), lat, np.inf)))
        where = next((best - start for _, start, _ in batches if start <= best < start + n), None)
        runs.append({"run": name, "subgraph": sub, "arm": arm, "batches": len(batches), "model_picks": picks,
                     "sizes": how, "first_half_minus_second": float(np.nanmean(
                         [np.nanmean(o[:half]) - np.nanmean(o[half:picks]) for _, _, o in batches])),
                     "best_position": where})
        for b, _, o in batches:
            for i, v in enumerate(o):
                rows.append({"arm": arm, "model_picks": picks, "later": b > 0, "position": i, "offset": v,
                             "batch_best": bool(i == int(np.nanargmin(o))), "failed": bool(np.isnan(v))})
    if not runs:
        raise SystemExit("no tuning run with trial numbers, at least --min-trials records and a full batch")
    pos, per_run = pd.DataFrame(rows), pd.DataFrame(runs)
    rng = np.random.default_rng(0)
    counts = ", ".join(f"{a}: {k}" for a, k in per_run["arm"].value_counts().items())
    scope = ("all subgraphs" if args.include_test
             else "training subgraphs only (the search benchmark's test split left out)")
    dirs = f"; {len(args.runs)} work dirs given" if args.runs else ""
    lines = [f"{len(per_run)} runs ({counts}) on {per_run['subgraph'].nunique()} subgraphs, batches of {n}, "
             f"{scope}{dirs}. Batch edges: from the run's `workbench_rounds.json` for {len(per_run) - assumed} runs, "
             f"assumed every {n} records for {assumed} (imported records and MetaSchedule's own models keep no "
             "batch record; the search drops candidates already measured, so a batch can be shorter and shift the "
             f"positions after it). Random share of a world-model batch: its last {tail}"
             + (f", none on machines {args.no_tail_machines}" if args.no_tail_machines else "") + ".\n",
             "Each position's latency against its batch's median (geomean over batches); `best (later)`: share of "
             "the batches after the first whose fastest program sat there; `run best`: share of runs whose fastest "
             "program did; `failed`: share of failed candidates there (left out of the latencies).\n"]
    summary = []
    for (arm, picks), g in pos.groupby(["arm", "model_picks"]):
        r = per_run[(per_run["arm"] == arm) & (per_run["model_picks"] == picks)]
        lines += [f"### {arm}, {picks} model picks a batch ({len(r)} runs)", "",
                  "| position | first batch | later batches | best (later) | run best | failed |",
                  "|---|---|---|---|---|---|"]
        for i in range(n):
            first, rest = g[(g["position"] == i) & ~g["later"]], g[(g["position"] == i) & g["later"]]
            lines.append(f"| {i} | {np.exp(first['offset'].mean()):.2f}x | {np.exp(rest['offset'].mean()):.2f}x | "
                         f"{rest['batch_best'].mean():.2f} | {(r['best_position'] == i).mean():.2f} | "
                         f"{g[g['position'] == i]['failed'].mean():.2f} |")
        diff = r["first_half_minus_second"].to_numpy(dtype=np.float64)
        lo, hi = cluster_ci(diff, r["subgraph"].to_numpy(), rng)
        tailed = picks < n
        summary.append({"arm": arm, "runs": len(r), "subgraphs": int(r["subgraph"].nunique()), "model_picks": int(picks),
                        "first_vs_second_half": float(np.exp(np.nanmean(diff))),
                        "ci": [float(np.exp(lo)), float(np.exp(hi))],
                        "random_tail_vs_median": float(np.exp(g[g["position"] >= picks]["offset"].mean()))
                        if tailed else None,
                        "run_best_in_random_tail": int((r["best_position"] >= picks).sum()) if tailed else None})
        lines.append("")
    lines += ["### Summary", "", "| arm | runs (subgraphs) | model picks a batch | first half of the picks / second "
              "half (latency) | 95% CI (subgraphs resampled) | random tail x median | runs whose best came from the "
              "random tail |", "|---|---|---|---|---|---|---|"]
    for s in summary:
        tail_txt = "- | -" if s["random_tail_vs_median"] is None else (
            f"{s['random_tail_vs_median']:.2f}x | {s['run_best_in_random_tail']} of {s['runs']} (the tail is "
            f"{1 - s['model_picks'] / n:.3f} of the picks)")
        lines.append(f"| {s['arm']} | {s['runs']} ({s['subgraphs']}) | {s['model_picks']} | "
                     f"{s['first_vs_second_half']:.3f} | [{s['ci'][0]:.3f}, {s['ci'][1]:.3f}] | {tail_txt} |")
    lines.append("\nBelow 1: the first half of a batch's model picks ran faster than the second (the order carries "
                 "information); 1: no more than chance.")
    if left_out:
        lines += [f"\nLeft out ({len(left_out)}):", "", *(f"- {x}" for x in left_out)]
    path = write_report(args.name, title="Latency by position in a measured batch: does the search's order "
                        "carry information?", body="\n".join(lines) + "\n",
                        data={"summary": summary, "runs": runs, "left_out": left_out})
    print(path.read_text())


if __name__ == "__main__":
    main()
