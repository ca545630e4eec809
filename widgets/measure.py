"""Measure the current candidate for real, with repeats and spread, next to its predicted rank."""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as W

from workbench.hardware import has_cuda


class MeasurePanel(W.VBox):
    """A button that builds and times the current candidate in the background (the kernel stays free).

    With an ``evaluator``, the result sits next to the candidate's predicted rank among ``population``
    candidates of the same design space (sampled once, or given).
    """

    def __init__(self, candidate: Any = None, *, evaluator: Any = None, population: list[Any] | None = None,
                 population_size: int = 63, repeat: int = 5, **kwargs: Any) -> None:
        self.candidate = candidate
        self.evaluator = evaluator
        self.population = population
        self.population_size = population_size
        self.results: list[dict[str, Any]] = []
        self._measurers: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        targets = ["cpu"] + (["cuda"] if has_cuda() else [])
        self.target = W.ToggleButtons(options=targets, value="cpu", description="device",
                                      style={"button_width": "60px"})
        self.repeat = W.IntSlider(value=repeat, min=1, max=20, description="repeats", continuous_update=False)
        self.button = W.Button(description="measure", button_style="primary", icon="stopwatch")
        self.status = W.HTML()
        self.table = W.HTML()
        super().__init__([W.HBox([self.target, self.repeat, self.button]), self.status, self.table], **kwargs)
        self.button.on_click(lambda _: self.measure())

    def set_candidate(self, candidate: Any) -> None:
        if self.candidate is not None and candidate.space is not self.candidate.space:
            self.population = None  # another subgraph: rank among its own candidates
        self.candidate = candidate
        self.status.value = ""

    def predicted_rank(self, candidate: Any) -> tuple[int, int] | None:
        """(rank, out of) of ``candidate`` among the population by world-model score (1 = predicted fastest)."""
        if self.evaluator is None:
            return None
        if self.population is None:
            self.population = candidate.space.sample(self.population_size, seed=0, exclude={candidate.key})
        scores = self.evaluator.score(self.population + [candidate])
        return int((scores > scores[-1]).sum()) + 1, len(scores)

    def measure(self, *, wait: bool = False) -> threading.Thread | None:
        """Build and time the candidate in a background thread; ``wait`` to block until done (tests)."""
        if self.candidate is None:
            self.status.value = "<i>no candidate to measure</i>"
            return None
        if self._thread is not None and self._thread.is_alive():
            self.status.value = "<i>a measurement is already running</i>"
            return self._thread
        cand, target, repeat = self.candidate, self.target.value, self.repeat.value
        self.button.disabled = True
        self.status.value = f"<i>building and timing on {target} ({repeat} repeats)…</i>"
        self._thread = threading.Thread(target=self._work, args=(cand, target, repeat), daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()
        return self._thread

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def _work(self, cand: Any, target: str, repeat: int) -> None:
        try:
            from workbench.measure import Measurer

            key = f"{target}:{repeat}"
            if key not in self._measurers:
                self._measurers[key] = Measurer(target, repeat=repeat, min_repeat_ms=20)
            result = self._measurers[key].measure([cand])[0]
            rank = self.predicted_rank(cand)
            row = {"subgraph": cand.space.subgraph.name, "device": target, "status": result.status,
                   "latency_ms": result.latency * 1e3 if result.ok else float("nan"),
                   "spread_%": 100 * result.spread if result.ok else float("nan"),
                   "min_ms": min(result.run_secs) * 1e3 if result.run_secs else float("nan"),
                   "max_ms": max(result.run_secs) * 1e3 if result.run_secs else float("nan"),
                   "GFLOP/s": cand.space.subgraph.flops / result.latency / 1e9 if result.ok else float("nan"),
                   "predicted rank": f"{rank[0]} of {rank[1]}" if rank else ""}
            self.results.append(row)
            if result.ok:
                self.status.value = (f"<b>{row['latency_ms']:.4f} ms</b> (median of {repeat}, spread "
                                     f"{row['spread_%']:.1f}%), {row['GFLOP/s']:.1f} GFLOP/s"
                                     + (f"; predicted rank {row['predicted rank']}" if rank else ""))
            else:
                self.status.value = (f"<span style='color:#b00'>{result.status}: "
                                     f"{html.escape((result.error or '')[:400])}</span>")
            import pandas as pd

            self.table.value = pd.DataFrame(self.results).to_html(index=False, float_format=lambda v: f"{v:.4f}")
        except Exception as err:  # noqa: BLE001 - shown in the panel; the kernel must not lose the thread silently
            self.status.value = f"<span style='color:#b00'>measurement failed: {html.escape(str(err))}</span>"
        finally:
            self.button.disabled = False

    def close_measurers(self) -> None:
        for m in self._measurers.values():
            m.close()
        self._measurers = {}
