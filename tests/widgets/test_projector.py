"""The embedding projector: candidates by predicted final latent, coloured, clicked, re-sourced."""

from __future__ import annotations

import numpy as np

from workbench import views


class Points:
    def __init__(self, *inds: int) -> None:
        self.point_inds = list(inds)


def test_projector_colours_selects_and_follows_its_source(evaluator, held_out_records, held_out_space):
    from widgets import EmbeddingProjector

    proj = EmbeddingProjector(evaluator, held_out_records)
    assert len(proj.figure.data[0].x) == len(held_out_records) and proj.selected is None
    proj.color.value = "score"
    assert "ranker score" in proj.figure.data[0].marker.colorbar.title.text
    proj.color.value = "latency"
    assert "latency" in proj.figure.data[0].marker.colorbar.title.text
    assert np.allclose(proj.figure.data[0].marker.color, np.log10(proj.info["latency_ms"]))
    proj.handle_click(None, Points(3), None)
    row = int(proj.info["row"].iloc[3])
    assert proj.selected == row and proj.info["summary"].iloc[3] in proj.details.value
    assert list(proj.figure.data[1].x) == [proj.info["x"].iloc[3]]  # the ring, the only trace redrawn
    # Its nearest neighbours in the latent space itself; a box or lasso selection listed.
    near = views.nearest_rows(proj.info, proj.latents, row, k=5)
    assert len(near) == 5 and row not in set(near["row"]) and near["distance"].is_monotonic_increasing
    assert near["summary"].iloc[0] in proj.neighbours.value
    proj.handle_selection(None, Points(0, 1, 2), None)
    assert "3 candidates in the selection" in proj.lassoed.value
    proj.select(None)
    assert proj.details.value == "" and len(proj.figure.data[1].x) == 0
    # Edited candidates are placed by the same projection: the source's points do not move.
    xs = list(proj.figure.data[0].x)
    proj.edited = held_out_space.sample(1, seed=2)
    assert list(proj.figure.data[0].x) == xs and proj.figure.data[2].name == "edited"
    assert proj.info["edited"].sum() == 1 and proj.info["row"].iloc[-1] == -1
    proj.edited = []
    assert len(proj.figure.data) == 2
    # Filter by a query or by text: the others fade; a bad query says why. Colour by a named decision.
    proj.apply_filter("latency_ms < latency_ms.median()")
    assert "candidates match" in proj.filter_message.value and proj.mask.sum() < len(proj.info)
    assert list(proj.figure.data[0].marker.opacity) == [1.0 if m else 0.12 for m in proj.mask]
    proj.apply_filter("no_such_column > 2")
    assert "no_such_column" in proj.filter_message.value and proj.mask is None
    proj.apply_filter("")
    assert proj.filter_message.value == "" and proj.figure.data[0].marker.opacity == 1.0
    decision = next(c for c in proj.color.options if c.endswith(" tile0"))
    proj.color.value = decision
    assert proj.figure.data[0].marker.colorbar.title.text == decision
    # A new source (sampled candidates): rows are candidate numbers, nothing stays selected.
    proj.selected = row
    cands = held_out_space.sample(6, seed=1)
    proj.source = cands
    assert proj.selected is None and len(proj.figure.data[0].x) == 6
    assert list(proj.info["status"].unique()) == ["unmeasured"]
    proj.selected = 4
    assert "not measured" in proj.details.value


def test_projector_in_3d_and_coloured_against_another_model(evaluator, held_out_records):
    import pandas as pd

    from widgets import EmbeddingProjector

    proj = EmbeddingProjector(evaluator, held_out_records)
    row = int(proj.info["row"].iloc[2])
    proj.selected = row
    proj.dims.value = "3-D"
    assert proj.figure.data[0].type == "scatter3d" and "z" in proj.info
    assert list(proj.figure.data[1].z) == [proj.info["z"].iloc[2]]  # the ring, in the scene
    proj.handle_click(None, Points(5), None)
    assert proj.selected == int(proj.info["row"].iloc[5]) and list(proj.figure.data[1].z) == [proj.info["z"].iloc[5]]
    proj.apply_filter("latency_ms < latency_ms.median()")  # a filter in 3-D: the others shrink (no opacity there)
    assert "candidates match" in proj.filter_message.value and len(set(proj.figure.data[0].marker.size)) == 2
    proj.apply_filter("")
    proj.other_scores = pd.Series(np.arange(len(held_out_records), dtype=float), index=held_out_records.index)
    assert "world vs xgb" in proj.color.options and proj.figure.data[0].type == "scatter3d"
    proj.color.value = "world vs xgb"
    assert proj.figure.data[0].marker.colorbar.title.text == "world vs xgb"
    proj.dims.value = "2-D"
    assert proj.figure.data[0].type == "scatter" and proj.color.value == "world vs xgb"
    proj.other_scores = None
    assert "world vs xgb" not in proj.color.options and proj.color.value == "latency"
