"""Can the world model's value head judge a partial schedule? The question behind the ``"beam"`` strategy
(:mod:`workbench.tuning.beam`), which prunes tile-decision prefixes by the value head ``v(z_t)`` along the rollout.
No TVM measurement: the records are the shipped ``sample_logs`` of the frozen test split (held out of the shipped
model's training).

1. **Records.** For each held-out subgraph's measured records (up to ``--per-subgraph``), the value head on the
   predicted state after the first 25%, 50%, 75% and 100% of each record's steps, against the record's measured
   latency: pairwise accuracy (0.5 = a random order) over the whole subgraph, and *within a family* (records
   with the same categorical values and compute locations, 5 or more of them, pooled weighted by size: the tile
   choices a beam ranks). The ranker's score on the finished program beside it.
2. **Beam against random.** For ``--families`` random families of each subgraph's design space (one TVM sample of
   each sketch, as the planner seeds), the beam's ``width`` vectors (width 32, 8 children each per stage) against
   32 and 256 random tile choices of the same family, both scored in full by the ranker (the planner's final
   judge): how often the beam's best beats the random 32's. This says the beam finds what the ranker rates, not
   that it is fast; only ``tune_search.py``'s ``world_plan_beam`` arm says that.

    python benchmarks/prefix_value.py --name prefix_value
"""

from __future__ import annotations

import argparse
import collections
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_report  # noqa: E402
from tune_search import TEST_SPLIT  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def _family_accuracy(scores: np.ndarray, lat: np.ndarray, families: list[tuple]) -> tuple[float, int]:
    """Pairwise accuracy within families of >= 5 records, pooled weighted by family size; (accuracy, records)."""
    from workbench.worldmodel.metrics import pairwise_accuracy

    acc, n = 0.0, 0
    for key, count in collections.Counter(families).items():
        if count < 5:
            continue
        ix = [i for i, f in enumerate(families) if f == key]
        a = pairwise_accuracy(scores[ix], lat[ix])
        if not math.isnan(a):
            acc, n = acc + a * count, n + count
    return (acc / n if n else math.nan), n


def records_part(ev, subgraphs: list[str], per_subgraph: int) -> list[dict]:
    from workbench.logs import load_logs
    from workbench.worldmodel.items import items_from_logs
    from workbench.worldmodel.metrics import pairwise_accuracy

    rows = []
    for sub in subgraphs:
        d = ROOT / "sample_logs" / "cpu" / sub.replace("/", "__")
        if not d.is_dir():
            continue
        df = load_logs(d, progress=False)
        df = df[df["latency"].notna()]
        if len(df) < 10:
            continue
        df = df.sample(min(len(df), per_subgraph), random_state=0)
        items = items_from_logs(df)
        traj = ev.trajectories(items)
        lat = df["latency"].to_numpy()
        ranker = ev.ranker.predict(ev.feature_matrix(items))
        families = [tuple(str(a.decision) for a in it.actions if a.kind in ("SampleCategorical", "SampleComputeLocation"))
                    for it in items]
        row = {"subgraph": sub, "records": len(df), "ranker": pairwise_accuracy(ranker, lat),
               "ranker_family": _family_accuracy(ranker, lat, families)[0]}
        for f in FRACTIONS:
            v = np.array([t["values"][int(round(f * (len(t["values"]) - 1)))] for t in traj])
            row[f"value@{f}"] = pairwise_accuracy(v, lat)
            row[f"value_family@{f}"], row["family_records"] = _family_accuracy(v, lat, families)
        rows.append(row)
        print(sub, {k: (round(x, 3) if isinstance(x, float) else x) for k, x in row.items()}, flush=True)
    return rows


