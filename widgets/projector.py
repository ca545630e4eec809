"""The embedding projector: a subgraph's candidates by predicted final latent; click one to select it."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go
import traitlets

from widgets.common import Busy, Panel, placeholder, projection_dropdown, set_figure
from workbench import views


class EmbeddingProjector(Panel):
    """Candidates of a subgraph by their predicted final latent, coloured by latency or score; click to select.

    ``source`` is what is projected, ``selected`` the row picked (by a click, or by a view linked to it).
    """

    # -- state others follow or set
    source = traitlets.Any(None)  # Candidates, or a load_logs DataFrame of one subgraph
    selected = traitlets.Int(None, allow_none=True)  # the selected row: DataFrame index, or candidate number

    def __init__(self, evaluator: Any, source: Any = None, *, color_by: str = "latency", method: str = "pca",
                 **kwargs: Any) -> None:
        self.evaluator = evaluator
        self.info: Any = None  # views.embedding_info of the source
        # -- controls
        self.color = W.ToggleButtons(options=["latency", "score"], value=color_by, description="colour by",
                                     style={"button_width": "70px"})
        self.method = projection_dropdown(method)
        self.busy = Busy()
        self.figure = go.FigureWidget(placeholder("no candidates yet", 480))
        self.details = W.HTML()
        super().__init__([W.HBox([self.color, self.method]), self.busy, self.figure, self.details], **kwargs)
        # -- wiring
        self.color.observe(lambda _: self._draw(), names="value")
        self.method.observe(lambda _: self.project(), names="value")
        self.source = source

    def select(self, row: int | None) -> None:
        self.selected = None if row is None else int(row)

    def project(self) -> None:
        """Roll the source's candidates out and project their final latents again."""
        self._compute()
        self._draw()

    def handle_click(self, trace: Any, points: Any, state: Any) -> None:
        """Plotly's click callback: select the clicked point."""
        if points.point_inds:
            self.selected = int(self.info["row"].iloc[points.point_inds[0]])

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("source")
    def _on_source(self, change: dict) -> None:
        self._compute()
        if self.selected is None:
            self._draw()
        else:
            self.selected = None  # a row of the old source means nothing here (redraws)

    @traitlets.observe("selected")
    def _on_selected(self, change: dict) -> None:
        self._draw()
        rows = self.info[self.info["row"] == self.selected] if self.info is not None else ()
        if not len(rows):
            self.details.value = ""
            return
        r = rows.iloc[0]
        lat = f"{r.latency_ms:.4f} ms measured" if r.latency_ms == r.latency_ms else "not measured"
        self.details.value = (f"<b>row {self.selected}</b>: {lat}, score {r.score:.3f}<br>"
                              f"<code>{html.escape(r.summary)}</code>")

    def _compute(self) -> None:
        if self.source is None:
            self.info = None
            return
        self.busy.start(f"rolling out {len(self.source)} candidates")
        self.info = views.embedding_info(self.evaluator, self.source, method=self.method.value)
        self.busy.done(f"{len(self.info)} candidates")

    def _draw(self) -> None:
        if self.info is None:
            set_figure(self.figure, placeholder("no candidates yet", 480))
            return
        set_figure(self.figure, views.embedding_figure(self.info, color_by=self.color.value, selected=self.selected))
        self.figure.data[0].on_click(self.handle_click)
