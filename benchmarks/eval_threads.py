"""Ranking quality on the held-out subgraphs, split by how many threads the measured kernels ran on.

Every CPU record shipped before 2026-12-05 ran on TVM 0.27's default pool: half the logical cores on x86, one
thread on this project's 2-vCPU VMs. Since then the workbench runs kernels on every physical core and the
descriptor names ``runtime_threads``; the world model's hardware and effect features read that thread count
(:func:`workbench.hardware.kernel_threads`) instead of the physical cores. This report puts models evaluated
by ``workbench eval --holdout default --json`` side by side (a model trained before that change only loads
in a checkout of its own version, so each is evaluated by its own code and this script only reads the
results), per group of records (subgraph x machine), over all held-out groups, over the frozen search test
split (``benchmarks/tune_search.py``'s ``TEST_SPLIT``), and per thread count.

    python benchmarks/eval_threads.py --runs before=work/eval_before.json after=work/eval_after.json \\
        --commands "before: ..." "after: ..."
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from _report import write_report
from tune_search import TEST_SPLIT

METRICS = ("pairwise", "kendall", "top1", "top5")


def _threads_of_machines(logs: str, subgraphs: set[str]) -> dict[str, int]:
    """Machine id -> threads its kernels ran on, from the descriptors of the evaluated subgraphs' work dirs."""
    from workbench.hardware import kernel_threads
    from workbench.logs import WorkDir

    out: dict[str, int] = {}
    for name in subgraphs:
        path = Path(logs) / name.replace("/", "__")
        if path.is_dir():
            out.update({mid: kernel_threads(desc) for mid, desc in WorkDir(path).hardware().items()})
    return out


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in rows if isinstance(r.get(key), int | float) and not math.isnan(r[key])]
    return sum(values) / len(values) if values else math.nan


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over evaluated groups (those with two distinct latencies) and how many records they hold."""
    rows = [r for r in rows if isinstance(r.get("pairwise"), int | float) and not math.isnan(r["pairwise"])]
    return {"groups": len(rows), "records": int(sum(r["n"] for r in rows)), **{m: _mean(rows, m) for m in METRICS}}


def over_seeds(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, min and max over seeds of each metric (one summary per seed)."""
    out = {"groups": summaries[0]["groups"], "records": summaries[0]["records"], "seeds": len(summaries)}
    for m in METRICS:
        values = [x[m] for x in summaries if not math.isnan(x[m])]
        out[m] = {"mean": sum(values) / len(values), "min": min(values), "max": max(values)} if values else None
    return out


def _cell(v: dict[str, float] | None, seeds: int) -> str:
    if v is None:
        return "-"
    return f"{v['mean']:.3f}" + (f" ({v['min']:.3f}-{v['max']:.3f})" if seeds > 1 else "")