def beam_part(subgraphs: list[str], families: int, seed: int) -> list[dict]:
    from tvm.s_tir import meta_schedule as ms

    from workbench._tvm import ensure_intrinsics
    from workbench.hardware import make_target
    from workbench.subgraphs import load_subgraph
    from workbench.tuning.beam import beam_family
    from workbench.tuning.cost_model import world_cost_model
    from workbench.tuning.plan import PlanSearch
    from workbench.tuning.vectors import compiled_for, random_decisions

    cm = world_cost_model()
    target = make_target("cpu")
    ensure_intrinsics(target)
    rows = []
    for name in subgraphs:
        sub = load_subgraph(name)
        search = PlanSearch(cost_model=cm, seed_samples=families, seed=seed)
        ctx = ms.TuneContext(mod=sub.mod, target=target, space_generator="post-order-apply", task_name=sub.name,
                             num_threads=1)
        search._initialize_with_tune_context(ctx)
        search.pre_tuning(64, 16, ctx.generate_design_space(), None, cm)
        s = search._inst  # the Python object behind TVM's wrapper
        info, z0 = cm.evaluator.program_info(s.context.mod), cm.evaluator.encode_initial(s.context.mod)
        rng = random.Random(seed)
        wins = ties = n = 0
        ratios, seconds, prefixes = [], [], []
        for sk_i, base in s.seeds[:families]:
            sk = s.sketches[sk_i]
            if not sk.tiles:
                continue
            cp = compiled_for(info, sk, base, s._compiled)
            t = time.perf_counter()
            kept, scored = beam_family(sk, base, cp, z0, cm.evaluator.transition, width=32, expand=8, rng=rng)
            seconds.append(time.perf_counter() - t)
            prefixes.append(scored)
            rand = [r for r in (random_decisions(sk, rng, base=base, free=sk.tiles) for _ in range(256)) if r]
            sb = s._score([(sk_i, v) for v in kept])
            sr = s._score([(sk_i, v) for v in rand])
            wins += int(np.max(sb) > np.max(sr[:32]))
            ties += int(np.max(sb) == np.max(sr[:32]))
            n += 1
            ratios.append(float(np.max(sb) >= np.max(sr)))
        if n:
            rows.append({"subgraph": name, "families": n, "beam_best_over_random32": wins / n,
                         "beam_best_ties_random32": ties / n,
                         "beam_best_over_random256": float(np.mean(ratios)),
                         "prefixes_per_family": float(np.mean(prefixes)), "seconds_per_family": float(np.mean(seconds))})
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subgraphs", nargs="+", default=TEST_SPLIT)
    ap.add_argument("--per-subgraph", type=int, default=300)
    ap.add_argument("--families", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="prefix_value")
    args = ap.parse_args()
    from workbench.worldmodel.evaluator import load_default

    ev = load_default("cpu")
    recs = records_part(ev, args.subgraphs, args.per_subgraph)
    beams = beam_part(args.subgraphs, args.families, args.seed)

    def mean(key: str, rows: list[dict]) -> float:
        xs = [r[key] for r in rows if not math.isnan(r[key])]
        return float(np.mean(xs)) if xs else math.nan

    cols = ["ranker"] + [f"value@{f}" for f in FRACTIONS]
    fcols = ["ranker_family"] + [f"value_family@{f}" for f in FRACTIONS]
    lines = ["## 1. The value head along the rollout, on held-out records", "",
             "Pairwise accuracy against measured latency (0.5: a random order). `value@f`: the value head after the "
             "first fraction f of a record's steps; `ranker`: the ranker on the finished program. Whole subgraph, "
             "then within families (same categorical values and compute locations, >= 5 records each).", "",
             "| subgraph | records | " + " | ".join(cols) + " | in families | " + " | ".join(fcols) + " |",
             "|---|---:|" + "---:|" * len(cols) + "---:|" + "---:|" * len(fcols)]
    for r in recs:
        lines.append(f"| {r['subgraph']} | {r['records']} | " + " | ".join(f"{r[c]:.3f}" for c in cols)
                     + f" | {r['family_records']} | " + " | ".join(f"{r[c]:.3f}" for c in fcols) + " |")
    lines.append("| **mean** | | " + " | ".join(f"**{mean(c, recs):.3f}**" for c in cols) + " | | "
                 + " | ".join(f"**{mean(c, recs):.3f}**" for c in fcols) + " |")
    lines += ["", "## 2. The beam against random tile choices of the same family", "",
              "Share of families where the beam's best vector (by the full ranker) beats (ties) the best of 32 "
              "random tile choices of the family, and is at least the best of 256; prefixes the value head scored "
              "per family and the beam's seconds per family. Ties are small spaces, where both find the same "
              "best.", "",
              "| subgraph | families | beam > random 32 | ties | beam >= random 256 | prefixes | seconds |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in beams:
        lines.append(f"| {r['subgraph']} | {r['families']} | {r['beam_best_over_random32']:.2f} | "
                     f"{r['beam_best_ties_random32']:.2f} | "
                     f"{r['beam_best_over_random256']:.2f} | {r['prefixes_per_family']:.0f} | "
                     f"{r['seconds_per_family']:.3f} |")
    if beams:
        lines.append(f"| **mean** | | **{mean('beam_best_over_random32', beams):.2f}** | "
                     f"{mean('beam_best_ties_random32', beams):.2f} | "
                     f"**{mean('beam_best_over_random256', beams):.2f}** | | |")
    path = write_report(args.name, title="The value head on partial schedules, and the beam it prunes",
                        body="\n".join(lines), data={"records": recs, "beam": beams, "args": vars(args)})
    print(path)


if __name__ == "__main__":
    main()
