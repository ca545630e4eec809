"""Views: each is a pure function returning a small table or record, and a function drawing it with plotly.

The same figures serve notebooks, scripts and tests; ``widgets/`` only holds state and wires events.
"""

from workbench.views.embedding import embedding_figure, embedding_info, trace_summary
from workbench.views.projection import Projection, project, umap_available
from workbench.views.ranking import (
    RankingInfo,
    contributions_figure,
    contributions_info,
    ranking_figure,
    ranking_info,
)
from workbench.views.trajectory import TrajectoryInfo, trajectory_figure, trajectory_info
from workbench.views.tuning import tuning_curves, tuning_figure

__all__ = [
    "Projection", "RankingInfo", "TrajectoryInfo", "contributions_figure", "contributions_info",
    "embedding_figure", "embedding_info", "project", "ranking_figure", "ranking_info", "trace_summary",
    "trajectory_figure", "trajectory_info", "tuning_curves", "tuning_figure", "umap_available",
]
