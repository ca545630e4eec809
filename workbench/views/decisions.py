"""Candidates as named decisions, in the style of Optuna's views: a table with one column per decision, parallel
coordinates of decisions against latency and score, and how much of the latency each decision explains.

A decision is named by what it decides: ``conv2d_nhwc.loop3 tile1`` (the second tile factor of the fourth loop
around block ``conv2d_nhwc``; ``C.loop1+C.loop2`` for loops fused first), ``unroll_explicit`` (the value of the
sampled unroll annotation), ``PadInput at`` (the compute location of block ``PadInput``: -2 inlined, -1 at the
root, else the index of the loop). Blocks a sketch makes or finds are named after their source block
(``T_softmax_expsum.producer``, ``C.rf``), so the same decision of two sketches shares a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

GET_BLOCK = ("GetSBlock", "GetBlock")
# instructions whose outputs are blocks made from (or found from) their first input: named after it
DERIVED_BLOCKS = {"RFactor": "rf", "CacheRead": "cache_read", "CacheWrite": "cache_write", "ReIndex": "reindex",
                  "Blockize": "blockized", "GetProducers": "producer", "GetConsumers": "consumer",
                  "GetChildBlocks": "child"}


def named_decisions(actions: Sequence[Any]) -> dict[str, float]:
    """The sampled decisions of one candidate's design-space actions, by name (see the module docstring)."""
    return _read(actions)[0]


def decision_names(actions: Sequence[Any]) -> dict[int, str]:
    """The name of each sampling action's decision, by action index (``conv2d_nhwc.loop3 tiles``,
    ``unroll_explicit``, ``PadInput at``)."""
    return _read(actions)[1]


def _read(actions: Sequence[Any]) -> tuple[dict[str, float], dict[int, str]]:
    blocks: dict[str, str] = {}  # block random variable -> block name
    loops: dict[str, str] = {}  # loop random variable -> "block.loopK"
    pending: dict[str, tuple[int, str, float]] = {}  # sampled categorical variable -> (action, fallback, value)
    out: dict[str, float] = {}
    names: dict[int, str] = {}
    derived: list[str] = []  # names given to derived blocks so far (a second one gets "#2")
    for a in actions:
        if a.phase != "schedule":
            continue
        if a.kind in GET_BLOCK and a.attrs and a.outputs:
            blocks[a.outputs[0]] = str(a.attrs[0])
        elif a.kind in DERIVED_BLOCKS and a.outputs and a.inputs and isinstance(a.inputs[0], str):
            src = blocks.get(a.inputs[0]) or loops.get(a.inputs[0], a.inputs[0]).split(".loop")[0]
            many = len(a.outputs) > 1
            for k, rv in enumerate(a.outputs):
                name = f"{src}.{DERIVED_BLOCKS[a.kind]}{k if many else ''}"
                blocks[rv] = name if name not in derived else f"{name}#{derived.count(name) + 1}"
                derived.append(name)
        elif a.kind == "Fuse" and a.outputs:
            loops[a.outputs[0]] = "+".join(loops.get(x, str(x)) for x in a.inputs if isinstance(x, str))
        elif a.kind == "GetLoops" and a.inputs and a.inputs[0] in blocks:
            for k, rv in enumerate(a.outputs):
                loops[rv] = f"{blocks[a.inputs[0]]}.loop{k}"
        elif a.kind == "SamplePerfectTile" and isinstance(a.decision, list | tuple):
            name = loops.get(a.inputs[0], str(a.inputs[0])) if a.inputs else "tile"
            names[a.index] = f"{name} tiles"
            for level, factor in enumerate(a.decision):
                out[f"{name} tile{level}"] = float(factor)
        elif a.kind == "SampleCategorical" and a.decision is not None and a.outputs:
            choices = a.attrs[0] if a.attrs else ()
            i = a.decision
            value = choices[i] if isinstance(i, int) and 0 <= i < len(choices) else i
            pending[a.outputs[0]] = (a.index, f"{a.outputs[0]} choice", float(value))
        elif a.kind == "Annotate" and len(a.inputs) > 1 and a.inputs[1] in pending and a.attrs:
            index, _, value = pending.pop(a.inputs[1])
            names[index] = str(a.attrs[0]).removeprefix("meta_schedule.")
            out[names[index]] = value
        elif a.kind == "SampleComputeLocation" and a.decision is not None and a.inputs:
            names[a.index] = f"{blocks.get(a.inputs[0], a.inputs[0])} at"
            out[names[a.index]] = float(a.decision)
    for index, name, value in pending.values():  # a categorical no annotation names
        names[index] = name
        out[name] = value
    return out, names


