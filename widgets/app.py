"""The Workbench: picker, stepper, trajectories, projector, ranking debugger, measure panel and tuning, linked.

Picking a subgraph loads its measured records (from ``logs``) or samples fresh candidates; clicking a point in
the projector, or opening a disagreement in the ranking debugger, opens that candidate in the stepper, the
trajectory view and the measure panel; an edit in the stepper re-rolls the trajectory beside the original.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from widgets.measure import MeasurePanel
from widgets.picker import SubgraphPicker
from widgets.stepper import ActionStepper
from widgets.tuning import TuningDashboard
from widgets.views import EmbeddingProjector, RankingDebugger, TrajectoryView


class Workbench(W.VBox):
    """Everything in one place, on the shipped model and sample logs by default."""

    def __init__(self, subgraph: str = "conv2d_7x7x512_3x3", *, evaluator: Any = None, logs: Any = None,
                 candidates: int = 48, work_root: str = "work/tune", **kwargs: Any) -> None:
        from workbench import sample_logs_dir
        from workbench.logs import load_logs
        from workbench.worldmodel import load_default

        self.evaluator = evaluator if evaluator is not None else load_default("cpu")
        self.logs = logs if logs is not None else load_logs(sample_logs_dir() / "cpu", progress=False)
        self.n_candidates = candidates
        self.space: Any = None
        self.records: Any = None  # measured records of the current subgraph (may be empty)
        self.sampled: list[Any] = []  # candidates sampled when there are no records
        self.current: Any = None
        self.message = W.HTML()
        self.picker = SubgraphPicker(value=subgraph)
        self.projector = EmbeddingProjector(self.evaluator)
        # MetaSchedule's XGBModel, on demand: trained on the measured records of the world model's training
        # subgraphs (a few per op family keep it to seconds).
        trained = set(self.evaluator.config.info.get("subgraphs", []))
        train = self.logs[self.logs["subgraph"].isin(trained) & (self.logs["status"] == "ok")]
        self.ranking = RankingDebugger(self.evaluator, train_records=train.groupby("subgraph").head(40))
        self.stepper: ActionStepper | None = None
        self.stepper_box = W.VBox()
        self.trajectory = TrajectoryView(self.evaluator)
        self.measure = MeasurePanel(evaluator=self.evaluator)
        self.tuning = TuningDashboard(subgraph, evaluator=self.evaluator, work_root=work_root)
        explore = W.VBox([W.HTML("<h4>Candidates (click one)</h4>"), self.projector,
                          W.HTML("<h4>Actions of the selected candidate</h4>"), self.stepper_box,
                          W.HTML("<h4>Its latent trajectory</h4>"), self.trajectory])
        self.tabs = W.Tab(children=[explore, self.ranking, self.measure, self.tuning])
        for i, title in enumerate(["explore", "ranking", "measure", "tune"]):
            self.tabs.set_title(i, title)
        super().__init__([self.picker, self.message, self.tabs], **kwargs)
        self.picker.on_change(self._on_subgraph)
        self.projector.on_select(self.open_row)
        self.ranking.on_open(self.open_row)
        if self.picker.subgraph is not None:
            self._on_subgraph(self.picker.subgraph)

    # ---- linking ----------------------------------------------------------------------------------
    def _on_subgraph(self, sub: Any) -> None:
        from workbench.actions import DesignSpace

        self.space = DesignSpace(sub)
        self.records = self.logs[(self.logs["subgraph"] == sub.name) & (self.logs["status"] == "ok")]
        self.tuning.subgraph.value = sub.name
        trained = sub.name in set(self.evaluator.config.info.get("subgraphs", []))
        note = " (the world model was trained on it)" if trained else " (held out: the world model never saw it)"
        if len(self.records):
            self.message.value = f"{len(self.records)} measured records of {html.escape(sub.name)}{note}"
            self.projector.set_source(self.records)
            self.ranking.set_records(self.records)
            self.open_row(int(self.records["latency"].idxmin()))
        else:
            self.sampled = self.space.sample(self.n_candidates, seed=0)
            self.message.value = (f"no measured records of {html.escape(sub.name)}: {len(self.sampled)} fresh "
                                  f"candidates sampled{note}")
            self.projector.set_source(self.sampled)
            self.open_row(0)

    def candidate_for(self, row: int) -> Any:
        """The candidate of a projector/ranking row: a logged record's trace, or a sampled candidate."""
        if self.records is not None and len(self.records) and row in self.records.index:
            return self.space.candidate(self.records.loc[row, "trace"])
        return self.sampled[row]

    def open_row(self, row: int) -> None:
        """Open a record (or sampled candidate) everywhere: stepper, trajectory, measure, projector, ranking."""
        self.open_candidate(self.candidate_for(row))
        if self.projector.selected != row and self.projector.info is not None:
            self.projector.selected = row
            self.projector._draw()
        if self.ranking.info is not None and self.ranking.selected != row and row in set(self.ranking.info.table["row"]):
            self.ranking.select(row)

    def open_candidate(self, candidate: Any) -> None:
        """Show a candidate in the stepper, the trajectory view and the measure panel."""
        self.current = candidate
        if self.stepper is None:
            self.stepper = ActionStepper(candidate, evaluator=self.evaluator)
            self.stepper.on_candidate(self._on_edit)
            self.stepper.on_position(lambda pos: self.trajectory.show_step(len(self.trajectory.candidates) - 1, pos))
            self.stepper_box.children = [self.stepper]
        else:
            self.stepper.show(candidate)
        self.trajectory.set_candidates([candidate], labels=["selected"])
        self.measure.set_candidate(candidate)

    def _on_edit(self, candidate: Any) -> None:
        original = self.stepper.history[0]
        if candidate is original:
            self.trajectory.set_candidates([original], labels=["selected"])
        else:
            self.trajectory.set_candidates([original, candidate], labels=["original", "edited"])
        self.measure.set_candidate(candidate)
