"""The embedding projector's data and figure: records keep their rows, candidates are unmeasured."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from workbench import views


def test_embedding_info_of_records_keeps_their_rows_and_scores(evaluator, records):
    info = views.embedding_info(evaluator, records)
    assert info["sketch"].str.startswith("structure ").all()  # records: told apart by their actions' kinds
    kinds = records["actions"].map(lambda acts: tuple(a.kind for a in acts if a.phase == "schedule"))
    assert info["sketch"].nunique() == kinds.nunique()
    assert list(info["row"]) == list(records.index) and len(info) == len(records)
    assert np.allclose(info["latency_ms"], records["latency"] * 1e3)
    assert np.allclose(info["score"], evaluator.score(records), atol=1e-5)
    assert "PCA" in info.attrs["projection"] and info["summary"].str.len().gt(0).all()


def test_embedding_info_of_candidates_and_of_nothing(evaluator, tiny_candidates):
    info = views.embedding_info(evaluator, tiny_candidates)
    assert list(info["sketch"]) == [f"sketch {c.sketch}" for c in tiny_candidates]  # from their design space
    assert "world vs measured" not in views.color_options(info)  # nothing measured: nothing to compare
    coloured = views.embedding_figure(info, color_by="sketch")
    assert list(coloured.data[0].marker.colorbar.ticktext) == sorted(set(info["sketch"]))
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


def test_the_projector_in_3d_and_coloured_by_where_the_models_disagree(evaluator, records):
    import pandas as pd

    info = views.embedding_info(evaluator, records, dims=3)
    assert "z" in info and "z" not in views.color_options(info)
    fig = views.embedding_figure(info, selected=int(info["row"].iloc[1]))
    assert isinstance(fig.data[0], go.Scatter3d) and fig.layout.scene.zaxis.title.text == "component 3"
    assert isinstance(fig.data[1], go.Scatter3d) and list(fig.data[1].z) == [info["z"].iloc[1]]
    # World model against the measurements: a rank gap, > 0 where it ranks a candidate above where it runs.
    gap = info["world vs measured"]
    assert gap.between(-1, 1).all() and views.color_options(info)[4] == "world vs measured"
    best_predicted = info["score"].idxmax()
    slowest = info["latency_ms"].idxmax()
    assert gap[best_predicted] >= 0 and gap[slowest] >= 0
    filtered = views.embedding_figure(info, mask=info["latency_ms"] < info["latency_ms"].median())
    assert set(filtered.data[0].marker.size) == {4.0, 1.5}  # 3-D has no per-point opacity: the others shrink
    coloured = views.embedding_figure(info, color_by="world vs measured")
    assert coloured.data[0].marker.cmid == 0 and list(coloured.data[0].marker.color) == gap.tolist()
    # Another cost model's scores (here: the negated latency, a perfect one): its gap to the world model.
    other = pd.Series(-info["latency_ms"].to_numpy(), index=info["row"])
    both = views.with_disagreements(info, other)
    assert {"xgb score", "world vs xgb"} <= set(views.color_options(both))
    assert np.allclose(both["world vs xgb"], both["world vs measured"])
    assert "xgb score" not in views.with_disagreements(both)  # gone when there is no other model
