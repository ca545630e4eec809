"""The trajectory view: rolled out when its candidates change, relabelled in place, the stepper's step ringed."""

from __future__ import annotations


def test_trajectory_view_rolls_out_relabels_and_rings_a_position(evaluator, held_out_records, held_out_space):
    from widgets import TrajectoryView

    cands = [held_out_space.candidate(t) for t in held_out_records["trace"].iloc[:2]]
    view = TrajectoryView(evaluator, [cands[0]], labels=["selected"])
    assert {t.name for t in view.figure.data} >= {"selected (predicted)", "selected (real)"}
    errors = view.info.errors
    assert (errors[errors["step"] > 0]["error"] > 0).all() and "rollout error" in view.errors.value
    assert not any(t.name == "current step" for t in view.figure.data)
    view.position = len(cands[0])  # the end of the last candidate
    ring = [t for t in view.figure.data if t.name == "current step"]
    last = view.info.points[(view.info.points["kind"] == "predicted")]["step"].max()
    final = view.info.points[(view.info.points["step"] == last) & (view.info.points["kind"] == "predicted")]
    assert len(ring) == 1 and ring[0].x[0] == final["x"].iloc[0]
    info = view.info
    view.labels = ["renamed"]
    assert view.info.projection is info.projection  # relabelled, not rolled out again
    assert "renamed (predicted)" in {t.name for t in view.figure.data}
    ranges = (tuple(view.figure.layout.xaxis.range), tuple(view.figure.layout.yaxis.range))
    view.candidates = cands
    assert {t.legendgroup for t in view.figure.data if t.legendgroup} == {"0", "1"}
    # The same subgraph: the same projection, the axes kept (or widened to hold the new points), never moved.
    assert view.info.projection is info.projection
    x, y = view.figure.layout.xaxis.range, view.figure.layout.yaxis.range
    assert x[0] <= ranges[0][0] and x[1] >= ranges[0][1] and y[0] <= ranges[1][0] and y[1] >= ranges[1][1]
    pts = view.info.points
    assert pts["x"].between(*x).all() and pts["y"].between(*y).all()
    assert "candidate 1 (predicted)" in {t.name for t in view.figure.data}  # no label given: a default one
    view.candidates = [cands[1]]
    assert tuple(view.figure.layout.xaxis.range) == tuple(x)  # the next one is drawn on the same axes
    view.candidates = cands
    view.real_box.value = False
    assert not any("(real)" in (t.name or "") for t in view.figure.data)
    view.candidates = []
    assert view.info is None and len(view.figure.data) == 0
