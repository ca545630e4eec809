"""Step through a candidate's scheduling actions, see the real program change, edit decisions, see the score."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from workbench.actions import Candidate, InvalidEditError, Stepper, sampled_values


def _diff_html(lines: list[str]) -> str:
    if not lines:
        return "<i>this action does not change the program (a lookup or a sampled decision)</i>"
    colour = {"+": "#e6ffec", "-": "#ffebe9", "@": "#ddf4ff"}
    rows = "".join(f'<div style="background:{colour.get(line[:1], "transparent")}">{html.escape(line)}</div>'
                   for line in lines if not line.startswith(("+++", "---")))
    return f'<pre style="font-size:11px;line-height:1.25;margin:0">{rows}</pre>'


class ActionStepper(W.VBox):
    """Back / forward through the actions of a candidate: the action in words, the diff it made, the program.

    With an ``evaluator``, each step also shows the world model's score so far (the value head of the predicted
    latent after the program-changing actions up to here) and the final score. A decision (tile sizes, unroll
    choice, compute location) can be edited: the candidate is replayed and post-processed again, and
    ``on_candidate`` callbacks hear about the new one; an edit TVM cannot apply is explained, nothing changes.
    """

    def __init__(self, candidate: Candidate, *, evaluator: Any = None, skip_lookups: bool = True,
                 **kwargs: Any) -> None:
        # -- state
        self.stepper = Stepper(candidate, skip_lookups=skip_lookups)
        self.evaluator = evaluator
        self.history: list[Candidate] = [candidate]  # the original, then every accepted edit
        self._callbacks: list[Callable[[Candidate], None]] = []
        self._position_callbacks: list[Callable[[int], None]] = []
        self._values: dict[int, float] = {}  # action index -> value after it (evaluator only)
        self._score: float | None = None
        # -- controls
        self.back_button = W.Button(description="◀ back", layout=W.Layout(width="90px"))
        self.forward_button = W.Button(description="forward ▶", layout=W.Layout(width="90px"))
        self.slider = W.IntSlider(value=0, min=0, max=len(candidate), description="step",
                                  continuous_update=False, layout=W.Layout(width="420px"))
        self.title = W.HTML()
        self.score = W.HTML()
        self.decision = W.Text(description="decision", placeholder="e.g. [2, 7, 1, 1]", layout=W.Layout(width="320px"),
                               continuous_update=False)
        self.apply_button = W.Button(description="apply edit", button_style="warning", layout=W.Layout(width="100px"))
        self.undo_button = W.Button(description="undo edits", layout=W.Layout(width="100px"))
        self.edit_message = W.HTML()
        self.edit_box = W.HBox([self.decision, self.apply_button, self.undo_button])
        self.diff = W.HTML(layout=W.Layout(max_height="420px", overflow="auto"))
        self.program = W.Textarea(layout=W.Layout(width="100%", height="300px"))
        self.program_box = W.Accordion(children=[self.program], titles=("program after this step",))
        self.program_box.selected_index = None
        super().__init__([W.HBox([self.back_button, self.forward_button, self.slider]), self.title, self.score,
                          self.edit_box, self.edit_message, self.diff, self.program_box], **kwargs)
        # -- wiring
        self.back_button.on_click(lambda _: self._go(self.stepper.back))
        self.forward_button.on_click(lambda _: self._go(self.stepper.forward))
        self.slider.observe(self._on_slider, names="value")
        self.apply_button.on_click(lambda _: self.apply_edit())
        self.undo_button.on_click(lambda _: self.undo())
        self._rescore()
        self._render()

    # ---- public -----------------------------------------------------------------------------------
    @property
    def candidate(self) -> Candidate:
        return self.stepper.candidate

    @property
    def position(self) -> int:
        return self.stepper.position

    def on_candidate(self, callback: Callable[[Candidate], None]) -> None:
        """Call ``callback(candidate)`` whenever the shown candidate changes (an edit, undo or ``show``)."""
        self._callbacks.append(callback)

    def on_position(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(position)`` whenever the step changes."""
        self._position_callbacks.append(callback)

    def show(self, candidate: Candidate, position: int = 0) -> None:
        """Open another candidate (e.g. a point clicked in the projector)."""
        self.stepper.candidate = candidate
        self.stepper.position = min(position, len(candidate))
        self.history = [candidate]
        self.edit_message.value = ""
        self.slider.max = len(candidate)
        self._changed()

    def apply_edit(self, text: str | None = None) -> bool:
        """Set the current action's decision to ``text`` (JSON, default: the text box); False if refused."""
        action = self.stepper.action
        text = self.decision.value if text is None else text
        if action is None or action.decision is None:
            self.edit_message.value = "<span style='color:#b00'>step to a sampling action (one with a decision) to " \
                                      "edit it</span>"
            return False
        try:
            value = json.loads(text)
        except ValueError:
            self.edit_message.value = f"<span style='color:#b00'>not JSON: {html.escape(text)}</span>"
            return False
        try:
            self.stepper.edit(action.index, value)
        except InvalidEditError as err:
            self.edit_message.value = f"<span style='color:#b00'>refused: {html.escape(str(err))}</span>"
            return False
        self.history.append(self.stepper.candidate)
        self.slider.max = len(self.stepper.candidate)
        before = self._score
        self._changed()
        change = f"; score {before:.3f} → {self._score:.3f}" if before is not None and self._score is not None else ""
        self.edit_message.value = (f"<span style='color:#070'>#{action.index} {action.kind} = "
                                   f"{html.escape(json.dumps(value))} applied{change}</span>")
        return True

    def undo(self) -> None:
        if len(self.history) > 1:
            self.history = self.history[:1]
            self.stepper.candidate = self.history[0]
            self.slider.max = len(self.history[0])
            self.stepper.position = min(self.stepper.position, len(self.history[0]))
            self.edit_message.value = "edits undone"
            self._changed()

    # ---- internals --------------------------------------------------------------------------------
    def _changed(self) -> None:
        self._rescore()
        self._render()
        for cb in self._callbacks:
            cb(self.stepper.candidate)

    def _rescore(self) -> None:
        self._values, self._score = {}, None
        if self.evaluator is None:
            return
        item = self.evaluator.items_from_candidates([self.stepper.candidate])
        self._score = float(self.evaluator.score(item)[0])
        if self.evaluator.transition is not None:
            traj = self.evaluator.trajectories(item)[0]
            self._values = {-1: float(traj["values"][0])}
            self._values.update({int(ix): float(v) for ix, v in zip(traj["action_index"], traj["values"][1:],
                                                                     strict=True)})

    def _value_so_far(self) -> float | None:
        if not self._values:
            return None
        done = [ix for ix in self._values if ix < self.stepper.position]
        return self._values[max(done)] if done else None

    def _go(self, move: Any) -> None:
        move()
        self._render()

    def _on_slider(self, change: dict) -> None:
        if change["new"] != self.stepper.position:
            self.stepper.seek(change["new"])
            self._render()

    def _render(self) -> None:
        cand, action = self.stepper.candidate, self.stepper.action
        self.slider.unobserve(self._on_slider, names="value")
        self.slider.value = self.stepper.position
        self.slider.observe(self._on_slider, names="value")
        if action is None:
            self.title.value = f"<b>initial program</b> of {html.escape(cand.space.subgraph.name)} ({len(cand)} actions)"
            self.diff.value = ""
        else:
            text = action.describe(sampled_values(cand.actions))
            self.title.value = (f"<b>step {self.stepper.position}/{len(cand)}</b> [{action.phase}, {action.category}] "
                                f"<code>{html.escape(text)}</code>")
            self.diff.value = _diff_html(cand.diff(action.index))
        editable = action is not None and action.decision is not None
        self.decision.disabled = self.apply_button.disabled = not editable
        self.decision.value = json.dumps(action.decision) if editable else ""
        self.undo_button.disabled = len(self.history) < 2
        if self._score is not None:
            so_far = self._value_so_far()
            self.score.value = (f"world model: final score <b>{self._score:.3f}</b>"
                                + (f"; value of the predicted latent so far <b>{so_far:.3f}</b>" if so_far is not None
                                   else "") + " (higher = predicted faster)")
        self.program.value = self.stepper.script()
        self.back_button.disabled = self.stepper.position == 0
        self.forward_button.disabled = self.stepper.position == len(cand)
        for cb in self._position_callbacks:
            cb(self.stepper.position)
