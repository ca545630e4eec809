"""Views: each is a pure function returning a small table or record, and a function drawing it with plotly.

The same figures serve notebooks, scripts and tests; ``widgets/`` only holds state and wires events.
"""

from workbench.views.decisions import (
    decision_importances,
    decision_names,
    decision_sweep,
    decision_table,
    importances_figure,
    legal_values,
    named_decisions,
    parallel_coordinates,
    sweep_figure,
)
from workbench.views.embedding import (
    color_options,
    embedding_figure,
    embedding_info,
    filter_rows,
    nearest_rows,
    selection_ring,
    trace_summary,
    with_disagreements,
)
from workbench.views.logs import logs_by, logs_summary, near_best_figure
from workbench.views.measure import measurement_row, measurements_table, predicted_rank
from workbench.views.projection import Projection, available_methods, project, umap_available
from workbench.views.ranking import (
    RankingInfo,
    baseline_training_records,
    contributions_figure,
    contributions_info,
    ranking_figure,
    ranking_info,
)
from workbench.views.shares import task_time_shares, time_share_figure, time_shares
from workbench.views.stepper import StepScores, step_scores
from workbench.views.trajectory import (
    TrajectoryInfo,
    candidate_labels,
    grow_ranges,
    relabel,
    step_at,
    trajectory_figure,
    trajectory_info,
)
from workbench.views.tuning import (
    curves_from_work_dirs,
    eta_seconds,
    format_seconds,
    plan_table,
    rounds_figure,
    rounds_info,
    tuning_curves,
    tuning_figure,
    tuning_table,
    wall_clock,
)

__all__ = [
    "Projection", "RankingInfo", "StepScores", "TrajectoryInfo", "available_methods",
    "baseline_training_records", "candidate_labels", "color_options", "contributions_figure",
    "contributions_info", "curves_from_work_dirs", "decision_importances", "decision_names", "decision_sweep",
    "decision_table", "embedding_figure", "embedding_info", "eta_seconds", "filter_rows", "format_seconds", "grow_ranges", "importances_figure", "legal_values",
    "logs_by", "logs_summary", "measurement_row", "measurements_table", "named_decisions", "near_best_figure",
    "nearest_rows", "parallel_coordinates", "plan_table", "predicted_rank", "project", "ranking_figure",
    "ranking_info", "relabel", "rounds_figure", "rounds_info", "selection_ring", "step_at", "step_scores",
    "sweep_figure", "task_time_shares", "time_share_figure", "time_shares", "trace_summary", "trajectory_figure", "trajectory_info", "tuning_curves", "tuning_figure",
    "tuning_table", "umap_available", "wall_clock", "with_disagreements",
]
