"""What a set of logs holds: records per subgraph, family, machine and origin, how widely latencies spread, and
how much of the data sits near each subgraph's best (what a ranker for the search must learn from)."""

from __future__ import annotations

from typing import Any

import numpy as np

NEAR = (1.1, 1.5, 2.0)  # "near the best": within these factors of the subgraph's best on the same machine


def logs_summary(df: Any) -> Any:
    """One row per (subgraph, machine): op family, records, failures, sources, best and median latency (ms),
    p90/p10 spread, and the share of records within 1.1x, 1.5x and 2x of that subgraph's best on that machine."""
    import pandas as pd

    columns = ["subgraph", "machine", "op", "records", "failed", "sources", "best_ms", "median_ms", "p90/p10",
               *[f"within {f}x" for f in NEAR]]
    if df is None or not len(df):
        return pd.DataFrame(columns=columns)
    frame = df.assign(machine=df["hardware"].map(lambda h: (h or {}).get("id", "unknown") if isinstance(h, dict)
                                                 else str(h)),
                      source=df["source"] if "source" in df else "random")
    rows = []
    for (sub, machine), g in frame.groupby(["subgraph", "machine"], sort=True):
        lat = g.loc[g["status"] == "ok", "latency"].to_numpy(dtype=np.float64)
        best = lat.min() if len(lat) else np.nan
        row = {"subgraph": sub, "machine": machine, "op": g["op"].iloc[0], "records": len(g),
               "failed": int((g["status"] != "ok").sum()),
               "sources": ", ".join(f"{s} {n}" for s, n in g["source"].value_counts().sort_index().items()),
               "best_ms": best * 1e3, "median_ms": np.median(lat) * 1e3 if len(lat) else np.nan,
               "p90/p10": np.quantile(lat, 0.9) / np.quantile(lat, 0.1) if len(lat) > 1 else np.nan}
        for f in NEAR:
            row[f"within {f}x"] = float((lat <= f * best).mean()) if len(lat) else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def logs_by(summary: Any, key: str) -> Any:
    """Totals of a :func:`logs_summary` by ``key`` ("op" or "machine"): subgraphs, records, failures."""
    import pandas as pd

    if not len(summary):
        return pd.DataFrame(columns=[key, "subgraphs", "records", "failed"])
    return (summary.groupby(key).agg(subgraphs=("subgraph", "nunique"), records=("records", "sum"),
                                     failed=("failed", "sum")).reset_index())


def near_best_figure(summary: Any, *, title: str = "How much of the data sits near each subgraph's best") -> Any:
    """Per subgraph and machine, the share of records within 1.1x / 1.5x / 2x of the best (stacked bars)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    labels = [f"{s} @ {m}" for s, m in zip(summary["subgraph"], summary["machine"], strict=True)] if len(summary) \
        else []
    previous = np.zeros(len(summary))
    for f in NEAR:
        share = summary[f"within {f}x"].to_numpy(dtype=np.float64) if len(summary) else np.zeros(0)
        fig.add_trace(go.Bar(y=labels, x=share - previous, orientation="h", name=f"within {f}x of the best"))
        previous = share
    fig.update_layout(barmode="stack", title=title, height=max(300, 14 * len(summary) + 120),
                      xaxis_title="share of the subgraph's records", margin={"l": 320, "t": 50, "r": 10, "b": 40})
    return fig
