"""Latent trajectories: predicted latent states along a candidate's actions vs the encoded real states, in 2D."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.views.projection import Projection, project


@dataclass
class TrajectoryInfo:
    """Points of every trajectory (one row per candidate and step) and the projection that placed them.

    ``points`` columns: candidate, label, step (0 = initial program), action_index, action, kind ("predicted" or
    "real"), x, y, value (the value head: higher = predicted faster), error (predicted vs real, standardized
    squared error per coordinate; NaN without real states).
    """

    points: Any
    projection: Projection

    @property
    def errors(self) -> Any:
        """Per candidate and step: the latent error of the rollout (mean squared, standardized units)."""
        pred = self.points[self.points["kind"] == "predicted"]
        return pred[["candidate", "label", "step", "action", "error"]].reset_index(drop=True)


POINT_COLUMNS = ["candidate", "label", "step", "action_index", "action", "kind", "value", "error", "x", "y"]


def trajectory_info(evaluator: Any, candidates: list[Any], *, real: bool = True, method: str = "pca",
                    labels: list[str] | None = None, frame: Projection | None = None) -> TrajectoryInfo:
    """Roll each candidate out in latent space and, with ``real``, encode the real program after every step.

    Real states cost a replay (a few ms) and an encoding per step; predicted ones cost only the rollout.
    ``frame``: a projection fitted earlier (``info.projection`` of other candidates of the same subgraph) that
    places these points too, so one candidate after another is drawn on the same axes (t-SNE cannot: refitted).
    """
    import pandas as pd

    from workbench.actions import sampled_values

    if not candidates:
        return TrajectoryInfo(points=pd.DataFrame(columns=POINT_COLUMNS), projection=project(np.zeros((0, 2))))
    trajs = evaluator.trajectories(evaluator.items_from_candidates(candidates))
    names = candidate_labels(labels, len(candidates))
    rows, vectors = [], []
    for i, (cand, traj) in enumerate(zip(candidates, trajs, strict=True)):
        values = sampled_values(cand.actions)
        steps = [(0, -1, "initial program", traj["initial"], traj["values"][0])]
        for k, (idx, z) in enumerate(zip(traj["action_index"], traj["latents"], strict=True)):
            steps.append((k + 1, idx, cand.actions[idx].describe(values).split(" ", 1)[1].strip(), z,
                          traj["values"][k + 1]))
        real_z = None
        if real:
            real_z = evaluator.encode_states([cand.state(0 if idx < 0 else idx + 1) for _, idx, _, _, _ in steps])
        for j, (step, idx, text, z, v) in enumerate(steps):
            err = float(np.mean((z - real_z[j]) ** 2)) if real_z is not None else float("nan")
            rows.append({"candidate": i, "label": names[i], "step": step, "action_index": idx, "action": text,
                         "kind": "predicted", "value": float(v), "error": err})
            vectors.append(z)
            if real_z is not None:
                rows.append({"candidate": i, "label": names[i], "step": step, "action_index": idx, "action": text,
                             "kind": "real", "value": float("nan"), "error": err})
                vectors.append(real_z[j])
    points = pd.DataFrame(rows)
    vectors = np.asarray(vectors, dtype=np.float32)
    if frame is not None and frame.fitted is not None and frame.method == method:
        proj, coords = frame, frame.apply(vectors)
    else:
        proj = project(vectors, method=method)
        coords = proj.coords
    points["x"], points["y"] = coords[:, 0], coords[:, 1]
    return TrajectoryInfo(points=points, projection=proj)


def grow_ranges(ranges: tuple[list[float], list[float]] | None, points: Any, *, pad: float = 0.08
                ) -> tuple[list[float], list[float]]:
    """Axis ranges ([x0, x1], [y0, y1]) that hold ``ranges`` and every point of ``points`` (x, y), padded: the
    axes of a trajectory view only ever widen while one subgraph's candidates are shown."""
    xs, ys = points["x"].to_numpy(dtype=np.float64), points["y"].to_numpy(dtype=np.float64)
    if not len(xs):
        return ranges or ([-1.0, 1.0], [-1.0, 1.0])
    out = []
    for values, have in ((xs, ranges[0] if ranges else None), (ys, ranges[1] if ranges else None)):
        lo, hi = float(values.min()), float(values.max())
        margin = pad * max(hi - lo, 1e-6)
        lo, hi = lo - margin, hi + margin
        out.append([min(lo, have[0]), max(hi, have[1])] if have else [lo, hi])
    return out[0], out[1]


