"""What every widget shares: the panel base that closes what it holds, figure replacement, a busy line."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from workbench import views


class Panel(W.VBox):
    """A vertical box of widgets that closes everything inside it when it is closed."""

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
