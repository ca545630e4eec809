"""Tuning curves: best latency against trials, per task, for several runs (cost models) on one plot."""

from __future__ import annotations

import warnings
from typing import Any

# Log axes label every tick in full (plotly's default abbreviates ticks inside a decade to one digit: "4 3 2 0.1")
LOG_TICKS = ".3~g"


CURVE_COLUMNS = ["run", "task", "trial", "latency_ms", "best_ms", "status", "session", "seconds", "wall_s"]


def wall_clock(curves: Any) -> Any:
    """``curves`` with ``wall_s``: the run's tuning wall clock at each measurement, its sessions laid end to end
    (a session's ``seconds`` since it started, plus how long each earlier session of the run tuned, up to its
    last measurement), so a run stopped today and resumed tomorrow has no day-long gap. NaN where a record
    does not say when it was measured (records written before the workbench recorded it)."""
    import numpy as np

    out = curves.copy()
    out["wall_s"] = np.nan
    for _, g in out.groupby("run", sort=False):
        sessions = g[(g["session"] >= 0) & g["seconds"].notna()]
        lengths = sessions.groupby("session")["seconds"].max().sort_index()
        offsets = lengths.cumsum().shift(fill_value=0.0)
        known = sessions.index
        out.loc[known, "wall_s"] = sessions["seconds"] + sessions["session"].map(offsets)
    return out


def tuning_curves(runs: dict[str, Any]) -> Any:
    """One row per measured candidate of each run: run label, task, trial, latency_ms, best_ms, status, and when
    it was measured (session, seconds since that session started, wall_s: see :func:`wall_clock`)."""
    import pandas as pd

    frames = []
    for label, run in runs.items():
        h = run.history()
        if len(h):
            frames.append(h.assign(run=label))
    if not frames:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    df = pd.concat(frames, ignore_index=True)
    return wall_clock(df[["run", "task", "trial", "latency_ms", "best_ms", "status", "session", "seconds"]])


def curves_from_work_dirs(work_dirs: dict[str, Any]) -> Any:
    """:func:`tuning_curves` of runs read from their work dirs alone (label -> path; every session, nothing
    started): a run finished yesterday plots the same today. A dir without records adds nothing."""
    import numpy as np
    import pandas as pd

    from workbench.logs import load_logs

    frames = []
    for label, path in work_dirs.items():
        try:
            df = load_logs(path, errors="warn", with_actions=False, progress=False)
        except (OSError, ValueError) as err:  # no records yet, or not a work dir: nothing to draw, say why
            warnings.warn(f"{path}: not drawn ({err})", stacklevel=2)
            continue
        if not len(df):
            continue
        df = df.sort_values("trial", kind="stable", na_position="last").reset_index(drop=True)
        for task, g in df.groupby("subgraph", sort=False):
            lat = np.where(g["status"] == "ok", g["latency"].to_numpy(dtype=np.float64) * 1e3, np.inf)
            session = pd.to_numeric(g["session"], errors="coerce").fillna(-1).astype(int).to_numpy()
            frames.append(pd.DataFrame({"run": label, "task": task, "trial": np.arange(len(g)), "latency_ms": lat,
                                        "best_ms": np.minimum.accumulate(lat), "status": g["status"].to_numpy(),
                                        "session": session,
                                        "seconds": pd.to_numeric(g["elapsed"], errors="coerce").to_numpy()}))
    if not frames:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return wall_clock(pd.concat(frames, ignore_index=True))


def eta_seconds(run: Any) -> float | None:
    """Seconds until a running run's budget is measured, at the pace of its current session (None when it
    is not running or has measured nothing yet this session)."""
    if not getattr(run, "running", False):
        return None
    h = run.history()
    mine = h[(h["session"] == run.state.session) & h["seconds"].notna()]
    if not len(mine) or run.remaining <= 0:
        return None
    elapsed = run.timings()["total"]
    return float(run.remaining * elapsed / len(mine)) if elapsed > 0 else None


TABLE_COLUMNS = ["cost model", "status", "trials", "ok", "build errors", "run errors", "best ms", "GFLOP/s",
                 "search s", "build s", "run s", "ETA"]