def decision_table(source: Any) -> Any:
    """One row per candidate (Candidates, Items, or the ``actions`` column of a ``load_logs`` DataFrame, whose
    index the rows keep), one column per named decision (NaN where a candidate's sketch has no such decision)."""
    import pandas as pd

    if hasattr(source, "columns"):
        if "actions" not in source.columns:
            raise ValueError("the records have no actions: load them with load_logs(..., with_actions=True)")
        return pd.DataFrame([named_decisions(a) for a in source["actions"]], index=source.index)
    return pd.DataFrame([named_decisions(c.actions) for c in source])


def decision_importances(decisions: Any, latency: Any) -> Any:
    """How much of the variance of log latency each named decision explains on its own (eta squared: the
    variance of the per-value means over the total variance), highest first. Rows without a latency are left
    out; so is a decision with a single value. A Series (name -> share in [0, 1])."""
    import pandas as pd

    y = np.log(np.asarray(latency, dtype=np.float64))
    keep = np.isfinite(y)
    df, y = decisions[keep], y[keep]
    total = float(((y - y.mean()) ** 2).sum()) if len(y) else 0.0
    out = {}
    for col in df.columns:
        x = df[col]
        has = x.notna().to_numpy()
        if x[has].nunique() < 2 or total <= 0:
            continue
        yy = pd.Series(y[has], index=x.index[has])
        groups = yy.groupby(x[has])
        # rows whose sketch lacks the decision count as unexplained
        out[col] = float((groups.size() * (groups.mean() - y.mean()) ** 2).sum()) / total
    return pd.Series(out, dtype=float).sort_values(ascending=False)


def importances_figure(importances: Any, *, top: int = 15, title: str = "") -> Any:
    """Horizontal bars of :func:`decision_importances` (the ``top`` largest)."""
    import plotly.graph_objects as go

    s = importances.head(top)[::-1]
    fig = go.Figure(go.Bar(x=s.to_numpy(), y=list(s.index), orientation="h",
                           hovertemplate="%{y}: %{x:.2f} of the variance<extra></extra>"))
    fig.update_layout(title=title or "share of log-latency variance each decision explains on its own",
                      height=max(260, 28 * len(s) + 120), margin={"t": 60, "l": 10, "r": 10, "b": 40},
                      xaxis={"title": "eta squared", "range": [0, 1]}, yaxis={"automargin": True})
    return fig


def parallel_coordinates(decisions: Any, *, latency_ms: Any = None, score: Any = None, columns: Sequence[str] = (),
                         max_columns: int = 12, title: str = "") -> Any:
    """Parallel coordinates of named decisions (tile factors on a log2 axis), then the predicted score and the
    measured latency (log10 ms), coloured by latency where measured, else by score. ``columns``: the decisions to
    show (default: those that vary most, at most ``max_columns``)."""
    import plotly.graph_objects as go

    varying = [c for c in decisions.columns if decisions[c].nunique(dropna=True) > 1]
    cols = list(columns) or sorted(varying, key=lambda c: -decisions[c].nunique())[:max_columns]
    dims = []
    for c in cols:
        v = decisions[c].to_numpy(dtype=np.float64)
        tile = " tile" in c
        values = np.log2(np.where(v > 0, v, np.nan)) if tile else v
        dims.append({"label": f"{c} (log2)" if tile else c, "values": np.nan_to_num(values, nan=-1.0)})
    line: dict[str, Any] = {}
    if score is not None:
        dims.append({"label": "score", "values": np.asarray(score, dtype=np.float64)})
        line = {"color": dims[-1]["values"], "colorscale": "Viridis", "showscale": True}
    if latency_ms is not None:
        lat = np.log10(np.asarray(latency_ms, dtype=np.float64))
        if np.isfinite(lat).any():
            dims.append({"label": "latency (log10 ms)", "values": np.nan_to_num(lat, nan=float(np.nanmax(lat)))})
            line = {"color": dims[-1]["values"], "colorscale": "Viridis_r", "showscale": True}
    fig = go.Figure(go.Parcoords(line=line, dimensions=dims))
    fig.update_layout(title=title or "named decisions against latency and score", height=460,
                      margin={"t": 90, "l": 60, "r": 60, "b": 30})
    return fig



def legal_values(action: Any, *, limit: int = 48, seed: int = 0) -> list[Any]:
    """Values one decision can take, its own first: every perfect tiling of the loop's extent into as many
    factors (innermost within the sketch's limit), every categorical choice, or the compute locations -2
    (inline), -1 (root) and 0..15 (TVM refuses those that do not exist here). At most ``limit``, drawn evenly
    at random beyond that (the draw is fixed by ``seed``)."""
    import math
    import random

    current = action.decision
    if action.kind == "SamplePerfectTile":
        n, extent = len(current), math.prod(current)
        cap = action.attrs[1] if len(action.attrs) > 1 and isinstance(action.attrs[1], int) else 0
        values = [v for v in _tilings(extent, n) if cap <= 0 or v[-1] <= cap]
    elif action.kind == "SampleCategorical":
        values = list(range(len(action.attrs[0] if action.attrs else ())))
    elif action.kind == "SampleComputeLocation":
        values = list(range(-2, 16))
    else:
        raise ValueError(f"action #{action.index} ({action.kind}) has no decision to sweep")
    same = [v for v in values if v == current]
    others = [v for v in values if v != current]
    if len(others) > limit - 1:
        others = random.Random(seed).sample(others, limit - 1)
    return same + others if same else [current, *others][:limit]


