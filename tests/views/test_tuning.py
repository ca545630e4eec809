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
    assert len(curves) == 0 and list(curves.columns) == ["run", "task", "trial", "latency_ms", "best_ms", "status"]
    fig = views.tuning_figure(curves)
    assert isinstance(fig, go.Figure) and len(fig.data) == 0
    assert len(views.tuning_table({})) == 0


def test_tuning_figure_draws_best_so_far_and_marks_failures():
    curves = pd.DataFrame({"run": ["world"] * 3 + ["xgb"] * 2, "task": ["mm"] * 5, "trial": [0, 1, 2, 0, 1],
                           "latency_ms": [2.0, np.inf, 1.0, 3.0, 2.5], "best_ms": [2.0, 2.0, 1.0, 3.0, 2.5],
                           "status": ["ok", "run_error", "ok", "ok", "ok"]})
    fig = views.tuning_figure(curves, title="mm")
    names = [t.name for t in fig.data]
    assert names == ["world", "world failures", "xgb"] and fig.layout.title.text == "mm"
    assert list(fig.data[0].y) == [2.0, 2.0, 1.0] and list(fig.data[0].x) == [1, 2, 3]
    assert list(fig.data[1].x) == [2]
