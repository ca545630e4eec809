"""Features of scheduling actions (per step, for the transition) and of whole traces and hardware (ranker).

A step's parameters say what the action did (tile factors, annotation values, compute locations) and what it
acted on (the loop's extent, its depth in its block's nest, which block, its kind: see
:mod:`workbench.worldmodel.effects`). A trace's features add what post-processing makes of it (the real parallel
extent, vector lanes, unrolled blocks), where producers are computed, what an rfactor splits off, and the tile
sizes against the machine's vector width and caches.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.actions import NON_MUTATING, Action, sampled_values
from workbench.hardware import kernel_threads
from workbench.worldmodel.effects import (
    EFFECT_FEATURES,
    Machine,
    Plan,
    ProgramInfo,
    effect_features,
    make_plan,
)

# Step tokens: an instruction kind, refined by its annotation key where it has one.
STEP_TOKENS = (
    "<unk>", "Split", "Fuse", "Reorder", "Parallel", "Vectorize", "Unroll", "Bind", "CacheRead", "CacheWrite",
    "ReIndex", "ComputeAt", "ReverseComputeAt", "ComputeInline", "ReverseComputeInline", "DecomposeReduction",
    "RFactor", "StorageAlign", "SetScope", "Blockize", "Tensorize", "Unannotate", "Annotate",
    "Annotate:meta_schedule.tiling_structure", "Annotate:meta_schedule.parallel", "Annotate:meta_schedule.vectorize",
    "Annotate:meta_schedule.unroll_explicit", "Annotate:meta_schedule.unroll_implicit",
    "Annotate:pragma_auto_unroll_max_step", "Annotate:pragma_unroll_explicit",
    "Annotate:meta_schedule.cooperative_fetch", "Annotate:meta_schedule.thread_extent_low_inclusive",
    "Annotate:meta_schedule.thread_extent_high_inclusive", "Annotate:meta_schedule.auto_tensorize",
    "Annotate:software_pipeline_stage", "Annotate:software_pipeline_order",
)
TOKEN_ID = {t: i for i, t in enumerate(STEP_TOKENS)}
N_ACTION_PARAMS = 12  # what the action did
N_OPERAND_PARAMS = 4  # what it acted on: log2 extent, depth in the nest, block, kind of the loop
N_PARAMS = N_ACTION_PARAMS + N_OPERAND_PARAMS  # length of a step's parameter vector


def log2_or_zero(x: Any) -> float:
    """log2 of a positive number, 0 for anything else."""
    return math.log2(x) if isinstance(x, int | float) and x > 0 else 0.0


_log2 = log2_or_zero


def step_token(action: Action) -> int:
    if action.kind in ("Annotate", "Unannotate") and action.attrs:
        key = f"Annotate:{action.attrs[0]}"
        if action.kind == "Annotate" and key in TOKEN_ID:
            return TOKEN_ID[key]
    return TOKEN_ID.get(action.kind, 0)


_RESOLVED_KINDS = frozenset({"Split", "Annotate", "ComputeAt", "ReverseComputeAt"})


def step_params(action: Action, values: dict[str, Any], position: float) -> tuple[float, ...]:
    """The action's parameters as numbers: tile factors, extents, annotation values, locations."""
    kind = action.kind
    resolved: tuple = ()
    if kind in _RESOLVED_KINDS:
        resolved = tuple([values.get(x, x) if isinstance(x, str) else x for x in action.inputs])
    key = (kind, resolved, len(action.inputs), len(action.outputs), position)
    try:
        return _params(key)  # a design space repeats few factor combinations: scoring hits this cache
    except TypeError:  # an unhashable operand: compute without the cache
        return _params.__wrapped__(key)


@functools.lru_cache(maxsize=65536)
def _params(key: tuple) -> tuple[float, ...]:
    kind, resolved, n_inputs, n_outputs, position = key
    p = [0.0] * N_ACTION_PARAMS
    numbers = [x for x in resolved if isinstance(x, int) and not isinstance(x, bool)]
    if kind == "Split":
        factors = [x if isinstance(x, int) else 1 for x in resolved[1:]]
        for i, f in enumerate(factors[-4:]):
            p[4 - len(factors[-4:]) + i] = _log2(f)  # right-aligned: innermost factor last
        p[4] = float(len(factors))
        p[5] = _log2(math.prod(f for f in factors if f > 0))
    elif kind == "Annotate":
        p[6] = _log2(numbers[0]) if numbers else 0.0
    elif kind in ("ComputeAt", "ReverseComputeAt"):
        loc = numbers[0] if numbers else None
        p[7] = 1.0 if loc == -2 else 0.0
        p[8] = 1.0 if loc == -1 else 0.0
        p[9] = float(loc) / 8.0 if isinstance(loc, int) and loc >= 0 else 0.0
    elif kind in ("Fuse", "Reorder"):
        p[5] = float(n_inputs) / 8.0
    p[10] = n_outputs / 4.0
    p[11] = position
    return tuple(p)