def candidate_labels(labels: list[str] | None, n: int) -> list[str]:
    """``labels`` for ``n`` candidates, "candidate <i>" where one is missing."""
    given = list(labels or [])
    return [given[i] if i < len(given) else f"candidate {i}" for i in range(n)]


def relabel(info: TrajectoryInfo, labels: list[str] | None) -> TrajectoryInfo:
    """The same trajectories under other labels (nothing is rolled out again)."""
    points = info.points.copy()
    n = int(points["candidate"].max()) + 1 if len(points) else 0
    points["label"] = [candidate_labels(labels, n)[int(c)] for c in points["candidate"]]
    return TrajectoryInfo(points=points, projection=info.projection)


def step_at(info: TrajectoryInfo, *, candidate: int, position: int) -> int | None:
    """The trajectory step of ``candidate`` once ``position`` of its actions are applied (a stepper position):
    the number of program-changing actions among them; None when the candidate is not in ``info``."""
    pts = info.points
    steps = pts[(pts["candidate"] == candidate) & (pts["kind"] == "predicted")]
    if steps.empty:
        return None
    done = steps[steps["action_index"] < position]
    return int(done["step"].max()) if len(done) else 0


def trajectory_figure(info: TrajectoryInfo, *, highlight: tuple[int, int] | None = None,
                      ranges: tuple[list[float], list[float]] | None = None) -> Any:
    """Predicted (solid) and real (dotted) trajectories in 2D, and the per-step latent error beneath.

    ``highlight``: (candidate, step) drawn as a large marker (the stepper's current step). ``ranges``: fixed
    axis ranges of the trajectories ([x0, x1], [y0, y1], see :func:`grow_ranges`).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, row_heights=[0.7, 0.3], vertical_spacing=0.12,
                        subplot_titles=(f"latent trajectories ({info.projection.describe()})",
                                        "rollout error per step (predicted vs real, standardized MSE)"))
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
    pts = info.points
    for c, group in pts.groupby("candidate", sort=True):
        colour = palette[int(c) % len(palette)]
        label = group["label"].iloc[0]
        for kind, dash, symbol in (("predicted", "solid", "circle"), ("real", "dot", "diamond-open")):
            g = group[group["kind"] == kind].sort_values("step")
            if g.empty:
                continue
            fig.add_trace(go.Scatter(
                x=g["x"], y=g["y"], mode="lines+markers", name=f"{label} ({kind})", legendgroup=str(c),
                line={"color": colour, "dash": dash}, marker={"symbol": symbol, "size": 7},
                customdata=np.stack([g["step"], g["value"].fillna(0)], axis=1),
                text=g["action"], hovertemplate="step %{customdata[0]}: %{text}<br>value %{customdata[1]:.3f}"
                                                "<extra>" + f"{label} {kind}" + "</extra>"), row=1, col=1)
        e = group[group["kind"] == "predicted"].sort_values("step")
        if e["error"].notna().any():
            fig.add_trace(go.Scatter(x=e["step"], y=e["error"], mode="lines+markers", name=f"{label} error",
                                     legendgroup=str(c), showlegend=False, line={"color": colour}),
                          row=2, col=1)
    if highlight is not None:
        h = pts[(pts["candidate"] == highlight[0]) & (pts["step"] == highlight[1]) & (pts["kind"] == "predicted")]
        if not h.empty:
            fig.add_trace(go.Scatter(x=h["x"], y=h["y"], mode="markers", name="current step", showlegend=False,
                                     marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"width": 3,
                                                                                           "color": "black"}}),
                          row=1, col=1)
    fig.update_xaxes(title_text="component 1", row=1, col=1, range=ranges[0] if ranges else None)
    fig.update_yaxes(title_text="component 2", row=1, col=1, range=ranges[1] if ranges else None)
    fig.update_xaxes(title_text="program-changing actions applied", row=2, col=1)
    fig.update_layout(height=620, margin={"t": 40, "l": 50, "r": 10, "b": 40}, legend={"font": {"size": 10}})
    return fig
