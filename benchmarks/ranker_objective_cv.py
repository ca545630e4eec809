"""Choosing the ranker objective without looking at the test split: cross-validation by subgraph.

The training subgraphs of the default split are cut into folds (whole subgraphs); each objective trains on
the other folds and ranks the held-out fold. Inputs are the shipped model's rolled-out latents plus action and
hardware features (its transition saw these subgraphs' traces, never their latencies).

``--parallel-exponents`` also chooses the regression ranker's parallel exponent (``workbench.worldmodel.ranker``):
it changes scores only on machines whose kernels run on more than one thread, so the report has a second table
restricted to those (subgraph, machine) groups.
"""

from __future__ import annotations

import argparse

import numpy as np
from _report import write_report


def serial_pairs(groups: np.ndarray, serial: np.ndarray, latency: np.ndarray, scores: np.ndarray) -> tuple[int, int]:
    """(pairs ordered right, pairs) over the pairs of one serial program (parallel extent 1) and one parallel
    program of the same group: how well a ranker tells a program that leaves cores idle from one that does not."""
    right = total = 0
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        a, b = idx[serial[idx]], idx[~serial[idx]]
        if len(a) and len(b):
            faster = latency[a][:, None] < latency[b][None, :]
            higher = scores[a][:, None] > scores[b][None, :]
            right += int((faster == higher).sum())
            total += faster.size
    return right, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", default="sample_logs/cpu")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--objectives", nargs="+", default=None, help="default: every objective")
    parser.add_argument("--parallel-exponents", type=float, nargs="+", default=[0.0],
                        help="parallel exponents to try with the regression objective (others use 0)")
    parser.add_argument("--name", default="ranker_objective_cv", help="report name under benchmarks/results")
    args = parser.parse_args()

    import pandas as pd

    from workbench.hardware import kernel_threads
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
    threads = np.array([kernel_threads(h if isinstance(h, dict) else None) for h in train["hardware"]])
    serial = x[:, ev.config.feature_names().index("act:par_extent")] == 0  # log2 of the parallel extent
    latency, groups = train["latency"].to_numpy(dtype=np.float64), ranking_groups(train)
    arms = [(o, e) for o in (args.objectives or list(OBJECTIVES))
            for e in (args.parallel_exponents if o == "regression" else [0.0])]
    rows = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        folds = np.array_split(rng.permutation(names), args.folds)
        for objective, exponent in arms:
            label = objective if len(args.parallel_exponents) == 1 else f"{objective}, exponent {exponent:g}"
            for k, fold in enumerate(folds):
                val = train["subgraph"].isin(fold).to_numpy()
                r = Ranker(seed=seed, objective=objective, feature_names=ev.config.feature_names(),
                           parallel_exponent=exponent)
                r.fit(x[~val], train["latency"].to_numpy()[~val], ranking_groups(train)[~val])
                scores = r.predict(x[val])
                s, _ = evaluate_scores(train[val].reset_index(drop=True), scores, label)
                multi = threads[val] > 1
                m, _ = evaluate_scores(train[val][multi].reset_index(drop=True), scores[multi], label)
                right, pairs = serial_pairs(groups[val][multi], serial[val][multi], latency[val][multi],
                                            scores[multi])
                m["serial_pairs"], m["serial_right"] = pairs, right
                rows.append({**s, "seed": seed, "fold": k, "subset": "all"})
                rows.append({**m, "seed": seed, "fold": k, "subset": "multi-thread"})
                print(label, seed, k, f"{s['pairwise']:.3f} {s['top1']:.3f} | multi-thread {m['groups']} groups "
                      f"{m['pairwise']:.3f} {m['top1']:.3f}, serial/parallel pairs {right}/{pairs}", flush=True)
    frame = pd.DataFrame(rows)
    tables = []
    for which, title in (("all", "All (subgraph, machine) groups"),
                         ("multi-thread", "Only groups measured with kernels on more than one thread")):
        sub = frame[frame["subset"] == which]
        table = sub.groupby("model", sort=False)[["pairwise", "kendall", "top1", "top5"]].agg(["mean", "std"])
        n = len(args.seeds) * args.folds
        counts = sub.groupby("model", sort=False)["records"].sum() / len(args.seeds)
        lines = [f"### {title}", "", "| objective | records | pairwise | Kendall tau | top-1 | top-5 |",
                 "|---|---|---|---|---|---|"]
        for name, r in table.iterrows():
            lines.append(f"| {name} | {counts[name]:.0f} | " + " | ".join(
                f"{r[(c, 'mean')]:.3f} ± {r[(c, 'std')]:.3f}" for c in ("pairwise", "kendall", "top1", "top5"))
                + " |")
        note = f"({n} folds x seeds; records: per pass over the folds)"
        if which == "multi-thread":
            pairs = sub.groupby("model", sort=False)[["serial_right", "serial_pairs"]].sum()
            note += ("\n\nPairs of a serial program (parallel extent 1: a core idle) and a parallel one of the same "
                     "group, ordered as measured: " + "; ".join(
                         f"{name} {r['serial_right'] / max(r['serial_pairs'], 1):.3f} ({r['serial_pairs']:.0f} pairs)"
                         for name, r in pairs.iterrows()))
        tables.append("\n".join(lines) + "\n\n" + note + "\n")
    body = (f"{len(names)} training subgraphs, {args.folds} folds by subgraph, seeds {args.seeds} (fold "
            "assignment and XGBoost seed); mean ± std over folds and seeds. Training records measured with "
            f"kernels on more than one thread: {int((threads > 1).sum())} of {len(threads)}.\n\n"
            + "\n".join(tables))
    path = write_report(args.name, title="Ranker objective, chosen by cross-validation on training "
                        "subgraphs", body=body, data={"rows": rows})
    print(path.read_text())


if __name__ == "__main__":
    main()