def schedule_phase(actions: Sequence[Action]) -> Sequence[Action]:
    """The actions before post-processing: the design decisions. MetaSchedule's postprocessors are a
    deterministic function of the program they get, so the world model rolls out only these."""
    if actions and actions[-1].phase == "schedule" and actions[-1].kind != "EnterPostproc":
        return actions  # phases only go forward: already design-only (what scoring reads from traces)
    out = []
    for a in actions:
        if a.phase != "schedule" or a.kind == "EnterPostproc":
            break
        out.append(a)
    return out


_NO_OPERAND = (0.0,) * N_OPERAND_PARAMS


def steps(actions: Sequence[Action], *, design: list[Action] | None = None, values: dict[str, Any] | None = None,
          operands: dict[int, tuple[float, ...]] | None = None) -> tuple[list[int], list[tuple[float, ...]], list[int]]:
    """(tokens, parameter vectors, action indices) of the program-changing design actions of a trace.

    Lookups and sampling leave the program unchanged, so the rollout skips them; their sampled values reach
    the steps that use them (a Split's factors, an annotation's unroll depth, a compute location).
    ``operands``: what each action acted on, by action index (``LoopNests.operands``; zeros without it).
    """
    actions = schedule_phase(actions) if design is None else design
    values = sampled_values(actions) if values is None else values
    operands = operands or {}
    muts = [a for a in actions if a.kind not in NON_MUTATING]
    n = max(len(muts), 1)
    return ([step_token(a) for a in muts],
            [step_params(a, values, i / n) + operands.get(a.index, _NO_OPERAND) for i, a in enumerate(muts)],
            [a.index for a in muts])


# ---- trace-level action features for the ranker ---------------------------------------------------------

TRACE_FEATURES = (
    "n_actions", "n_steps", "n_split", "n_fuse", "n_cache_read", "n_cache_write", "n_compute_at", "n_inline",
    "n_rfactor",
    "spatial_l0", "spatial_l1", "spatial_l2", "spatial_l3", "reduce_l0", "reduce_l1",
    "parallel_extent", "register_tile", "inner_spatial", "last_inner", "reduce_inner",
    "unroll", "max_parallel_ann", "max_vectorize_ann", "n_tiles4", "n_tiles2",
    "log_flops", "flops_per_parallel", "cores_use",
    *EFFECT_FEATURES,
)
BASE_TRACE_FEATURES = TRACE_FEATURES[: len(TRACE_FEATURES) - len(EFFECT_FEATURES)]  # without the effects


_UNROLL_KEYS = frozenset({"meta_schedule.unroll_explicit", "meta_schedule.unroll_implicit"})


def trace_features(actions: Sequence[Action], *, flops: float = 0.0, cores: int = 1,
                   design: Sequence[Action] | None = None, values: dict[str, Any] | None = None,
                   effects: Sequence[float] | None = None) -> np.ndarray:
    """A fixed-length summary of a trace's design decisions (tiling levels, parallel extent, unroll...) and
    their ``effects`` (:data:`EFFECT_FEATURES`, NaN when not given: see :func:`candidate_features`)."""
    actions = schedule_phase(actions) if design is None else design
    values = sampled_values(actions) if values is None else values
    counts: dict[str, int] = {}
    s = [0.0, 0.0, 0.0, 0.0]  # sum of log2 factors per tiling level: spatial (4 levels), reduction (2)
    r = [0.0, 0.0]
    n4 = n2 = n_steps = 0
    last_inner = unroll = max_par = max_vec = 0.0
    for a in actions:  # one pass: this runs for every candidate the search scores
        kind = a.kind
        counts[kind] = counts.get(kind, 0) + 1
        n_steps += kind not in NON_MUTATING
        if kind == "SamplePerfectTile":
            d = a.decision
            if isinstance(d, list) and len(d) == 4:
                logs = [_log2(f) for f in d]
                s = [x + y for x, y in zip(s, logs, strict=True)]
                n4 += 1
                last_inner = logs[3]
            elif isinstance(d, list) and len(d) == 2:
                r = [r[0] + _log2(d[0]), r[1] + _log2(d[1])]
                n2 += 1
        elif kind == "Annotate" and a.attrs and a.phase == "schedule":
            raw = values.get(a.inputs[1], a.inputs[1]) if len(a.inputs) > 1 else None
            v = _log2(raw) if isinstance(raw, int) else 0.0
            key = a.attrs[0]
            if key in _UNROLL_KEYS:
                unroll = max(unroll, v)
            elif key == "meta_schedule.parallel":
                max_par = max(max_par, v)
            elif key == "meta_schedule.vectorize":
                max_vec = max(max_vec, v)
    par = s[0] + s[1]
    log_flops = _log2(flops)
    f = [
        len(actions), n_steps, counts.get("Split", 0), counts.get("Fuse", 0),
        counts.get("CacheRead", 0), counts.get("CacheWrite", 0),
        counts.get("ComputeAt", 0) + counts.get("ReverseComputeAt", 0),
        counts.get("ComputeInline", 0) + counts.get("ReverseComputeInline", 0), counts.get("RFactor", 0),
        *s, *r, par, s[2] + s[3], s[3], last_inner, r[1], unroll, max_par, max_vec, n4, n2,
        log_flops, log_flops - par if par else log_flops, min(par, _log2(max(cores, 1))),
        *(effects if effects is not None else _NO_EFFECTS),
    ]
    return np.asarray(f, dtype=np.float32)


