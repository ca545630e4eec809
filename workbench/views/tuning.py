"""Tuning curves: best latency against trials, per task, for several runs (cost models) on one plot."""

from __future__ import annotations

from typing import Any


def tuning_curves(runs: dict[str, Any]) -> Any:
    """One row per measured candidate of each run: run label, task, trial, latency_ms, best_ms, status."""
    import pandas as pd

    frames = []
    for label, run in runs.items():
        h = run.history()
        if len(h):
            frames.append(h.assign(run=label))
    if not frames:
        return pd.DataFrame(columns=["run", "task", "trial", "latency_ms", "best_ms", "status"])
    return pd.concat(frames, ignore_index=True)[["run", "task", "trial", "latency_ms", "best_ms", "status"]]


TABLE_COLUMNS = ["cost model", "status", "trials", "ok", "build errors", "run errors", "best ms", "GFLOP/s",
                 "search s", "build s", "run s"]


def tuning_table(runs: dict[str, Any]) -> Any:
    """One row per run (label -> :class:`workbench.tuning.TuningRun`, one task each): its status, trials,
    successes and failures, best latency (ms) and GFLOP/s, and this session's seconds in search, build and run."""
    import pandas as pd

    rows = []
    for label, run in runs.items():
        p = run.progress().reset_index().iloc[0].to_dict()
        t = run.timings()
        rows.append({"cost model": label, "status": run.status, "trials": p["trials"], "ok": p["ok"],
                     "build errors": p["build_errors"], "run errors": p["run_errors"], "best ms": p["best_ms"],
                     "GFLOP/s": p["best_gflops"], "search s": t["search"], "build s": t["build"], "run s": t["run"]})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def tuning_figure(curves: Any, *, title: str = "best latency vs trials") -> Any:
    """Step lines of the best latency so far; failed candidates marked with an x at the bottom."""
    import numpy as np
    import plotly.graph_objects as go

    fig = go.Figure()
    palette = {"world": "#d62728", "xgb": "#1f77b4", "random": "#7f7f7f"}
    for (run, task), g in curves.groupby(["run", "task"], sort=True):
        g = g.sort_values("trial")
        best = g["best_ms"].replace([np.inf], np.nan)
        name = f"{run}" if curves["task"].nunique() == 1 else f"{run}: {task}"
        fig.add_trace(go.Scatter(x=g["trial"] + 1, y=best, mode="lines", line={"shape": "hv",
                                 "color": palette.get(str(run).split(" ")[0])}, name=name))
        failed = g[g["status"] != "ok"]
        if len(failed):
            fig.add_trace(go.Scatter(x=failed["trial"] + 1, y=[best.min()] * len(failed), mode="markers",
                                     marker={"symbol": "x", "color": "black", "size": 7}, name=f"{name} failures"))
    fig.update_layout(title=title, height=380, xaxis_title="trials", yaxis_title="best latency so far (ms)",
                      yaxis_type="log", margin={"t": 50, "l": 60, "r": 10, "b": 40})
    return fig
