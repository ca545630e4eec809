"""Why a world-model search loses a subgraph: its prior against the measured programs, by compute-location plan.

Reads the work dirs of tuning runs of one subgraph (every arm and seed of ``tune_search.py``, say), scores every
program they measured with a world model's prior (the shipped one, or ``--model``: no online update), and splits
the programs by their compute-location plan (``workbench.traces.compute_locations``: where each producer block is
computed, -2 inlined, -1 at the root, >= 0 at a loop). Per plan: how many were measured and by which arms, their
fastest and median latency, and the prior's mean and best score; then the prior's top picks and the fastest
programs side by side. A plan whose programs run fast but whose prior scores sit below another plan's is what
the search cannot find by itself. The same split by parallel extent (as the world model reads it off the
actions) against the threads the kernels ran on shows a prior that prefers programs leaving cores idle.
Diagnosis only: run it on a test subgraph to read a loss, never to choose a model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _report import write_report  # noqa: E402


def _arm(logdir: str, subgraph: str) -> str:
    """``tune_search`` names a work dir ``<subgraph>-<arm>-t<trials>-s<seed>``; its arm and seed."""
    name = Path(logdir).name
    rest = name[len(subgraph.replace("/", "__")) + 1:] if name.startswith(subgraph.replace("/", "__")) else name
    arm, _, tail = rest.rpartition("-t")
    return f"{arm} s{tail.rpartition('-s')[2]}" if arm else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+", help="work dirs of tuning runs of one subgraph")
    parser.add_argument("--model", default=None, help="evaluator dir (default: the shipped CPU model)")
    parser.add_argument("--top", type=int, default=16, help="how many of the prior's top picks to list")
    parser.add_argument("--name", default="prior_by_plan", help="report name under benchmarks/results/")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from workbench.hardware import kernel_threads
    from workbench.logs import load_logs
    from workbench.traces import compute_locations
    from workbench.worldmodel import Evaluator, load_default

    ev = Evaluator.load(args.model) if args.model else load_default("cpu")
    df = load_logs(*args.runs, progress=False)
    subgraphs = sorted(df["subgraph"].unique())
    if len(subgraphs) != 1:
        raise SystemExit(f"give the runs of one subgraph; these hold {subgraphs}")
    sub = subgraphs[0]
    machines = sorted(df["machine"].dropna().unique())
    if len(machines) > 1:
        raise SystemExit(f"latencies compare only on one machine; these runs were measured on {machines}")
    df = df[df["status"] == "ok"].drop_duplicates("trace_key").reset_index(drop=True)
    df["us"] = df["latency"] * 1e6
    # The parallel extent of the heaviest block after post-processing, as the world model reads it off the
    # actions (NaN where that block was inlined or the plan is unknown), and the threads the kernels ran on:
    # a program with fewer parallel iterations than threads leaves cores idle.
    names = ev.config.feature_names()
    feats = ev.feature_matrix(ev.items_from_logs(df))  # the prior's own inputs, computed once
    df["prior"] = ev.ranker.predict(feats)  # what ``ev.score(df)`` returns
    if "act:par_extent" in names:
        log_par = feats[:, names.index("act:par_extent")]
        df["par"] = [int(round(2.0 ** x)) if np.isfinite(x) else None for x in log_par]
    else:  # a model trained without the effect features
        df["par"] = None
    hw = next((h for h in df["hardware"] if isinstance(h, dict)), None)
    threads = kernel_threads(hw) if hw else 1
    df["plan"] = [str(compute_locations(t)) for t in df["trace"]]
    df["run"] = [_arm(str(d), sub) for d in df["logdir"]]
    df["prior_rank"] = df["prior"].rank(ascending=False, method="first").astype(int)
    top = df.nsmallest(args.top, "prior_rank")
    fastest = df.nsmallest(args.top, "us")
    rho = float(pd.Series(df["prior"]).corr(-df["us"], method="spearman"))

    rows = []
    for plan, g in df.groupby("plan"):
        rows.append({"plan": plan, "programs": len(g), "fastest_us": float(g["us"].min()),
                     "median_us": float(g["us"].median()), "prior_mean": float(g["prior"].mean()),
                     "prior_max": float(g["prior"].max()), "in_prior_top": int(g.index.isin(top.index).sum()),
                     "in_fastest": int(g.index.isin(fastest.index).sum()),
                     "runs": {k: int(v) for k, v in
                              g["run"].str.split(" ").str[0].value_counts().sort_index().items()}})
    rows.sort(key=lambda r: r["fastest_us"])
    df["par_kind"] = ["unknown" if p is None else f"< {threads} (cores left idle)" if p < threads
                      else f">= {threads}" for p in df["par"]]
    par_rows = []
    for kind, g in df.groupby("par_kind"):
        par_rows.append({"parallel": kind, "programs": len(g), "fastest_us": float(g["us"].min()),
                         "median_us": float(g["us"].median()), "prior_mean": float(g["prior"].mean()),
                         "prior_max": float(g["prior"].max()), "in_prior_top": int(g.index.isin(top.index).sum()),
                         "in_fastest": int(g.index.isin(fastest.index).sum())})
    lines = [f"Subgraph `{sub}`, {len(df)} distinct programs measured by {df['run'].nunique()} runs on machine "
             f"`{machines[0] if machines else 'unknown'}`; prior: "
             f"`{args.model or 'the shipped CPU model'}` (no online update). Spearman correlation of the prior "
             f"with speed (1/latency): {rho:.2f}.\n",
             f"| plan (compute locations) | programs | fastest us | median us | prior mean | prior max | "
             f"in prior's top {args.top} | in the fastest {args.top} | measured by (arm: programs) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['plan']}` | {r['programs']} | {r['fastest_us']:.2f} | {r['median_us']:.2f} | "
                     f"{r['prior_mean']:.3f} | {r['prior_max']:.3f} | {r['in_prior_top']} | {r['in_fastest']} | "
                     + ", ".join(f"{k}: {v}" for k, v in r["runs"].items()) + " |")
    lines += ["", f"By parallel extent (as the world model reads it off the actions; kernels ran on {threads} "
              "threads):", "",
              f"| parallel extent | programs | fastest us | median us | prior mean | prior max | in prior's top "
              f"{args.top} | in the fastest {args.top} |", "|---|---|---|---|---|---|---|---|"]
    for r in par_rows:
        lines.append(f"| {r['parallel']} | {r['programs']} | {r['fastest_us']:.2f} | {r['median_us']:.2f} | "
                     f"{r['prior_mean']:.3f} | {r['prior_max']:.3f} | {r['in_prior_top']} | {r['in_fastest']} |")
    lines += ["", f"The prior's top {args.top} and the {args.top} fastest programs (`par`: parallel extent):", "",
              "| prior rank | prior | us | plan | par | run | | fastest rank | us | prior | prior rank | plan | par "
              "| run |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, (a, b) in enumerate(zip(top.itertuples(), fastest.itertuples(), strict=True)):
        lines.append(f"| {a.prior_rank} | {a.prior:.3f} | {a.us:.2f} | `{a.plan}` | {a.par} | {a.run} | | "
                     f"{i + 1} | {b.us:.2f} | {b.prior:.3f} | {b.prior_rank} | `{b.plan}` | {b.par} | {b.run} |")
    body = "\n".join(lines) + "\n"
    data = {"subgraph": sub, "machine": machines[0] if machines else None, "model": args.model,
            "programs": len(df), "spearman_prior_speed": rho, "plans": rows, "threads": threads,
            "by_parallel": par_rows,
            "prior_top": top[["prior_rank", "prior", "us", "plan", "par", "run"]].to_dict("records"),
            "fastest": fastest[["prior_rank", "prior", "us", "plan", "par", "run"]].to_dict("records"),
            "runs": sorted(map(str, args.runs))}
    data = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in data.items()}
    path = write_report(args.name, title=f"The world model's prior by compute-location plan: {sub}", body=body,
                        data=data)
    print(path.read_text())


if __name__ == "__main__":
    main()
