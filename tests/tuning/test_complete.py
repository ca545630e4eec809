"""Plan from here: the planner keeps the decisions made so far and chooses the rest in latent space."""

from __future__ import annotations

import pytest

from workbench.tuning.complete import NothingToPlanError, PlanningError, plan_from


@pytest.fixture(scope="module")
def evaluator():
    from workbench.worldmodel import load_default

    return load_default("cpu")


def _sampling(cand):
    return [a.index for a in cand.actions if a.decision is not None and a.phase != "postproc"]


def test_planning_from_a_step_keeps_the_decisions_made_and_chooses_the_rest(evaluator, matmul_space):
    cand = matmul_space.sample(1, seed=2)[0]
    sampling = _sampling(cand)
    position = sampling[1]  # the first decision is kept, the planner chooses the rest
    done = plan_from(evaluator, cand, position, population=256, generations=2, top=2)
    assert done.free == [i for i in sampling if i >= position] and done.position == position
    assert done.scored >= 50 * len(done.built) > 0  # scored many more than it built
    # The decision-vector path scores the candidate as the evaluator scores the candidate itself.
    assert done.own_score == pytest.approx(float(evaluator.score([cand])[0]), abs=1e-4)
    for score, made, changes in done.built:
        assert set(changes) <= set(done.free)
        for i in sampling:
            expected = changes.get(i, cand.actions[i].decision) if i >= position else cand.actions[i].decision
            assert made.actions[i].decision == expected
        assert score == pytest.approx(float(evaluator.score([made])[0]), abs=1e-4)
    assert any(changes for _, _, changes in done.built)  # the planner changed something, not only kept it
    tried = [s for s, _, _ in done.built] + [s for s, _, _ in done.rejected]
    table = done.table()
    assert len(table) == len(tried) and table["score"].is_monotonic_decreasing
    assert (table["why not"] != "").sum() == len(done.rejected) == (~table["built"]).sum()
    # The same seed plans the same completions (the search is reproducible).
    again = plan_from(evaluator, cand, position, population=256, generations=2, top=2)
    assert [c for _, _, c in again.built] == [c for _, _, c in done.built] and again.scored == done.scored


def test_nothing_to_plan_after_the_last_decision_is_explained(evaluator, matmul_space):
    cand = matmul_space.sample(1, seed=3)[0]
    with pytest.raises(NothingToPlanError, match="no decision after step"):
        plan_from(evaluator, cand, _sampling(cand)[-1] + 1)
    with pytest.raises(PlanningError, match="out of range"):
        plan_from(evaluator, cand, len(cand) + 1)
    with pytest.raises(PlanningError, match="generations"):
        plan_from(evaluator, cand, 0, generations=0)
