"""The embedding projector: candidates by predicted final latent, coloured, clicked, re-sourced."""

from __future__ import annotations

import numpy as np


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
    assert proj.selected == row and f"row {row}" in proj.details.value and len(proj.figure.data) == 2
    proj.select(None)
    assert proj.details.value == "" and len(proj.figure.data) == 1
    # A new source (sampled candidates): rows are candidate numbers, nothing stays selected.
    proj.selected = row
    cands = held_out_space.sample(6, seed=1)
    proj.source = cands
    assert proj.selected is None and len(proj.figure.data[0].x) == 6
    assert list(proj.info["status"].unique()) == ["unmeasured"]
    proj.selected = 4
    assert "not measured" in proj.details.value
