"""Latent trajectories: predicted and real points per step, labels, the stepper's step, the figure."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from workbench import views


def rolled_out(evaluator, cand) -> list[int]:
    """The indices of the actions the world model rolls out (its program-changing design actions)."""
    return [int(i) for i in evaluator.trajectories(evaluator.items_from_candidates([cand]))[0]["action_index"]]


def test_trajectory_info_rolls_out_and_encodes_the_real_programs(evaluator, tiny_candidates):
    cands = tiny_candidates[:2]
    info = views.trajectory_info(evaluator, cands, labels=["a"])
    pts = info.points
    assert set(pts["kind"]) == {"predicted", "real"} and set(pts["candidate"]) == {0, 1}
    assert list(pts.groupby("candidate")["label"].first()) == ["a", "candidate 1"]
    for c, cand in enumerate(cands):
        pred = pts[(pts["candidate"] == c) & (pts["kind"] == "predicted")]
        assert list(pred["step"]) == list(range(len(pred))) and pred["action_index"].iloc[0] == -1
        assert list(pred["action_index"].iloc[1:]) == rolled_out(evaluator, cand)  # one state per rolled-out action
    real = pts[pts["kind"] == "real"]
    assert np.isfinite(real[["x", "y"]].to_numpy()).all() and real["value"].isna().all()
    errors = info.errors
    assert (errors["error"] >= 0).all() and len(errors) == len(pts) // 2
    predicted_only = views.trajectory_info(evaluator, cands, real=False)
    assert set(predicted_only.points["kind"]) == {"predicted"} and predicted_only.errors["error"].isna().all()


def test_relabel_and_step_at(evaluator, tiny_candidates):
    cand = tiny_candidates[0]
    info = views.trajectory_info(evaluator, [cand], real=False)
    assert set(views.relabel(info, ["edited"]).points["label"]) == {"edited"}
    assert set(info.points["label"]) == {"candidate 0"}  # the original is left alone
    changing = rolled_out(evaluator, cand)
    assert views.step_at(info, candidate=0, position=0) == 0
    assert views.step_at(info, candidate=0, position=changing[0] + 1) == 1
    assert views.step_at(info, candidate=0, position=len(cand)) == len(changing)
    assert views.step_at(info, candidate=1, position=0) is None  # no such candidate
    assert views.candidate_labels(["x"], 3) == ["x", "candidate 1", "candidate 2"]


def test_trajectory_figure_rings_a_step_and_draws_nothing_empty(evaluator, tiny_candidates):
    info = views.trajectory_info(evaluator, tiny_candidates[:1])
    fig = views.trajectory_figure(info, highlight=(0, 1))
    ring = [t for t in fig.data if t.name == "current step"]
    step1 = info.points[(info.points["step"] == 1) & (info.points["kind"] == "predicted")]
    assert len(ring) == 1 and ring[0].x[0] == step1["x"].iloc[0]
    assert {"candidate 0 (predicted)", "candidate 0 (real)", "candidate 0 error"} <= {t.name for t in fig.data}
    empty = views.trajectory_info(evaluator, [])
    assert len(empty.points) == 0 and len(empty.errors) == 0
    fig = views.trajectory_figure(empty, highlight=(0, 0))
    assert isinstance(fig, go.Figure) and len(fig.data) == 0


def test_a_frame_places_other_candidates_on_the_same_axes(evaluator, tiny_candidates):
    first = views.trajectory_info(evaluator, tiny_candidates[:1], real=False)
    again = views.trajectory_info(evaluator, tiny_candidates[1:2], real=False, frame=first.projection)
    alone = views.trajectory_info(evaluator, tiny_candidates[1:2], real=False)
    assert again.projection is first.projection and not np.allclose(again.points["x"], alone.points["x"])
    ranges = views.grow_ranges(None, first.points)
    wider = views.grow_ranges(ranges, again.points)
    assert wider[0][0] <= ranges[0][0] and wider[0][1] >= ranges[0][1]
    assert again.points["x"].between(*wider[0]).all() and again.points["y"].between(*wider[1]).all()
    fig = views.trajectory_figure(again, ranges=wider)
    assert list(fig.layout.xaxis.range) == wider[0]
