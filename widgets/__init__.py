"""Notebook widgets: thin ipywidgets views over :mod:`workbench` (state and event wiring only)."""

from widgets.app import Workbench
from widgets.measure import MeasurePanel
from widgets.picker import SubgraphPicker
from widgets.stepper import ActionStepper
from widgets.tuning import TuningDashboard
from widgets.views import EmbeddingProjector, RankingDebugger, TrajectoryView

__all__ = ["ActionStepper", "EmbeddingProjector", "MeasurePanel", "RankingDebugger", "SubgraphPicker",
           "TrajectoryView", "TuningDashboard", "Workbench"]
