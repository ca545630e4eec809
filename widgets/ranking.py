"""The ranking debugger: world-model scores against measurements, the worst disagreements, what drove a score."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import traitlets

from widgets.background import BackgroundTask
from widgets.common import Busy, Panel, error_html, figure_widget, placeholder, set_figure
from workbench import views


class RankingDebugger(Panel):
    """World-model scores vs measured latency for a subgraph, beside MetaSchedule's XGBModel when given one;
    the worst disagreements, each openable; the features that drove a selected score.

    ``selected`` is the record whose contributions are shown; "open in stepper" sets ``opened`` to it (link
    that to the row a stepper shows, as the Workbench does), and with ``inline_stepper`` (the default, for a
    debugger on its own) also opens it in a stepper below. ``train_records`` is what the baseline button trains
    the XGBModel on.
    """

    # -- state others follow or set
    records = traitlets.Any(None)  # a load_logs DataFrame of one subgraph (its successful records are ranked)
    baseline = traitlets.Any(None)  # a fitted MetaScheduleXGB, ranked beside the world model
    selected = traitlets.Int(None, allow_none=True)  # the record (DataFrame index) whose score is explained
    opened = traitlets.Int(None, allow_none=True)  # the record asked to be opened elsewhere (a stepper)

    def __init__(self, evaluator: Any, records: Any = None, *, baseline: Any = None, train_records: Any = None,
                 inline_stepper: bool = True, **kwargs: Any) -> None:
        self.evaluator = evaluator
        self.inline_stepper = inline_stepper
        self.stepper: Any = None  # the inline stepper, made when a record is first opened
        self._space: Any = None  # the design space of the records opened inline
        self.train_records = train_records
        self.info: views.RankingInfo | None = None
        self.task = BackgroundTask("MetaSchedule XGBModel training", on_error=self._training_failed)
        # -- controls
        self.busy = Busy()
        self.figure = figure_widget(placeholder("no records yet", 420))
        self.metrics = W.HTML()
        self.worst = W.Select(options=[], rows=8, description="worst", layout=W.Layout(width="560px"))
        self.open_button = W.Button(description="open in stepper", layout=W.Layout(width="130px"))
        self.contrib = figure_widget(placeholder("select a record", 360))
        self.selected_line = W.HTML()  # the selected record, named by its decisions
        self.selected_line.add_class("wb-ranking-selected")  # found by the browser test
        self.open_message = W.HTML()
        self.stepper_box = W.VBox()
        self.baseline_button = W.Button(description="add MetaSchedule's XGBModel", layout=W.Layout(width="240px"),
                                        disabled=baseline is not None or train_records is None)
        super().__init__([W.HBox([self.baseline_button, self.busy]), self.figure, self.metrics,
                          W.HBox([self.worst, self.open_button]), self.open_message, self.selected_line,
                          self.contrib,
                          self.stepper_box], **kwargs)
        # -- wiring
        self.baseline_button.on_click(lambda _: self.train_baseline())
        self.worst.observe(self._on_worst, names="value")
        self.open_button.on_click(lambda _: self.open_selected())
        self.baseline = baseline
        self.records = records

    # ---- actions ----------------------------------------------------------------------------------
    def select(self, row: int | None) -> None:
        """Explain record ``row`` (a DataFrame index of ``records``)."""
        self.selected = None if row is None else int(row)

    def open_selected(self) -> None:
        """Ask for the selected record to be opened (``opened``), and open it in the inline stepper
        (``inline_stepper``)."""
        if self.selected is None:
            self.open_message.value = "<i>select a record first (the list of worst disagreements, above)</i>"
            return
        self.opened = self.selected
        if self.inline_stepper:
            self._open_inline(self.selected)
        else:
            self.open_message.value = "opened in the stepper of the explore tab"

    def _open_inline(self, row: int) -> None:
        from widgets.stepper import ActionStepper
        from workbench.actions import DesignSpace
        from workbench.subgraphs import load_subgraph

        record = self.records.loc[row]
        try:
            if self._space is None or self._space.subgraph.name != record["subgraph"]:
                self._space = DesignSpace(load_subgraph(record["subgraph"]))
            cand = self._space.candidate(record["trace"])
        except (ValueError, FileNotFoundError) as err:  # CandidateError, SubgraphError: it cannot open
            self.open_message.value = error_html(f"cannot open record {row}: {err}")
            return
        if self.stepper is None:
            self.stepper = ActionStepper(cand, evaluator=self.evaluator)
            self.stepper_box.children = [W.HTML("<h4>The opened record, step by step</h4>"), self.stepper]
        else:
            self.stepper.show(cand)
        self.open_message.value = (f"opened <b>{html.escape(views.trace_summary(cand.actions))}</b> "
                                   f"({record['latency'] * 1e3:.4f} ms measured) in the stepper below")

    def train_baseline(self, train_records: Any = None, *, wait: bool = False) -> None:
        """Fit MetaSchedule's XGBModel on ``train_records`` (default: ``self.train_records``) in the background,
        then rank with it beside the world model."""
        records = self.train_records if train_records is None else train_records
        if records is None:
            self.busy.done("no records to train MetaSchedule's XGBModel on")
            return
        if self.task.start(self._train, records):
            self.baseline_button.disabled = True
            self.busy.start(f"training MetaSchedule's XGBModel on {len(records)} records (PerStoreFeature)")
        if wait:
            self.task.wait()

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("records", "baseline")
    def _on_records(self, change: dict) -> None:
        self.info = views.ranking_info(self.evaluator, self.records, baseline=self.baseline) \
            if self.records is not None else None
        self.worst.unobserve(self._on_worst, names="value")
        self.worst.options = [] if self.info is None else [
            (f"{self._summary(int(r.row))}: measured rank {r.true_rank}, world rank {r.world_rank} "
             f"({r.latency_ms:.4f} ms)", int(r.row))
            for r in self.info.worst.itertuples()]
        self.worst.observe(self._on_worst, names="value")
        self.metrics.value = "" if self.info is None else self.info.metrics.to_html(float_format=lambda v: f"{v:.3f}")
        if change["name"] == "records":
            self.open_message.value = ""
        if change["name"] == "records" and self.selected is not None:
            self.selected = None  # a row of the old records means nothing here (redraws)
        else:
            self._show_selected()

    @traitlets.observe("selected")
    def _on_selected(self, change: dict) -> None:
        self._show_selected()

    def _on_worst(self, change: dict) -> None:
        if change["new"] is not None:
            self.selected = change["new"]

    def _show_selected(self) -> None:
        rows = [row for _, row in self.worst.options]
        self.worst.unobserve(self._on_worst, names="value")  # the list follows the selection, it does not set it
        self.worst.value = self.selected if self.selected in rows else None
        self.worst.observe(self._on_worst, names="value")
        self._draw()

    def _summary(self, row: int) -> str:
        """A record named by its decisions (tile sizes, unroll, compute locations), not by a table index."""
        actions = self.records.loc[row, "actions"] if "actions" in self.records else None
        return (views.trace_summary(actions) or "no decisions") if actions is not None else f"record {row}"

    def _draw(self) -> None:
        self.selected_line.value = ""
        if self.info is not None and self.selected is not None and self.selected in set(self.info.table["row"]):
            r = self.info.table.set_index("row").loc[self.selected]
            n = len(self.info.table)
            self.selected_line.value = (f"selected <b>{html.escape(self._summary(self.selected))}</b>: measured "
                                        f"{r.latency_ms:.4f} ms (rank {int(r.true_rank)} of {n}), world-model rank "
                                        f"{int(r.world_rank)}" + (f", MetaSchedule XGBModel rank {int(r.xgb_rank)}"
                                                                  if "xgb_rank" in r else ""))
        if self.info is None:
            set_figure(self.figure, placeholder("no measured records", 420))
            set_figure(self.contrib, placeholder("select a record", 360))
            return
        set_figure(self.figure, views.ranking_figure(self.info, selected=self.selected))
        if self.selected is not None and self.selected in set(self.info.table["row"]):
            contrib = views.contributions_info(self.evaluator, self.records.loc[self.selected])
            set_figure(self.contrib, views.contributions_figure(contrib))
        else:
            set_figure(self.contrib, placeholder("select a record", 360))

    def _train(self, records: Any) -> None:
        from workbench.worldmodel.baseline import MetaScheduleXGB

        ok = records[records["status"] == "ok"].reset_index(drop=True)
        self.baseline = MetaScheduleXGB(progress=False).fit(ok)
        self.busy.done(f"MetaSchedule XGBModel trained on {len(records)} records")

    def _training_failed(self, err: BaseException) -> None:
        self.busy.done(f"MetaSchedule XGBModel failed: {err}")
        self.baseline_button.disabled = False
