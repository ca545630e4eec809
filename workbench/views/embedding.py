"""The embedding projector: many candidates of one subgraph, by their predicted final latent, in 2D."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.views.projection import project


def trace_summary(actions: list[Any]) -> str:
    """A short description of a candidate's design decisions: tile sizes, unroll, compute locations."""
    parts = []
    for a in actions:
        if a.phase != "schedule" or a.decision is None:
            continue
        if a.kind == "SamplePerfectTile":
            parts.append("x".join(str(f) for f in a.decision))
        elif a.kind == "SampleCategorical":
            choices = a.attrs[0] if a.attrs else ()
            value = choices[a.decision] if isinstance(a.decision, int) and 0 <= a.decision < len(choices) else a.decision
            parts.append(f"cat={value}")
        elif a.kind == "SampleComputeLocation":
            parts.append(f"at={a.decision}")
    return " ".join(parts)


def embedding_info(evaluator: Any, source: Any, *, method: str = "pca") -> Any:
    """One row per candidate: x, y, score, measured latency (ms, NaN if unmeasured), status, summary.

    ``source``: Candidates, or a ``load_logs`` DataFrame (its rows keep their index in column ``row``).
    """
    import pandas as pd

    items = evaluator.as_items(source)
    if not items:
        return pd.DataFrame(columns=["row", "x", "y", "score", "latency_ms", "status", "summary"])
    z = evaluator.final_latents(items)
    x = evaluator.feature_matrix(items, latents=z)
    scores = evaluator.ranker.predict(x)
    proj = project(z, method=method)
    if hasattr(source, "itertuples"):
        rows = source.index.to_list()
        latency = source["latency"].to_numpy(dtype=np.float64) * 1e3
        status = source["status"].astype(str).to_list()
    else:
        rows = list(range(len(items)))
        latency = np.full(len(items), np.nan)
        status = ["unmeasured"] * len(items)
    out = pd.DataFrame({"row": rows, "x": proj.coords[:, 0], "y": proj.coords[:, 1], "score": scores,
                        "latency_ms": latency, "status": status,
                        "summary": [trace_summary(it.actions) for it in items]})
    out.attrs["projection"] = proj.describe()
    return out


def embedding_figure(info: Any, *, color_by: str = "latency", selected: int | None = None,
                     title: str = "") -> Any:
    """Scatter of the candidates; colour by measured latency (log scale) or by ranker score."""
    import plotly.graph_objects as go

    if color_by not in ("latency", "score"):
        raise ValueError("color_by must be 'latency' or 'score'")
    fig = go.Figure()
    if color_by == "latency" and len(info) and info["latency_ms"].notna().any():
        colour, cbar, scale = np.log10(info["latency_ms"]), "log10 latency (ms)", "Viridis_r"
    else:
        colour, cbar, scale = info["score"], "ranker score", "Viridis"
    custom = np.stack([info["row"], info["latency_ms"].fillna(-1), info["score"]], axis=1) if len(info) else None
    fig.add_trace(go.Scatter(
        x=info["x"], y=info["y"], mode="markers", name="candidates", customdata=custom, text=info["summary"],
        marker={"size": 8, "color": colour, "colorscale": scale, "showscale": True,
                "colorbar": {"title": {"text": cbar}}, "line": {"width": 0.5, "color": "white"}},
        hovertemplate="row %{customdata[0]}<br>latency %{customdata[1]:.4f} ms<br>score %{customdata[2]:.3f}"
                      "<br>%{text}<extra></extra>"))
    if selected is not None and len(info):
        s = info[info["row"] == selected]
        fig.add_trace(go.Scatter(x=s["x"], y=s["y"], mode="markers", name="selected", hoverinfo="skip",
                                 marker={"size": 18, "color": "rgba(0,0,0,0)",
                                         "line": {"width": 3, "color": "red"}}))
    proj = info.attrs.get("projection", "")
    fig.update_layout(title=title or f"predicted final latents ({proj}), coloured by {cbar}", height=480,
                      margin={"t": 50, "l": 40, "r": 10, "b": 40}, showlegend=False,
                      xaxis_title="component 1", yaxis_title="component 2", clickmode="event+select")
    return fig
