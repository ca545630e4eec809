"""Latent trajectories of a few candidates beside their encoded real programs, the stepper's step ringed."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import traitlets

from widgets.common import Busy, Panel, figure_widget, placeholder, projection_dropdown, set_figure
from workbench import views


class TrajectoryView(Panel):
    """Predicted latent trajectories vs the encoded real programs, in 2D (PCA, or UMAP if installed).

    The projection is fitted on the first candidates of a subgraph and kept for the next ones (the axes only
    widen), so candidates opened one after another compare by eye; another subgraph or projection refits it.

    ``candidates`` are rolled out (and their real programs encoded) whenever they change; ``labels`` only
    rename them; ``position`` rings the predicted state of the last candidate after that many of its actions
    (link it to an :class:`ActionStepper`'s ``position``).
    """

    # -- state others set
    candidates = traitlets.List()  # the Candidates drawn
    labels = traitlets.List()  # one label per candidate ("candidate <i>" where missing)
    position = traitlets.Int(None, allow_none=True)  # actions applied to the last candidate (the ringed step)

    def __init__(self, evaluator: Any, candidates: list[Any] | None = None, *, real: bool = True,
                 method: str = "pca", labels: list[str] | None = None, **kwargs: Any) -> None:
        self.evaluator = evaluator
        self.info: views.TrajectoryInfo | None = None
        # The projection and axis ranges of the subgraph shown: one candidate after another, on the same axes.
        self.frame: tuple[Any, Any, Any] | None = None  # (subgraph, method, real), Projection, ranges
        # -- controls
        self.method = projection_dropdown(method)
        self.real_box = W.Checkbox(value=real, description="encode the real programs too", indent=False)
        self.busy = Busy()
        self.figure = figure_widget(placeholder("no candidate yet", 620))
        self.errors = W.HTML()
        super().__init__([W.HBox([self.method, self.real_box]), self.busy, self.figure, self.errors], **kwargs)
        # -- wiring
        self.method.observe(lambda _: self.refresh(), names="value")
        self.real_box.observe(lambda _: self.refresh(), names="value")
        self.labels = list(labels or [])
        self.candidates = list(candidates or [])

    def refresh(self) -> None:
        """Roll the candidates out again (and encode their real programs) and redraw."""
        if not self.candidates:
            self.info = None
            set_figure(self.figure, placeholder("no candidate yet", 620))
            self.errors.value = ""
            return
        self.busy.start(f"rolling out {len(self.candidates)} candidates"
                        + (" and encoding their real programs" if self.real_box.value else ""))
        key = (self.candidates[0].space.subgraph.name, self.method.value, self.real_box.value)
        same = self.frame is not None and self.frame[0] == key
        self.info = views.trajectory_info(self.evaluator, self.candidates, real=self.real_box.value,
                                          method=self.method.value, labels=self.labels,
                                          frame=self.frame[1] if same else None)
        if self.info.projection.fitted is None:  # t-SNE places nothing it was not fitted on: its own axes
            self.frame = None
        else:
            self.frame = (key, self.info.projection,
                          views.grow_ranges(self.frame[2] if same else None, self.info.points))
        self._draw()
        self.busy.done()
        err = self.info.errors.groupby("step")["error"].mean()
        self.errors.value = ("mean rollout error per step (standardized MSE): "
                             + ", ".join(f"{int(s)}: {e:.3f}" for s, e in err.items() if s > 0)
                             if err.notna().any() else "")

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("candidates")
    def _on_candidates(self, change: dict) -> None:
        self.refresh()

    @traitlets.observe("labels")
    def _on_labels(self, change: dict) -> None:
        if self.info is not None:
            self.info = views.relabel(self.info, self.labels)
            self._draw()

    @traitlets.observe("position")
    def _on_position(self, change: dict) -> None:
        if self.info is not None:
            self._draw()

    def _draw(self) -> None:
        highlight = None
        if self.position is not None:
            last = len(self.candidates) - 1
            step = views.step_at(self.info, candidate=last, position=self.position)
            highlight = (last, step) if step is not None else None
        set_figure(self.figure, views.trajectory_figure(self.info, highlight=highlight,
                                                        ranges=self.frame[2] if self.frame else None))