def _tilings(extent: int, n: int) -> list[list[int]]:
    """Every ordered way of writing ``extent`` as a product of ``n`` positive factors."""
    if n == 1:
        return [[extent]]
    return [[d, *rest] for d in range(1, extent + 1) if extent % d == 0 for rest in _tilings(extent // d, n - 1)]


def decision_sweep(evaluator: Any, candidate: Any, index: int, *, values: Sequence[Any] | None = None,
                   limit: int = 48) -> Any:
    """Every legal value of ``candidate``'s decision at action ``index`` (or ``values``), each applied by replay
    and post-processing and scored by the world model at once: one row per value with its ``label``, ``score``,
    predicted ``rank`` (1 = predicted fastest), whether it is the candidate's own (``current``), and the
    ``candidate`` made (None and ``error`` saying why where TVM refused it)."""
    import pandas as pd

    from workbench.actions import InvalidEditError

    action = candidate.actions[index]
    values = list(values) if values is not None else legal_values(action, limit=limit)
    rows, made = [], []
    for v in values:
        label = _label(action, v)
        try:
            edited = candidate if v == action.decision else candidate.with_decision(index, v)
        except InvalidEditError as err:
            rows.append({"value": v, "label": label, "score": np.nan, "current": v == action.decision,
                         "candidate": None, "error": str(err)})
            continue
        rows.append({"value": v, "label": label, "score": np.nan, "current": v == action.decision,
                     "candidate": edited, "error": ""})
        made.append(len(rows) - 1)
    df = pd.DataFrame(rows, columns=["value", "label", "score", "current", "candidate", "error"])
    if made:
        df.loc[made, "score"] = evaluator.score([rows[i]["candidate"] for i in made])
    df["rank"] = df["score"].rank(ascending=False, method="min")
    df.attrs["action"] = f"#{action.index} {action.kind}"
    return df


def _label(action: Any, value: Any) -> str:
    if action.kind == "SamplePerfectTile":
        return "x".join(str(v) for v in value)
    if action.kind == "SampleCategorical":
        choices = action.attrs[0] if action.attrs else ()
        return f"{choices[value]}" if isinstance(value, int) and 0 <= value < len(choices) else str(value)
    return {-2: "inline", -1: "root"}.get(value, f"loop {value}")


def sweep_figure(sweep: Any, measured: Any = None, *, title: str = "") -> Any:
    """The sweep's values by predicted score (bars, the candidate's own value outlined), and beside them the
    measured latency of those measured (``measured``: value label -> latency in ms), on a second axis. A measured
    value whose measured rank among the measured is not its predicted rank is marked: the model is wrong there."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ok = sweep[sweep["candidate"].notna()].sort_values("score", ascending=False)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=ok["label"], y=ok["score"], name="predicted score",
                         marker={"color": ["#ff7f0e" if c else "#1f77b4" for c in ok["current"]]},
                         hovertemplate="%{x}: score %{y:.3f}<extra></extra>"), secondary_y=False)
    measured = dict(measured or {})
    if measured:
        m = ok[ok["label"].isin(list(measured))].copy()
        m["latency_ms"] = [measured[lb] for lb in m["label"]]
        m["predicted"] = m["score"].rank(ascending=False, method="min")
        m["actual"] = m["latency_ms"].rank(method="min")
        wrong = m[m["predicted"] != m["actual"]]
        fig.add_trace(go.Scatter(x=m["label"], y=m["latency_ms"], mode="markers", name="measured latency",
                                 marker={"size": 11, "color": "black", "symbol": "diamond"},
                                 hovertemplate="%{x}: %{y:.4f} ms measured<extra></extra>"), secondary_y=True)
        if len(wrong):
            fig.add_trace(go.Scatter(x=wrong["label"], y=wrong["latency_ms"], mode="markers",
                                     name="ranked wrong", marker={"size": 20, "color": "rgba(0,0,0,0)",
                                                                  "line": {"width": 2.5, "color": "red"}},
                                     hovertemplate="%{x}: predicted rank differs from measured<extra></extra>"),
                          secondary_y=True)
        fig.update_yaxes(title_text="measured latency (ms)", secondary_y=True)
    fig.update_yaxes(title_text="predicted score (higher = faster)", secondary_y=False)
    what = sweep.attrs.get("action", "the decision")
    fig.update_layout(title=title or f"every value of {what}, scored by the world model", height=420,
                      margin={"t": 60, "l": 50, "r": 50, "b": 80}, legend={"orientation": "h", "y": -0.3},
                      xaxis={"type": "category", "title": "value (the candidate's own in orange)"})
    return fig
