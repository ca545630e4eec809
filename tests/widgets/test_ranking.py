"""The ranking debugger: metrics, the worst disagreements, contributions, "open", MetaSchedule's XGBModel."""

from __future__ import annotations


def test_ranking_debugger_explains_opens_and_adds_metaschedule_xgbmodel(evaluator, logs, held_out_records):
    from widgets import RankingDebugger
    from workbench import views

    ranking = RankingDebugger(evaluator, held_out_records,
                              train_records=views.baseline_training_records(evaluator, logs))
    assert "world" in ranking.metrics.value and "xgb" not in ranking.metrics.value
    assert len(ranking.worst.options) == 10 and ranking.contrib.data == ()
    worst = ranking.worst.options[0][1]
    ranking.worst.value = worst
    assert ranking.selected == worst and ranking.opened is None
    summary = views.trace_summary(held_out_records.loc[worst, "actions"])
    assert ranking.worst.options[0][0].startswith(summary) and "row " not in ranking.worst.options[0][0]
    assert summary in ranking.selected_line.value and "world-model rank" in ranking.selected_line.value
    assert ranking.contrib.data[0].type == "bar" and len(ranking.contrib.data[0].x) > 3
    ranking.open_button.click()  # on its own (a notebook cell), it opens the record in a stepper of its own
    assert ranking.opened == worst and ranking.stepper is not None
    assert ranking.stepper.candidate.key == held_out_records.loc[worst, "trace_key"]
    assert views.trace_summary(ranking.stepper.candidate.actions) in ranking.open_message.value
    ranking.select(int(held_out_records.index[0]))  # any record, not only the worst
    assert ranking.selected == int(held_out_records.index[0]) and len(ranking.contrib.data[0].x) > 3
    assert not ranking.baseline_button.disabled
    ranking.train_baseline(wait=True)
    assert ranking.task.error is None, ranking.task.traceback
    assert "xgb" in ranking.metrics.value and len(ranking.figure.data) >= 2
    assert ranking.baseline_button.disabled and "trained" in ranking.busy.label.value
    assert "MetaSchedule XGBModel rank" in ranking.selected_line.value
    ranking.records = None
    assert ranking.info is None and ranking.selected is None and ranking.worst.options == ()
