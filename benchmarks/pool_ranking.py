"""How each scorer orders the programs the searches actually measured: the world model's prior, the verifier
(MetaSchedule's XGBModel saved beside it), draft then verify as ``world_verify`` does it, and mixes of the two.

For every test subgraph of a ``tune_search.py`` report, the pool is every distinct program (trace) measured
successfully by any of its runs in the work root (all arms and seeds), at its logged latency (median over the
records of that trace). Each scorer ranks the whole pool once, as a cost model ranks a population:

- ``world``: the world model's ranker (its prior: no online adaptation);
- ``verifier``: the XGBModel on every program (what ``xgb_pretrained`` ranks by);
- ``world_verify``: the world model's top ``--k`` in the verifier's order, the rest in the world model's below
  (:class:`workbench.tuning.cost_model.VerifiedCostModel`);
- ``rankavg_topk``: the world model's top ``--k`` by the mean of both rank orders, the rest as above;
- ``rankavg``: the whole pool by the mean of both rank orders (the verifier on everything);
- ``random``: the expectation over 200 random orders.

Metrics per subgraph: ``top1`` (the pool's best latency / the top-ranked program's), ``top16`` (the pool's
best / the best of the top 16, one search batch), Spearman's rho with -latency. These are offline diagnostics
on searches' own candidates and during-run latencies, not a search result: ``tune_search.py`` is that.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from _report import write_report


def _rank(a: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1, higher score -> higher rank (ties by position)."""
    out = np.empty(len(a))
    out[np.argsort(a, kind="stable")] = np.arange(len(a))
    return out


class _Scores:
    """A stand-in cost model over the pool: candidates are row numbers, scores fixed."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def predict(self, context: object, candidates: list[int]) -> np.ndarray:
        return self.scores[candidates]


def _topk_then_rest(world: np.ndarray, top_scores: np.ndarray, k: int) -> np.ndarray:
    """The world model's top ``k`` first in ``top_scores``' order, the rest in the world's: the ranking of
    ``world_verify``'s own cost model (VerifiedCostModel), run on the pool."""
    from workbench.tuning.cost_model import VerifiedCostModel

    model = VerifiedCostModel(_Scores(world), _Scores(top_scores), k, update_verifier=False)._inst  # the Python object
    return model.predict(None, list(range(len(world))))


def measured_pool(root: Path, sub: str) -> tuple:
    """The successful records of every run of ``sub`` in ``root`` (all arms and seeds), the distinct programs among
    them (one row per trace, in first-seen order) and each program's latency: the median over its records."""
    from workbench.logs import load_logs

    dirs = sorted(root.glob(f"{sub.replace('/', '__')}-*-t*-s*"))
    if not dirs:
        raise SystemExit(f"{root}: no runs of {sub} (run tune_search.py with --work-root {root} first)")
    df = load_logs(*dirs, progress=False)
    df = df[(df["status"] == "ok") & df["latency"].notna()]
    programs = df.drop_duplicates("trace_key").reset_index(drop=True)
    latency = df.groupby("trace_key")["latency"].median().loc[programs["trace_key"]].to_numpy(float)
    return df, programs, latency, dirs


def _metrics(score: np.ndarray, lat: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr

    order = np.argsort(-score, kind="stable")
    best = lat.min()
    return {"top1": best / lat[order[0]], "top16": best / lat[order[:16]].min(),
            "rho": float(spearmanr(score, -lat).correlation)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", required=True, help="a tune_search.py report's JSON: its test split and arms")
    parser.add_argument("--work-root", default=None, help="where its runs are (default: the report's)")
    parser.add_argument("--k", type=int, default=64, help="how many of the world model's best are verified")
    parser.add_argument("--name", default="pool_ranking")
    args = parser.parse_args()

    from workbench.tuning.cost_model import verifier_dir
    from workbench.worldmodel import load_default
    from workbench.worldmodel.baseline import MetaScheduleXGB

    report = json.loads(Path(args.report).read_text())
    root = Path(args.work_root or report["args"]["work_root"])
    evaluator = load_default("cpu")
    verifier = MetaScheduleXGB.load(verifier_dir(evaluator))
    rng = np.random.default_rng(0)
    rows, pools = [], {}
    for sub in report["test_split"]:
        _, df, lat, dirs = measured_pool(root, sub)
        if len(df) < 32:
            print(f"{sub}: {len(df)} programs, too few to rank: left out", flush=True)
            continue
        x = evaluator.feature_matrix(evaluator.items_from_logs(df)).astype(np.float32)
        world = evaluator.ranker.predict(x).astype(float)
        ver = np.asarray(verifier.predict(df), float)
        both = _rank(world) + _rank(ver)
        scorers = {"world": world, "verifier": ver, "world_verify": _topk_then_rest(world, ver, args.k),
                   "rankavg_topk": _topk_then_rest(world, both, args.k), "rankavg": both}
        pools[sub] = {"programs": len(df), "runs": len(dirs)}
        for name, s in scorers.items():
            rows.append({"subgraph": sub, "scorer": name, **_metrics(s, lat)})
        rand = [_metrics(rng.random(len(lat)), lat) for _ in range(200)]
        rows.append({"subgraph": sub, "scorer": "random",
                     **{m: float(np.mean([r[m] for r in rand])) for m in ("top1", "top16", "rho")}})
        print(f"{sub}: {len(df)} programs from {len(dirs)} runs", flush=True)

    names = ["world", "verifier", "world_verify", "rankavg_topk", "rankavg", "random"]
    subs = list(pools)

    def geo(scorer: str, m: str) -> float:
        return math.exp(np.mean([math.log(r[m]) for r in rows if r["scorer"] == scorer]))

    summary = {n: {"top1": geo(n, "top1"), "top16": geo(n, "top16"),
                   "rho": float(np.mean([r["rho"] for r in rows if r["scorer"] == n]))} for n in names}
    lines = ["| scorer | top-1 (geomean) | best of top 16 (geomean) | Spearman rho (mean) |", "|---|---|---|---|"]
    lines += [f"| {n} | {summary[n]['top1']:.3f} | {summary[n]['top16']:.3f} | {summary[n]['rho']:.3f} |"
              for n in names]
    per = ["| subgraph | programs | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    by = {(r["subgraph"], r["scorer"]): r for r in rows}
    per += [f"| {s} | {pools[s]['programs']} | " + " | ".join(f"{by[(s, n)]['top16']:.2f}" for n in names) + " |"
            for s in subs]
    body = (f"Runs: `{root}`, the runs of `{args.report}` ({report.get('date')}; test split of "
            f"{len(report['test_split'])} subgraphs, arms {report['args'].get('arms')}); {len(subs)} subgraphs "
            f"with >= 32 programs. Verified top k: {args.k}. World model: the shipped CPU default; verifier: "
            f"`{verifier_dir(evaluator)}`. Both were trained on other subgraphs than these.\n\n"
            "Scores are 1.0 when the scorer's pick is the pool's fastest program (higher is better).\n\n"
            + "\n".join(lines) + "\n\nBest of the top 16 per subgraph:\n\n" + "\n".join(per) + "\n")
    path = write_report(args.name, title="Ranking the searches' own candidates: world model, verifier and mixes",
                        body=body, data={"summary": summary, "rows": rows, "pools": pools, "k": args.k,
                                         "report": args.report, "work_root": str(root)})
    print(path.read_text())


if __name__ == "__main__":
    main()
