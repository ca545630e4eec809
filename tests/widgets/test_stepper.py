"""The action stepper: steps and diffs, the world model's scores, edits and refusals, its traits."""

from __future__ import annotations

import json

import pytest
import traitlets

from workbench import views


def test_action_stepper_steps_and_shows_diffs(conv_space):
    from widgets import ActionStepper

    cand = conv_space.sample(1, seed=3)[0]
    widget = ActionStepper(cand)
    assert widget.position == 0 and widget.back_button.disabled
    assert "initial program" in widget.title.value and widget.score.value == ""  # no evaluator: no score
    initial_program = widget.program.value
    widget.forward_button.click()
    first = widget.position
    assert first > 0 and widget.slider.value == first
    # With lookups skipped, every stop is an action that changes the program or has a decision.
    for _ in range(len(cand)):
        if "does not change" not in widget.diff.value:
            break
        widget.forward_button.click()
    assert "background:#e6ffec" in widget.diff.value  # added lines highlighted
    assert widget.program.value != initial_program
    widget.slider.value = len(cand)
    assert widget.position == len(cand) and widget.forward_button.disabled
    assert widget.program.value == cand.mod.script()
    widget.back_button.click()
    assert widget.position < len(cand)
    widget.position = 1  # the trait moves the slider and the program
    assert widget.slider.value == 1 and widget.program.value == cand.script(1)
    with pytest.raises(traitlets.TraitError, match="out of range"):
        widget.position = len(cand) + 1


def test_stepper_scores_edits_and_explains_refusals(evaluator, held_out_records, held_out_space, other_tiling):
    from widgets import ActionStepper

    cand = held_out_space.candidate(held_out_records["trace"].iloc[0])
    st = ActionStepper(cand, evaluator=evaluator)
    assert st.history == [cand] and st.undo_button.disabled
    assert views.trace_summary(cand.actions) in st.which.value and "edited" not in st.which.value
    st.forward_button.click()
    assert st.position > 0 and "step" in st.title.value and "final score" in st.score.value
    assert "so far" in st.score.value
    while st.stepper.action is None or not isinstance(st.stepper.action.decision, list):
        st.forward_button.click()
    position, decision = st.position, json.loads(st.decision.value)
    assert not st.apply_edit(json.dumps([97] * len(decision)))  # no loop has that many factors of 97
    assert "refused" in st.edit_message.value and st.candidate is cand
    assert not st.apply_edit("[1, 2")
    assert "not JSON" in st.edit_message.value
    assert st.apply_edit(json.dumps(other_tiling(decision))), st.edit_message.value
    edited = st.candidate
    assert edited is not cand and st.history == [cand, edited] and st.position == position
    assert "applied" in st.edit_message.value and "score" in st.edit_message.value
    assert views.trace_summary(edited.actions) in st.which.value and "edited (1 edit)" in st.which.value
    assert not st.undo_button.disabled
    st.undo_button.click()
    assert st.candidate is cand and st.history == [cand] and st.position == position
    # A candidate set from outside opens afresh, at the initial program.
    other = held_out_space.candidate(held_out_records["trace"].iloc[1])
    st.candidate = other
    assert st.history == [other] and st.position == 0 and "initial program" in st.title.value
    st.show(cand, position=3)
    assert st.candidate is cand and st.position == 3 and st.history == [cand]


def test_plan_from_here_completes_the_rest_as_an_edit(evaluator, held_out_records, held_out_space):
    from widgets import ActionStepper

    # Start from the record the model scores lowest of the first ten: a candidate with a better completion to find.
    rows = held_out_records.head(10)
    cand = held_out_space.candidate(rows["trace"].iloc[int(evaluator.score(rows).argmin())])
    sampling = [a.index for a in cand.actions if a.decision is not None and a.phase != "postproc"]
    st = ActionStepper(cand, evaluator=evaluator)
    assert not st.plan_button.disabled
    st.position = sampling[1]  # the first decision is kept
    assert st.plan_from_here(population=256, generations=2, top=2), st.edit_message.value
    planned = st.candidate
    assert planned is not cand and st.history == [cand, planned] and st.position == sampling[1]
    assert "planned:" in st.edit_message.value and "scored in latent space" in st.edit_message.value
    assert planned.actions[sampling[0]].decision == cand.actions[sampling[0]].decision
    assert st.last_plan is not None and st.last_plan.best is planned and "edited" in st.which.value
    assert float(evaluator.score([planned])[0]) >= float(evaluator.score([cand])[0]) - 1e-6
    st.position = len(planned)  # nothing left to plan after the last step
    assert st.plan_button.disabled and not st.plan_from_here()
    assert "no decision after step" in st.edit_message.value and st.candidate is planned
    bare = ActionStepper(cand)  # no world model: nothing to plan with
    assert bare.plan_button.disabled and not bare.plan_from_here() and "needs the world model" in bare.edit_message.value
