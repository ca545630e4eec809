"""Which compute-location plans each search arm measured, against the plan of the fastest program any arm found.

A diagnostic of the search benchmark's work dirs (``benchmarks/tune_search.py``), on during-run latencies (the
median of each record's repeats, as the run saw them; nothing is measured again). A program's plan is its
``SampleComputeLocation`` decisions (:func:`workbench.traces.compute_locations`): where each producer block is
computed, the structure tile sizes cannot change. Per subgraph the records of every arm and seed are pooled, the
*best plan* is the plan of the pool's fastest program, and each arm gets:

- ``share``: the share of its measured records whose plan is the best plan;
- ``best``: its fastest record / the pool's fastest (geomean over its runs);
- ``in_plan``: its fastest record *within the best plan* / the pool's fastest (geomean over the runs that
  measured the plan at all; those that did not are counted in ``missed``);
- ``plans``: distinct plans a run measured (mean over runs);
- ``favourite``: the plan the arm measured most (over its runs) and ``ceiling``, the pool's fastest program in that
  plan / the pool's fastest: how fast the arm's favourite plan can go, as far as any run found out.

It tells apart two ways a search falls short: never measuring the plan that wins (low share, many ``missed``),
and measuring it without finding its good tile sizes (``in_plan`` far above 1).

    python benchmarks/plan_coverage.py --work-root work/bench/z3v --name plan_coverage_znver3
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tune_search import TEST_SPLIT, _geomean  # noqa: E402

from workbench.traces import compute_locations  # noqa: E402

RUN_DIR = re.compile(r"^(?P<sub>.+)-(?P<arm>[a-z0-9_]+)-t(?P<trials>\d+)-s(?P<seed>\d+)$")


def read_run(work_dir: Path) -> list[tuple[tuple, float]]:
    """(plan, median latency in ms) of each measured record of a run's work dir (failures left out)."""
    out = []
    path = work_dir / "database_tuning_record.json"
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            trace, run_secs = json.loads(line)[1][:2]
        except (ValueError, IndexError, TypeError) as err:
            raise SystemExit(f"{path}:{n}: not a MetaSchedule tuning record ({err})") from err
        secs = [float(x) for x in run_secs or []]
        if secs and all(x < 1e9 for x in secs):
            out.append((compute_locations(trace), statistics.median(secs) * 1e3))
    return out


def _x(ratio: float) -> str:
    return "-" if math.isnan(ratio) else f"{ratio:.2f}x"


def coverage(root: Path, subgraphs: list[str], arms: list[str] | None) -> dict[str, dict]:
    """Per subgraph: the best plan, the pool's fastest latency and each arm's numbers (see the module docstring)."""
    runs: dict[str, dict[str, list[list[tuple[tuple, float]]]]] = defaultdict(lambda: defaultdict(list))
    for d in sorted(root.iterdir()):
        m = RUN_DIR.match(d.name)
        if not m or not (d / "database_tuning_record.json").is_file():
            continue
        sub = m["sub"].replace("__", "/")
        if sub in subgraphs and (arms is None or m["arm"] in arms):
            if recs := read_run(d):
                runs[sub][m["arm"]].append(recs)
    out = {}
    for sub in subgraphs:
        if sub not in runs:
            continue
        pool = [r for arm_runs in runs[sub].values() for run in arm_runs for r in run]
        plan, best = min(pool, key=lambda r: r[1])
        per_arm = {}
        by_plan: dict[tuple, float] = {}
        for p, t in pool:
            by_plan[p] = min(t, by_plan.get(p, math.inf))
        for arm, arm_runs in sorted(runs[sub].items()):
            counts: dict[tuple, int] = defaultdict(int)
            for run in arm_runs:
                for p, _ in run:
                    counts[p] += 1
            favourite = max(counts, key=counts.get)
            in_plan = [min(t for p, t in run if p == plan) / best for run in arm_runs if any(p == plan for p, _ in run)]
            per_arm[arm] = {
                "runs": len(arm_runs), "records": sum(len(run) for run in arm_runs),
                "share": sum(p == plan for run in arm_runs for p, _ in run) / sum(len(run) for run in arm_runs),
                "best": _geomean([min(t for _, t in run) / best for run in arm_runs]),
                "in_plan": _geomean(in_plan), "missed": len(arm_runs) - len(in_plan),
                "plans": statistics.mean(len({p for p, _ in run}) for run in arm_runs),
                "favourite": list(favourite), "ceiling": by_plan[favourite] / best,
            }
        out[sub] = {"best_plan": list(plan), "best_ms": best, "plans_in_pool": len({p for p, _ in pool}),
                    "arms": per_arm}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work-root", default="work/bench/search", help="tune_search.py's --work-root")
    parser.add_argument("--subgraphs", nargs="+", default=TEST_SPLIT)
    parser.add_argument("--arms", nargs="+", default=None, help="default: every arm found in the work root")
    parser.add_argument("--name", default="plan_coverage", help="report name under benchmarks/results/")
    args = parser.parse_args()
    root = Path(args.work_root)
    if not root.is_dir():
        raise SystemExit(f"{root}: no such work root (tune_search.py's --work-root)")
    result = coverage(root, args.subgraphs, args.arms)
    if not result:
        raise SystemExit(f"{root}: no run of {args.subgraphs} found")
    from _report import write_report

    lines = []
    for sub, v in result.items():
        lines += [f"\n### {sub}\n", f"Best plan {tuple(v['best_plan'])} (pool's fastest {v['best_ms']:.4f} ms; "
                  f"{v['plans_in_pool']} plans measured by some run).\n",
                  "| arm | runs | records | share on best plan | best / pool best | best in plan / pool best "
                  "| runs missing the plan | plans a run | favourite plan (ceiling) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {a} | {x['runs']} | {x['records']} | {x['share']:.2f} | {x['best']:.2f}x | {_x(x['in_plan'])} "
                  f"| {x['missed']} | {x['plans']:.1f} | {tuple(x['favourite'])} ({x['ceiling']:.2f}x) |"
                  for a, x in v["arms"].items()]
    body = (f"Work root `{root}` (the runs of `benchmarks/tune_search.py` on this machine), during-run latencies "
            "(median of each record's repeats). Per subgraph every arm's records are pooled; the best plan is "
            "the compute-location plan of the pool's fastest program. See the script's docstring for the "
            "columns.\n" + "\n".join(lines))
    path = write_report(args.name, title="Which compute-location plans each search arm measured", body=body,
                        data={"work_root": str(root), "subgraphs": result})
    print(path.read_text())


if __name__ == "__main__":
    main()
