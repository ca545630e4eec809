"""Figure widgets over :mod:`workbench.views`: latent trajectories, the embedding projector, the ranking debugger."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from workbench import views


def set_figure(widget: go.FigureWidget, fig: go.Figure) -> None:
    """Replace a FigureWidget's traces and layout with those of ``fig`` in one update."""
    with widget.batch_update():
        widget.data = []
        widget.add_traces(list(fig.data))
        widget.layout = fig.layout
        widget.layout.title.text = fig.layout.title.text or ""  # an absent title would keep the old one


class _Busy:
    """A progress line shown while a view computes (anything over a second)."""

    def __init__(self) -> None:
        self.bar = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="240px", visibility="hidden"))
        self.label = W.HTML()
        self.box = W.HBox([self.bar, self.label])

    def start(self, text: str, total: int = 1) -> None:
        self.bar.max, self.bar.value = max(total, 1), 0
        self.bar.layout.visibility = "visible"
        self.label.value = f"<i>{html.escape(text)}</i>"

    def step(self, n: int = 1) -> None:
        self.bar.value = min(self.bar.max, self.bar.value + n)

    def done(self, text: str = "") -> None:
        self.bar.layout.visibility = "hidden"
        self.label.value = text


def _projection_dropdown(method: str) -> W.Dropdown:
    options = ["pca"] + (["umap"] if views.umap_available() else [])
    return W.Dropdown(options=options, value=method if method in options else "pca", description="projection",
                      layout=W.Layout(width="200px"))


class TrajectoryView(W.VBox):
    """Predicted latent trajectories vs the encoded real programs, in 2D (PCA, or UMAP if installed)."""

    def __init__(self, evaluator: Any, candidates: list[Any] | None = None, *, real: bool = True,
                 method: str = "pca", labels: list[str] | None = None, **kwargs: Any) -> None:
        self.evaluator, self.real = evaluator, real
        self.candidates: list[Any] = []
        self.labels: list[str] = []
        self.info: views.TrajectoryInfo | None = None
        self.highlight: tuple[int, int] | None = None
        self.method = _projection_dropdown(method)
        self.real_box = W.Checkbox(value=real, description="encode the real programs too", indent=False)
        self.busy = _Busy()
        self.figure = go.FigureWidget(go.Figure(layout={"height": 620, "title": "no candidate yet"}))
        self.errors = W.HTML()
        super().__init__([W.HBox([self.method, self.real_box]), self.busy.box, self.figure, self.errors], **kwargs)
        self.method.observe(lambda _: self.refresh(), names="value")
        self.real_box.observe(lambda _: self.refresh(), names="value")
        if candidates:
            self.set_candidates(candidates, labels=labels)

    def set_candidates(self, candidates: list[Any], *, labels: list[str] | None = None) -> None:
        self.candidates = list(candidates)
        self.labels = labels or [f"candidate {i}" for i in range(len(self.candidates))]
        self.highlight = None
        self.refresh()

    def show_step(self, candidate: int, position: int) -> None:
        """Ring the predicted state after ``position`` actions of candidate ``candidate`` (a stepper position)."""
        if self.info is None:
            return
        pts = self.info.points
        steps = pts[(pts["candidate"] == candidate) & (pts["kind"] == "predicted")]
        done = steps[steps["action_index"] < position]
        self.highlight = (candidate, int(done["step"].max()) if len(done) else 0)
        set_figure(self.figure, views.trajectory_figure(self.info, highlight=self.highlight))

    def refresh(self) -> None:
        if not self.candidates:
            return
        self.busy.start(f"rolling out {len(self.candidates)} candidates"
                        + (" and encoding their real programs" if self.real_box.value else ""))
        self.info = views.trajectory_info(self.evaluator, self.candidates, real=self.real_box.value,
                                          method=self.method.value, labels=self.labels)
        set_figure(self.figure, views.trajectory_figure(self.info, highlight=self.highlight))
        err = self.info.errors.groupby("step")["error"].mean()
        self.busy.done()
        if err.notna().any():
            self.errors.value = ("mean rollout error per step (standardized MSE): "
                                 + ", ".join(f"{int(s)}: {e:.3f}" for s, e in err.items() if s > 0))


