"""Design spaces, candidates and their scheduling actions: replay any prefix, step, and edit decisions."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from workbench._tvm import ensure_intrinsics, import_tvm
from workbench.hardware import make_target
from workbench.subgraphs import Subgraph
from workbench.traces import first_error_line, plain_value, trace_key, trace_to_json

# Instruction kinds that only look things up or sample a value: the program is unchanged after them.
NON_MUTATING = frozenset({
    "GetSBlock", "GetLoops", "GetChildBlocks", "GetConsumers", "GetProducers", "GetOutputBlocks",
    "SamplePerfectTile", "SamplePartitionedTile", "SampleCategorical", "SampleComputeLocation", "EnterPostproc",
})
ANNOTATIONS = frozenset({"Annotate", "Unannotate", "Parallel", "Vectorize", "Unroll", "Bind"})


class InvalidEditError(ValueError):
    """A decision edit that TVM cannot apply, with the reason."""


class CandidateError(ValueError):
    """A trace that does not apply to its subgraph."""


@dataclass(frozen=True)
class Action:
    """One scheduling instruction of a trace, in plain JSON terms."""

    index: int  # position in the trace
    kind: str  # TVM instruction kind: "SamplePerfectTile", "Split", "Annotate", ...
    inputs: tuple  # random-variable names ("l2", "b0") or literal values
    attrs: tuple  # instruction attributes (n and max innermost factor, annotation key, ...)
    outputs: tuple  # names of the random variables it defines
    decision: Any = None  # the sampled value: tile sizes, categorical index, compute location
    phase: str = "schedule"  # "schedule" (design-space sketch) or "postproc" (post-processing)

    @property
    def category(self) -> str:
        if self.kind.startswith("Sample"):
            return "sample"
        if self.kind in ANNOTATIONS:
            return "annotate"
        if self.kind in NON_MUTATING:
            return "marker" if self.kind == "EnterPostproc" else "lookup"
        return "transform"

    @property
    def mutates(self) -> bool:
        """True when the action changes the program (sampling and lookups do not)."""
        return self.kind not in NON_MUTATING

    @property
    def editable(self) -> bool:
        return self.decision is not None

    def describe(self, values: dict[str, Any] | None = None) -> str:
        """A readable one-line form; ``values`` resolves sampled variables (``v6`` -> 4)."""
        values = values or {}

        def show(x: Any) -> str:
            if isinstance(x, str) and x in values:
                return f"{x}={values[x]}"
            return json.dumps(x) if not isinstance(x, str) else x

        outs = ", ".join(self.outputs)
        head = f"{outs} = " if outs else ""
        args = ", ".join(show(i) for i in self.inputs)
        attrs = ", ".join(_short(a) for a in self.attrs)
        body = f"{self.kind}({args}{'; ' + attrs if attrs else ''})"
        tail = f"  -> {json.dumps(self.decision)}" if self.decision is not None else ""
        marker = "[post] " if self.phase == "postproc" else ""
        return f"#{self.index:<3d} {marker}{head}{body}{tail}"

    def __str__(self) -> str:
        return self.describe()


def _short(attr: Any) -> str:
    text = json.dumps(attr)
    return text if len(text) <= 60 else text[:57] + "..."


def actions_from_json(trace_json: Sequence) -> list[Action]:
    """Typed actions from a trace in MetaSchedule's JSON form ``[insts, decisions]`` (no TVM needed)."""
    try:
        insts, decisions = trace_json[0], trace_json[1]
        by_index = {int(i): d for i, d in decisions}
    except (TypeError, ValueError, IndexError, KeyError) as err:
        raise CandidateError(f"not a MetaSchedule trace JSON ([insts, decisions]): {err}") from err
    actions, phase = [], "schedule"
    for index, inst in enumerate(insts):
        try:
            kind, inputs, attrs, outputs = inst
            if not (isinstance(kind, str) and all(isinstance(x, list) for x in (inputs, attrs, outputs))):
                raise TypeError("expected [kind, inputs, attrs, outputs]")
        except (TypeError, ValueError) as err:
            raise CandidateError(f"instruction #{index} of the trace is malformed: {err}") from err
        if kind == "EnterPostproc":
            phase = "postproc"
        actions.append(Action(index=index, kind=kind, inputs=tuple(_freeze(inputs)), attrs=tuple(_freeze(attrs)),
                              outputs=tuple(outputs), decision=by_index.get(index), phase=phase))
    return actions


