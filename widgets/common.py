"""What every widget shares: the panel base that closes what it holds, figure replacement, a busy line."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from workbench import views

# plotly's FigureWidget draws at 700 px when it is plotted before it is on the page (always, in JupyterLab), and
# never sizes itself to its container afterwards. This script, run once per page, watches every responsive plot
# (see figure_widget) and, when a plot's container is wider or narrower than the plot, sends the window a
# "resize" event: each responsive plot then resizes itself, through its own plotly.js (the widget bundles one;
# calling the page's plotly on it breaks its clicks). A plot first drawn in a hidden tab has its width pinned
# instead, which a resize does not undo: showing the tab calls fit_figures (the Workbench does).
FIT_WIDTH_JS = """
(() => {
  if (window.__workbenchFitPlots) return;
  window.__workbenchFitPlots = true;
  let pending = null;
  const nudge = () => {
    if (pending === null) pending = setTimeout(() => { pending = null; window.dispatchEvent(new Event('resize')); }, 150);
  };
  const fit = (el) => {
    if (!el._fullLayout || !el._context || !el._context.responsive) return;
    if (el.clientWidth > 0 && Math.abs(el._fullLayout.width - el.clientWidth) > 2) nudge();
  };
  const sizes = new ResizeObserver((entries) => entries.forEach((e) => fit(e.target)));
  let queued = false;
  const watch = () => {
    queued = false;
    document.querySelectorAll('.js-plotly-plot').forEach((el) => {
      if (!el.__workbenchWatched) { el.__workbenchWatched = true; sizes.observe(el); }
      fit(el);
    });
  };
  new MutationObserver(() => { if (!queued) { queued = true; setTimeout(watch, 200); } })
    .observe(document.body, {childList: true, subtree: true});
  watch();
})();
"""


def fit_width_script() -> W.Output:
    """An empty-looking output that installs :data:`FIT_WIDTH_JS` on the page where it is shown."""
    from IPython import get_ipython
    from IPython.display import Javascript, display

    out = W.Output(layout=W.Layout(height="0px", overflow="hidden", margin="0"))
    if get_ipython() is not None:  # outside a kernel display() would print the object's repr
        with out:
            display(Javascript(FIT_WIDTH_JS))
    return out


class Panel(W.VBox):
    """A vertical box of widgets that closes everything inside it when it is closed; one that holds a plotly
    FigureWidget also holds the script that sizes its figures to the column (:func:`fit_width_script`)."""

    def __init__(self, children: Any = (), **kwargs: Any) -> None:
        children = list(children)
        if any(isinstance(c, go.FigureWidget) for c in children):
            children.append(fit_width_script())
        super().__init__(children, **kwargs)

    def close(self) -> None:
        for child in self.children:
            close_tree(child)
        super().close()


def close_tree(widget: W.Widget) -> None:
    """Close ``widget`` and every widget inside it (a :class:`Panel` closes its own insides)."""
    if isinstance(widget, W.Box) and not isinstance(widget, Panel):
        for child in widget.children:
            close_tree(child)
    widget.close()


def figure_widget(fig: go.Figure) -> go.FigureWidget:
    """A FigureWidget as wide as the notebook's column: plotly.js sizes it to its container (``responsive``), not to
    its 700 px default, and again whenever the window or the container changes."""
    widget = go.FigureWidget(fig)
    widget._config = {**widget._config, "responsive": True}  # plotly's FigureWidget has no public config yet
    return widget


def fit_figures(widget: W.Widget) -> None:
    """Ask every FigureWidget inside ``widget`` to size itself to its container again: for a tab just shown (a
    figure first drawn in a hidden tab keeps plotly's 700 px, pinned as its layout width, until told)."""
    if isinstance(widget, go.FigureWidget):
        # plotly.js, told {autosize: true}, drops the pinned width and sizes the plot to its container again;
        # plotly.py sends only what changed, so the flag goes off first where it is already on.
        widget.layout.autosize = None
        widget.layout.autosize = True
    for child in getattr(widget, "children", ()):
        fit_figures(child)


def set_figure(widget: go.FigureWidget, fig: go.Figure) -> None:
    """Replace a FigureWidget's traces and layout with those of ``fig`` in one update."""
    with widget.batch_update():
        widget.data = []
        widget.add_traces(list(fig.data))
        widget.layout = fig.layout
        widget.layout.title.text = fig.layout.title.text or ""  # an absent title would keep the old one
        widget.layout.modebar.orientation = "v"  # a toolbar along the side never covers the title


def placeholder(title: str, height: int) -> go.Figure:
    """An empty figure that says what will appear."""
    return go.Figure(layout={"height": height, "title": title})


def error_html(text: str) -> str:
    return f"<span style='color:#b00'>{html.escape(text)}</span>"


def table_html(df: Any) -> str:
    """A DataFrame as a compact HTML table (nothing for no rows)."""
    return df.to_html(index=False, float_format=lambda v: f"{v:.4f}") if len(df) else ""


def projection_dropdown(method: str) -> W.Dropdown:
    """PCA, and UMAP and t-SNE where their packages are installed (the README's set-up installs both)."""
    options = views.available_methods()
    return W.Dropdown(options=options, value=method if method in options else "pca", description="projection",
                      layout=W.Layout(width="200px"))


class Busy(W.HBox):
    """A progress line shown while a view computes (anything over a second)."""

    def __init__(self) -> None:
        self.bar = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="240px", visibility="hidden"))
        self.label = W.HTML()
        super().__init__([self.bar, self.label])

    def start(self, text: str, total: int = 1) -> None:
        self.bar.max, self.bar.value = max(total, 1), 0
        self.bar.layout.visibility = "visible"
        self.label.value = f"<i>{html.escape(text)}</i>"

    def step(self, n: int = 1) -> None:
        self.bar.value = min(self.bar.max, self.bar.value + n)

    def done(self, text: str = "") -> None:
        self.bar.layout.visibility = "hidden"
        self.label.value = html.escape(text)
