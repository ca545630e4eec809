"""Named decisions: the table, what each explains, parallel coordinates, a sweep of one decision, the filter."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from workbench import views
from workbench.testing import sample_records


@pytest.fixture(scope="module")
def softmax():
    records = sample_records(("softmax_256x256",), per_subgraph=150)
    return records[records["status"] == "ok"]


def test_decisions_are_named_by_block_loop_and_annotation(records, softmax):
    table = views.decision_table(records)
    assert list(table.index) == list(records.index)
    assert any(c.endswith(" tile0") and ".loop" in c for c in table.columns)  # e.g. C.loop0 tile0
    assert "unroll_explicit" in table.columns and set(table["unroll_explicit"].dropna()) <= {0, 16, 64, 512}
    first = records["actions"].iloc[0]
    names = views.decision_names(first)
    tiles = [a for a in first if a.kind == "SamplePerfectTile"]
    assert names[tiles[0].index].endswith(" tiles") and len(names) == sum(a.decision is not None for a in first
                                                                          if a.phase == "schedule")
    # The same decision of two sketches shares a column: softmax's producers are named after their consumer.
    soft = views.decision_table(softmax)
    assert "T_softmax_expsum at" in soft.columns and not any(c.startswith("b") for c in soft.columns)


def test_importances_find_what_explains_the_latency(softmax):
    table = views.decision_table(softmax)
    imp = views.decision_importances(table, softmax["latency"])
    assert ((imp >= 0) & (imp <= 1)).all() and list(imp) == sorted(imp, reverse=True)
    assert imp.index[0].endswith(" at") and imp.iloc[0] > 0.2  # a compute location explains the most
    # A made-up decision that decides the latency explains all of it; one that is constant is left out.
    fake = table.assign(decides=np.log(softmax["latency"].to_numpy()), constant=1.0)
    imp = views.decision_importances(fake, softmax["latency"])
    assert imp.index[0] == "decides" and imp.iloc[0] == pytest.approx(1.0) and "constant" not in imp
    fig = views.importances_figure(imp, top=5)
    assert isinstance(fig, go.Figure) and len(fig.data[0].y) == 5 and fig.data[0].y[-1] == "decides"


def test_parallel_coordinates_put_decisions_beside_latency_and_score(evaluator, records):
    table = views.decision_table(records)
    fig = views.parallel_coordinates(table, latency_ms=records["latency"] * 1e3, score=evaluator.score(records))
    labels = [d.label for d in fig.data[0].dimensions]
    assert labels[-2:] == ["score", "latency (log10 ms)"] and any("(log2)" in lb for lb in labels)
    assert np.allclose(fig.data[0].line.color, np.log10(records["latency"] * 1e3))


def test_a_sweep_scores_every_legal_value_and_marks_wrong_ranks(evaluator, tiny_candidates):
    cand = tiny_candidates[0]
    tile = next(a for a in cand.actions if a.kind == "SamplePerfectTile")
    values = views.legal_values(tile)
    assert values[0] == tile.decision and len(values) == len({tuple(v) for v in values})
    assert all(math.prod(v) == math.prod(tile.decision) and len(v) == len(tile.decision) for v in values)
    sweep = views.decision_sweep(evaluator, cand, tile.index)
    made = sweep[sweep["candidate"].notna()]
    assert len(made) >= 3 and made["score"].notna().all() and sweep["current"].sum() == 1
    assert made[made["current"]]["candidate"].iloc[0] is cand  # its own value is the candidate itself
    edited = made[~made["current"]]["candidate"].iloc[0]
    assert edited.actions[tile.index].decision != tile.decision
    assert np.allclose(made["score"], evaluator.score(list(made["candidate"])), atol=1e-5)
    assert sweep["rank"].min() == 1
    # Measured in the predicted order: nothing marked; in the reverse order: marked.
    ranked = made.sort_values("score", ascending=False)["label"].tolist()[:3]
    right = views.sweep_figure(sweep, {lb: 1.0 + i for i, lb in enumerate(ranked)})
    wrong = views.sweep_figure(sweep, {lb: 3.0 - i for i, lb in enumerate(ranked)})
    assert [t.name for t in right.data] == ["predicted score", "measured latency"]
    assert [t.name for t in wrong.data][-1] == "ranked wrong" and len(wrong.data[-1].x) == 2
    unroll = next(a for a in cand.actions if a.kind == "SampleCategorical")
    assert views.legal_values(unroll) == [unroll.decision] + [i for i in range(len(unroll.attrs[0]))
                                                                if i != unroll.decision]


def test_filter_by_query_or_text_and_colour_by_a_decision(evaluator, records):
    info = views.embedding_info(evaluator, records)
    assert "unroll_explicit" in views.color_options(info)
    fast = views.filter_rows(info, "latency_ms < latency_ms.median()")
    assert fast.sum() == (info["latency_ms"] < info["latency_ms"].median()).sum()
    text = info["summary"].iloc[0].split()[0]
    assert views.filter_rows(info, text)[0] and views.filter_rows(info, "").all()
    with pytest.raises(ValueError, match="no_such_column"):
        views.filter_rows(info, "no_such_column > 3")
    fig = views.embedding_figure(info, color_by="unroll_explicit", mask=fast)
    assert list(fig.data[0].marker.colorbar.ticktext) == sorted(
        {str(v) for v in info["unroll_explicit"].dropna()}, key=float)
    assert list(fig.data[0].marker.opacity) == [1.0 if m else 0.12 for m in fast]
    with pytest.raises(ValueError, match="color_by"):
        views.embedding_figure(info, color_by="nonsense")