def actions_from_trace(trace: Any, *, design_only: bool = False) -> list[Action]:
    """Typed actions read straight from a TVM trace, without its JSON form (several times faster).

    Random variables are named by object identity (``r<handle>``) instead of JSON's ``l3``/``v10``, which is
    enough to resolve sampled values and to follow which block and loop each action acts on.
    ``design_only`` stops at post-processing (``EnterPostproc``).
    """
    decisions = {inst.__chandle__(): value for inst, value in trace.decisions.items()}
    actions, phase = [], "schedule"
    for index, inst in enumerate(trace.insts):
        kind = inst.kind.name
        if kind == "EnterPostproc":
            if design_only:
                break
            phase = "postproc"
        decision = decisions.get(inst.__chandle__())
        attrs = tuple(plain_value(x) for x in inst.attrs)
        inputs = tuple(plain_value(x) for x in inst.inputs)
        outputs = tuple(f"r{o.__chandle__()}" for o in inst.outputs)
        actions.append(Action(index=index, kind=kind, inputs=inputs, attrs=attrs, outputs=outputs,
                              decision=None if decision is None else plain_value(decision, lists=True),
                              phase=phase))
    return actions


def _freeze(items: Sequence) -> list:
    return [tuple(_freeze(x)) if isinstance(x, list) else x for x in items]


def sampled_values(actions: Sequence[Action]) -> dict[str, Any]:
    """Variable name -> sampled value for every decision in the actions (``v6`` -> 4)."""
    values: dict[str, Any] = {}
    for action in actions:
        if action.decision is None:
            continue
        if action.kind == "SamplePerfectTile" and isinstance(action.decision, list):
            values.update(zip(action.outputs, action.decision, strict=False))
        elif action.kind == "SampleCategorical" and action.outputs:
            choices = action.attrs[0] if action.attrs else ()
            idx = action.decision
            values[action.outputs[0]] = choices[idx] if isinstance(idx, int) and 0 <= idx < len(choices) else idx
        elif action.outputs:
            values[action.outputs[0]] = action.decision
    return values


class DesignSpace:
    """The MetaSchedule design space (post-order-apply sketches) of a subgraph on a target."""

    def __init__(self, subgraph: Subgraph, target: Any = "cpu") -> None:
        import_tvm()
        self.subgraph = subgraph
        self.target = make_target(target)
        ensure_intrinsics(self.target)
        from tvm.s_tir import meta_schedule as ms

        self.context = ms.TuneContext(mod=subgraph.mod, target=self.target, space_generator="post-order-apply",
                                      task_name=subgraph.name, num_threads=1)
        try:
            self.sketches = [sch.trace for sch in self.context.generate_design_space()]
        except Exception as err:  # noqa: BLE001 - TVM raises builtin error types of many kinds
            raise CandidateError(f"subgraph {subgraph.name!r}: no design space on {self.target}: {err}") from err
        self.postprocs = list(self.context.space_generator.postprocs)

    def __len__(self) -> int:
        return len(self.sketches)

    def _postprocess(self, sch: Any) -> str | None:
        """Run the postprocessors on ``sch``; the name of the first that rejects it, else None."""
        sch.enter_postproc()
        for proc in self.postprocs:
            if not proc.apply(sch):
                return type(proc).__name__
        return None

    def sample(self, n: int, *, seed: int = 0, max_tries: int | None = None,
               exclude: set[str] | None = None) -> list[Candidate]:
        """``n`` distinct random candidates: each sketch replayed with fresh decisions, then post-processed.

        Sketches are used round-robin so every part of the space is covered; ``exclude`` holds
        ``Candidate.key`` values (trace hashes) that must not be returned again, e.g. already measured.
        Fewer than ``n`` come back when the space runs out (200 repeats in a row).
        """
        from tvm import s_tir

        rng = random.Random(seed)
        seen = set(exclude or ())
        out: list[Candidate] = []
        tries, max_tries = 0, max_tries or 20 * n + 50
        repeats = 0  # consecutive samples that were already seen: a small space is exhausted
        while len(out) < n and tries < max_tries and repeats < 200:
            sketch_index = tries % len(self.sketches)
            tries += 1
            sch = s_tir.Schedule(self.subgraph.mod, seed=rng.randint(1, 2**31 - 1), error_render_level="none")
            try:
                s_tir.Trace(self.sketches[sketch_index].insts, {}).apply_to_schedule(sch, remove_postproc=True)
            except Exception:  # noqa: BLE001 - a sampled decision can make a sketch inapplicable; resample
                continue
            if self._postprocess(sch) is not None:
                continue
            cand = Candidate(self, sch.trace, mod=sch.mod, sketch=sketch_index)
            if cand.key in seen:
                repeats += 1
                continue
            repeats = 0
            seen.add(cand.key)
            out.append(cand)
        return out

    def candidate(self, trace: Any) -> Candidate:
        """A candidate from a TVM trace or its JSON form (e.g. from a tuning record)."""
        from tvm import s_tir

        sch = s_tir.Schedule(self.subgraph.mod, error_render_level="detail")
        try:
            if isinstance(trace, s_tir.Trace):
                trace.apply_to_schedule(sch, remove_postproc=False)
            else:
                s_tir.Trace.apply_json_to_schedule(trace, sch)
        except Exception as err:  # noqa: BLE001 - TVM raises builtin error types of many kinds
            raise CandidateError(f"subgraph {self.subgraph.name!r}: trace does not apply: {first_error_line(err)}") from err
        return Candidate(self, sch.trace, mod=sch.mod)


