"""The stepper's scores: the final score and the value head after each program-changing action."""

from __future__ import annotations

import numpy as np

from workbench import views


def test_step_scores_follow_the_value_head_along_the_actions(evaluator, tiny_candidates):
    cand = tiny_candidates[0]
    scores = views.step_scores(evaluator, cand)
    assert np.isclose(scores.score, evaluator.score([cand])[0], atol=1e-5)
    changing = [int(i) for i in evaluator.trajectories(evaluator.items_from_candidates([cand]))[0]["action_index"]]
    assert sorted(scores.values) == [-1, *changing]
    assert scores.value_so_far(0) == scores.values[-1]  # the initial program's value
    assert scores.value_so_far(changing[0]) == scores.values[-1]  # not applied yet
    assert scores.value_so_far(changing[0] + 1) == scores.values[changing[0]]
    assert scores.value_so_far(len(cand)) == scores.values[changing[-1]]
    assert views.StepScores(1.0).value_so_far(3) is None  # no transition model: no values
