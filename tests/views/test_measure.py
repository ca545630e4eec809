"""The measure panel's data: the predicted rank among a population, one row per measured candidate."""

from __future__ import annotations

import math

import numpy as np

from workbench import views
from workbench.measure import MeasureResult


def test_predicted_rank_counts_the_candidates_scored_higher(evaluator, tiny_candidates):
    cand, population = tiny_candidates[0], tiny_candidates[1:]
    rank, total = views.predicted_rank(evaluator, cand, population)
    scores = evaluator.score(tiny_candidates)
    assert total == len(tiny_candidates) and rank == 1 + int((scores[1:] > scores[0]).sum())
    assert views.predicted_rank(evaluator, cand, []) == (1, 1)


def test_measurement_rows_of_a_success_and_a_failure(tiny_candidates):
    cand = tiny_candidates[0]
    ok = MeasureResult("ok", run_secs=[0.002, 0.001, 0.003])
    row = views.measurement_row(cand, ok, device="cpu", rank=(3, 64))
    assert row["status"] == "ok" and row["device"] == "cpu" and row["subgraph"] == "tiny_matmul_16"
    assert math.isclose(row["latency_ms"], 2.0) and math.isclose(row["spread_%"], 100.0)
    assert math.isclose(row["min_ms"], 1.0) and math.isclose(row["max_ms"], 3.0)
    assert math.isclose(row["GFLOP/s"], cand.space.subgraph.flops / 0.002 / 1e9)
    assert row["predicted rank"] == "3 of 64" and np.isnan(row["logged_ms"]) and np.isnan(row["vs logged"])
    assert row["candidate"] == views.trace_summary(cand.actions) and "x" in row["candidate"]  # its tile sizes
    logged = views.measurement_row(cand, ok, device="cpu", logged_ms=1.0, label="edited")
    assert logged["candidate"].startswith("edited ") and math.isclose(logged["vs logged"], 2.0)
    failed = views.measurement_row(cand, MeasureResult("build_error", error="boom"), device="cpu")
    assert np.isnan(failed["latency_ms"]) and np.isnan(failed["GFLOP/s"]) and failed["predicted rank"] == ""
    table = views.measurements_table([row, failed])
    assert list(table.columns) == views.measure.MEASUREMENT_COLUMNS and len(table) == 2
    assert list(views.measurements_table([]).columns) == views.measure.MEASUREMENT_COLUMNS
