"""The embedding projector: many candidates of one subgraph, by their predicted final latent, in 2-D or 3-D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.views.decisions import named_decisions
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


def embedding_info(evaluator: Any, source: Any, *, method: str = "pca", edited: Sequence[Any] = (),
                   return_latents: bool = False, dims: int = 2) -> Any:
    """One row per candidate: x, y (and z when ``dims`` is 3), score, measured latency (ms, NaN if unmeasured),
    status, summary, edited, sketch (:func:`sketch_labels`), "world vs measured" (:func:`with_disagreements`),
    then one column per named
    decision (:func:`workbench.views.decisions.named_decisions`).

    ``source``: Candidates, or a ``load_logs`` DataFrame (its rows keep their index in column ``row``).
    ``edited``: candidates made by edits, appended after the source's rows (rows -1, -2, ..., status "edited")
    and placed by the projection fitted on the source alone, so the source's points do not move.
    ``return_latents``: return (the table, the predicted final latents (n, d) in its row order).
    """
    import pandas as pd

    items = evaluator.as_items(source)
    columns = ["row", "x", "y", *(["z"] if dims == 3 else []), "score", "latency_ms", "status", "summary", "edited"]
    if not items:
        empty = pd.DataFrame(columns=columns)
        return (empty, np.zeros((0, 0))) if return_latents else empty
    extra = evaluator.as_items(list(edited)) if len(edited) else []
    z = evaluator.final_latents(items + extra)
    scores = evaluator.ranker.predict(evaluator.feature_matrix(items + extra, latents=z))
    if extra and method == "tsne":  # t-SNE places no new points: fit on all (the source's move a little)
        proj = project(z, method=method, dims=dims)
        coords = proj.coords
    else:
        proj = project(z[:len(items)], method=method, dims=dims)
        coords = np.concatenate([proj.coords, proj.apply(z[len(items):])]) if extra else proj.coords
    if hasattr(source, "itertuples"):
        rows = source.index.to_list()
        latency = source["latency"].to_numpy(dtype=np.float64) * 1e3
        status = source["status"].astype(str).to_list()
    else:
        rows = list(range(len(items)))
        latency = np.full(len(items), np.nan)
        status = ["unmeasured"] * len(items)
    k = len(extra)
    out = pd.DataFrame({"row": rows + [-1 - i for i in range(k)], "x": coords[:, 0], "y": coords[:, 1],
                        **({"z": coords[:, 2]} if dims == 3 else {}), "score": scores, "latency_ms": np.concatenate([latency, np.full(k, np.nan)]),
                        "status": status + ["edited"] * k,
                        "summary": [trace_summary(it.actions) for it in items + extra],
                        "edited": [False] * len(items) + [True] * k}, columns=columns)
    out["sketch"] = sketch_labels(items + extra)
    out = with_disagreements(out)
    decisions = pd.DataFrame([named_decisions(it.actions) for it in items + extra])
    out = pd.concat([out, decisions.drop(columns=[c for c in decisions.columns if c in out])], axis=1)
    out.attrs["projection"] = proj.describe()
    return (out, np.asarray(z)) if return_latents else out


def sketch_labels(items: Sequence[Any]) -> list[str]:
    """Which design-space sketch each item is a candidate of: "sketch <i>" where the candidate knows it (sampled
    from its design space), else its structure (the kinds of its design actions), lettered in order of first
    appearance ("structure A", "structure B", ...)."""
    known = [getattr(it.extra.get("candidate"), "sketch", None) if hasattr(it, "extra") else None for it in items]
    if items and all(k is not None for k in known):
        return [f"sketch {k}" for k in known]
    letters: dict[tuple, str] = {}
    out = []
    for it in items:
        key = tuple(a.kind for a in it.actions if a.phase == "schedule")
        if key not in letters:
            n = len(letters)
            letters[key] = chr(ord("A") + n) if n < 26 else str(n)
        out.append(f"structure {letters[key]}")
    return out


def with_disagreements(info: Any, other: Any = None, *, name: str = "xgb") -> Any:
    """``info`` plus where the cost models and the measurements disagree, as rank gaps in [-1, 1]:

    - "world vs measured": its measured place minus the world model's place for it (places as fractions of the
      measured candidates, 1/n = first); > 0 the world model ranks it above where it runs (overrated), < 0 below;
    - given ``other`` (another cost model's scores, higher = predicted faster, a Series indexed by ``row``, e.g.
      MetaSchedule's XGBModel from the ranking debugger): "<name> score" and "world vs <name>", the other
      model's place minus the world model's among the candidates both scored (> 0: the world model ranks it
      higher).

    Edited candidates and unmeasured ones get NaN where a measurement is needed."""
    out = info.copy()
    base = ~out["edited"].astype(bool) if "edited" in out else out["row"].notna()
    measured = base & out["latency_ms"].notna()
    out["world vs measured"] = np.nan
    if measured.sum() > 1:
        m = out[measured]
        out.loc[measured, "world vs measured"] = (m["latency_ms"].rank(pct=True) - (-m["score"]).rank(pct=True))
    for col in (f"{name} score", f"world vs {name}"):
        out.pop(col) if col in out else None
    if other is not None:
        at = base & out["row"].isin(other.index)
        out[f"{name} score"] = np.nan
        out.loc[at, f"{name} score"] = other.reindex(out.loc[at, "row"]).to_numpy(dtype=np.float64)
        out[f"world vs {name}"] = np.nan
        if at.sum() > 1:
            s = out[at]
            out.loc[at, f"world vs {name}"] = (-s[f"{name} score"]).rank(pct=True) - (-s["score"]).rank(pct=True)
    return out


def nearest_rows(info: Any, latents: Any, row: int, *, k: int = 6) -> Any:
    """The ``k`` candidates nearest to ``row`` in the latent space itself (not the 2D projection), nearest
    first, with their distance: what the world model thinks runs most alike."""
    base = ~info["edited"].astype(bool).to_numpy() if "edited" in info else np.ones(len(info), dtype=bool)
    at = np.flatnonzero((info["row"].to_numpy() == row) & base)
    if not len(at):
        return info.iloc[:0].assign(distance=[])
    z = np.asarray(latents, dtype=np.float64)
    dist = np.linalg.norm(z - z[at[0]], axis=1)
    order = [i for i in np.argsort(dist, kind="stable") if base[i] and i != at[0]][:k]
    return info.iloc[order].assign(distance=dist[order])


def _natural(text: str) -> tuple:
    """Sort key: numbers by value ("2" before "16"), then text."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def selection_ring(info: Any, selected: int | None) -> Any:
    """A red ring around the ``selected`` row of an :func:`embedding_info` (no point when none is); in 3-D
    (a ``z`` column) a red hollow marker in the scene."""
    import plotly.graph_objects as go

    s = info[info["row"] == selected] if selected is not None and len(info) else info.iloc[:0]
    if "z" in info:
        return go.Scatter3d(x=s["x"], y=s["y"], z=s["z"], mode="markers", name="selected", hoverinfo="skip",
                            marker={"size": 9, "color": "rgba(255,0,0,0.25)", "symbol": "circle-open",
                                    "line": {"width": 4, "color": "red"}})
    return go.Scatter(x=s["x"], y=s["y"], mode="markers", name="selected", hoverinfo="skip",
                      marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"width": 3, "color": "red"}})


