"""The embedding projector: a subgraph's candidates by predicted final latent; click one to select it."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go
import traitlets

from widgets.common import (
    Busy,
    Panel,
    error_html,
    figure_widget,
    placeholder,
    projection_dropdown,
    set_figure,
    table_html,
)
from workbench import views


class EmbeddingProjector(Panel):
    """Candidates of a subgraph by their predicted final latent, in 2-D or 3-D, coloured by latency, score, where
    the cost models disagree, or any named decision; click to select.

    ``source`` is what is projected, ``selected`` the row picked (by a click, or by a view linked to it).
    """

    # -- state others follow or set
    source = traitlets.Any(None)  # Candidates, or a load_logs DataFrame of one subgraph
    selected = traitlets.Int(None, allow_none=True)  # the selected row: DataFrame index, or candidate number
    edited = traitlets.List()  # candidates made by edits, drawn where the source's projection puts them
    other_scores = traitlets.Any(None)  # another cost model's scores by row (a Series): coloured against the world's

    def __init__(self, evaluator: Any, source: Any = None, *, color_by: str = "latency", method: str = "pca",
                 **kwargs: Any) -> None:
        self.evaluator = evaluator
        self.info: Any = None  # views.embedding_info of the source
        self._quiet = False  # while the source or the colour options change: no redraw, edits dropped
        self.revision = 0  # counts projections: the figure's uirevision (a zoom survives until the next one)
        # -- controls
        self.color = W.Dropdown(options=["latency", "score", "status"], value=color_by, description="colour by",
                                layout=W.Layout(width="320px"))
        self.filter = W.Text(placeholder="filter: text in the decisions, or latency_ms < 0.05 and `unroll_explicit` "
                             "== 64", description="filter", continuous_update=False, layout=W.Layout(width="100%"))
        self.filter_message = W.HTML()
        self.mask: Any = None  # the rows the filter keeps (None: all)
        self.method = projection_dropdown(method)
        self.dims = W.ToggleButtons(options=["2-D", "3-D"], value="2-D", style={"button_width": "50px"},
                                    tooltips=["a plane: box and lasso select", "a scene to turn (drag to rotate)"])
        self.busy = Busy()
        self.figure = figure_widget(placeholder("no candidates yet", 480))
        self.details = W.HTML()
        self.details.add_class("wb-projector-details")  # found by the browser test
        self.latents: Any = None  # the predicted final latents of info's rows (nearest neighbours are found there)
        self.neighbours = W.HTML()  # the selection's nearest candidates in the latent space
        self.lassoed = W.HTML()  # the candidates a box or lasso selection holds
        super().__init__([W.HBox([self.color, self.method, self.dims]), W.HBox([self.filter], layout=W.Layout(width="100%")),
                          self.filter_message, self.busy, self.figure, self.details, self.neighbours,
                          self.lassoed], **kwargs)
        # -- wiring
        self.color.observe(lambda _: None if self._quiet else self._draw(), names="value")
        self.filter.observe(lambda _: self.apply_filter(), names="value")
        self.method.observe(lambda _: self.project(), names="value")
        self.dims.observe(lambda _: self.project(), names="value")
        self.source = source

    def select(self, row: int | None) -> None:
        self.selected = None if row is None else int(row)

    def project(self) -> None:
        """Roll the source's candidates out and project their final latents again."""
        self._compute()
        self._draw()
        self._show_selected()

    def apply_filter(self, text: str | None = None) -> None:
        """Fade the points the filter (``text``, default the box's) leaves out; a bad query is explained."""
        if text is not None and text != self.filter.value:
            self.filter.value = text  # applies it through the observer
            return
        self._filter()
        self._draw()

    def _filter(self) -> None:
        """The mask of the filter's rows, and how many match (or why the filter is wrong)."""
        self.mask, self.filter_message.value = None, ""
        if self.info is not None and self.filter.value.strip():
            try:
                self.mask = views.filter_rows(self.info, self.filter.value)
            except ValueError as err:
                self.filter_message.value = error_html(str(err))
            else:
                base = ~self.info["edited"].astype(bool).to_numpy()
                self.filter_message.value = f"{int(self.mask[base].sum())} of {int(base.sum())} candidates match"

    def handle_selection(self, trace: Any, points: Any, selector: Any) -> None:
        """Plotly's selection callback (box or lasso): list the candidates it holds."""
        inds = list(points.point_inds) if points is not None else []
        if not inds or self.info is None:
            self.lassoed.value = ""
            return
        rows = self.info.iloc[inds]
        self.lassoed.value = (f"<b>{len(rows)} candidates in the selection</b>, fastest first"
                              + _rows_html(rows.sort_values("latency_ms", na_position="last")))

    def handle_click(self, trace: Any, points: Any, state: Any) -> None:
        """Plotly's click callback: select the clicked point."""
        if points.point_inds:
            self.selected = int(self.info["row"].iloc[points.point_inds[0]])

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("source")
    def _on_source(self, change: dict) -> None:
        self._quiet = True  # edits of the old source's candidates mean nothing here
        try:
            self.edited = []
        finally:
            self._quiet = False
        self._compute()
        self._draw()
        self.selected = None  # a row of the old source means nothing here
        self._show_selected()

    @traitlets.observe("selected")
    def _on_selected(self, change: dict) -> None:
        self._show_selected()

    @traitlets.observe("other_scores")
    def _on_other_scores(self, change: dict) -> None:
        if self.info is not None:
            self.info = views.with_disagreements(self.info, self.other_scores)
            self._color_options()
            self._draw()

    @traitlets.observe("edited")
    def _on_edited(self, change: dict) -> None:
        if self.source is not None and not self._quiet and (change["old"] or change["new"]):
            self._compute(new_projection=False)  # the same points, plus the edits: a zoom stays
            self._draw()

    def _show_selected(self) -> None:
        """Move the ring and say what is selected; the rest of the figure (and a zoom) stays as it is."""
        if self.info is not None and len(self.figure.data) >= 2 and self.figure.data[1].name == "selected":
            ring = views.selection_ring(self.info, self.selected)
            with self.figure.batch_update():
                self.figure.data[1].x, self.figure.data[1].y = ring.x, ring.y
                if hasattr(ring, "z"):
                    self.figure.data[1].z = ring.z
        info = self.info[~self.info["edited"].astype(bool)] if self.info is not None else None
        rows = info[info["row"] == self.selected] if info is not None else ()
        if not len(rows):
            self.details.value = self.neighbours.value = ""
            return
        r = rows.iloc[0]
        lat = f"{r.latency_ms:.4f} ms measured" if r.latency_ms == r.latency_ms else "not measured"
        rank = int((info["score"] > r.score).sum()) + 1
        self.details.value = (f"selected <b>{html.escape(r.summary or 'no decisions')}</b>: {lat}, world-model "
                              f"score {r.score:.3f} (rank {rank} of {len(info)})")
        near = views.nearest_rows(self.info, self.latents, self.selected, k=5)
        self.neighbours.value = ("nearest in the latent space (what the world model thinks runs alike)"
                                 + _rows_html(near)) if len(near) else ""

    def _compute(self, *, new_projection: bool = True) -> None:
        if self.source is None:
            self.info = None
            return
        self.busy.start(f"rolling out {len(self.source)} candidates")
        info, self.latents = views.embedding_info(self.evaluator, self.source, method=self.method.value,
                                                  edited=self.edited, return_latents=True,
                                                  dims=3 if self.dims.value == "3-D" else 2)
        self.info = views.with_disagreements(info, self.other_scores) if self.other_scores is not None else info
        self.lassoed.value = ""
        self.revision += new_projection
        self._color_options()
        self._filter()
        self.busy.done(f"{len(self.info)} candidates")

    def _color_options(self) -> None:
        """What the points can be coloured by, keeping the colouring where it still exists (no redraw)."""
        options = views.color_options(self.info)
        if list(self.color.options) != options:
            keep = self.color.value if self.color.value in options else "latency"
            self._quiet = True  # the caller draws once the colouring is set
            try:
                self.color.options = options
                self.color.value = keep
            finally:
                self._quiet = False

    def _draw(self) -> None:
        """Redraw everything (a new source, colouring or projection); the ring is the second trace."""
        if self.info is None:
            set_figure(self.figure, placeholder("no candidates yet", 480))
            return
        fig = views.embedding_figure(self.info, color_by=self.color.value, mask=self.mask)
        fig = go.Figure([fig.data[0], views.selection_ring(self.info, self.selected), *fig.data[1:]], fig.layout)
        # One uirevision per projection: a zoom is kept over recolourings, filters and edits (the points stay
        # where they are); a new source or projection resets it.
        current = self.figure.layout
        if current.uirevision == self.revision and "z" not in self.info:
            for axis in ("xaxis", "yaxis"):
                if current[axis].range is not None and current[axis].autorange is not True:
                    fig.layout[axis].range = current[axis].range
        fig.update_layout(uirevision=self.revision)
        set_figure(self.figure, fig)
        self.figure.data[0].on_click(self.handle_click)
        if "z" not in self.info:  # box and lasso exist only on a plane
            self.figure.data[0].on_selection(self.handle_selection)


def _rows_html(rows: Any) -> str:
    """Candidates as a small table: decisions, measured latency, score (and distance where given)."""
    cols = [c for c in ("summary", "latency_ms", "score", "distance") if c in rows]
    return table_html(rows[cols].rename(columns={"summary": "decisions"}))