def tuning_table(runs: dict[str, Any]) -> Any:
    """One row per run (label -> :class:`workbench.tuning.TuningRun`, one task each): its status, trials,
    successes and failures, best latency (ms) and GFLOP/s, and its seconds in search, build and run over all its
    sessions (a run opened again shows what it cost; a live one counts up, never down), and while it runs an
    ETA at the pace of its session (:func:`eta_seconds`)."""
    import pandas as pd

    rows = []
    for label, run in runs.items():
        p = run.progress().reset_index().iloc[0].to_dict()
        t = run.timings(sessions="all")
        rows.append({"cost model": label, "status": run.status, "trials": p["trials"], "ok": p["ok"],
                     "build errors": p["build_errors"], "run errors": p["run_errors"], "best ms": p["best_ms"],
                     "GFLOP/s": p["best_gflops"], "search s": t["search"], "build s": t["build"], "run s": t["run"],
                     "ETA": format_seconds(eta_seconds(run))})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def format_seconds(seconds: float | None) -> str:
    """``95`` -> ``1 min 35 s``; None -> empty."""
    if seconds is None or seconds != seconds:
        return ""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


X_AXES = {"trials": ("trial", "trials"), "wall clock": ("wall_s", "tuning wall clock (s, sessions end to end)")}


def tuning_figure(curves: Any, *, title: str = "best latency vs trials", earlier: Any = None, x: str = "trials",
                  log_y: bool = True) -> Any:
    """Step lines of the best latency so far, every measured trial as a faint point of the same colour, failed
    candidates marked with an x at the bottom; ``earlier`` runs (curves, e.g. :func:`curves_from_work_dirs`)
    as dotted best-so-far lines to compare with. ``x``: "trials" or "wall clock" (``wall_s``, see
    :func:`wall_clock`; measurements without a time are left out); ``log_y``: a log latency axis."""
    import numpy as np
    import plotly.graph_objects as go

    if x not in X_AXES:
        raise ValueError(f"x must be one of {list(X_AXES)}, not {x!r}")
    column, x_title = X_AXES[x]

    def xs(g: Any) -> Any:
        return g["trial"] + 1 if column == "trial" else g[column]

    if column != "trial":
        curves = curves[curves[column].notna()] if column in curves else curves.iloc[:0]
        if earlier is not None:
            earlier = earlier[earlier[column].notna()] if column in earlier else earlier.iloc[:0]
    fig = go.Figure()
    palette = {"world": "#d62728", "world_verify": "#9467bd", "world_diverse": "#ff7f0e", "xgb": "#1f77b4",
               "random": "#7f7f7f"}
    for (run, task), g in curves.groupby(["run", "task"], sort=True):
        g = g.sort_values("trial")
        best = g["best_ms"].replace([np.inf], np.nan)
        name = f"{run}" if curves["task"].nunique() == 1 else f"{run}: {task}"
        colour = palette.get(str(run).split(" ")[0])
        fig.add_trace(go.Scatter(x=xs(g), y=best, mode="lines", line={"shape": "hv", "color": colour},
                                 name=name, legendgroup=name))
        ok = g[(g["status"] == "ok") & np.isfinite(g["latency_ms"].astype(float))]
        fig.add_trace(go.Scatter(x=xs(ok), y=ok["latency_ms"], mode="markers", name=f"{name} trials",
                                 legendgroup=name, showlegend=False, opacity=0.35,
                                 marker={"size": 5, "color": colour}, customdata=ok["trial"] + 1,
                                 hovertemplate="trial %{customdata}: %{y:.4f} ms<extra>" + name + "</extra>"))
        failed = g[g["status"] != "ok"]
        if len(failed):
            fig.add_trace(go.Scatter(x=xs(failed), y=[best.min()] * len(failed), mode="markers",
                                     marker={"symbol": "x", "color": "black", "size": 7}, name=f"{name} failures"))
    if earlier is not None:
        for (run, task), g in earlier.groupby(["run", "task"], sort=True):
            g = g.sort_values("trial")
            name = f"{run} (earlier)" if earlier["task"].nunique() == 1 else f"{run}: {task} (earlier)"
            fig.add_trace(go.Scatter(x=xs(g), y=g["best_ms"].replace([np.inf], np.nan), mode="lines",
                                     line={"shape": "hv", "dash": "dot", "width": 1.5}, name=name))
    fig.update_layout(title=title, height=380, xaxis_title=x_title, yaxis_title="best latency so far (ms)",
                      yaxis_type="log" if log_y else "linear", yaxis_tickformat=LOG_TICKS if log_y else None,
                      margin={"t": 50, "l": 60, "r": 10, "b": 40})
    return fig


