"""Tuning curves and the runs table: from real (fresh) runs, and the figure from a curves table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench import views


def test_a_fresh_run_has_a_table_row_and_no_curve(tmp_path):
    from workbench.tuning import TuningRun

    runs = {"world": TuningRun("matmul_128", trials=4, cost_model="world", work_dir=tmp_path / "w", confirm=0),
            "xgb": TuningRun("matmul_128", trials=4, cost_model="xgb", work_dir=tmp_path / "x", confirm=0)}
    table = views.tuning_table(runs)
    assert list(table["cost model"]) == ["world", "xgb"] and list(table["status"]) == ["new", "new"]
    assert list(table.columns) == views.tuning.TABLE_COLUMNS and (table["trials"] == 0).all()
    curves = views.tuning_curves(runs)
    assert len(curves) == 0 and list(curves.columns) == views.tuning.CURVE_COLUMNS
    fig = views.tuning_figure(curves)
    assert isinstance(fig, go.Figure) and len(fig.data) == 0
    assert len(views.tuning_table({})) == 0


def test_tuning_figure_draws_best_so_far_and_marks_failures():
    curves = pd.DataFrame({"run": ["world"] * 3 + ["xgb"] * 2, "task": ["mm"] * 5, "trial": [0, 1, 2, 0, 1],
                           "latency_ms": [2.0, np.inf, 1.0, 3.0, 2.5], "best_ms": [2.0, 2.0, 1.0, 3.0, 2.5],
                           "status": ["ok", "run_error", "ok", "ok", "ok"]})
    fig = views.tuning_figure(curves, title="mm")
    names = [t.name for t in fig.data]
    assert names == ["world", "world trials", "world failures", "xgb", "xgb trials"]
    assert fig.layout.title.text == "mm" and fig.layout.yaxis.tickformat  # log ticks labelled in full
    assert list(fig.data[0].y) == [2.0, 2.0, 1.0] and list(fig.data[0].x) == [1, 2, 3]
    assert list(fig.data[1].y) == [2.0, 1.0] and list(fig.data[1].x) == [1, 3]  # every trial that ran
    assert list(fig.data[2].x) == [2]


def test_wall_clock_lays_sessions_end_to_end_and_the_figure_can_use_it():
    """A run stopped after 5 s and resumed (a day later) is on a 0-8 s clock, not a day-long one; a record
    without a time is left off the wall-clock axis; the latency axis can be linear."""
    curves = pd.DataFrame({"run": ["world"] * 6, "task": ["mm"] * 6, "trial": range(6),
                           "latency_ms": [3.0, 2.0, 2.5, 1.5, 1.8, 1.0], "best_ms": [3.0, 2.0, 2.0, 1.5, 1.5, 1.0],
                           "status": ["ok"] * 6, "session": [-1, 0, 0, 0, 1, 1],
                           "seconds": [np.nan, 1.0, 2.0, 5.0, 1.0, 3.0]})
    wall = views.wall_clock(curves)["wall_s"]
    assert np.isnan(wall.iloc[0]) and wall.iloc[1:].tolist() == [1.0, 2.0, 5.0, 6.0, 8.0]
    fig = views.tuning_figure(views.wall_clock(curves), x="wall clock", log_y=False)
    assert list(fig.data[0].x) == [1.0, 2.0, 5.0, 6.0, 8.0] and list(fig.data[0].y) == [2.0, 2.0, 1.5, 1.5, 1.0]
    assert fig.layout.yaxis.type == "linear" and "wall clock" in fig.layout.xaxis.title.text
    assert len(views.tuning_figure(curves.assign(wall_s=np.nan), x="wall clock").data) == 0
    assert views.format_seconds(95) == "1 min 35 s" and views.format_seconds(None) == ""
    import pytest

    with pytest.raises(ValueError, match="x must be one of"):
        views.tuning_figure(curves, x="rounds")


def test_rounds_view_from_batch_records(tmp_path):
    """The per-batch records a world-model run writes, as a table and a figure (predicted vs measured)."""
    import json

    from workbench.tuning.online import ROUNDS_FILE, read_rounds
    from workbench.views import rounds_figure, rounds_info

    records = [{"batch": 0, "n": 2, "task": "t", "latency": [1e-3, 2e-3], "prior": [0.9, 0.1], "online": None,
                "blended": [1.0, -1.0], "prior_pairwise": 1.0, "online_pairwise": None, "blended_pairwise": 1.0,
                "weights": [0.5, 0.0], "skill": {"prior": 1.0, "online": None}, "time": 0.0},
               {"batch": 1, "n": 2, "task": "t", "latency": [3e-3, 1e-3], "prior": [0.9, 0.1], "online": [0.2, 0.8],
                "blended": [0.1, 0.3], "prior_pairwise": 0.0, "online_pairwise": 1.0, "blended_pairwise": 1.0,
                "weights": [1.0, 0.0], "skill": {"prior": 0.5, "online": 1.0}, "time": 1.0}]
    (tmp_path / ROUNDS_FILE).write_text("".join(json.dumps(r) + "\n" for r in records) + '{"batch": 2, "n"')
    rounds = read_rounds(tmp_path)  # the last line, cut short by a kill, is skipped
    assert list(rounds["batch"]) == [0, 1]
    info = rounds_info(rounds)
    assert len(info) == 4 and list(info["latency_ms"]) == [1.0, 2.0, 3.0, 1.0]
    assert info["online"].isna().sum() == 2
    fig = rounds_figure(info)
    assert len(fig.data) == 4 and fig.data[0].x.tolist() == [1.0, 2.0, 3.0, 1.0]
    assert len(rounds_figure(rounds_info(read_rounds(tmp_path / "none"))).data) == 0
    # A world_online run judges its verifier too, once its online model exists: a fifth line.
    records[1]["verifier_pairwise"] = 0.25
    (tmp_path / ROUNDS_FILE).write_text("".join(json.dumps(r) + "\n" for r in records))
    fig = rounds_figure(rounds_info(read_rounds(tmp_path)))
    assert len(fig.data) == 5 and fig.data[-1].name == "verifier" and fig.data[-1].y[1] == 0.25
