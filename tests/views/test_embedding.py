"""The embedding projector's data and figure: records keep their rows, candidates are unmeasured."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from workbench import views


def test_embedding_info_of_records_keeps_their_rows_and_scores(evaluator, records):
    info = views.embedding_info(evaluator, records)
    assert list(info["row"]) == list(records.index) and len(info) == len(records)
    assert np.allclose(info["latency_ms"], records["latency"] * 1e3)
    assert np.allclose(info["score"], evaluator.score(records), atol=1e-5)
    assert "PCA" in info.attrs["projection"] and info["summary"].str.len().gt(0).all()


def test_embedding_info_of_candidates_and_of_nothing(evaluator, tiny_candidates):
    info = views.embedding_info(evaluator, tiny_candidates)
    assert list(info["row"]) == list(range(len(tiny_candidates))) and info["latency_ms"].isna().all()
    assert set(info["status"]) == {"unmeasured"}
    empty = views.embedding_info(evaluator, [])
    assert len(empty) == 0 and "score" in empty.columns
    fig = views.embedding_figure(empty)
    assert isinstance(fig, go.Figure) and len(fig.data[0].x) == 0


def test_embedding_figure_colours_and_rings_the_selection(evaluator, records):
    info = views.embedding_info(evaluator, records)
    fig = views.embedding_figure(info, color_by="latency", selected=int(info["row"].iloc[2]))
    assert np.allclose(fig.data[0].marker.color, np.log10(info["latency_ms"]))
    assert len(fig.data) == 2 and fig.data[1].x[0] == info["x"].iloc[2]
    by_score = views.embedding_figure(info, color_by="score")
    assert "ranker score" in by_score.data[0].marker.colorbar.title.text and len(by_score.data) == 1


def test_trace_summary_names_tiles_and_choices(tiny_candidates):
    text = views.trace_summary(tiny_candidates[0].actions)
    assert "x" in text  # tile sizes like 2x8
