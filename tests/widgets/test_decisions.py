"""The decision explorer: importances and parallel coordinates of the records, a sweep scored and measured."""

from __future__ import annotations


def test_decision_explorer_sweeps_scores_and_measures(evaluator, held_out_records, held_out_space):
    from widgets import DecisionExplorer

    cand = held_out_space.candidate(held_out_records["trace"].iloc[0])
    explorer = DecisionExplorer(evaluator, held_out_records, cand)
    assert explorer.importances.data[0].type == "bar" and len(explorer.importances.data[0].y) >= 2
    labels = [d.label for d in explorer.parcoords.data[0].dimensions]
    assert "latency (log10 ms)" in labels and "score" in labels
    options = dict(explorer.decision.options)
    assert options and explorer.decision.value in options.values()
    assert any(" tiles = " in label for label in options)  # named by loop, not by action number alone
    tile = next(i for label, i in explorer.decision.options if " tiles = " in label)
    sweep = explorer.run_sweep(tile)
    assert len(sweep) >= 3 and explorer.sweep_figure.data[0].name == "predicted score"
    assert not explorer.measure_button.disabled
    picks = explorer.picks(2)
    assert sweep[sweep["current"]]["label"].iloc[0] in picks and len(picks) <= 3
    explorer.measure(2, wait=True)
    assert explorer.task.error is None, explorer.task.traceback
    assert set(explorer.measured) == set(picks) and all(v > 0 for v in explorer.measured.values())
    assert "measured latency" in [t.name for t in explorer.sweep_figure.data]
    assert explorer.picks(2) == []  # measured already: nothing is measured twice
    explorer.candidate = None
    assert explorer.decision.options == () and explorer.sweep is None
    explorer.records = None
    assert len(explorer.importances.data) == 0
    explorer.close()
    assert explorer.measurer is None and explorer.comm is None
