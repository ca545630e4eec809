"""Notebook widgets: thin ipywidgets views over :mod:`workbench` (traits, handlers and links only)."""

from widgets.app import Workbench
from widgets.background import BackgroundTask
from widgets.decisions import DecisionExplorer
from widgets.measure import MeasurePanel
from widgets.picker import SubgraphPicker
from widgets.projector import EmbeddingProjector
from widgets.ranking import RankingDebugger
from widgets.stepper import ActionStepper
from widgets.trajectory import TrajectoryView
from widgets.tuning import TuningDashboard

__all__ = ["ActionStepper", "BackgroundTask", "DecisionExplorer", "EmbeddingProjector", "MeasurePanel", "RankingDebugger",
           "SubgraphPicker", "TrajectoryView", "TuningDashboard", "Workbench"]
