"""Choosing the ranker objective without looking at the test split: cross-validation by subgraph.

The training subgraphs of the default split are cut into folds (whole subgraphs); each objective trains on
the other folds and ranks the held-out fold. Inputs are the shipped model's rolled-out latents plus action and
hardware features (its transition saw these subgraphs' traces, never their latencies).
"""

from __future__ import annotations

import argparse

import numpy as np
from _report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", default="sample_logs/cpu")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()

    import pandas as pd

    from workbench.logs import load_logs
    from workbench.worldmodel import Evaluator, load_default
    from workbench.worldmodel.evaluate import evaluate_scores, split_by_subgraph
    from workbench.worldmodel.metrics import ranking_groups
    from workbench.worldmodel.ranker import OBJECTIVES, Ranker

    ev = load_default("cpu")
    train, _ = split_by_subgraph(load_logs(args.logs, progress=False), ev.config.info["holdout"])
    train = train[train["status"] == "ok"].reset_index(drop=True)
    x = ev.feature_matrix(Evaluator.items_from_logs(train))
    names = sorted(train["subgraph"].unique())
    rows = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        folds = np.array_split(rng.permutation(names), args.folds)
        for objective in OBJECTIVES:
            for k, fold in enumerate(folds):
                val = train["subgraph"].isin(fold).to_numpy()
                r = Ranker(seed=seed, objective=objective, feature_names=ev.config.feature_names())
                r.fit(x[~val], train["latency"].to_numpy()[~val], ranking_groups(train)[~val])
                s, _ = evaluate_scores(train[val].reset_index(drop=True), r.predict(x[val]), objective)
                rows.append({**s, "seed": seed, "fold": k})
                print(objective, seed, k, f"{s['pairwise']:.3f} {s['top1']:.3f}", flush=True)
    table = pd.DataFrame(rows).groupby("model")[["pairwise", "kendall", "top1", "top5"]].agg(["mean", "std"])
    lines = ["| objective | pairwise | Kendall tau | top-1 | top-5 |", "|---|---|---|---|---|"]
    for name, r in table.iterrows():
        lines.append(f"| {name} | " + " | ".join(f"{r[(c, 'mean')]:.3f} ± {r[(c, 'std')]:.3f}"
                                                 for c in ("pairwise", "kendall", "top1", "top5")) + " |")
    body = (f"{len(names)} training subgraphs, {args.folds} folds by subgraph, seeds {args.seeds} (fold "
            "assignment and XGBoost seed); mean ± std over folds and seeds.\n\n" + "\n".join(lines) + "\n")
    path = write_report("ranker_objective_cv", title="Ranker objective, chosen by cross-validation on training "
                        "subgraphs", body=body, data={"rows": rows})
    print(path.read_text())


if __name__ == "__main__":
    main()
