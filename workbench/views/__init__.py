"""Views: each is a pure function returning a small table or record, and a function drawing it with plotly.

The same figures serve notebooks, scripts and tests; ``widgets/`` only holds state and wires events.
"""

from workbench.views.embedding import embedding_figure, embedding_info, trace_summary
from workbench.views.logs import logs_by, logs_summary, near_best_figure
from workbench.views.measure import measurement_row, measurements_table, predicted_rank
from workbench.views.projection import Projection, project, umap_available
from workbench.views.ranking import (
    RankingInfo,
    baseline_training_records,
    contributions_figure,
    contributions_info,
    ranking_figure,
    ranking_info,
)
from workbench.views.stepper import StepScores, step_scores
from workbench.views.trajectory import (
    TrajectoryInfo,
    candidate_labels,
    relabel,
    step_at,
    trajectory_figure,
    trajectory_info,
)
from workbench.views.tuning import (
    plan_table,
    rounds_figure,
    rounds_info,
    tuning_curves,
    tuning_figure,
    tuning_table,
)

__all__ = [
    "Projection", "RankingInfo", "StepScores", "TrajectoryInfo", "baseline_training_records", "candidate_labels",
    "contributions_figure", "contributions_info", "embedding_figure", "embedding_info", "logs_by", "logs_summary",
    "measurement_row",
    "measurements_table", "near_best_figure", "plan_table", "predicted_rank", "project", "ranking_figure",
    "ranking_info", "relabel",
    "rounds_figure", "rounds_info", "step_at",
    "step_scores", "trace_summary", "trajectory_figure", "trajectory_info", "tuning_curves", "tuning_figure",
    "tuning_table", "umap_available",
]
