"""The Workbench: picker, stepper, trajectories, projector, ranking debugger, measure panel and tuning, linked.

Picking a subgraph loads its measured records (from ``logs``) or samples fresh candidates; clicking a point in
the projector, or opening a disagreement in the ranking debugger, opens that candidate in the stepper, the
trajectory view and the measure panel; an edit in the stepper re-rolls the trajectory beside the original.
Every link is a ``traitlets.link`` or ``dlink`` between the views' traits (see :meth:`Workbench.link_stepper`).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import traitlets

from widgets.common import Panel, fit_figures
from widgets.decisions import DecisionExplorer
from widgets.measure import MeasurePanel
from widgets.picker import SubgraphPicker
from widgets.projector import EmbeddingProjector
from widgets.ranking import RankingDebugger
from widgets.stepper import ActionStepper
from widgets.trajectory import TrajectoryView
from widgets.tuning import TuningDashboard
from workbench import views
from workbench.actions import Candidate, DesignSpace
from workbench.subgraphs import Subgraph


def compared(history: list[Candidate]) -> list[Candidate]:
    """The candidates a stepper's history puts side by side: the one opened, and its latest edit if any."""
    return history[:1] + history[-1:] if len(history) > 1 else list(history)


def compared_labels(history: list[Candidate]) -> list[str]:
    return ["original", "edited"] if len(history) > 1 else ["selected"]


