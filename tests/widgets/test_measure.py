"""The measure panel: a real measurement beside the predicted rank; closing it stops its worker processes."""

from __future__ import annotations

import psutil


def test_measure_panel_measures_for_real_and_closes_its_workers(evaluator, held_out_records, held_out_space):
    from widgets import MeasurePanel

    cand = held_out_space.candidate(held_out_records["trace"].iloc[0])
    panel = MeasurePanel(cand, evaluator=evaluator, repeat=3)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    panel.measure(wait=True)
    assert panel.task.error is None, panel.task.traceback
    row = panel.results[-1]
    assert row["status"] == "ok" and row["latency_ms"] > 0 and row["spread_%"] >= 0
    assert row["predicted rank"].endswith("of 64")
    assert "ms</b>" in panel.status.value and not panel.button.disabled and "latency_ms" in panel.table.value
    workers = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert workers and panel.measurers  # the measurer's build and run pools
    panel.close()
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive and not panel.measurers and panel.comm is None


def test_measure_panel_ranks_each_subgraph_among_its_own_candidates(evaluator, held_out_space, conv_space):
    from widgets import MeasurePanel

    panel = MeasurePanel(evaluator=evaluator, population_size=7)
    panel.measure()
    assert "no candidate" in panel.status.value
    cand = held_out_space.sample(1, seed=5)[0]
    panel.candidate = cand
    assert panel.predicted_rank(cand)[1] == 8
    population = panel.population
    panel.candidate = held_out_space.sample(1, seed=6)[0]
    assert panel.population is population  # the same design space: the same population
    panel.candidate = conv_space.sample(1, seed=0)[0]
    assert panel.population is None  # another subgraph: ranked among its own
    panel.close()
