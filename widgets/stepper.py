"""Step through a candidate's scheduling actions, see the real program change, edit decisions, see the score."""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as W
import traitlets

from widgets.common import Panel, error_html
from workbench import views
from workbench.actions import Candidate, InvalidEditError, Stepper, sampled_values
from workbench.tuning.complete import Completion, PlanningError, plan_from


def diff_html(lines: list[str]) -> str:
    """A unified diff with added, removed and hunk lines shaded."""
    if not lines:
        return "<i>this action does not change the program (a lookup or a sampled decision)</i>"
    colour = {"+": "#e6ffec", "-": "#ffebe9", "@": "#ddf4ff"}
    rows = "".join(f'<div style="background:{colour.get(line[:1], "transparent")}">{html.escape(line)}</div>'
                   for line in lines if not line.startswith(("+++", "---")))
    return f'<pre style="font-size:11px;line-height:1.25;margin:0">{rows}</pre>'


class ActionStepper(Panel):
    """Back / forward through the actions of a candidate: the action in words, the diff it made, the program.

    With an ``evaluator``, each step also shows the world model's score so far (the value head of the predicted
    latent after the program-changing actions up to here) and the final score. A decision (tile sizes, unroll
    choice, compute location) can be edited: the candidate is replayed and post-processed again and becomes
    ``candidate``; an edit TVM cannot apply is explained, nothing changes. "plan from here" lets the planner
    choose every decision after the current step (thousands of completions scored in latent space, the best few
    built): the best built becomes an edit, and ``last_plan`` holds every completion tried.

    Setting ``candidate`` to one that is not among the edits opens it afresh (at the initial program);
    ``position`` is the number of actions applied.
    """

    # -- state others follow
    candidate = traitlets.Instance(Candidate)  # the candidate shown: the one opened, or its latest edit
    position = traitlets.Int(0)  # actions applied (0 = the initial program)
    history = traitlets.List()  # the candidate opened, then every accepted edit (candidate is the last)

    def __init__(self, candidate: Candidate, *, evaluator: Any = None, skip_lookups: bool = True,
                 **kwargs: Any) -> None:
        self.stepper = Stepper(candidate, skip_lookups=skip_lookups)
        self.evaluator = evaluator
        self.scores: views.StepScores | None = None  # the world model's view of the candidate (evaluator only)
        # -- controls
        self.back_button = W.Button(description="◀ back", layout=W.Layout(width="90px"))
        self.forward_button = W.Button(description="forward ▶", layout=W.Layout(width="90px"))
        self.slider = W.IntSlider(value=0, min=0, max=len(candidate), description="step",
                                  continuous_update=False, layout=W.Layout(width="420px"))
        self.which = W.HTML()  # the candidate stepped through, named by its decisions (and whether edited)
        self.which.add_class("wb-stepper-candidate")  # found by the browser test
        self.title = W.HTML()
        self.score = W.HTML()
        self.decision = W.Text(description="decision", placeholder="e.g. [2, 7, 1, 1]", layout=W.Layout(width="320px"),
                               continuous_update=False)
        self.apply_button = W.Button(description="apply edit", button_style="warning", layout=W.Layout(width="100px"))
        self.undo_button = W.Button(description="undo edits", layout=W.Layout(width="100px"))
        self.plan_button = W.Button(description="plan from here", button_style="info", layout=W.Layout(width="120px"),
                                    tooltip="let the planner choose every decision after this step")
        self.last_plan: Completion | None = None  # what the last "plan from here" tried
        self.edit_message = W.HTML()
        self.diff = W.HTML(layout=W.Layout(max_height="420px", overflow="auto"))
        self.program = W.Textarea(layout=W.Layout(width="100%", height="300px"))
        self.program_box = W.Accordion(children=[self.program], titles=("program after this step",))
        self.program_box.selected_index = None
        super().__init__([self.which, W.HBox([self.back_button, self.forward_button, self.slider]), self.title,
                          self.score,
                          W.HBox([self.decision, self.apply_button, self.undo_button, self.plan_button]),
                          self.edit_message,
                          self.diff, self.program_box], **kwargs)
        # -- wiring
        self.back_button.on_click(lambda _: self.back())
        self.forward_button.on_click(lambda _: self.forward())
        self.apply_button.on_click(lambda _: self.apply_edit())
        self.undo_button.on_click(lambda _: self.undo())
        self.plan_button.on_click(lambda _: self.plan_from_here())
        self.candidate = candidate
        traitlets.link((self.slider, "value"), (self, "position"))

    # ---- actions ----------------------------------------------------------------------------------
    def show(self, candidate: Candidate, position: int = 0) -> None:
        """Open ``candidate`` (forgetting any edits) after ``position`` of its actions."""
        self.history = [candidate]
        if candidate is self.candidate:
            self._render()  # the same candidate: its edits are gone, the controls must say so
        self.candidate = candidate
        self.position = min(position, len(candidate))
        self.edit_message.value = ""

    def forward(self) -> None:
        """To the next action that changes the program or has a decision (every action with lookups shown)."""
        self.stepper.forward()
        self.position = self.stepper.position

    def back(self) -> None:
        self.stepper.back()
        self.position = self.stepper.position

    def apply_edit(self, text: str | None = None) -> bool:
        """Set the current action's decision to ``text`` (JSON, default: the text box); False if refused."""
        action = self.stepper.action
        text = self.decision.value if text is None else text
        if action is None or action.decision is None:
            self.edit_message.value = error_html("step to a sampling action (one with a decision) to edit it")
            return False
        try:
            value = json.loads(text)
        except ValueError:
            self.edit_message.value = error_html(f"not JSON: {text}")
            return False
        try:
            edited = self.candidate.with_decision(action.index, value)
        except InvalidEditError as err:
            self.edit_message.value = error_html(f"refused: {err}")
            return False
        before = self.scores.score if self.scores is not None else None
        self.history = [*self.history, edited]
        self.candidate = edited
        change = f"; score {before:.3f} → {self.scores.score:.3f}" if before is not None else ""
        self.edit_message.value = (f"<span style='color:#070'>#{action.index} {action.kind} = "
                                   f"{html.escape(json.dumps(value))} applied{change}</span>")
        return True

    def plan_from_here(self, **kwargs: Any) -> bool:
        """Let the planner choose every decision after the current step (:func:`workbench.tuning.complete.plan_from`,
        ``kwargs`` passed on); its best built completion becomes an edit. False (and why) if nothing changed."""
        if self.evaluator is None:
            self.edit_message.value = error_html("planning needs the world model: open the stepper with an evaluator")
            return False
        self.edit_message.value = "planning…"
        try:
            done = plan_from(self.evaluator, self.candidate, self.position, **{"seed": len(self.history), **kwargs})
        except PlanningError as err:
            self.edit_message.value = error_html(str(err))
            return False
        self.last_plan = done
        summary = (f"{done.scored:,} completions of the {len(done.free)} decision{'s' * (len(done.free) != 1)} after "
                   f"step {done.position} scored in latent space, {len(done.built)} built, {len(done.rejected)} "
                   f"refused by TVM ({done.seconds:.1f} s)")
        if done.best is None:
            self.edit_message.value = error_html(f"every completion tried was refused: {summary}")
            return False
        if done.best is self.candidate:
            self.edit_message.value = f"this candidate is already the planner's best completion: {summary}"
            return False
        score, best, changes = done.built[0]
        before = self.scores.score if self.scores is not None else done.own_score
        self.history = [*self.history, best]
        self.candidate = best
        what = "; ".join(f"#{i} = {html.escape(json.dumps(v))}" for i, v in changes.items())
        after = self.scores.score if self.scores is not None else score
        self.edit_message.value = (f"<span style='color:#070'>planned: {what}; score {before:.3f} → {after:.3f}"
                                   f"</span><br><small>{summary}</small>")
        return True

    def undo(self) -> None:
        """Back to the candidate as it was opened (every edit undone)."""
        if len(self.history) > 1:
            self.history = self.history[:1]
            self.candidate = self.history[0]
            self.edit_message.value = "edits undone"

    # ---- handlers ---------------------------------------------------------------------------------
    @traitlets.observe("candidate")
    def _on_candidate(self, change: dict) -> None:
        cand = change["new"]
        opened = not any(c is cand for c in self.history)
        if opened:  # from outside (another view): a fresh start
            self.history = [cand]
            self.edit_message.value = ""
        position = 0 if opened else min(self.position, len(cand))
        self.stepper.candidate, self.stepper.position = cand, position
        self.scores = views.step_scores(self.evaluator, cand) if self.evaluator is not None else None
        if self.position != position:
            self.position = position  # renders (and moves the linked slider)
        else:
            self._render()
        self.slider.max = len(cand)  # after the position, which never exceeds it

    @traitlets.validate("position")
    def _check_position(self, proposal: dict) -> int:
        position = proposal["value"]
        if not 0 <= position <= len(self.stepper.candidate):
            raise traitlets.TraitError(f"position {position} out of range 0..{len(self.stepper.candidate)} for "
                                       f"this candidate of {self.stepper.candidate.space.subgraph.name}")
        return position

    @traitlets.observe("position")
    def _on_position(self, change: dict) -> None:
        self.stepper.seek(change["new"])
        self._render()

    def _render(self) -> None:
        cand, action, position = self.stepper.candidate, self.stepper.action, self.stepper.position
        edits = len(self.history) - 1
        self.which.value = (f"stepping through <b>{html.escape(views.trace_summary(cand.actions) or 'no decisions')}"
                            f"</b>" + (f" (sketch {cand.sketch})" if cand.sketch is not None else "")
                            + (f", <span style='color:#b60'>edited ({edits} edit{'s' * (edits > 1)})</span>"
                               if edits > 0 else ""))
        if action is None:
            self.title.value = f"<b>initial program</b> of {html.escape(cand.space.subgraph.name)} ({len(cand)} actions)"
            self.diff.value = ""
        else:
            # one numbering: the step (actions applied), not also the action's trace index ("#3")
            text = action.describe(sampled_values(cand.actions)).split(" ", 1)[1].strip()
            self.title.value = (f"<b>step {position}/{len(cand)}</b> [{action.phase}, {action.category}] "
                                f"<code>{html.escape(text)}</code>")
            self.diff.value = diff_html(cand.diff(action.index))
        editable = action is not None and action.decision is not None
        self.decision.disabled = self.apply_button.disabled = not editable
        self.decision.value = json.dumps(action.decision) if editable else ""
        self.undo_button.disabled = len(self.history) < 2
        self.plan_button.disabled = self.evaluator is None or not any(
            a.decision is not None for a in cand.actions[position:] if a.phase != "postproc")
        if self.scores is not None:
            so_far = self.scores.value_so_far(position)
            self.score.value = (f"world model: final score <b>{self.scores.score:.3f}</b>"
                                + (f"; value of the predicted latent so far <b>{so_far:.3f}</b>" if so_far is not None
                                   else "") + " (higher = predicted faster)")
        self.program.value = self.stepper.script()
        self.back_button.disabled = position == 0
        self.forward_button.disabled = position == len(cand)