class Workbench(Panel):
    """Everything in one place, on the shipped model and sample logs by default.

    ``subgraph`` follows the picker; ``row`` is the record (a ``logs`` index) or sampled candidate (its number)
    open everywhere, linked to the projector's selection and to the ranking debugger; ``candidate`` is that
    row's candidate, which the stepper shows (its edits then reach the trajectory view and the measure panel).
    """

    # -- state
    subgraph = traitlets.Instance(Subgraph, allow_none=True)  # the picked subgraph
    row = traitlets.Int(None, allow_none=True)  # the open record or sampled candidate
    candidate = traitlets.Instance(Candidate, allow_none=True)  # the candidate of that row, as opened

    def __init__(self, subgraph: str = "conv2d_7x7x512_3x3", *, evaluator: Any = None, logs: Any = None,
                 candidates: int = 48, work_root: str = "work/tune", **kwargs: Any) -> None:
        from workbench import sample_logs_dir
        from workbench.logs import load_logs
        from workbench.worldmodel import load_default

        self.evaluator = evaluator if evaluator is not None else load_default("cpu")
        self.logs = logs if logs is not None else load_logs(sample_logs_dir() / "cpu", progress=False)
        self.n_candidates = candidates
        self.space: DesignSpace | None = None
        self.records: Any = None  # measured records of the current subgraph (may be empty)
        self.sampled: list[Candidate] = []  # candidates sampled when there are no records
        # -- views
        self.message = W.HTML()
        self.header = W.HTML()  # which candidate is open everywhere: its decisions, log, score, rank, edits
        self.header.add_class("wb-header")
        self.picker = SubgraphPicker(value=subgraph)
        self.projector = EmbeddingProjector(self.evaluator)
        self.ranking = RankingDebugger(self.evaluator, inline_stepper=False,
                                       train_records=views.baseline_training_records(self.evaluator, self.logs))
        self.stepper: ActionStepper | None = None  # made for the first candidate opened
        self.stepper_box = W.VBox()
        self.trajectory = TrajectoryView(self.evaluator)
        self.measure = MeasurePanel(evaluator=self.evaluator)
        self.tuning = TuningDashboard(subgraph, evaluator=self.evaluator, work_root=work_root)
        self.decisions = DecisionExplorer(self.evaluator)
        explore = W.VBox([W.HTML("<h4>Candidates (click one)</h4>"), self.projector,
                          W.HTML("<h4>Actions of the selected candidate</h4>"), self.stepper_box,
                          W.HTML("<h4>Its latent trajectory</h4>"), self.trajectory])
        self.tabs = W.Tab(children=[explore, self.ranking, self.decisions, self.measure, self.tuning])
        for i, title in enumerate(["explore", "ranking", "decisions", "measure", "tune"]):
            self.tabs.set_title(i, title)
        super().__init__([self.picker, self.message, self.header, self.tabs], **kwargs)
        # -- links
        traitlets.link((self.projector, "selected"), (self, "row"))
        traitlets.link((self.ranking, "opened"), (self, "row"))
        traitlets.dlink((self, "row"), (self.ranking, "selected"))
        traitlets.dlink((self, "candidate"), (self.decisions, "candidate"))
        traitlets.dlink((self.picker, "subgraph"), (self.tuning, "subgraph"),
                        transform=lambda sub: sub.name if sub is not None else self.tuning.subgraph)
        traitlets.dlink((self.picker, "subgraph"), (self, "subgraph"))  # loads it (see _on_subgraph)
        # A tab shown: its figures (first drawn hidden, at plotly's default width) fill the column.
        self.tabs.observe(lambda change: fit_figures(self.tabs.children[change["new"]])
                          if change["new"] is not None else None, names="selected_index")
        # MetaSchedule's XGBModel, once the ranking tab trains it, colours the projector too ("world vs xgb")
        self.ranking.observe(lambda _: self.share_baseline(), names="baseline")

    def candidate_for(self, row: int) -> Candidate:
        """The candidate of a projector/ranking row: a logged record's trace, or a sampled candidate."""
        if self.records is not None and len(self.records) and row in self.records.index:
            return self.space.candidate(self.records.loc[row, "trace"])
        return self.sampled[row]

    def link_stepper(self, stepper: ActionStepper) -> None:
        """The stepper shows ``candidate``; what it shows is measured; the original and its edit are rolled out
        side by side, the stepper's step ringed."""
        traitlets.dlink((self, "candidate"), (stepper, "candidate"))
        traitlets.dlink((stepper, "candidate"), (self.measure, "candidate"))
        traitlets.dlink((stepper, "history"), (self.trajectory, "labels"), transform=compared_labels)
        traitlets.dlink((stepper, "history"), (self.trajectory, "candidates"), transform=compared)
        traitlets.dlink((stepper, "position"), (self.trajectory, "position"))
        traitlets.dlink((stepper, "history"), (self.projector, "edited"),
                        transform=lambda h: h[-1:] if len(h) > 1 else [])
        traitlets.dlink((stepper, "history"), (self.measure, "label"),
                        transform=lambda h: "edited" if len(h) > 1 else "")
        stepper.observe(lambda _: self.show_header(), names=["history", "candidate"])

    def share_baseline(self) -> None:
        """Give the projector the ranking debugger's MetaSchedule XGBModel scores (None without them)."""
        info = self.ranking.info
        table = info.table if info is not None else None
        if table is not None and "xgb_score" in table and len(table):
            self.projector.other_scores = table.set_index("row")["xgb_score"]
        else:
            self.projector.other_scores = None

    def show_header(self) -> None:
        """Say which candidate is open in every view: its decisions, measured latency, the world model's score and
        rank among the subgraph's candidates, and whether it is edited (with the edit's score)."""
        cand = self.candidate
        if cand is None:
            self.header.value = ""
            return
        info = self.projector.info
        parts = [f"open: <b>{html.escape(views.trace_summary(cand.actions) or 'no decisions')}</b>"]
        if cand.sketch is not None:
            parts[0] += f" (sketch {cand.sketch})"
        if info is not None and self.row is not None:
            base = info[~info["edited"].astype(bool)]
            rows = base[base["row"] == self.row]
            if len(rows):
                r = rows.iloc[0]
                if r.latency_ms == r.latency_ms:
                    faster = int((base["latency_ms"] < r.latency_ms).sum())
                    parts.append(f"measured {r.latency_ms:.4f} ms (rank {faster + 1} of "
                                 f"{int(base['latency_ms'].notna().sum())})")
                parts.append(f"world-model score {r.score:.3f} (rank {int((base['score'] > r.score).sum()) + 1} "
                             f"of {len(base)})")
        history = self.stepper.history if self.stepper is not None else []
        if len(history) > 1:
            score = self.stepper.scores.score if self.stepper.scores is not None else None
            parts.append(f"<span style='color:#b60'>edited ({len(history) - 1} edit{'s' * (len(history) > 2)}"
                         + (f", score {score:.3f}" if score is not None else "") + ")</span>")
        else:
            parts.append("not edited")
        self.header.value = " · ".join(parts)

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("subgraph")
    def _on_subgraph(self, change: dict) -> None:
        sub = change["new"]
        if sub is None:
            return
        self.row = None  # nothing of the old subgraph stays open
        self.space = DesignSpace(sub)
        self.records = self.logs[(self.logs["subgraph"] == sub.name) & (self.logs["status"] == "ok")]
        self.measure.records = self.records
        self.decisions.records = self.records if len(self.records) else None
        trained = sub.name in set(self.evaluator.config.info.get("subgraphs", []))
        note = " (the world model was trained on it)" if trained else " (held out: the world model never saw it)"
        if len(self.records):
            self.sampled = []
            self.message.value = f"{len(self.records)} measured records of {html.escape(sub.name)}{note}"
            self.projector.source = self.records
            self.ranking.records = self.records
            self.share_baseline()
            self.row = int(self.records["latency"].idxmin())
        else:
            self.sampled = self.space.sample(self.n_candidates, seed=0)
            self.message.value = (f"no measured records of {html.escape(sub.name)}: {len(self.sampled)} fresh "
                                  f"candidates sampled{note}")
            self.projector.source = self.sampled
            self.ranking.records = None
            self.share_baseline()
            self.row = 0

    @traitlets.observe("row")
    def _on_row(self, change: dict) -> None:
        if change["new"] is not None:
            self.candidate = self.candidate_for(change["new"])
        self.show_header()

    @traitlets.observe("candidate")
    def _on_candidate(self, change: dict) -> None:
        if self.stepper is None and change["new"] is not None:
            self.stepper = ActionStepper(change["new"], evaluator=self.evaluator)
            self.stepper_box.children = [self.stepper]
            self.link_stepper(self.stepper)
