"""A candidate as its sketch's plan plus a decision vector, and the world model's inputs for many at once.

The candidates of one sketch differ only in their decisions. Everything the world model reads of a candidate (its
step tokens and parameters, its trace features) is, for a fixed sketch, compute locations and categorical
choices, an affine function of the log2 of its tile sizes; only what post-processing makes of them (the effect
features) needs the rules of :meth:`workbench.worldmodel.plan.Plan.postprocess`. So a :class:`CompiledPlan` is
made once per (sketch, compute locations, categorical choices), by probing the reference implementation
(:func:`workbench.worldmodel.features.steps` and ``trace_features``, as ``candidate_features`` calls them) at unit
tile sizes, and then turns a batch of
candidates' tile sizes into their inputs with matrix products. ``tests/worldmodel/test_decisions.py`` checks it
against the reference, candidate by candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from workbench.actions import Action, sampled_values
from workbench.worldmodel import features as feats
from workbench.worldmodel.effects import Machine, effect_features, effect_features_many
from workbench.worldmodel.features import N_PARAMS, TRACE_FEATURES, plan_of, schedule_phase
from workbench.worldmodel.plan import Plan
from workbench.worldmodel.program import ProgramInfo

_I_PAR = TRACE_FEATURES.index("parallel_extent")
_I_FLOPS = TRACE_FEATURES.index("log_flops")
_I_FPP = TRACE_FEATURES.index("flops_per_parallel")
_I_CORES = TRACE_FEATURES.index("cores_use")
_N_EFFECTS = len(TRACE_FEATURES) - _I_CORES - 1  # the effect features close the trace features


@dataclass
class Decisions:
    """What varies between the candidates of a sketch: tile sizes, categorical choices, compute locations."""

    tiles: list[list[int]]  # each SamplePerfectTile decision, in trace order
    categoricals: list[Any]  # each SampleCategorical decision (an index into its choices)
    locations: list[Any]  # each SampleComputeLocation decision

    @property
    def flat(self) -> list[int]:
        return [t for tile in self.tiles for t in tile]


def read_decisions(design: Sequence[Action]) -> tuple[tuple, Decisions]:
    """(the structure of a candidate's design actions, its decisions)."""
    structure, tiles, cats, locs = [], [], [], []
    for a in design:
        kind = a.kind
        structure.append((kind, a.inputs, a.attrs))
        if kind == "SamplePerfectTile":
            tiles.append(a.decision if isinstance(a.decision, list) else [])
        elif kind == "SampleCategorical":
            cats.append(a.decision)
        elif kind == "SampleComputeLocation":
            locs.append(a.decision)
    return tuple(structure), Decisions(tiles, cats, locs)


@dataclass
class CompiledPlan:
    """The world model's inputs for the candidates of one sketch as affine maps of their log2 tile sizes."""

    plan: Plan
    tokens: list[int]
    indices: list[int]
    trace0: np.ndarray  # (F,) trace features at unit tile sizes (flops- and core-dependent entries fixed later)
    trace_w: np.ndarray  # (F, E)
    params0: np.ndarray  # (S * N_PARAMS,)
    params_w: np.ndarray  # (S * N_PARAMS, E)
    unroll: float  # the unroll value post-processing sees (0 for none)
    tile_shapes: list[int]  # length of each tile decision

    @classmethod
    def build(cls, info: ProgramInfo, design: Sequence[Action]) -> CompiledPlan:
        design = list(design)
        values = sampled_values(design)
        plan = plan_of(info, design, values)
        tile_at = [i for i, a in enumerate(design) if a.kind == "SamplePerfectTile" and isinstance(a.decision, list)]
        shapes = [len(design[i].decision) for i in tile_at]
        n = sum(shapes)

        def probe(flat: list[int]) -> tuple[list[int], list, list[int], np.ndarray]:
            probe_design, k = list(design), 0
            for i, size in zip(tile_at, shapes, strict=True):
                probe_design[i] = replace(design[i], decision=flat[k:k + size])
                k += size
            probe_values = sampled_values(probe_design)
            _, operand_logs, _, _ = plan.evaluate([float(x) for x in flat])
            operands = {index: (x if x == x else 0.0, *rest[1:])
                        for (index, rest), x in zip(plan.operands.items(), operand_logs, strict=True)}
            tokens, params, indices = feats.steps(probe_design, design=probe_design, values=probe_values,
                                                  operands=operands)
            trace = feats.trace_features(probe_design, design=probe_design, values=probe_values)
            return tokens, params, indices, trace

        tokens, params, indices, trace = probe([1] * n)
        p0 = np.asarray(params, dtype=np.float64).reshape(-1) if params else np.zeros(0)
        t0 = np.asarray(trace, dtype=np.float64)
        pw = np.zeros((len(p0), n))
        tw = np.zeros((len(t0), n))
        for e in range(n):
            flat = [1] * n
            flat[e] = 2
            _, params_e, _, trace_e = probe(flat)
            pw[:, e] = (np.asarray(params_e, dtype=np.float64).reshape(-1) if params_e else p0) - p0
            tw[:, e] = np.nan_to_num(np.asarray(trace_e, dtype=np.float64) - t0)
        unroll = plan.caps.get("unroll")
        if isinstance(unroll, tuple):
            cats = [values.get(a.outputs[0]) if a.outputs else None for a in design if a.kind == "SampleCategorical"]
            unroll = cats[unroll[1]] if unroll[1] < len(cats) else None
        return cls(plan, tokens, indices, t0, tw, p0, pw, float(unroll) if isinstance(unroll, int | float) else 0.0,
                   shapes)


_COMPILED: dict[tuple, CompiledPlan] = {}
MAX_COMPILED = 20000  # plans kept before the cache starts afresh


def compiled_plan(info: ProgramInfo, design: Sequence[Action], structure: tuple, decisions: Decisions
                  ) -> CompiledPlan:
    """The compiled plan of a candidate (made on first sight of its sketch and choices, then shared)."""
    key = (id(info), structure, tuple(decisions.categoricals), tuple(decisions.locations))
    plan = _COMPILED.get(key)
    if plan is None:
        if len(_COMPILED) >= MAX_COMPILED:
            _COMPILED.clear()
        plan = _COMPILED[key] = CompiledPlan.build(info, design)
    return plan


def batch_features(actions: Sequence[Sequence[Action]], *, infos: Sequence[ProgramInfo],
                   machines: Sequence[Machine], flops: Sequence[float]
                   ) -> tuple[list[list[int]], list[np.ndarray], list[list[int]], np.ndarray]:
    """``features.candidate_features`` of many candidates (tokens, params, action indices, trace features),
    computed per compiled plan with matrix products."""
    n = len(actions)
    groups: dict[int, tuple[CompiledPlan, list[int], list[list[int]]]] = {}
    for i, acts in enumerate(actions):
        design = schedule_phase(acts)
        structure, decisions = read_decisions(design)
        cp = compiled_plan(infos[i], design, structure, decisions)
        group = groups.get(id(cp))
        if group is None:
            group = groups[id(cp)] = (cp, [], [])
        group[1].append(i)
        group[2].append(decisions.flat)
    tokens: list[list[int]] = [[] for _ in range(n)]
    params: list[np.ndarray] = [np.zeros((0, N_PARAMS))] * n
    indices: list[list[int]] = [[] for _ in range(n)]
    trace = np.zeros((n, len(TRACE_FEATURES)), dtype=np.float32)
    for cp, rows, flats in groups.values():
        by_machine: dict[int, list[int]] = {}  # a batch is usually of one machine; features depend on it
        for r, i in enumerate(rows):
            by_machine.setdefault(id(machines[i]), []).append(r)
        for subset in by_machine.values():
            machine = machines[rows[subset[0]]]
            p, t = group_features(cp, [flats[r] for r in subset], machine=machine,
                                  flops=[flops[rows[r]] for r in subset])
            for k, r in enumerate(subset):
                i = rows[r]
                tokens[i], indices[i], trace[i] = cp.tokens, cp.indices, t[k]
                if p is not None:
                    params[i] = p[k]
    return tokens, params, indices, trace


def group_features(cp: CompiledPlan, flats: Sequence[Sequence[int]], *, machine: Machine,
                   flops: Sequence[float]) -> tuple[np.ndarray | None, np.ndarray]:
    """(step params (n, S, N_PARAMS) or None without steps, trace features (n, F)) of candidates of one compiled
    plan, from their flat tile sizes: two matrix products, then post-processing's rules per candidate."""
    e = cp.trace_w.shape[1]
    n = len(flats)
    tiles = np.asarray([f if len(f) == e else [1] * e for f in flats], dtype=np.float64).reshape(n, e)
    logs = np.log2(np.maximum(tiles, 1e-300))
    t = (cp.trace0 + logs @ cp.trace_w.T).astype(np.float32)
    s = len(cp.tokens)
    p = (cp.params0 + logs @ cp.params_w.T).reshape(n, s, N_PARAMS) if s else None
    par = t[:, _I_PAR].astype(np.float64)
    log_flops = np.array([feats.log2_or_zero(f) for f in flops])
    t[:, _I_FLOPS] = log_flops
    t[:, _I_FPP] = np.where(par != 0, log_flops - par, log_flops)
    t[:, _I_CORES] = np.minimum(par, feats.log2_or_zero(max(machine.cores, 1)))
    first = t.shape[1] - _N_EFFECTS
    if n >= VECTORIZE_FROM:  # many candidates of one plan (a planner's batch): array operations pay off
        t[:, first:] = effect_features_many(cp.plan, tiles, cp.tile_shapes, cp.unroll, machine)
    else:  # a few (a search population spreads over sketches and choices): plain Python is faster
        evaluated = cp.plan.evaluate_many(logs)
        for r in range(n):
            t[r, first:] = effect_features(cp.plan, _split(flats[r], cp.tile_shapes), cp.unroll, machine,
                                           evaluated[r])
    return p, t


VECTORIZE_FROM = 24  # candidates of one compiled plan from which its effect features are computed as arrays


def _split(flat: Sequence[int], shapes: Sequence[int]) -> list[list[int]]:
    out, k = [], 0
    for size in shapes:
        out.append(list(flat[k:k + size]))
        k += size
    return out
