"""Markdown tables of what a sample-logs folder holds (for sample_logs/README.md): records by machine, by
operator family and per subgraph, with the latency spread and how much of the data sits near each best.

    .venv/bin/python sample_logs/summarize.py sample_logs/cpu_search
"""

from __future__ import annotations

import sys

from workbench import views
from workbench.logs import load_logs


def main(path: str) -> None:
    df = load_logs(path, errors="warn", with_actions=False, progress=False)
    summary = views.logs_summary(df)
    machines = {h["id"]: h for h in df["hardware"] if isinstance(h, dict)}
    print("| machine | CPU (LLVM mcpu) | subgraphs | records | failed |\n|---|---|---|---|---|")
    for row in views.logs_by(summary, "machine").itertuples():
        h = machines.get(row.machine, {})
        print(f"| `{row.machine}` | {h.get('cpu_model', '?')} ({h.get('llvm_mcpu', '?')}) | {row.subgraphs} | "
              f"{row.records} | {row.failed} |")
    print("\n| family | subgraphs | records | failed |\n|---|---|---|---|")
    for row in views.logs_by(summary, "op").itertuples():
        print(f"| {row.op} | {row.subgraphs} | {row.records} | {row.failed} |")
    near = [f"within {f}x" for f in views.logs.NEAR]  # the summary's own columns, not positions
    print("\n| subgraph | machine | records | sources | best (ms) | median (ms) | p90/p10 | " + " | ".join(near)
          + " |\n|" + "---|" * (7 + len(near)))
    for _, r in summary.iterrows():
        print(f"| {r.subgraph} | `{r.machine}` | {r.records} | {r.sources} | {r.best_ms:.4f} | {r.median_ms:.4f} | "
              f"{r['p90/p10']:.2f} | " + " | ".join(f"{r[c]:.2f}" for c in near) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sample_logs/cpu")