def embedding_figure(info: Any, *, color_by: str = "latency", selected: int | None = None,
                     title: str = "", mask: Any = None) -> Any:
    """Scatter of the candidates, coloured by measured latency (log scale), ranker score, status or any named
    decision (:func:`color_options`); the ``selected`` row ringed; rows outside ``mask`` (a filter) faded;
    candidates made by edits (``embedding_info(edited=...)``) as orange diamonds."""
    import plotly.graph_objects as go

    if color_by not in color_options(info):
        raise ValueError(f"color_by must be one of {color_options(info)}, not {color_by!r}")
    fig = go.Figure()
    edited = info[info["edited"].astype(bool)] if "edited" in info else info.iloc[:0]
    base = ~info["edited"].astype(bool).to_numpy() if "edited" in info else np.ones(len(info), dtype=bool)
    info = info[base]
    mask = np.ones(len(info), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)[base]
    marker: dict[str, Any] = {"size": 8, "showscale": True, "line": {"width": 0.5, "color": "white"},
                              "opacity": np.where(mask, 1.0, 0.12) if not mask.all() else 1.0}
    if color_by == "latency" and len(info) and info["latency_ms"].notna().any():
        marker.update(color=np.log10(info["latency_ms"]), colorscale="Viridis_r")
        cbar = "log10 latency (ms)"
        marker["colorbar"] = {"title": {"text": cbar}}
    elif color_by in ("latency", "score"):
        cbar = "ranker score"
        marker.update(color=info["score"], colorscale="Viridis", colorbar={"title": {"text": cbar}})
    else:
        cbar = color_by
        column = info[color_by]
        numeric = column.dtype.kind in "fi" and column.nunique() > 8
        if color_by.startswith("world vs "):  # a rank gap: 0 is agreement, red the world model overrates
            marker.update(color=column.fillna(0.0), colorscale="RdBu_r", cmid=0.0,
                          colorbar={"title": {"text": cbar}})
        elif numeric:
            marker.update(color=column, colorscale="Cividis", colorbar={"title": {"text": cbar}})
        else:
            cats = sorted(column.fillna("none").astype(str).unique(), key=_natural)
            codes = column.fillna("none").astype(str).map({c: i for i, c in enumerate(cats)})
            marker.update(color=codes, colorscale="Turbo", cmin=-0.5, cmax=len(cats) - 0.5,
                          colorbar={"title": {"text": cbar}, "tickvals": list(range(len(cats))), "ticktext": cats})
    three = "z" in info
    scatter = go.Scatter3d if three else go.Scatter
    xyz = (lambda d: {"x": d["x"], "y": d["y"], "z": d["z"]}) if three else (lambda d: {"x": d["x"], "y": d["y"]})
    if three:  # WebGL markers: smaller, no outline, and no per-point opacity: filtered-out points shrink
        faded = not mask.all()
        marker.update(size=np.where(mask, 4.0, 1.5) if faded else 4, line={"width": 0}, opacity=1.0)
    custom = np.stack([info["row"], info["latency_ms"].fillna(-1), info["score"]], axis=1) if len(info) else None
    fig.add_trace(scatter(
        **xyz(info), mode="markers", name="candidates", customdata=custom, text=info["summary"], marker=marker,
        hovertemplate="latency %{customdata[1]:.4f} ms<br>score %{customdata[2]:.3f}<br>%{text}<extra></extra>"))
    if selected is not None and len(info):
        fig.add_trace(selection_ring(info, selected))
    if len(edited):
        fig.add_trace(scatter(**xyz(edited), mode="markers+text", name="edited",
                              text=["edited"] * len(edited), textposition="top center",
                              customdata=edited["score"], hovertemplate="edited candidate<br>score "
                              "%{customdata:.3f}<extra></extra>",
                              marker={"size": 7 if three else 13, "symbol": "diamond", "color": "orange",
                                      "line": {"width": 1.5, "color": "black"}}))
    proj = info.attrs.get("projection", "")
    fig.update_layout(title=title or f"predicted final latents ({proj}), coloured by {cbar}", height=480,
                      margin={"t": 50, "l": 40, "r": 10, "b": 40}, showlegend=False, clickmode="event+select")
    if three:
        fig.update_layout(scene={"xaxis_title": "component 1", "yaxis_title": "component 2",
                                 "zaxis_title": "component 3"}, height=560)
    else:
        fig.update_layout(xaxis_title="component 1", yaxis_title="component 2")
    return fig


