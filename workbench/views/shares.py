"""Where a tuned model's time goes: each task's share of the model's time before and after tuning, beside its
share of the trials (what the task scheduler spent on it)."""

from __future__ import annotations

from typing import Any

SHARE_COLUMNS = ["weight", "trials", "trial_share", "first_ms", "logged_ms", "speedup", "best_ms", "share_first",
                 "share_best", "gflops"]


def task_time_shares(history: Any, progress: Any, *, first: int) -> Any:
    """One row per task of a run: its weight (how often it runs in the model), trials and share of all trials,
    its best logged latency after its first ``first`` trials (``first_ms``) and over all its trials
    (``logged_ms``), ``speedup`` (first / logged: like for like, both the lowest of single timings), its best at the
    end as the run reports it (``best_ms``: the re-measured median where the run confirmed it), and the weight
    times ``first_ms`` and times ``best_ms`` as shares of their sums (``share_first``, ``share_best``), and the
    best's GFLOP/s. ``history`` and ``progress`` are a ``TuningRun``'s frames. A task without a measured schedule
    in its first trials or at all has NaN shares and counts in neither sum, so both sums cover the same tasks.
    Sorted by ``share_best``, largest first."""
    import numpy as np
    import pandas as pd

    if first < 1:
        raise ValueError(f"first must be at least one trial, got {first!r}")
    out = pd.DataFrame(index=progress.index)
    out["weight"] = progress["weight"].astype(int)
    out["trials"] = progress["trials"].astype(int)
    total = out["trials"].sum()
    out["trial_share"] = out["trials"] / total if total else np.nan
    best_logged = history.groupby("task")["best_ms"]
    out["first_ms"] = history[history["trial"] < first].groupby("task")["best_ms"].min().reindex(out.index)
    out["logged_ms"] = best_logged.min().reindex(out.index)
    out = out.replace([np.inf], np.nan)
    out["speedup"] = out["first_ms"] / out["logged_ms"]
    out["best_ms"] = progress["best_ms"].replace([np.inf], np.nan).astype(float)
    both = out["first_ms"].notna() & out["best_ms"].notna()
    for col, ms in (("share_first", "first_ms"), ("share_best", "best_ms")):
        time = (out["weight"] * out[ms]).where(both)
        out[col] = time / time.sum() if time.sum() > 0 else np.nan
    out["gflops"] = progress["best_gflops"].astype(float)
    return out[SHARE_COLUMNS].sort_values("share_best", ascending=False, na_position="last", kind="stable")


def time_shares(run: Any, *, first: int | None = None) -> Any:
    """:func:`task_time_shares` of a :class:`workbench.tuning.TuningRun` (every session of it); ``first``
    defaults to one search round (``run.trials_per_iter``): "before" is what the first round found."""
    return task_time_shares(run.history(), run.progress(),
                            first=run.trials_per_iter if first is None else first)


def time_share_figure(shares: Any, *, top: int = 15, title: str = "where the model's time goes") -> Any:
    """Horizontal bars for the ``top`` tasks with the largest share of the model's time before or after tuning:
    the share after the first round, after tuning, and the task's share of the trials. A task whose share
    after tuning is far above its share of the trials is where more trials could pay."""
    import plotly.graph_objects as go

    biggest = shares.assign(key=shares[["share_first", "share_best"]].max(axis=1)).nlargest(top, "key")
    biggest = biggest.iloc[::-1]  # the largest at the top of the chart
    labels = [str(task).rpartition("/")[2] + (f" (x{w})" if w > 1 else "")
              for task, w in zip(biggest.index, biggest["weight"], strict=True)]
    fig = go.Figure()
    for col, name, colour in (("share_first", "time, after the first round", "#aec7e8"),
                              ("share_best", "time, tuned", "#1f77b4"),
                              ("trial_share", "trials spent", "#ff7f0e")):
        fig.add_trace(go.Bar(y=labels, x=biggest[col] * 100, name=name, orientation="h",
                             marker={"color": colour}, hovertemplate="%{y}: %{x:.1f}%<extra>" + name + "</extra>"))
    fig.update_layout(title=title, barmode="group", height=160 + 45 * len(biggest), xaxis_title="% of the model",
                      legend={"orientation": "h", "y": -0.12 - 6 / (160 + 45 * max(1, len(biggest)))},
                      margin={"t": 50, "l": 10, "r": 10, "b": 40})
    fig.update_yaxes(automargin=True)
    return fig
