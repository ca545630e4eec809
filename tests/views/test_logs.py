"""The logs summary: per subgraph and machine, spread and how much of the data is near the best."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import views
from workbench.testing import sample_records


def test_summary_counts_spread_and_near_best():
    df = sample_records(("matmul_128", "softmax_256x256"), per_subgraph=30)
    summary = views.logs_summary(df)
    assert list(summary["subgraph"]) == ["matmul_128", "softmax_256x256"] and (summary["records"] == 30).all()
    row = summary.iloc[0]
    lat = df[(df["subgraph"] == "matmul_128") & (df["status"] == "ok")]["latency"].to_numpy()
    assert row["best_ms"] == pytest.approx(lat.min() * 1e3)
    assert row["within 1.5x"] == pytest.approx(np.mean(lat <= 1.5 * lat.min()))
    assert 0 < row["within 1.1x"] <= row["within 1.5x"] <= row["within 2.0x"] <= 1 and row["p90/p10"] > 1
    assert row["sources"] == "random 30"
    by_op = views.logs_by(summary, "op")
    assert set(by_op["op"]) == {"matmul", "softmax"} and by_op["records"].sum() == 60
    fig = views.near_best_figure(summary)
    assert len(fig.data) == 3 and len(fig.data[0].y) == 2


def test_empty_logs_give_an_empty_summary_and_a_valid_figure():
    summary = views.logs_summary(None)
    assert summary.empty and "within 1.1x" in summary.columns
    assert len(views.near_best_figure(summary).data) == 3 and views.logs_by(summary, "machine").empty
