"""Which contrastive positives and negatives work: encoder probes on held-out subgraphs.

Every encoder trains on the same replayed program states of the training subgraphs (the default split) with
the same step budget and seed, then embeds the real final programs of the held-out subgraphs' records:

* latency probe: leave-one-out 5-nearest-neighbour latency prediction inside each subgraph (Kendall tau);
* rewrite retrieval: an equivalent rewrite (renamed names, expanded loop grids) of each program must find the
  original among all programs of its subgraph (top-1 accuracy), i.e. invariance with discrimination.

Variants: tfidf; contrastive with dropout-only positives; rewrite positives with random in-batch negatives
(one program per subgraph per batch); rewrite positives with hard negatives (8 schedules of 4 subgraphs per
batch, the default).
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from _report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", default="sample_logs/cpu")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-subgraph", type=int, default=40, help="held-out records embedded per subgraph")
    args = parser.parse_args()

    from workbench.logs import load_logs
    from workbench.worldmodel import ContrastiveEncoder, Evaluator, TfidfEncoder
    from workbench.worldmodel.evaluate import DEFAULT_HOLDOUT, split_by_subgraph
    from workbench.worldmodel.items import final_program
    from workbench.worldmodel.metrics import kendall_tau
    from workbench.worldmodel.text import equivalent_view, program_text
    from workbench.worldmodel.train import replay_trajectories

    df = load_logs(args.logs, progress=False)
    train, test = split_by_subgraph(df, list(DEFAULT_HOLDOUT))
    test = test[test["status"] == "ok"]
    test = test.sample(frac=1.0, random_state=args.seed).groupby(["subgraph", "machine"], dropna=False).head(args.per_subgraph)
    test = test.reset_index(drop=True)
    initial, trajs = replay_trajectories(train, 12, seed=0, progress=False)
    groups = {g: [t] for g, t in initial.items()}
    for tr in trajs:
        groups[tr.group].extend(tr.texts)
    texts = [program_text(final_program(it)) for it in Evaluator.items_from_logs(test)]
    rng = random.Random(args.seed)
    views = [equivalent_view(t, rng) for t in texts]
    lat = np.log(test["latency"].to_numpy())
    index = test.groupby(["subgraph", "machine"], dropna=False).indices

    def probes(enc) -> dict[str, float]:
        z, zv = enc.encode(texts), enc.encode(views)
        taus, hits = [], []
        for idx in index.values():
            if len(idx) < 10:
                continue
            a = z[idx] / np.maximum(np.linalg.norm(z[idx], axis=1, keepdims=True), 1e-9)
            b = zv[idx] / np.maximum(np.linalg.norm(zv[idx], axis=1, keepdims=True), 1e-9)
            sim = a @ a.T
            np.fill_diagonal(sim, -np.inf)
            nn = np.argsort(-sim, axis=1)[:, :5]
            taus.append(kendall_tau(-lat[idx][nn].mean(axis=1), lat[idx]))
            hits.append(float(np.mean(np.argmax(b @ a.T, axis=1) == np.arange(len(idx)))))
        return {"knn_latency_tau": float(np.nanmean(taus)), "rewrite_top1": float(np.mean(hits))}

    variants = {
        "tfidf": lambda: TfidfEncoder(dim=64, seed=args.seed),
        "contrastive, dropout positives, hard negatives": lambda: ContrastiveEncoder(positives="dropout",
                                                                                     seed=args.seed),
        "contrastive, rewrite positives, random negatives": lambda: ContrastiveEncoder(seed=args.seed),
        "contrastive, rewrite positives, hard negatives": lambda: ContrastiveEncoder(seed=args.seed),
    }
    batches = {"contrastive, rewrite positives, random negatives": {"groups_per_batch": 32, "per_group": 1}}
    results = {}
    for name, make in variants.items():
        enc = make()
        t = time.perf_counter()
        kwargs = {"steps": args.steps, "progress": False, **batches.get(name, {})} if "contrastive" in name else {}
        stats = enc.fit(groups, **kwargs)
        results[name] = {**probes(enc), "train_seconds": time.perf_counter() - t,
                         "loss_last20": stats.get("loss_last20")}
        print(name, results[name], flush=True)
    lines = ["| encoder | kNN latency tau | rewrite retrieval top-1 | train s |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['knn_latency_tau']:.3f} | {r['rewrite_top1']:.3f} | {r['train_seconds']:.0f} |")
    body = (f"Trained on {len(trajs)} replayed traces ({sum(len(t.texts) for t in trajs)} states) of "
            f"{len(initial)} training subgraphs, {args.steps} steps, seed {args.seed}; probed on {len(test)} "
            f"records of {len(index)} held-out subgraphs.\n\n" + "\n".join(lines) + "\n")
    path = write_report("encoder_probe", title="Encoder probes: contrastive positives and negatives", body=body,
                        data={"results": results, "steps": args.steps, "seed": args.seed})
    print(path.read_text())


if __name__ == "__main__":
    main()
