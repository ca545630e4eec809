"""Pick a subgraph: the catalog (built-ins and real-model subgraphs), a TVMScript file, or a PyTorch module."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from workbench.subgraphs import Subgraph, SubgraphError, load_subgraph


class SubgraphPicker(W.VBox):
    """A dropdown over the catalog, a model loader, a TVMScript path; shows the initial TIR of the pick."""

    def __init__(self, value: str = "conv2d_7x7x512_3x3", **kwargs: Any) -> None:
        from workbench.subgraphs.models import MODELS

        self.subgraph: Subgraph | None = None
        self._callbacks: list[Callable[[Subgraph], None]] = []
        self._thread: threading.Thread | None = None
        self.dropdown = W.Dropdown(options=self._options(), description="subgraph", layout=W.Layout(width="520px"))
        self.model = W.Dropdown(options=list(MODELS), description="model", layout=W.Layout(width="260px"))
        self.model_button = W.Button(description="add its subgraphs", layout=W.Layout(width="150px"))
        self.path = W.Text(placeholder="path/to/program.py (TVMScript)", description="file",
                           layout=W.Layout(width="420px"))
        self.path_button = W.Button(description="load file", layout=W.Layout(width="100px"))
        self.message = W.HTML()
        self.summary = W.HTML()
        self.tir = W.HTML(layout=W.Layout(max_height="360px", overflow="auto"))
        super().__init__([self.dropdown, W.HBox([self.model, self.model_button]), W.HBox([self.path,
                          self.path_button]), self.message, self.summary, self.tir], **kwargs)
        self.dropdown.observe(lambda c: self.load(c["new"]) if c["new"] else None, names="value")
        self.model_button.on_click(lambda _: self.add_model(self.model.value))
        self.path_button.on_click(lambda _: self.load(self.path.value.strip()))
        if value in [v for _, v in self.dropdown.options] and self.dropdown.value != value:
            self.dropdown.value = value  # loads it through the observer
        else:
            self.load(value)

    @staticmethod
    def _options() -> list[tuple[str, str]]:
        from workbench.subgraphs import cached_models, catalog

        df = catalog(models=cached_models())
        return [(f"{r.name}  [{r.op}, {r.mflops:.1f} MFLOP" + (f", x{r.weight}" if r.weight > 1 else "") + "]", r.name)
                for r in df.itertuples()]

    def on_change(self, callback: Callable[[Subgraph], None]) -> None:
        """Call ``callback(subgraph)`` whenever another subgraph is picked."""
        self._callbacks.append(callback)

    def load(self, name: str) -> Subgraph | None:
        """Pick a catalog name, ``<model>/<task>`` name or TVMScript file; errors are shown, not raised."""
        try:
            sub = load_subgraph(name)
        except (SubgraphError, FileNotFoundError, ValueError) as err:
            self.message.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return None
        self.set_subgraph(sub)
        return sub

    def from_torch(self, module: Any, inputs: Any, *, name: str | None = None) -> list[Subgraph]:
        """Add a PyTorch module's fused subgraphs and pick the heaviest."""
        from workbench.subgraphs import from_torch

        subs = from_torch(module, inputs, name=name)
        heaviest = max(subs, key=lambda s: s.flops * s.weight)
        self.set_subgraph(heaviest)
        return subs

    def set_subgraph(self, sub: Subgraph) -> None:
        self.subgraph = sub
        self.message.value = ""
        s = sub.summary()
        self.summary.value = (f"<b>{html.escape(sub.name)}</b>: {html.escape(s['op'])}, {s['mflops']} MFLOP, "
                              f"weight {s['weight']}, from {html.escape(s['source'])}")
        self.tir.value = f"<pre style='font-size:11px;line-height:1.25'>{html.escape(sub.script())}</pre>"
        for cb in self._callbacks:
            cb(sub)

    def add_model(self, model: str, *, wait: bool = False) -> threading.Thread:
        """Extract a catalog model's subgraphs in the background (5-20 s the first time) and list them."""
        def work() -> None:
            try:
                from workbench.subgraphs.models import model_subgraphs

                subs = model_subgraphs(model)
                self.dropdown.options = self._options()
                self.message.value = f"added {len(subs)} subgraphs of {model}"
            except Exception as err:  # noqa: BLE001 - shown to the user
                self.message.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            finally:
                self.model_button.disabled = False

        self.model_button.disabled = True
        self.message.value = f"<i>extracting {model} (torch.export, Relax, task extraction)…</i>"
        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()
        return self._thread
