"""Decision-space views in the style of Optuna's: which named decisions matter, all of them against latency and
score at once, and a sweep of one decision of the selected candidate, scored instantly and measured for a few."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as W
import traitlets

from widgets.background import BackgroundTask
from widgets.common import Busy, Panel, error_html, figure_widget, placeholder, set_figure
from workbench import views
from workbench.actions import Candidate


class DecisionExplorer(Panel):
    """Importances and parallel coordinates of a subgraph's ``records`` by named decision; a sweep of one
    decision of ``candidate``: every legal value scored by the world model, a chosen few measured for real.

    ``records`` is a ``load_logs`` DataFrame of one subgraph (None: no measured records); ``candidate`` the
    candidate whose decisions are swept (link it to the one open elsewhere).
    """

    # -- state others set
    records = traitlets.Any(None)
    candidate = traitlets.Instance(Candidate, allow_none=True)

    def __init__(self, evaluator: Any, records: Any = None, candidate: Candidate | None = None, *,
                 measure_repeat: int = 3, **kwargs: Any) -> None:
        self.evaluator = evaluator
        self.measure_repeat = measure_repeat
        self.sweep: Any = None  # views.decision_sweep of the chosen decision
        self.measured: dict[str, float] = {}  # value label -> measured latency (ms) of this sweep
        self.measurer: Any = None  # kept between measurements (its worker processes), closed with the panel
        self.task = BackgroundTask("measuring the sweep", on_error=self._measure_failed, on_done=self._measured)
        # -- controls
        self.busy = Busy()
        self.importances = figure_widget(placeholder("no measured records", 300))
        self.parcoords = figure_widget(placeholder("no measured records", 460))
        self.decision = W.Dropdown(options=[], description="decision", layout=W.Layout(width="420px"))
        self.sweep_button = W.Button(description="score every value", layout=W.Layout(width="150px"))
        self.n_measure = W.BoundedIntText(value=4, min=1, max=16, description="measure",
                                          layout=W.Layout(width="140px"))
        self.measure_button = W.Button(description="measure top and bottom", layout=W.Layout(width="190px"),
                                       disabled=True)
        self.sweep_message = W.HTML()
        self.sweep_figure = figure_widget(placeholder("pick a decision and score every value", 420))
        super().__init__([W.HTML("<h4>Which decisions matter (measured records)</h4>"), self.importances,
                          self.parcoords, W.HTML("<h4>Sweep one decision of the open candidate</h4>"),
                          W.HBox([self.decision, self.sweep_button, self.n_measure, self.measure_button]),
                          self.busy, self.sweep_message, self.sweep_figure], **kwargs)
        # -- wiring
        self.sweep_button.on_click(lambda _: self.run_sweep())
        self.measure_button.on_click(lambda _: self.measure())
        self.records = records
        self.candidate = candidate

    # ---- actions ----------------------------------------------------------------------------------
    def run_sweep(self, index: int | None = None) -> Any:
        """Score every legal value of the decision at action ``index`` (default: the dropdown's)."""
        index = self.decision.value if index is None else index
        if self.candidate is None or index is None:
            self.sweep_message.value = "<i>no candidate with a decision open</i>"
            return None
        self.busy.start("replaying and scoring every value")
        self.sweep = views.decision_sweep(self.evaluator, self.candidate, index)
        self.measured = {}
        refused = int(self.sweep["candidate"].isna().sum())
        self.busy.done(f"{len(self.sweep) - refused} values scored" + (f", {refused} refused by TVM" if refused
                                                                           else ""))
        self.sweep_message.value = ""
        self.measure_button.disabled = len(self.sweep) - refused < 2
        self._draw_sweep()
        return self.sweep

    def picks(self, n: int | None = None) -> list[str]:
        """The values a measurement takes: the predicted best and worst halves of ``n``, and the candidate's own."""
        n = self.n_measure.value if n is None else n
        ok = self.sweep[self.sweep["candidate"].notna()].sort_values("score", ascending=False)
        top, bottom = ok.head(math.ceil(n / 2)), ok.tail(n // 2)
        labels = list(dict.fromkeys([*top["label"], *bottom["label"], *ok[ok["current"]]["label"]]))
        return [lb for lb in labels if lb not in self.measured]

    def measure(self, n: int | None = None, *, wait: bool = False) -> None:
        """Measure ``n`` of the swept values for real in the background, then plot them beside the scores."""
        if self.sweep is None:
            self.sweep_message.value = "<i>score the values first</i>"
            return
        labels = self.picks(n)
        if not labels:
            self.sweep_message.value = "<i>those values are measured already</i>"
            return
        by_label = self.sweep.set_index("label")["candidate"]
        if self.task.start(self._measure, [(lb, by_label[lb]) for lb in labels]):
            self.measure_button.disabled = True
            self.sweep_message.value = f"<i>building and timing {len(labels)} values…</i>"
        if wait:
            self.task.wait()

    def close(self) -> None:
        self.task.wait()
        if self.measurer is not None:
            self.measurer.close()
            self.measurer = None
        super().close()

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("records")
    def _on_records(self, change: dict) -> None:
        df = self.records
        if df is None or not len(df) or "actions" not in df:
            set_figure(self.importances, placeholder("no measured records", 300))
            set_figure(self.parcoords, placeholder("no measured records", 460))
            return
        ok = df[df["status"] == "ok"]
        table = views.decision_table(ok)
        imp = views.decision_importances(table, ok["latency"])
        set_figure(self.importances, views.importances_figure(imp))
        score = self.evaluator.score(ok) if self.evaluator is not None else None
        cols = [c for c in imp.index[:10]] or list(table.columns[:10])
        set_figure(self.parcoords, views.parallel_coordinates(table, latency_ms=ok["latency"] * 1e3, score=score,
                                                               columns=cols))

    @traitlets.observe("candidate")
    def _on_candidate(self, change: dict) -> None:
        cand = change["new"]
        self.sweep, self.measured = None, {}
        self.measure_button.disabled = True
        options = []
        if cand is not None:
            names = views.decision_names(cand.actions)
            sampled = [a for a in cand.actions if a.phase == "schedule" and a.decision is not None]
            options = [(f"{names.get(a.index, a.kind)} = {_value(a)}  (#{a.index} {a.kind})", a.index)
                       for a in sampled]
        self.decision.options = options
        self.decision.value = options[0][1] if options else None
        set_figure(self.sweep_figure, placeholder("pick a decision and score every value", 420))
        self.sweep_message.value = ""

    def _draw_sweep(self) -> None:
        set_figure(self.sweep_figure, views.sweep_figure(self.sweep, self.measured))

    def _measure(self, picks: list[tuple[str, Candidate]]) -> None:
        from workbench.measure import Measurer

        if self.measurer is None:
            self.measurer = Measurer("cpu", repeat=self.measure_repeat, min_repeat_ms=20)
        results = self.measurer.measure([c for _, c in picks])
        failed = []
        for (label, _), res in zip(picks, results, strict=True):
            if res.ok:
                self.measured[label] = res.latency * 1e3
            else:
                failed.append(f"{label}: {res.status}")
        self.sweep_message.value = (f"measured {len(picks) - len(failed)} values"
                                    + (error_html("; failed: " + ", ".join(failed)) if failed else ""))

    def _measured(self) -> None:
        self.measure_button.disabled = False
        self._draw_sweep()

    def _measure_failed(self, err: BaseException) -> None:
        self.sweep_message.value = error_html(f"measurement failed: {err}")


def _value(action: Any) -> str:
    if action.kind == "SampleCategorical":
        choices = action.attrs[0] if action.attrs else ()
        i = action.decision
        return str(choices[i]) if isinstance(i, int) and 0 <= i < len(choices) else str(i)
    return str(action.decision)
