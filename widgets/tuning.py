"""Launch, watch, stop and resume tuning runs from a cell; both cost models on one plot."""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from widgets.views import set_figure
from workbench import views


class TuningDashboard(W.VBox):
    """Tune one subgraph with each chosen cost model (one run after the other, so they do not disturb each
    other's measurements), in the background. The plot and the table follow the runs live; ``stop`` ends the
    current run after its batch is saved; ``start`` again resumes every run from its work dir."""

    def __init__(self, subgraph: str = "matmul_256", *, trials: int = 64, cost_models: tuple[str, ...] = ("world", "xgb"),
                 trials_per_iter: int = 16, seed: int = 0, work_root: str | Path = "work/tune",
                 evaluator: Any = None, interval: float = 1.0, **kwargs: Any) -> None:
        self.work_root = Path(work_root)
        self.evaluator = evaluator
        self.interval = interval
        self.runs: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.subgraph = W.Text(value=subgraph, description="subgraph", layout=W.Layout(width="360px"))
        self.trials = W.BoundedIntText(value=trials, min=1, max=100000, description="trials",
                                       layout=W.Layout(width="160px"))
        self.per_iter = W.BoundedIntText(value=trials_per_iter, min=1, max=512, description="per round",
                                         layout=W.Layout(width="160px"))
        self.seed = W.IntText(value=seed, description="seed", layout=W.Layout(width="130px"))
        self.models = {cm: W.Checkbox(value=cm in cost_models, description=cm, indent=False,
                                      layout=W.Layout(width="80px")) for cm in ("world", "xgb", "random")}
        self.start_button = W.Button(description="start / resume", button_style="success", icon="play")
        self.stop_button = W.Button(description="stop", button_style="danger", icon="stop", disabled=True)
        self.status = W.HTML()
        self.bar = W.IntProgress(value=0, min=0, max=1, description="trials", layout=W.Layout(width="420px"))
        self.figure = go.FigureWidget(views.tuning_figure(views.tuning_curves({})))
        self.table = W.HTML()
        super().__init__([W.HBox([self.subgraph, self.trials, self.per_iter, self.seed]),
                          W.HBox([W.Label("cost models:"), *self.models.values(), self.start_button,
                                  self.stop_button]), self.bar, self.status, self.figure, self.table], **kwargs)
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop(wait=False))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _make_runs(self) -> dict[str, Any]:
        from workbench.tuning.run import TuningRun

        chosen = [cm for cm, box in self.models.items() if box.value]
        if not chosen:
            raise ValueError("choose at least one cost model")
        sub = self.subgraph.value.strip()
        runs = {}
        for cm in chosen:
            work_dir = self.work_root / f"{sub.replace('/', '__')}-{cm}-s{self.seed.value}"
            runs[cm] = TuningRun(sub, trials=self.trials.value, trials_per_iter=self.per_iter.value, cost_model=cm,
                                 evaluator=self.evaluator if cm == "world" else None, seed=self.seed.value,
                                 work_dir=work_dir)
        return runs

    def start(self) -> None:
        """Start (or resume) the runs in the background; returns at once."""
        if self.running:
            self.status.value = "<i>already running</i>"
            return
        try:
            self.runs = self._make_runs()
        except Exception as err:  # noqa: BLE001 - bad input is shown in the dashboard
            self.status.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return
        self._stop.clear()
        self.start_button.disabled, self.stop_button.disabled = True, False
        self.bar.max = sum(r.budget for r in self.runs.values())
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

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
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self) -> None:
        try:
            for label, run in self.runs.items():
                if self._stop.is_set():
                    break
                if run.remaining == 0:
                    continue
                self.status.value = f"<i>tuning with <b>{label}</b>…</i>"
                run.start()
                while run.running:
                    self.refresh()
                    time.sleep(self.interval)
                if run.status == "failed":
                    self.status.value = f"<span style='color:#b00'>{label} failed: {html.escape(run.error or '')}</span>"
                    break
            else:
                self.status.value = "<b>done</b>"
            if self._stop.is_set():
                self.status.value = "<b>stopped</b>: start again to resume"
        finally:
            self.refresh()
            self.start_button.disabled, self.stop_button.disabled = False, True

    def refresh(self) -> None:
        """Redraw the curves and the table from the runs' live state."""
        curves = views.tuning_curves(self.runs)
        set_figure(self.figure, views.tuning_figure(curves, title=f"{self.subgraph.value}: best latency vs trials"))
        self.bar.value = sum(r.measured for r in self.runs.values())
        rows = []
        for label, run in self.runs.items():
            p = run.progress().reset_index().iloc[0].to_dict()
            t = run.timings()
            rows.append({"cost model": label, "status": run.status, "trials": p["trials"], "ok": p["ok"],
                         "build errors": p["build_errors"], "run errors": p["run_errors"], "best ms": p["best_ms"],
                         "GFLOP/s": p["best_gflops"], "search s": t["search"], "build s": t["build"],
                         "run s": t["run"]})
        import pandas as pd

        self.table.value = pd.DataFrame(rows).to_html(index=False, float_format=lambda v: f"{v:.4f}") if rows else ""
