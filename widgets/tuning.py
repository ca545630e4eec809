"""Launch, watch, stop and resume tuning runs from a cell; every cost model on one plot, and what the world model
predicted for each batch it picked."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import ipywidgets as W
import traitlets

from widgets.background import BackgroundTask
from widgets.common import Panel, error_html, figure_widget, placeholder, set_figure, table_html
from workbench import views
from workbench.tuning.cost_model import default_cost_model
from workbench.tuning.online import read_rounds
from workbench.views.tuning import X_AXES

# Dashboard entries: the world model with this search.
STRATEGY_OF = {"world_plan": "plan", "world_transfer": "transfer", "world_diverse": "diverse"}


class TuningDashboard(Panel):
    """Tune one subgraph with each chosen cost model (one run after the other, so they do not disturb each
    other's measurements), in the background. The plot and the table follow the runs live; ``stop`` ends the
    current run after its batch is saved; ``start`` again resumes every run from its work dir.

    ``subgraph`` (linked to the text box) is what the next ``start`` tunes; ``close()`` stops the runs.
    """

    # -- state others set
    subgraph = traitlets.Unicode()  # name (or TVMScript path) of the subgraph the next start tunes

    def __init__(self, subgraph: str = "matmul_256", *, trials: int = 64, cost_models: tuple[str, ...] | None = None,
                 trials_per_iter: int = 16, seed: int = 0, work_root: str | Path = "work/tune",
                 evaluator: Any = None, interval: float = 1.0, confirm: int | None = None, **kwargs: Any) -> None:
        self.work_root = Path(work_root)
        if cost_models is None:  # what a run that names none gets (world_verify with the shipped CPU model), and xgb
            cost_models = (default_cost_model(evaluator), "xgb")
        self.confirm = confirm  # best records re-measured at the end of each run (TuningRun's confirm)
        self.evaluator = evaluator
        self.interval = interval  # seconds between redraws while a run tunes
        self.runs: dict[str, Any] = {}  # cost model -> TuningRun of the last start
        self.task = BackgroundTask("tuning", on_error=self._failed, on_done=self._finished)
        self._stop = threading.Event()
        # -- controls
        self.subgraph_text = W.Text(description="subgraph", layout=W.Layout(width="360px"))
        self.trials = W.BoundedIntText(value=trials, min=1, max=100000, description="trials",
                                       layout=W.Layout(width="160px"))
        self.per_iter = W.BoundedIntText(value=trials_per_iter, min=1, max=512, description="per round",
                                         layout=W.Layout(width="160px"))
        self.seed = W.IntText(value=seed, description="seed", layout=W.Layout(width="130px"))
        # "world_plan": the world model with the search that plans in its space (strategy "plan"); "world_transfer":
        # that planner's beam, warm-started from fitted records of similar subgraphs (strategy "transfer"); "world_diverse":
        # with a first batch that hedges across compute-location plans (strategy "diverse"); "world_verify": its
        # best re-scored by the MetaSchedule XGBModel saved beside it (workbench.tuning.cost_model)
        self.models = {cm: W.Checkbox(value=cm in cost_models, description=cm, indent=False,
                                      layout=W.Layout(width="110px"))
                       for cm in ("world", "world_verify", "world_diverse", "world_plan", "world_transfer", "xgb",
                                  "random")}
        self.start_button = W.Button(description="start / resume", button_style="success", icon="play")
        self.stop_button = W.Button(description="stop", button_style="danger", icon="stop", disabled=True)
        self.status = W.HTML()
        self.bar = W.IntProgress(value=0, min=0, max=1, description="trials", layout=W.Layout(width="420px"))
        self.figure = figure_widget(placeholder("no runs yet: choose cost models, then start / resume", 380))
        self.x_axis = W.ToggleButtons(options=list(X_AXES), value="trials", description="x axis",
                                      style={"button_width": "90px"})
        self.y_axis = W.ToggleButtons(options=["log", "linear"], value="log", description="latency",
                                      style={"button_width": "70px"})
        # Earlier runs of the subgraph in the work root (other seeds, models, budgets), drawn dotted to compare.
        self.overlay = W.SelectMultiple(options=[], rows=4, description="compare",
                                        layout=W.Layout(width="520px"))
        self.table = W.HTML()
        # Per measured batch of the world-model run: its picks' scores against their latencies, accuracies.
        self.rounds_figure = figure_widget(views.rounds_figure(views.rounds_info(read_rounds(self.work_root / "-"))))
        self.rounds_table = W.HTML()
        super().__init__([W.HBox([self.subgraph_text, self.trials, self.per_iter, self.seed]),
                          W.HBox([W.Label("cost models:"), *self.models.values(), self.start_button,
                                  self.stop_button]), self.bar, self.status, W.HBox([self.x_axis, self.y_axis]),
                          self.figure, self.overlay, self.table,
                          self.rounds_figure, self.rounds_table], **kwargs)
        # -- wiring
        for control in (self.overlay, self.x_axis, self.y_axis):
            control.observe(lambda _: self.refresh(), names="value")
        self.subgraph = subgraph  # shows its runs already in the work root (_on_subgraph)
        traitlets.link((self, "subgraph"), (self.subgraph_text, "value"))
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop(wait=False))

    @property
    def running(self) -> bool:
        return self.task.running

    # ---- actions ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start (or resume) the runs in the background; returns at once."""
        if self.running:
            self.status.value = "<i>already running</i>"
            return
        try:
            self.runs = self.make_runs()
        except Exception as err:  # noqa: BLE001 - bad input is shown in the dashboard
            self.status.value = error_html(str(err))
            return
        self._stop.clear()
        self.start_button.disabled, self.stop_button.disabled = True, False
        self.bar.max = sum(r.budget for r in self.runs.values())
        self.task.start(self._tune)

    def stop(self, *, wait: bool = True) -> None:
        """Stop after the batch being measured is saved (``start`` resumes)."""
        self._stop.set()
        for run in self.runs.values():
            if run.running:
                run.stop(wait=False)
        self.status.value = "<i>stopping after the current batch…</i>"
        if wait:
            self.wait()

    def wait(self, timeout: float | None = None) -> None:
        self.task.wait(timeout)

    def refresh(self) -> None:
        """Redraw the curves and the table from the runs' live state."""
        curves = views.tuning_curves(self.runs)
        earlier = views.curves_from_work_dirs({name: self.work_root / name for name in self.overlay.value})
        x = self.x_axis.value
        set_figure(self.figure, views.tuning_figure(curves, title=f"{self.subgraph}: best latency vs {x}",
                                                    earlier=earlier if len(earlier) else None, x=x,
                                                    log_y=self.y_axis.value == "log"))
        self.bar.value = sum(r.measured for r in self.runs.values())
        self.table.value = table_html(views.tuning_table(self.runs))
        world = [(label, r) for label, r in self.runs.items() if label.startswith("world")]
        if world:  # the world-model run tuning now, else the last one
            label, run = next(((lb, r) for lb, r in world if r.running), world[-1])
            rounds = run.rounds()
            set_figure(self.rounds_figure, views.rounds_figure(
                views.rounds_info(rounds), title=f"{label}: what it predicted for each batch it picked"))
            self.rounds_table.value = table_html(views.plan_table(rounds))

    def earlier_runs(self) -> list[str]:
        """Work dirs of this subgraph in the work root that the next start does not use (other seeds, models)."""
        sub = self.subgraph.strip().replace("/", "__")
        mine = {self._work_dir(self.subgraph.strip(), cm).name for cm, box in self.models.items() if box.value}
        if not sub or not self.work_root.is_dir():
            return []
        return sorted(p.name for p in self.work_root.iterdir()
                      if p.is_dir() and p.name.startswith(f"{sub}-") and p.name not in mine)

    def show_existing(self) -> bool:
        """Show the runs of this subgraph and seed already in the work root (from their work dirs alone: a run
        finished yesterday plots the same today); False when there are none."""
        if self.running:
            return False
        self.overlay.options = self.earlier_runs()
        sub = self.subgraph.strip()
        chosen = [cm for cm, box in self.models.items() if box.value]
        if not sub or not any(self._work_dir(sub, cm).is_dir() for cm in chosen):
            return False
        try:
            self.runs = self.make_runs()
        except Exception as err:  # noqa: BLE001 - a work dir that cannot be read is shown, not raised
            self.status.value = error_html(f"earlier runs of {sub}: {err}")
            return False
        self.bar.max = sum(r.budget for r in self.runs.values())
        self.refresh()
        left = sum(r.remaining for r in self.runs.values())
        self.status.value = (f"earlier runs of <b>{sub}</b> from {self.work_root}: "
                             + (f"{left} trials left, start to resume" if left else "done"))
        return True

    def _work_dir(self, sub: str, cm: str) -> Path:
        return self.work_root / f"{sub.replace('/', '__')}-{cm}-s{self.seed.value}"

    def make_runs(self) -> dict[str, Any]:
        """One :class:`~workbench.tuning.TuningRun` per chosen cost model, each in its own work dir (an existing
        one resumes)."""
        from workbench.tuning.run import TuningRun

        chosen = [cm for cm, box in self.models.items() if box.value]
        if not chosen:
            raise ValueError("choose at least one cost model")
        sub = self.subgraph.strip()
        return {cm: TuningRun(sub, trials=self.trials.value, trials_per_iter=self.per_iter.value,
                              cost_model="world" if cm in STRATEGY_OF else cm,
                              strategy=STRATEGY_OF.get(cm, "evolutionary"),
                              evaluator=self.evaluator if cm.startswith("world") else None, seed=self.seed.value,
                              confirm=self.confirm, work_dir=self._work_dir(sub, cm))
                for cm in chosen}

    def close(self) -> None:
        """Stop the runs (after the batch being measured is saved), then close the dashboard."""
        if self.running:
            self.stop(wait=True)
        super().close()

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("subgraph")
    def _on_subgraph(self, change: dict) -> None:
        if self.running:  # a run goes on with what it tunes
            return
        self.runs = {}
        set_figure(self.figure, placeholder("no runs yet: choose cost models, then start / resume", 380))
        self.table.value = self.rounds_table.value = self.status.value = ""
        self.show_existing()

    # ---- the background loop ----------------------------------------------------------------------
    def _tune(self) -> None:
        for label, run in self.runs.items():
            if self._stop.is_set():
                break
            if run.remaining == 0:
                continue
            self.status.value = f"<i>tuning with <b>{label}</b>…</i>"
            run.start()
            while run.running:
                self.refresh()
                eta = views.eta_seconds(run)
                later = sum(r.remaining for lb, r in self.runs.items() if r is not run)
                if eta is not None:
                    self.status.value = (f"<i>tuning with <b>{label}</b>: {run.remaining} trials left, about "
                                         f"{views.format_seconds(eta)} at this pace</i>"
                                         + (f" (then {later} trials of the other runs)" if later else ""))
                time.sleep(self.interval)
            self.refresh()  # the run's end, before the line below says so
            if run.status == "failed":
                self.status.value = error_html(f"{label} failed: {run.error or ''}")
                return
        self.refresh()
        left = sum(r.remaining for r in self.runs.values())
        self.status.value = (f"<b>stopped</b> with {left} trials left: start again to resume" if left
                             else "<b>done</b>")

    def _failed(self, err: BaseException) -> None:
        self.status.value = error_html(f"tuning failed: {err}")

    def _finished(self) -> None:
        self.refresh()
        self.start_button.disabled, self.stop_button.disabled = False, True
