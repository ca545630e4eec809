"""Plan from here: the planner completes a partial schedule, the teaching view of planning in a world model.

A candidate stepped through up to ``position`` (its first ``position`` actions applied) keeps every decision
made so far; :func:`plan_from` searches the decisions still to come (tile sizes, unroll choices, compute
locations after that step) as the plan strategy does (:mod:`workbench.tuning.plan`): decision vectors proposed
by exact arithmetic, scored in latent space by the thousand without building any program, mutated for a few
generations, and only the best few replayed and post-processed. A completion TVM refuses is a recorded
rejection, never an error.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from workbench.actions import Candidate, InvalidEditError
from workbench.hardware import hardware_descriptor
from workbench.tuning.vectors import (
    decisions_of,
    evolve,
    mutate_decisions,
    random_decisions,
    sketch_of,
    vector_features,
)
from workbench.worldmodel.effects import Machine


class PlanningError(ValueError):
    """The planner cannot start: a bad position or setting, or an evaluator that cannot score decisions."""


class NothingToPlanError(PlanningError):
    """No decision is left after the step the planner was asked to start from."""


@dataclass
class Completion:
    """What :func:`plan_from` found: the best completions built, best predicted first."""

    candidate: Candidate  # the candidate planned from
    position: int  # actions kept as they are
    free: list[int]  # action indices of the decisions the planner chose
    own_score: float  # the world model's score of the candidate as it is
    scored: int  # decision vectors scored
    seconds: float
    built: list[tuple[float, Candidate, dict[int, Any]]] = field(default_factory=list)  # (score, made, changes)
    rejected: list[tuple[float, dict[int, Any], str]] = field(default_factory=list)  # (score, changes, why)

    @property
    def best(self) -> Candidate | None:
        """The best-scored completion TVM built (None when every one tried was refused)."""
        return self.built[0][1] if self.built else None

    def table(self) -> Any:
        """One row per completion tried: its score, predicted rank, the decisions it changes, built or why not."""
        import pandas as pd

        def changes(ch: dict[int, Any]) -> str:
            return "; ".join(f"#{i} {self.candidate.actions[i].kind} = {v}" for i, v in ch.items()) or "(as is)"

        rows = [{"score": s, "changes": changes(ch), "built": True, "why not": "", "candidate": c}
                for s, c, ch in self.built]
        rows += [{"score": s, "changes": changes(ch), "built": False, "why not": why, "candidate": None}
                 for s, ch, why in self.rejected]
        df = pd.DataFrame(rows, columns=["score", "changes", "built", "why not", "candidate"])
        return df.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def plan_from(evaluator: Any, candidate: Candidate, position: int, *, population: int = 1024, generations: int = 3,
              mutants_per_parent: int = 4, top: int = 3, samples: int = 16, seed: int = 0,
              hardware: dict[str, Any] | None = None) -> Completion:
    """Complete ``candidate``'s decisions after its first ``position`` actions by planning in latent space.

    ``samples`` replays of the kept prefix with fresh decisions for the rest show which compute locations the
    rest allows (and seed the population); then ``generations`` rounds of ``mutants_per_parent`` mutations of
    the best ``population`` vectors, all scored at once by ``evaluator`` (its rollout and ranker, as it scores
    candidates); finally the best-scored vectors are replayed until ``top`` are built. Raises
    :class:`NothingToPlanError` when no decision comes after ``position``; :class:`PlanningError` for a position
    out of range, settings that leave nothing to search, or an evaluator without a transition model.
    """
    from tvm import s_tir

    if not 0 <= position <= len(candidate):
        raise PlanningError(f"position {position} out of range 0..{len(candidate)}")
    if population < 4 or generations < 1 or mutants_per_parent < 1 or top < 1:
        raise PlanningError(f"population >= 4, generations, mutants_per_parent and top >= 1 needed; got "
                            f"{population}, {generations}, {mutants_per_parent}, {top}")
    if not evaluator.config.use_transition or evaluator.transition is None:
        raise PlanningError("planning rolls decisions out in latent space: this evaluator has no transition model")
    start = time.perf_counter()
    rng = random.Random(seed)
    space, mod = candidate.space, candidate.space.subgraph.mod
    sk = sketch_of(0, candidate.trace)
    free = [k for k, p in enumerate(sk.positions) if p >= position]
    if not free:
        raise NothingToPlanError(f"no decision after step {position} of this candidate of "
                                 f"{space.subgraph.name}: step back to before a sampling action")
    own = sk.own_decisions()
    kept = {sk.insts[k]: sk.template[sk.positions[k]].decision for k in range(len(sk.kinds)) if k not in free}
    seeds = [own]
    for _ in range(samples):  # the kept decisions, fresh ones for the rest: what the rest may take
        sch = s_tir.Schedule(mod, seed=rng.randint(1, 2**31 - 1), error_render_level="none")
        try:
            s_tir.Trace(sk.trace.insts, dict(kept)).apply_to_schedule(sch, remove_postproc=True)
        except Exception:  # noqa: BLE001 - a sampled decision can make the rest inapplicable
            continue
        d = decisions_of(sk, sch.trace)
        if d is not None and all(d[k] == own[k] for k in range(len(own)) if k not in free):
            sk.learn(d)
            seeds.append(d)
    hw = hardware if hardware is not None else hardware_descriptor()
    compiled: dict[tuple, Any] = {}

    def score(vectors: list[tuple]) -> Any:
        x = vector_features(evaluator, mod, [sk], [(0, d) for d in vectors], machine=Machine.of(hw), hardware=hw,
                           target_kind=str(space.target.kind.name), flops=float(space.subgraph.flops or 0.0),
                           compiled=compiled)
        return evaluator.ranker.predict(x)

    parents = seeds + [v for v in (random_decisions(sk, rng, base=own, free=free) for _ in range(population // 4))
                       if v is not None]
    ranked, known = evolve(parents, score=score, mutate=lambda d: mutate_decisions(sk, d, rng, free=free),
                           population=population, generations=generations, mutants=mutants_per_parent, rng=rng)
    done = Completion(candidate, position, [sk.positions[k] for k in free], own_score=known[own], scored=len(known),
                      seconds=0.0)
    for d in ranked[: 4 * top]:
        if len(done.built) >= top:
            break
        changes = {sk.positions[k]: (list(d[k]) if isinstance(d[k], tuple) else d[k]) for k in free if d[k] != own[k]}
        if not changes:
            done.built.append((known[d], candidate, {}))
            continue
        try:
            done.built.append((known[d], candidate.with_decisions(changes), changes))
        except InvalidEditError as err:
            done.rejected.append((known[d], changes, str(err)))
    done.seconds = time.perf_counter() - start
    return done