class Candidate:
    """One candidate program: its trace as actions, and the real program after every prefix of them."""

    def __init__(self, space: DesignSpace, trace: Any, *, mod: Any = None, sketch: int | None = None) -> None:
        self.space = space
        self.trace = trace
        self.sketch = sketch
        self._final_mod = mod
        self._states: dict[int, Any] = {}

    @cached_property
    def trace_json(self) -> list:
        return trace_to_json(self.trace)

    @cached_property
    def actions(self) -> list[Action]:
        return actions_from_json(self.trace_json)

    @cached_property
    def key(self) -> str:
        """Identity of the candidate: :func:`workbench.traces.trace_key` of its trace (``trace_key`` in logs)."""
        return trace_key(self.trace_json)

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def mod(self) -> Any:
        """The final scheduled program."""
        if self._final_mod is None:
            self._final_mod = self.state(len(self))
        return self._final_mod

    def state(self, k: int) -> Any:
        """The real program after the first ``k`` actions (0 = initial program, len = final)."""
        from tvm import s_tir

        if not 0 <= k <= len(self):
            raise IndexError(f"state {k} out of range 0..{len(self)}")
        if k in self._states:
            return self._states[k]
        # A lookup or sampling action leaves the program as it was: reuse the previous state.
        base = k
        while base > 0 and not self.actions[base - 1].mutates:
            base -= 1
        if base in self._states:
            self._states[k] = self._states[base]
            return self._states[k]
        if base == 0:
            state = self.space.subgraph.mod
        else:
            insts = list(self.trace.insts)[:base]
            decisions = {inst: self.trace.decisions[inst] for inst in insts if inst in self.trace.decisions}
            sch = s_tir.Schedule(self.space.subgraph.mod, error_render_level="none")
            s_tir.Trace(insts, decisions).apply_to_schedule(sch, remove_postproc=False)
            state = sch.mod
        self._states[base] = self._states[k] = state
        return state

    def script(self, k: int | None = None) -> str:
        """TVMScript of the program after ``k`` actions (default: the final program)."""
        return (self.mod if k is None else self.state(k)).script()

    def states(self) -> Iterator[tuple[Action | None, Any]]:
        """(action, program after it) for every step, starting with (None, initial program)."""
        yield None, self.state(0)
        for action in self.actions:
            yield action, self.state(action.index + 1)

    def describe(self) -> list[str]:
        values = sampled_values(self.actions)
        return [a.describe(values) for a in self.actions]

    def diff(self, k: int, *, context: int = 2) -> list[str]:
        """Unified diff of the program before and after action ``k`` (empty when it changes nothing)."""
        import difflib

        if not 0 <= k < len(self):
            raise IndexError(f"action {k} out of range 0..{len(self) - 1}")
        before, after = self.state(k), self.state(k + 1)
        if before is after:
            return []
        return list(difflib.unified_diff(before.script().splitlines(), after.script().splitlines(),
                                         f"before #{k}", f"after #{k}", n=context, lineterm=""))

    def with_decision(self, index: int, value: Any) -> Candidate:
        """Replay with one decision changed, then post-process again; InvalidEditError if TVM refuses."""
        return self.with_decisions({index: value})

    def with_decisions(self, values: dict[int, Any]) -> Candidate:
        """Replay with decisions changed (action index -> value) in one replay, then post-process again;
        InvalidEditError, naming the edits, if TVM refuses."""
        from tvm import s_tir

        if not values:
            raise InvalidEditError("no decision to change")
        for index, value in values.items():
            if not 0 <= index < len(self):
                raise InvalidEditError(f"no action #{index}: this candidate has actions #0..#{len(self) - 1}")
            action = self.actions[index]
            if action.decision is None:
                editable = ", ".join(f"#{a.index} {a.kind}" for a in self.actions if a.editable)
                raise InvalidEditError(f"action #{index} ({action.kind}) has no decision to edit; editable: {editable}")
            _check_decision(action, value)
        what = ("action " if len(values) == 1 else "actions ") + ", ".join(
            f"#{i} ({self.actions[i].kind}) = {v!r}" for i, v in values.items())
        insts = list(self.trace.insts)
        new_decisions = {}
        for inst in insts:
            if inst in self.trace.decisions:
                new_decisions[inst] = self.trace.decisions[inst]
        for index, value in values.items():
            new_decisions[insts[index]] = value
        sch = s_tir.Schedule(self.space.subgraph.mod, error_render_level="detail")
        try:
            s_tir.Trace(insts, new_decisions).apply_to_schedule(sch, remove_postproc=True)
        except Exception as err:  # noqa: BLE001 - TVM reports schedule errors with several types
            raise InvalidEditError(f"{what} cannot be replayed: {first_error_line(err)}") from err
        rejected = self.space._postprocess(sch)
        if rejected is not None:
            raise InvalidEditError(f"{what}: the edited program is rejected by MetaSchedule's {rejected} "
                                   "postprocessor")
        edited = Candidate(self.space, sch.trace, mod=sch.mod, sketch=self.sketch)
        for index, value in values.items():
            applied = edited.actions[index].decision
            if json.dumps(applied) != json.dumps(list(value) if isinstance(value, tuple) else value):
                raise InvalidEditError(f"action #{index} ({self.actions[index].kind}) = {value!r} is not a valid "
                                       f"choice here (TVM would replay it as {applied!r})")
        return edited


