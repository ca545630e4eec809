"""Could the run's own model pick the next batch better than the frozen verifier? A replay of tuning runs, no TVM
measurement.

``world_verify`` orders the world model's top 64 by the verifier (MetaSchedule's XGBModel trained on the sample
logs, never retrained during a run); the run's online model (:class:`workbench.tuning.online.OnlineBlend`,
trained on the run's own measurements) only moves candidates into or out of that top. This replays each run of
``--arm`` in ``--work-root``: after its first 16, 32 and 48 measured records, every scorer ranks the programs
that any run of the subgraph measured (all arms and seeds: the *pool*) and that this run had not yet measured,
as a cost model ranks a population, and we read how fast the best of its top 16 (one batch) is:

- ``prior``: the world model's ranker; ``verifier``: the XGBModel (``world_verify``'s order today);
- ``online``: the online model as the run trains it (its own records so far; same recipe and seed);
- ``blend``: the prior and the online model weighted by prospective skill (``world``'s order today);
- ``verifier+online``: the verifier and the online model, weighted by each one's prospective pairwise accuracy
  on the run's batches so far (judged before each batch trains anything), as ``OnlineBlend`` weighs the prior;
- ``verifier+online_eq``: the same with equal weights once the online model exists;
- ``random``: the expectation over 200 random orders.

Two views: ``pool`` (every unmeasured program: top16 = the pool's fastest / the fastest of the top 16) and
``plan`` (only the programs in the compute-location plan of the run's fastest program so far, against that
plan's fastest: tile tuning inside a good plan, where ``plan_coverage_hedge_long.md`` put the gap on this
machine). Latencies: the median of each record's repeats as the runs saw them (during-run noise included).

    python benchmarks/online_ranking.py --work-root work/bench/hedge --name online_ranking_diag
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_report  # noqa: E402
from plan_coverage import RUN_DIR  # noqa: E402
from pool_ranking import measured_pool  # noqa: E402

HEAVY = ["matmul_256", "batch_matmul_12x128x64", "depthwise_14x14x512_s2", "conv2d_7x7x512_3x3",
         "conv1d_64x256x256_k5", "conv2d_transpose_4x4x512"]
CUTS = (16, 32, 48)
SCORERS = ["prior", "verifier", "online", "blend", "verifier+online", "verifier+online_eq", "random"]


def _z(s: np.ndarray) -> np.ndarray:
    sd = float(np.std(s))
    return (s - float(np.mean(s))) / (sd if sd > 1e-12 else 1.0)


def _best_of_top(score: np.ndarray, lat: np.ndarray, k: int = 16) -> float:
    order = np.argsort(-score, kind="stable")
    return float(lat.min() / lat[order[:k]].min())


def _random_top(lat: np.ndarray, rng: np.random.Generator, k: int = 16) -> float:
    return float(np.mean([lat.min() / lat[rng.permutation(len(lat))[:k]].min() for _ in range(200)]))


def replay(run: object, pool: dict, cut: int, rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """The scorers' best-of-top-16 after the first ``cut`` records of ``run`` (a DataFrame in trial order)."""
    from workbench.tuning.online import OnlineBlend, pairwise_counts

    first = run.iloc[:cut]
    idx = [pool["index"][k] for k in first["trace_key"]]
    lat = first["latency"].to_numpy(float)
    blend = OnlineBlend(seed=0)
    ver_pairs = [0, 0]
    for b in range(0, cut, 16):
        sl = slice(b, min(b + 16, cut))
        rows = idx[sl]
        if blend.model is not None:  # the verifier judged as the online model is: only once there is one
            good, total = pairwise_counts(pool["verifier"][rows], lat[sl], ["t"] * len(rows))
            ver_pairs[0] += good
            ver_pairs[1] += total
        blend.observe(pool["x"][rows], pool["prior"][rows], lat[sl], ["t"] * len(rows))
    seen = set(first["trace_key"])
    cand = np.array([i for k, i in pool["index"].items() if k not in seen])
    x, prior, ver, plat = pool["x"][cand], pool["prior"][cand], pool["verifier"][cand], pool["latency"][cand]
    online = blend.online_scores(x)
    w_v = max(0.0, 2.0 * ver_pairs[0] / ver_pairs[1] - 1.0) if ver_pairs[1] else 0.5
    w_o = (blend.skill("online") or 0.0) if blend.model is not None else 0.0
    scores = {"prior": prior, "verifier": ver, "online": online, "blend": blend.blended(x, prior, "t"),
              "verifier+online": (w_v * _z(ver) + w_o * _z(online)) / max(w_v + w_o, 1e-9),
              "verifier+online_eq": _z(ver) + (_z(online) if blend.model is not None else 0.0)}
    incumbent = pool["plan"][idx[int(np.argmin(lat))]]
    in_plan = np.array([pool["plan"][i] == incumbent for i in cand])
    out: dict[str, dict[str, float]] = {"pool": {}, "plan": {}}
    for name, s in scores.items():
        out["pool"][name] = _best_of_top(s, plat)
        out["plan"][name] = _best_of_top(s[in_plan], plat[in_plan]) if in_plan.sum() > 16 else math.nan
    out["pool"]["random"] = _random_top(plat, rng)
    out["plan"]["random"] = _random_top(plat[in_plan], rng) if in_plan.sum() > 16 else math.nan
    out["weights"] = {"verifier": w_v, "online": w_o}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-root", required=True)
    parser.add_argument("--subgraphs", nargs="+", default=HEAVY)
    parser.add_argument("--arm", default="world_verify", help="whose runs are replayed")
    parser.add_argument("--name", default="online_ranking")
    args = parser.parse_args()

    from workbench.traces import compute_locations
    from workbench.tuning.cost_model import verifier_dir
    from workbench.worldmodel import load_default
    from workbench.worldmodel.baseline import MetaScheduleXGB

    root = Path(args.work_root)
    evaluator = load_default("cpu")
    verifier = MetaScheduleXGB.load(verifier_dir(evaluator))
    rng = np.random.default_rng(0)
    rows = []
    for sub in args.subgraphs:
        df, uniq, latency, dirs = measured_pool(root, sub)
        x = evaluator.feature_matrix(evaluator.items_from_logs(uniq)).astype(np.float32)
        pool = {"index": {k: i for i, k in enumerate(uniq["trace_key"])}, "x": x,
                "prior": evaluator.ranker.predict(x).astype(float),
                "verifier": np.asarray(verifier.predict(uniq), float),
                "latency": latency,
                "plan": [compute_locations(t) for t in uniq["trace"]]}
        runs = [d for d in dirs if (m := RUN_DIR.match(d.name)) and m["arm"] == args.arm]
        for d in runs:
            run = df[df["logdir"] == str(d)].sort_values("trial")
            for cut in CUTS:
                if len(run) <= cut:
                    continue
                res = replay(run, pool, cut, rng)
                rows.append({"subgraph": sub, "run": d.name, "cut": cut, **res})
        print(f"{sub}: {len(uniq)} programs, {len(runs)} runs of {args.arm}", flush=True)

    def geo(view: str, name: str, cut: int | None = None) -> float:
        vals = [r[view][name] for r in rows if (cut is None or r["cut"] == cut) and not math.isnan(r[view][name])]
        return math.exp(np.mean(np.log(vals))) if vals else math.nan

    summary = {view: {name: {"all": geo(view, name), **{str(c): geo(view, name, c) for c in CUTS}}
                      for name in SCORERS} for view in ("pool", "plan")}
    lines = []
    for view, title in (("pool", "every unmeasured program of the pool"),
                        ("plan", "only the plan of the run's fastest program so far")):
        lines += [f"Best of the top 16, {title} (geomean over runs; 1.0 = the fastest there):", "",
                  "| scorer | after 16 | after 32 | after 48 | all |", "|---|---|---|---|---|"]
        lines += [f"| {n} | " + " | ".join(f"{summary[view][n][str(c)]:.3f}" for c in CUTS)
                  + f" | {summary[view][n]['all']:.3f} |" for n in SCORERS]
        lines.append("")
    subs = list(dict.fromkeys(r["subgraph"] for r in rows))
    lines += ["Per subgraph, plan view, all cuts:", "", "| subgraph | " + " | ".join(SCORERS) + " |",
              "|---|" + "---|" * len(SCORERS)]
    for s in subs:
        vals = []
        for n in SCORERS:
            v = [r["plan"][n] for r in rows if r["subgraph"] == s and not math.isnan(r["plan"][n])]
            vals.append(f"{math.exp(np.mean(np.log(v))):.2f}" if v else "-")
        lines.append(f"| {s} | " + " | ".join(vals) + " |")
    w = np.array([[r["weights"]["verifier"], r["weights"]["online"]] for r in rows if r["cut"] > 16])
    body = (f"Runs replayed: `{args.arm}` in `{root}` ({len(rows)} replays over {len(subs)} subgraphs). Pool: the "
            "distinct programs all runs there measured, at their median during-run latency. Mean weights after 32 "
            f"and 48 records: verifier {w[:, 0].mean():.2f}, online {w[:, 1].mean():.2f}.\n\n" + "\n".join(lines))
    path = write_report(args.name, title="Replaying runs: the run's own model against the frozen verifier",
                        body=body, data={"summary": summary, "rows": rows, "arm": args.arm, "work_root": str(root)})
    print(path.read_text())


if __name__ == "__main__":
    main()
