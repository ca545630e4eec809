"""Pick a subgraph: the catalog (built-ins and real-model subgraphs), a TVMScript file, or a PyTorch module."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import traitlets

from widgets.background import BackgroundTask
from widgets.common import Panel, error_html
from workbench.subgraphs import Subgraph, SubgraphError, load_subgraph


def catalog_options() -> list[tuple[str, str]]:
    """(label, name) of every catalog subgraph, the models already extracted included."""
    from workbench.subgraphs import cached_models, catalog

    df = catalog(models=cached_models())
    return [(f"{r.name}  [{r.op}, {r.mflops:.1f} MFLOP" + (f", x{r.weight}" if r.weight > 1 else "") + "]", r.name)
            for r in df.itertuples()]


class SubgraphPicker(Panel):
    """A dropdown over the catalog, a model loader, a TVMScript path; shows the initial TIR of the pick.

    ``subgraph`` is the pick: other views follow it (``traitlets.dlink`` or ``observe``).
    """

    # -- state
    subgraph = traitlets.Instance(Subgraph, allow_none=True)  # the picked subgraph (None until one loads)

    def __init__(self, value: str = "conv2d_7x7x512_3x3", **kwargs: Any) -> None:
        from workbench.subgraphs.models import MODELS

        # -- controls
        self.catalog = catalog_options()  # every (label, name); the dropdown lists those the search matches
        self.dropdown = W.Dropdown(options=self.catalog, description="subgraph", layout=W.Layout(width="520px"))
        self.search = W.Text(placeholder="words of a name or an op", description="search", continuous_update=True,
                             layout=W.Layout(width="300px"))
        self.model = W.Dropdown(options=list(MODELS), description="model", layout=W.Layout(width="260px"))
        self.model_button = W.Button(description="add its subgraphs", layout=W.Layout(width="150px"))
        self.path = W.Text(placeholder="path/to/program.py (TVMScript)", description="file",
                           layout=W.Layout(width="420px"))
        self.path_button = W.Button(description="load file", layout=W.Layout(width="100px"))
        self.message = W.HTML()
        self.summary = W.HTML()
        self.tir = W.HTML(layout=W.Layout(max_height="360px", overflow="auto"))
        self.task = BackgroundTask("model extraction", on_error=self._show_error, on_done=self._extracted)
        super().__init__([W.HBox([self.dropdown, self.search]), W.HBox([self.model, self.model_button]), W.HBox([self.path,
                          self.path_button]), self.message, self.summary, self.tir], **kwargs)
        # -- wiring
        self.dropdown.observe(self._on_dropdown, names="value")
        self.search.observe(lambda _: self._show_options(), names="value")
        self.model_button.on_click(lambda _: self.add_model(self.model.value))
        self.path_button.on_click(lambda _: self.load(self.path.value.strip()))
        if value in [v for _, v in self.dropdown.options] and self.dropdown.value != value:
            self.dropdown.value = value  # loads it through the observer
        else:
            self.load(value)

    # ---- actions ----------------------------------------------------------------------------------
    def load(self, name: str) -> Subgraph | None:
        """Pick a catalog name, ``<model>/<task>`` name or TVMScript file; errors are shown, not raised."""
        try:
            sub = load_subgraph(name)
        except (SubgraphError, FileNotFoundError, ValueError) as err:
            self._show_error(err)
            return None
        self.subgraph = sub
        return sub

    def from_torch(self, module: Any, inputs: Any, *, name: str | None = None) -> list[Subgraph]:
        """Add a PyTorch module's fused subgraphs and pick the heaviest."""
        from workbench.subgraphs import from_torch

        subs = from_torch(module, inputs, name=name)
        self.subgraph = max(subs, key=lambda s: s.flops * s.weight)
        return subs

    def add_model(self, model: str, *, wait: bool = False) -> None:
        """Extract a catalog model's subgraphs in the background (5-20 s the first time) and list them."""
        if not self.task.start(self._extract, model):
            self.message.value = "<i>a model is already being extracted</i>"
            return
        self.model_button.disabled = True
        self.message.value = f"<i>extracting {html.escape(model)} (torch.export, Relax, task extraction)…</i>"
        if wait:
            self.task.wait()

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("subgraph")
    def _on_subgraph(self, change: dict) -> None:
        sub = change["new"]
        self.message.value = ""
        if sub is None:
            self.summary.value = self.tir.value = ""
            return
        s = sub.summary()
        self.summary.value = (f"<b>{html.escape(sub.name)}</b>: {html.escape(s['op'])}, {s['mflops']} MFLOP, "
                              f"weight {s['weight']}, from {html.escape(s['source'])}")
        self.tir.value = f"<pre style='font-size:11px;line-height:1.25'>{html.escape(sub.script())}</pre>"

    def _on_dropdown(self, change: dict) -> None:
        if change["new"]:
            self.load(change["new"])

    def _extract(self, model: str) -> None:
        from workbench.subgraphs.models import model_subgraphs

        subs = model_subgraphs(model)
        self.refresh_options()
        self.message.value = (f"added {len(subs)} subgraphs of {html.escape(model)} to the list; "
                              f"{html.escape(self.subgraph.name) if self.subgraph else 'nothing'} stays open")

    def refresh_options(self) -> None:
        """List the catalog again (models extracted since): the pick, and what is open, stay as they are."""
        self.catalog = catalog_options()
        self._show_options()

    def _show_options(self) -> None:
        """List the catalog entries whose label has every word of the search (the pick stays, first)."""
        value = self.dropdown.value
        words = self.search.value.lower().split()
        options = [o for o in self.catalog if all(w in o[0].lower() for w in words)]
        if value is not None and value not in {v for _, v in options}:
            options = [o for o in self.catalog if o[1] == value] + options
        self.dropdown.unobserve(self._on_dropdown, names="value")  # a new list would pick its first entry
        try:
            self.dropdown.options = options
            self.dropdown.value = value if value in {v for _, v in options} else None
        finally:
            self.dropdown.observe(self._on_dropdown, names="value")

    def _extracted(self) -> None:
        self.model_button.disabled = False

    def _show_error(self, err: BaseException) -> None:
        self.message.value = error_html(str(err))