def _check_decision(action: Action, value: Any) -> None:
    """Reject edits TVM would accept silently or explain badly."""
    where = f"action #{action.index} ({action.kind})"
    if action.kind == "SamplePerfectTile":
        old = action.decision
        if not (isinstance(value, list | tuple) and all(isinstance(v, int) and v >= 1 for v in value)):
            raise InvalidEditError(f"{where}: a tile decision is a list of {len(old)} positive ints, got {value!r}")
        if len(value) != len(old):
            raise InvalidEditError(f"{where}: needs {len(old)} tile factors, got {len(value)}")
        extent = math.prod(old)
        if math.prod(value) != extent:
            raise InvalidEditError(f"{where}: tile factors {list(value)} multiply to {math.prod(value)}, "
                                   f"but the loop extent is {extent}")
        max_innermost = action.attrs[1] if len(action.attrs) > 1 else None
        if isinstance(max_innermost, int) and max_innermost > 0 and value[-1] > max_innermost:
            raise InvalidEditError(f"{where}: innermost factor {value[-1]} exceeds this sketch's limit "
                                   f"{max_innermost}")
    elif action.kind == "SampleCategorical":
        choices = action.attrs[0] if action.attrs else ()
        if not isinstance(value, int) or not 0 <= value < len(choices):
            raise InvalidEditError(f"{where}: the decision is an index 0..{len(choices) - 1} "
                                   f"into the choices {list(choices)}, got {value!r}")
    elif action.kind == "SampleComputeLocation":
        if not isinstance(value, int) or value < -2:
            raise InvalidEditError(f"{where}: the decision is a loop index, -1 (root) or -2 (inline), got {value!r}")


class Stepper:
    """Step forward and back through a candidate's actions, keeping the current real program."""

    def __init__(self, candidate: Candidate, *, skip_lookups: bool = False) -> None:
        self.candidate = candidate
        self.skip_lookups = skip_lookups
        self.position = 0  # number of actions applied

    @property
    def action(self) -> Action | None:
        """The action most recently applied (None at the initial program)."""
        return self.candidate.actions[self.position - 1] if self.position else None

    def _stops(self) -> list[int]:
        if not self.skip_lookups:
            return list(range(len(self.candidate) + 1))
        return [0] + [a.index + 1 for a in self.candidate.actions if a.mutates or a.editable]

    def forward(self) -> Action | None:
        later = [p for p in self._stops() if p > self.position]
        if later:
            self.position = later[0]
        return self.action

    def back(self) -> Action | None:
        earlier = [p for p in self._stops() if p < self.position]
        if earlier:
            self.position = earlier[-1]
        return self.action

    def seek(self, position: int) -> Action | None:
        if not 0 <= position <= len(self.candidate):
            raise IndexError(f"position {position} out of range 0..{len(self.candidate)}")
        self.position = position
        return self.action

    @property
    def program(self) -> Any:
        return self.candidate.state(self.position)

    def script(self) -> str:
        return self.program.script()

    def edit(self, index: int, value: Any) -> Candidate:
        """Change one decision; the stepper moves to the edited candidate and keeps its position."""
        self.candidate = self.candidate.with_decision(index, value)
        self.position = min(self.position, len(self.candidate))
        return self.candidate
