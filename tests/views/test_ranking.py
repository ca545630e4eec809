"""The ranking debugger's data and figures: ranks, metrics, worst disagreements, contributions, XGB's records."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from workbench import views
from workbench.testing import sample_records


def test_ranking_info_ranks_scores_against_measurements(evaluator, records):
    info = views.ranking_info(evaluator, records, worst=5)
    t = info.table
    assert info.subgraph == "matmul_128" and len(t) == len(records)
    assert sorted(t["true_rank"]) == sorted(t["world_rank"]) == list(range(1, len(t) + 1))
    assert t.loc[t["latency_ms"].idxmin(), "true_rank"] == 1
    assert t.loc[t["world_score"].idxmax(), "world_rank"] == 1
    assert list(info.metrics.index) == ["world"] and 0 <= info.metrics.loc["world", "pairwise"] <= 1
    assert len(info.worst) == 5 and info.worst["disagreement"].is_monotonic_decreasing
    fig = views.ranking_figure(info, selected=int(info.worst["row"].iloc[0]))
    assert len(fig.data) == 2 and len(fig.data[0].x) == len(records) and len(fig.data[1].x) == 1


def test_ranking_info_refuses_several_subgraphs_and_draws_nothing_empty(evaluator, records):
    with pytest.raises(ValueError, match="one subgraph"):
        views.ranking_info(evaluator, sample_records(("matmul_128", "dense_512x32x512"), per_subgraph=3))
    empty = views.ranking_info(evaluator, records.iloc[:0])
    assert len(empty.table) == 0 and len(empty.worst) == 0
    assert isinstance(views.ranking_figure(empty), go.Figure)


def test_contributions_of_one_record(evaluator, records):
    df = views.contributions_info(evaluator, records.iloc[0], top=6)
    assert len(df) == 6 and df["contribution"].abs().is_monotonic_decreasing
    assert set(df.attrs["by_group"]) == {"latent", "action", "hardware"}
    fig = views.contributions_figure(df)
    assert fig.data[0].type == "bar" and len(fig.data[0].x) == 6


def test_baseline_training_records_are_the_first_of_each_training_subgraph(evaluator):
    logs = sample_records(("matmul_128", "dense_512x32x512", "matmul_256"), per_subgraph=60)
    train = views.baseline_training_records(evaluator, logs, per_subgraph=25)
    assert set(train["subgraph"]) == {"matmul_128", "dense_512x32x512"}  # matmul_256 is held out
    assert (train.groupby("subgraph").size() == 25).all() and (train["status"] == "ok").all()
    ok = logs[(logs["subgraph"] == "matmul_128") & (logs["status"] == "ok")]
    assert list(train[train["subgraph"] == "matmul_128"].index) == list(ok.index[:25])