def _load(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise SystemExit(f"{path}: not a `workbench eval --json` output ({err})") from err
    if not isinstance(data, dict) or "per_subgraph" not in data:
        raise SystemExit(f"{path}: no per_subgraph rows (not a `workbench eval --json` output)")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True, metavar="NAME=JSON[,JSON...]",
                        help="`workbench eval --json` outputs under a name; several (comma-separated) are seeds "
                             "of one model, reported as mean (min-max)")
    parser.add_argument("--logs", default="sample_logs/cpu")
    parser.add_argument("--commands", nargs="*", default=[], help="how each JSON was made (quoted in the report)")
    parser.add_argument("--notes", nargs="*", default=[], help="paragraphs added to the report")
    parser.add_argument("--name", default="eval_threads")
    parser.add_argument("--title", default="Ranking quality on held-out subgraphs by the threads kernels ran on")
    args = parser.parse_args()

    # column (run: model) -> one list of per-group rows per seed; a run holds the world model and, where
    # evaluated with --baseline, MetaSchedule's XGBModel
    columns: dict[str, list[list[dict[str, Any]]]] = {}
    sources: dict[str, list[str]] = {}
    for spec in args.runs:
        name, sep, paths = spec.partition("=")
        if not sep or not name or not paths:
            raise SystemExit(f"--runs takes NAME=JSON[,JSON...], got {spec!r}")
        sources[name] = paths.split(",")
        for path in sources[name]:
            per_model: dict[str, list[dict[str, Any]]] = {}
            for row in _load(path)["per_subgraph"]:
                per_model.setdefault(row["model"], []).append(row)
            for model, rows in per_model.items():
                columns.setdefault(f"{name}: {model}", []).append(rows)
    subgraphs = {r["subgraph"] for seeds in columns.values() for rows in seeds for r in rows}
    threads = _threads_of_machines(args.logs, subgraphs)
    for seeds in columns.values():
        for rows in seeds:
            for r in rows:
                r["threads"] = threads.get(r["machine"])

    def plural(n: int) -> str:
        return f"{n} thread{'s' if n > 1 else ''}"

    slices: dict[str, Any] = {"all held-out groups": lambda r: True,
                              "frozen test split (tune_search)": lambda r: r["subgraph"] in TEST_SPLIT}
    for n in sorted({t for t in threads.values() if t}):
        slices[f"records run on {plural(n)}"] = lambda r, n=n: r["threads"] == n
        slices[f"frozen test split, {plural(n)}"] = lambda r, n=n: r["threads"] == n and r["subgraph"] in TEST_SPLIT
    table = {s: {c: over_seeds([summarize([r for r in rows if keep(r)]) for rows in seeds])
                 for c, seeds in columns.items()} for s, keep in slices.items()}

    lines = ["Metrics per group of held-out records (one subgraph on one machine), averaged over groups: pairwise "
             "ranking accuracy, Kendall tau (score vs -latency), top-1 and top-5 (best latency / latency of the "
             "best of the model's top k; 1 is perfect). Higher is better everywhere. Several seeds of a model: "
             "mean (min-max) over seeds.", "", "How each evaluation was made:", ""]
    lines += [f"- `{cmd}`" for cmd in args.commands]
    lines += ["", "Machines in the held-out records: " + ", ".join(
        f"`{m}` ({plural(t)})" for m, t in sorted(threads.items())) + ".", ""]
    for s, per in table.items():
        lines += [f"### {s}", "", "| model | seeds | groups | records | pairwise | Kendall tau | top-1 | top-5 |",
                  "|---|---|---|---|---|---|---|---|"]
        for c, v in per.items():
            lines.append(f"| {c} | {v['seeds']} | {v['groups']} | {v['records']} | " +
                         " | ".join(_cell(v[m], v["seeds"]) for m in METRICS) + " |")
        lines.append("")
    lines += ["### Per group: top-1, mean over seeds", "",
              "| subgraph | machine | threads | records | " + " | ".join(columns) + " |",
              "|---|---|---|---|" + "---|" * len(columns)]
    for sub, machine in sorted({(r["subgraph"], r["machine"]) for seeds in columns.values() for r in seeds[0]}):
        cells, n = [], 0
        for seeds in columns.values():
            match = [r for rows in seeds for r in rows if r["subgraph"] == sub and r["machine"] == machine]
            values = [r["top1"] for r in match if isinstance(r["top1"], int | float) and not math.isnan(r["top1"])]
            n = max([n, *(r["n"] for r in match)])
            cells.append(f"{sum(values) / len(values):.3f}" if values else "")
        lines.append(f"| {sub} | `{machine}` | {threads.get(machine)} | {n} | " + " | ".join(cells) + " |")
    lines += ["", *args.notes]
    data = {"sources": sources, "commands": args.commands, "threads": threads, "summary": table,
            "per_group": columns}
    path = write_report(args.name, title=args.title,
                        body="\n".join(lines), data=data)
    print(path.read_text())


if __name__ == "__main__":
    main()
