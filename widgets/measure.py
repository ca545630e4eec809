"""Measure the current candidate for real, with repeats and spread, next to its predicted rank."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import traitlets

from widgets.background import BackgroundTask
from widgets.common import Panel, error_html, table_html
from workbench import views
from workbench.actions import Candidate
from workbench.hardware import has_cuda


class MeasurePanel(Panel):
    """A button that builds and times ``candidate`` in the background (the kernel stays free).

    With an ``evaluator``, the result sits next to the candidate's predicted rank among ``population``
    candidates of the same design space (sampled once per subgraph, or given). The panel's measurers keep
    worker processes between measurements; ``close()`` stops them.
    """

    # -- state others set
    candidate = traitlets.Instance(Candidate, allow_none=True)  # what the button measures
    label = traitlets.Unicode("")  # what the table calls it besides its decisions ("edited")
    records = traitlets.Any(None)  # a load_logs DataFrame: a candidate found there is compared with its log

    def __init__(self, candidate: Candidate | None = None, *, evaluator: Any = None,
                 population: list[Any] | None = None, population_size: int = 63, repeat: int = 5,
                 **kwargs: Any) -> None:
        self.evaluator = evaluator
        self.population = population
        self.population_size = population_size
        self.results: list[dict[str, Any]] = []  # one views.measurement_row per measurement, in order
        self.measurers: dict[tuple[str, int], Any] = {}  # (device, repeats) -> Measurer, kept for the next time
        self.task = BackgroundTask("measurement", on_error=self._failed, on_done=self._finished)
        # -- controls
        targets = ["cpu"] + (["cuda"] if has_cuda() else [])
        self.target = W.ToggleButtons(options=targets, value="cpu", description="device",
                                      style={"button_width": "60px"})
        self.repeat = W.IntSlider(value=repeat, min=1, max=20, description="repeats", continuous_update=False)
        self.button = W.Button(description="measure", button_style="primary", icon="stopwatch")
        self.status = W.HTML()
        self.table = W.HTML()
        super().__init__([W.HBox([self.target, self.repeat, self.button]), self.status, self.table], **kwargs)
        # -- wiring
        self.button.on_click(lambda _: self.measure())
        self.candidate = candidate

    # ---- actions ----------------------------------------------------------------------------------
    def measure(self, *, wait: bool = False) -> None:
        """Build and time the candidate in the background; ``wait`` to block until done (tests)."""
        if self.candidate is None:
            self.status.value = "<i>no candidate to measure</i>"
            return
        cand, target, repeat = self.candidate, self.target.value, self.repeat.value
        if not self.task.start(self._measure, cand, target, repeat, self.label):
            self.status.value = "<i>a measurement is already running</i>"
        else:
            self.button.disabled = True
            self.status.value = f"<i>building and timing on {target} ({repeat} repeats)…</i>"
        if wait:
            self.task.wait()

    def wait(self, timeout: float | None = None) -> None:
        self.task.wait(timeout)

    def logged_ms(self, candidate: Candidate) -> float | None:
        """The latency (ms) ``records`` give ``candidate`` (the fastest if measured more than once), or None."""
        df = self.records
        if df is None or not len(df) or "trace_key" not in df:
            return None
        same = df[(df["trace_key"] == candidate.key) & (df["status"] == "ok")]
        return float(same["latency"].min()) * 1e3 if len(same) else None

    def predicted_rank(self, candidate: Candidate) -> tuple[int, int] | None:
        """(rank, out of) of ``candidate`` among the population by world-model score (1 = predicted fastest)."""
        if self.evaluator is None:
            return None
        if self.population is None:
            self.population = candidate.space.sample(self.population_size, seed=0, exclude={candidate.key})
        return views.predicted_rank(self.evaluator, candidate, self.population)

    def close(self) -> None:
        """Stop the measurers' worker processes (after a running measurement), then close the panel."""
        self.task.wait()
        for measurer in self.measurers.values():
            measurer.close()
        self.measurers = {}
        super().close()

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("candidate")
    def _on_candidate(self, change: dict) -> None:
        old, new = change["old"], change["new"]
        if old is not None and (new is None or new.space is not old.space):
            self.population = None  # another subgraph: rank among its own candidates
        self.status.value = ""

    def _measure(self, cand: Candidate, target: str, repeat: int, label: str = "") -> None:
        from workbench.measure import Measurer

        key = (target, repeat)
        if key not in self.measurers:
            self.measurers[key] = Measurer(target, repeat=repeat, min_repeat_ms=20)
        result = self.measurers[key].measure([cand])[0]
        rank = self.predicted_rank(cand)
        logged = self.logged_ms(cand)
        row = views.measurement_row(cand, result, device=target, rank=rank, logged_ms=logged, label=label)
        self.results.append(row)
        if result.ok:
            self.status.value = (f"{html.escape(row['candidate'])}: <b>{row['latency_ms']:.4f} ms</b> (median of "
                                 f"{repeat}, spread {row['spread_%']:.1f}%), {row['GFLOP/s']:.1f} GFLOP/s"
                                 + (f"; its log says {logged:.4f} ms ({row['vs logged']:.2f}x)" if logged else "")
                                 + (f"; predicted rank {row['predicted rank']}" if rank else ""))
        else:
            self.status.value = (f"<span style='color:#b00'>{result.status}: "
                                 f"{html.escape((result.error or '')[:400])}</span>")
        self.table.value = table_html(views.measurements_table(self.results))

    def _failed(self, err: BaseException) -> None:
        self.status.value = error_html(f"measurement failed: {err}")

    def _finished(self) -> None:
        self.button.disabled = False