def rounds_info(rounds: Any) -> Any:
    """One row per candidate of each measured batch of a world-model run (``TuningRun.rounds()``): batch, task,
    measured latency (ms), the blended score the search ranked it by, the prior's and the online model's
    scores, and the batch's prospective pairwise accuracy of each (before the batch trained anything; the
    verifier's too in a ``world_online`` run, once its online model exists)."""
    import pandas as pd

    rows = []
    for r in rounds.itertuples(index=False):
        online = r.online if isinstance(r.online, list) else [None] * len(r.latency)
        for lat, blended, prior, own in zip(r.latency, r.blended, r.prior, online, strict=True):
            rows.append({"batch": r.batch, "task": r.task, "latency_ms": lat * 1e3, "blended": blended,
                         "prior": prior, "online": own, "prior_pairwise": r.prior_pairwise,
                         "online_pairwise": r.online_pairwise, "blended_pairwise": r.blended_pairwise,
                         "verifier_pairwise": getattr(r, "verifier_pairwise", None)})
    columns = ["batch", "task", "latency_ms", "blended", "prior", "online", "prior_pairwise", "online_pairwise",
               "blended_pairwise", "verifier_pairwise"]
    return pd.DataFrame(rows, columns=columns)


def rounds_figure(info: Any, *, title: str = "predicted vs measured, per batch") -> Any:
    """Left: each measured candidate's blended score against its latency, coloured by batch (a good model puts
    the fast ones high). Right: each model's prospective pairwise accuracy per batch (0.5 = a coin)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4],
                        subplot_titles=("score the search ranked by vs measured", "accuracy before training"))
    if len(info):
        fig.add_trace(go.Scatter(x=info["latency_ms"], y=info["blended"], mode="markers", name="candidates",
                                 marker={"color": info["batch"], "colorscale": "Viridis", "size": 7,
                                         "colorbar": {"title": "batch", "x": 0.55}},
                                 text=[f"batch {b}" for b in info["batch"]]), row=1, col=1)
        per = info.drop_duplicates("batch").sort_values("batch")
        for col, color in (("prior_pairwise", "#1f77b4"), ("online_pairwise", "#2ca02c"),
                           ("blended_pairwise", "#d62728"), ("verifier_pairwise", "#9467bd")):
            if col == "verifier_pairwise" and per[col].isna().all():
                continue  # judged only in world_online runs
            fig.add_trace(go.Scatter(x=per["batch"], y=per[col], mode="lines+markers", name=col.split("_")[0],
                                     line={"color": color}), row=1, col=2)
    fig.add_hline(y=0.5, line={"dash": "dot", "color": "grey"}, row=1, col=2)
    fig.update_xaxes(title_text="measured latency (ms)", type="log", tickformat=LOG_TICKS, row=1, col=1)
    fig.update_yaxes(title_text="blended score", row=1, col=1)
    fig.update_xaxes(title_text="batch", row=1, col=2)
    fig.update_yaxes(title_text="pairwise accuracy", range=[0, 1], row=1, col=2)
    fig.update_layout(title=title, height=380, margin={"t": 60, "l": 60, "r": 10, "b": 40})
    return fig


def plan_table(rounds: Any) -> Any:
    """One row per batch of a planned run (``strategy="plan"``, ``"beam"`` or ``"transfer"``): decision vectors
    scored, built, rejected, the search's seconds for it; with a beam the prefixes the value head scored and the
    vectors the beam handed the round; with ``"transfer"`` the warm starts built for the batch (empty for other
    runs)."""
    import pandas as pd

    rows = [{"batch": b, "scored": p.get("scored"), "built": p.get("built"), "rejected": p.get("rejected"),
             "search s": p.get("search_seconds"), "prefixes": p.get("prefixes"), "beamed": p.get("beamed"),
             "warm": p.get("warm")}
            for b, p in zip(rounds["batch"], rounds["plan"], strict=True) if isinstance(p, dict)]
    cols = ["batch", "scored", "built", "rejected", "search s"]
    if any(r["prefixes"] is not None for r in rows):
        cols += ["prefixes", "beamed"]
    if any(r["warm"] is not None for r in rows):
        cols += ["warm"]
    return pd.DataFrame(rows, columns=cols)