class EmbeddingProjector(W.VBox):
    """Candidates of a subgraph by their predicted final latent, coloured by latency or score; click to select."""

    def __init__(self, evaluator: Any, source: Any = None, *, color_by: str = "latency", method: str = "pca",
                 **kwargs: Any) -> None:
        self.evaluator = evaluator
        self.source: Any = None
        self.info: Any = None
        self.selected: int | None = None
        self._callbacks: list[Callable[[int], None]] = []
        self.color = W.ToggleButtons(options=["latency", "score"], value=color_by, description="colour by",
                                     style={"button_width": "70px"})
        self.method = _projection_dropdown(method)
        self.busy = _Busy()
        self.figure = go.FigureWidget(go.Figure(layout={"height": 480, "title": "no candidates yet"}))
        self.details = W.HTML()
        super().__init__([W.HBox([self.color, self.method]), self.busy.box, self.figure, self.details], **kwargs)
        self.color.observe(lambda _: self._draw(), names="value")
        self.method.observe(lambda _: self.set_source(self.source), names="value")
        if source is not None:
            self.set_source(source)

    def on_select(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(row)`` when a point is clicked (``row``: the DataFrame index or candidate number)."""
        self._callbacks.append(callback)

    def set_source(self, source: Any) -> None:
        """Candidates, or a ``load_logs`` DataFrame of one subgraph."""
        self.source = source
        if source is None:
            return
        self.busy.start(f"rolling out {len(source)} candidates")
        self.info = views.embedding_info(self.evaluator, source, method=self.method.value)
        self.busy.done(f"{len(self.info)} candidates")
        self._draw()

    def select(self, row: int) -> None:
        self.selected = int(row)
        self._draw()
        r = self.info[self.info["row"] == self.selected]
        if len(r):
            r = r.iloc[0]
            lat = f"{r.latency_ms:.4f} ms measured" if r.latency_ms == r.latency_ms else "not measured"
            self.details.value = (f"<b>row {self.selected}</b>: {lat}, score {r.score:.3f}<br>"
                                  f"<code>{html.escape(r.summary)}</code>")
        for cb in self._callbacks:
            cb(self.selected)

    def _on_click(self, trace: Any, points: Any, state: Any) -> None:
        if points.point_inds:
            self.select(int(self.info["row"].iloc[points.point_inds[0]]))

    def _draw(self) -> None:
        if self.info is None:
            return
        set_figure(self.figure, views.embedding_figure(self.info, color_by=self.color.value, selected=self.selected))
        self.figure.data[0].on_click(self._on_click)


class RankingDebugger(W.VBox):
    """World-model scores vs measured latency for a subgraph, beside MetaSchedule's XGBModel when given one;
    the worst disagreements, each openable; the features that drove a selected score."""

    def __init__(self, evaluator: Any, records: Any = None, *, baseline: Any = None, train_records: Any = None,
                 **kwargs: Any) -> None:
        self.evaluator, self.baseline = evaluator, baseline
        self.train_records = train_records  # what the baseline button trains MetaSchedule's XGBModel on
        self.records: Any = None
        self.info: views.RankingInfo | None = None
        self.selected: int | None = None
        self._callbacks: list[Callable[[int], None]] = []
        self.busy = _Busy()
        self.figure = go.FigureWidget(go.Figure(layout={"height": 420, "title": "no records yet"}))
        self.metrics = W.HTML()
        self.worst = W.Select(options=[], rows=8, description="worst", layout=W.Layout(width="560px"))
        self.open_button = W.Button(description="open in stepper", layout=W.Layout(width="130px"))
        self.contrib = go.FigureWidget(go.Figure(layout={"height": 360, "title": "select a record"}))
        self.baseline_button = W.Button(description="add MetaSchedule's XGBModel", layout=W.Layout(width="240px"),
                                        disabled=baseline is not None or train_records is None)
        super().__init__([W.HBox([self.baseline_button, self.busy.box]), self.figure, self.metrics,
                          W.HBox([self.worst, self.open_button]), self.contrib], **kwargs)
        self.baseline_button.on_click(lambda _: self.train_baseline(self.train_records))
        self.worst.observe(self._on_worst, names="value")
        self.open_button.on_click(lambda _: self._open())
        if records is not None:
            self.set_records(records)

    def on_open(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(row)`` when the user asks to open a record in the stepper."""
        self._callbacks.append(callback)

    def set_baseline(self, baseline: Any) -> None:
        self.baseline = baseline
        if self.records is not None:
            self.set_records(self.records)

    def train_baseline(self, train_records: Any, *, wait: bool = False) -> threading.Thread:
        """Fit MetaSchedule's XGBModel on ``train_records`` in the background, then add it to the view."""
        from workbench.worldmodel.baseline import MetaScheduleXGB

        self.baseline_button.disabled = True

        def work() -> None:
            try:
                model = MetaScheduleXGB(progress=False).fit(train_records[train_records["status"] == "ok"]
                                                            .reset_index(drop=True))
                self.set_baseline(model)
                self.busy.done(f"MetaSchedule XGBModel trained on {len(train_records)} records")
            except Exception as err:  # noqa: BLE001 - shown to the user, not swallowed
                self.busy.done(f"MetaSchedule XGBModel failed: {err}")

        self.busy.start(f"training MetaSchedule's XGBModel on {len(train_records)} records (PerStoreFeature)")
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        if wait:
            thread.join()
        return thread

    def set_records(self, records: Any) -> None:
        self.records = records
        self.info = views.ranking_info(self.evaluator, records, baseline=self.baseline)
        set_figure(self.figure, views.ranking_figure(self.info, selected=self.selected))
        m = self.info.metrics
        self.metrics.value = m.to_html(float_format=lambda v: f"{v:.3f}")
        self.worst.unobserve(self._on_worst, names="value")
        self.worst.options = [(f"row {r.row}: measured rank {r.true_rank}, world rank {r.world_rank} "
                               f"({r.latency_ms:.4f} ms)", int(r.row)) for r in self.info.worst.itertuples()]
        self.worst.value = None
        self.worst.observe(self._on_worst, names="value")

    def select(self, row: int) -> None:
        self.selected = int(row)
        set_figure(self.figure, views.ranking_figure(self.info, selected=self.selected))
        set_figure(self.contrib, views.contributions_figure(views.contributions_info(self.evaluator,
                                                                                     self.records.loc[self.selected])))

    def _on_worst(self, change: dict) -> None:
        if change["new"] is not None:
            self.select(change["new"])

    def _open(self) -> None:
        if self.selected is not None:
            for cb in self._callbacks:
                cb(self.selected)