def filter_rows(info: Any, text: str) -> Any:
    """Which rows of an :func:`embedding_info` a filter keeps (a boolean array): a pandas query over its columns
    (``latency_ms < 0.05 and `unroll_explicit` == 64``; backquote names with spaces or dots), or else a piece of
    text to find in the decisions' summary. A query that names no column or does not parse raises ValueError
    with pandas' reason (text without an operator is always a search)."""
    text = (text or "").strip()
    if not text:
        return np.ones(len(info), dtype=bool)
    if not any(op in text for op in ("<", ">", "=", "!", "~", " in ", " and ", " or ", " not ")):
        return info["summary"].str.contains(text, case=False, regex=False).to_numpy(dtype=bool)
    try:
        kept = info.query(text, engine="python")
    except Exception as err:  # noqa: BLE001 - pandas raises many types for a bad query
        raise ValueError(f"filter {text!r}: {type(err).__name__}: {err}") from err
    return info.index.isin(kept.index)


def color_options(info: Any) -> list[str]:
    """What an :func:`embedding_figure` can colour by: latency, score, status, sketch, where the cost models and the
    measurements disagree (:func:`with_disagreements`), another model's score, and every named decision."""
    base = ["latency", "score", "status", "sketch"]
    skip = {"row", "x", "y", "z", "score", "latency_ms", "status", "summary", "edited", "sketch"}
    rest = [c for c in info.columns if c not in skip and not (c.startswith("world vs ") and info[c].isna().all())]
    first = [c for c in rest if c.startswith("world vs ") or c.endswith(" score")]
    return base + first + [c for c in rest if c not in first]