_NO_EFFECTS = (math.nan,) * len(EFFECT_FEATURES)


def candidate_features(actions: Sequence[Action], *, flops: float = 0.0, cores: int = 1,
                       info: ProgramInfo | None = None, machine: Machine | None = None
                       ) -> tuple[list[int], list[tuple[float, ...]], list[int], np.ndarray]:
    """``steps`` and ``trace_features`` of one trace in one pass; with the initial program's ``info``
    (:func:`workbench.worldmodel.effects.program_info`) the steps know their operands and the features the
    actions' effects, measured against ``machine`` (default: ``cores`` cores, 4 vector lanes)."""
    design = schedule_phase(actions)
    values = sampled_values(design)
    plan = effects = operands = None
    if info is not None:
        tiles, cats, flat = [], [], []
        for a in design:
            if a.kind == "SamplePerfectTile" and isinstance(a.decision, list):
                tiles.append(a.decision)
                flat.extend(a.decision)
            elif a.kind == "SampleCategorical":
                cats.append(values.get(a.outputs[0]) if a.outputs else None)
        plan = plan_of(info, design, values)
        evaluated = plan.evaluate(flat)
        unroll = plan.caps.get("unroll")
        if isinstance(unroll, tuple):
            unroll = cats[unroll[1]] if unroll[1] < len(cats) else None
        effects = effect_features(plan, tiles, float(unroll) if isinstance(unroll, int | float) else 0.0,
                                  machine or Machine(cores=cores), evaluated)
        operands = {index: (log_ext if log_ext == log_ext else 0.0, *rest[1:])
                    for (index, rest), log_ext in zip(plan.operands.items(), evaluated[1], strict=True)}
    tokens, params, indices = steps(design, design=design, values=values, operands=operands)
    return tokens, params, indices, trace_features(design, flops=flops, cores=cores, design=design, values=values,
                                                   effects=effects)


_PLANS: dict[tuple, Plan] = {}
MAX_PLANS = 20000  # sketches x compute locations kept before the cache starts afresh


def plan_of(info: ProgramInfo, design: Sequence[Action], values: dict[str, Any]) -> Plan:
    """The loop-nest plan of a candidate's sketch and compute locations (built once, then shared)."""
    # Everything but the tile sizes (which the plan keeps symbolic): kinds, operands, attributes, and the
    # decisions a plan bakes in (compute locations; categorical values, should one be used as a factor).
    key = (id(info), tuple((a.kind, a.inputs, a.attrs) for a in design),
           tuple(a.decision for a in design if a.kind in ("SampleComputeLocation", "SampleCategorical")))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[key] = make_plan(info, design, values)
    return plan


# ---- hardware ------------------------------------------------------------------------------------------

HARDWARE_FEATURES = ("is_gpu", "threads", "avx512", "avx2", "fma", "neon", "l1d", "l2", "l3", "memory")


def _size(text: Any) -> float:
    """log2 bytes of a size like ``"48K"``, ``"32768K"`` or ``"1M"`` (0 when unknown)."""
    if isinstance(text, int | float):
        return _log2(text)
    if not isinstance(text, str) or not text:
        return 0.0
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1].upper(), 1)
    try:
        return _log2(float(text.rstrip("KMGkmgiB ")) * scale)
    except ValueError:
        return 0.0


def hardware_features(desc: dict[str, Any] | None, target_kind: str = "llvm") -> np.ndarray:
    """Numbers from a hardware descriptor (``workbench.hardware.hardware_descriptor``); ``threads`` is what a
    measured kernel ran on (:func:`workbench.hardware.kernel_threads`), not the cores the machine has."""
    desc = desc or {}
    flags = set(desc.get("isa_flags") or ())
    caches = {str(k).lower(): v for k, v in (desc.get("caches") or {}).items()}
    return np.asarray([
        float(target_kind == "cuda" or bool(desc.get("gpus")) and target_kind != "llvm"),
        _log2(kernel_threads(desc)), float("avx512f" in flags),
        float("avx2" in flags), float("fma" in flags), float("neon" in flags or "asimd" in flags),
        _size(caches.get("l1d")), _size(caches.get("l2")), _size(caches.get("l3")),
        _log2((desc.get("memory_gib") or 0) * 2**30),
    ], dtype=np.float32)
