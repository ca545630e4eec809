"""The stepper's scores: the world model's final score of a candidate and its value head after each action."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepScores:
    """What the world model says about one candidate, along its actions."""

    score: float  # the ranker's final score (higher = predicted faster)
    values: dict[int, float] = field(default_factory=dict)  # action index -> value head after it; -1: initial
    # program; empty without a transition model

    def value_so_far(self, position: int) -> float | None:
        """The value of the predicted latent once ``position`` actions are applied: the value after the last
        program-changing action among them (None without a transition model)."""
        done = [ix for ix in self.values if ix < position]
        return self.values[max(done)] if done else None


def step_scores(evaluator: Any, candidate: Any) -> StepScores:
    """Score ``candidate`` and roll it out once, keeping the value head after every program-changing action."""
    items = evaluator.items_from_candidates([candidate])
    score = float(evaluator.score(items)[0])
    if evaluator.transition is None:
        return StepScores(score)
    traj = evaluator.trajectories(items)[0]
    values = {-1: float(traj["values"][0])}
    values.update({int(ix): float(v) for ix, v in zip(traj["action_index"], traj["values"][1:], strict=True)})
    return StepScores(score, values)
