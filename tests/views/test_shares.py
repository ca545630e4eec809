"""Time shares per task: before (first round) and after tuning, against the trials each task got."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from workbench import views


def _frames():
    # task a: weight 2, first round best 4 ms, then 1 ms; task b: weight 1, 2 ms then 2 ms; task c: nothing ran
    history = pd.DataFrame({"task": ["a", "a", "a", "b", "b", "b", "c"], "trial": [0, 1, 2, 0, 1, 2, 0],
                            "best_ms": [5.0, 4.0, 1.0, 2.0, 2.0, 2.0, np.inf]})
    progress = pd.DataFrame({"task": ["a", "b", "c"], "weight": [2, 1, 1], "trials": [3, 3, 2],
                             "best_ms": [1.0, 2.0, math.nan], "best_gflops": [10.0, 5.0, math.nan]}).set_index("task")
    return history, progress


def test_shares_before_and_after_tuning_weigh_each_task_by_how_often_it_runs():
    shares = views.task_time_shares(*_frames(), first=2)
    assert list(shares.columns) == views.shares.SHARE_COLUMNS
    assert list(shares.index) == ["a", "b", "c"]  # a: 2 x 1 ms = 2 of 4 ms; b: 2 of 4 ms; c: nothing measured
    assert shares.loc["a", "first_ms"] == 4.0 and shares.loc["a", "best_ms"] == 1.0 and shares.loc["a", "speedup"] == 4
    assert shares.loc["b", "logged_ms"] == 2.0
    assert shares.loc["a", "share_first"] == pytest.approx(8 / 10) and shares.loc["b", "share_first"] == pytest.approx(0.2)
    assert shares.loc["a", "share_best"] == pytest.approx(0.5) and shares.loc["b", "share_best"] == pytest.approx(0.5)
    assert shares.loc["c", ["first_ms", "share_best"]].isna().all()  # no schedule: NaN, in no sum
    late = _frames()[0].assign(best_ms=[5.0, 4.0, 1.0, np.inf, np.inf, 2.0, np.inf])  # b: nothing in its first round
    shares = views.task_time_shares(late, _frames()[1], first=2)
    assert shares.loc["a", "share_best"] == 1.0 and shares.loc["b", ["share_first", "share_best"]].isna().all()
    assert shares["trial_share"].tolist() == pytest.approx([3 / 8, 3 / 8, 2 / 8])
    assert views.task_time_shares(*_frames(), first=3).loc["a", "first_ms"] == 1.0
    with pytest.raises(ValueError, match="first must be"):
        views.task_time_shares(*_frames(), first=0)


def test_share_figure_shows_the_largest_tasks_with_their_trials():
    shares = views.task_time_shares(*_frames(), first=2)
    fig = views.time_share_figure(shares, top=1, title="m")
    assert isinstance(fig, go.Figure) and [t.name for t in fig.data] == [
        "time, after the first round", "time, tuned", "trials spent"]
    assert list(fig.data[0].y) == ["a (x2)"] and fig.data[1].x[0] == pytest.approx(50.0)
