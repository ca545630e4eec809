"""Features of scheduling actions (per step, for the transition) and of whole traces and hardware (ranker)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.actions import Action, sampled_values

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
N_PARAMS = 12  # length of a step's parameter vector


def _log2(x: Any) -> float:
    return math.log2(x) if isinstance(x, int | float) and x > 0 else 0.0


def step_token(action: Action) -> int:
    if action.kind in ("Annotate", "Unannotate") and action.attrs:
        key = f"Annotate:{action.attrs[0]}"
        if action.kind == "Annotate" and key in TOKEN_ID:
            return TOKEN_ID[key]
    return TOKEN_ID.get(action.kind, 0)


def step_params(action: Action, values: dict[str, Any], position: float) -> list[float]:
    """The action's parameters as numbers: tile factors, extents, annotation values, locations."""
    p = [0.0] * N_PARAMS
    kind = action.kind
    if kind in ("Split", "Annotate", "ComputeAt", "ReverseComputeAt"):
        resolved = [values.get(x, x) if isinstance(x, str) else x for x in action.inputs]
        numbers = [x for x in resolved if isinstance(x, int) and not isinstance(x, bool)]
    if kind == "Split":
        factors = [x if isinstance(x, int) else 1 for x in resolved[1:]]
        for i, f in enumerate(factors[-4:]):
            p[4 - len(factors[-4:]) + i] = _log2(f)  # right-aligned: innermost factor last
        p[4] = float(len(factors))
        p[5] = _log2(math.prod(f for f in factors if f > 0))
    elif action.kind == "Annotate":
        p[6] = _log2(numbers[0]) if numbers else 0.0
    elif action.kind in ("ComputeAt", "ReverseComputeAt"):
        loc = numbers[0] if numbers else None
        p[7] = 1.0 if loc == -2 else 0.0
        p[8] = 1.0 if loc == -1 else 0.0
        p[9] = float(loc) / 8.0 if isinstance(loc, int) and loc >= 0 else 0.0
    elif action.kind in ("Fuse", "Reorder"):
        p[5] = float(len(action.inputs)) / 8.0
    p[10] = len(action.outputs) / 4.0
    p[11] = position
    return p


def schedule_phase(actions: Sequence[Action]) -> list[Action]:
    """The actions before post-processing: the design decisions. MetaSchedule's postprocessors are a
    deterministic function of the program they get, so the world model rolls out only these."""
    out = []
    for a in actions:
        if a.phase != "schedule" or a.kind == "EnterPostproc":
            break
        out.append(a)
    return out


def steps(actions: Sequence[Action], *, design: list[Action] | None = None, values: dict[str, Any] | None = None
          ) -> tuple[list[int], list[list[float]], list[int]]:
    """(tokens, parameter vectors, action indices) of the program-changing design actions of a trace.

    Lookups and sampling leave the program unchanged, so the rollout skips them; their sampled values reach
    the steps that use them (a Split's factors, an annotation's unroll depth, a compute location).
    """
    actions = schedule_phase(actions) if design is None else design
    values = sampled_values(actions) if values is None else values
    muts = [a for a in actions if a.mutates]
    n = max(len(muts), 1)
    return ([step_token(a) for a in muts], [step_params(a, values, i / n) for i, a in enumerate(muts)],
            [a.index for a in muts])


# ---- trace-level action features for the ranker ---------------------------------------------------------

TRACE_FEATURES = (
    "n_actions", "n_steps", "n_split", "n_fuse", "n_cache_read", "n_cache_write", "n_compute_at", "n_inline",
    "n_rfactor",
    "spatial_l0", "spatial_l1", "spatial_l2", "spatial_l3", "reduce_l0", "reduce_l1",
    "parallel_extent", "register_tile", "inner_spatial", "last_inner", "reduce_inner",
    "unroll", "max_parallel_ann", "max_vectorize_ann", "n_tiles4", "n_tiles2",
    "log_flops", "flops_per_parallel", "cores_use",
)


def trace_features(actions: Sequence[Action], *, flops: float = 0.0, cores: int = 1,
                   design: list[Action] | None = None, values: dict[str, Any] | None = None) -> np.ndarray:
    """A fixed-length summary of a trace's design decisions (tiling levels, parallel extent, unroll...)."""
    actions = schedule_phase(actions) if design is None else design
    values = sampled_values(actions) if values is None else values
    counts: dict[str, int] = {}
    for a in actions:
        counts[a.kind] = counts.get(a.kind, 0) + 1
    levels = {4: np.zeros(4), 2: np.zeros(2)}  # sum of log2 factors per tiling level (spatial 4, reduction 2)
    n_tiles = {4: 0, 2: 0}
    last_inner = 0.0
    for a in actions:
        if a.kind == "SamplePerfectTile" and isinstance(a.decision, list) and len(a.decision) in levels:
            levels[len(a.decision)] += [_log2(f) for f in a.decision]
            n_tiles[len(a.decision)] += 1
            if len(a.decision) == 4:
                last_inner = _log2(a.decision[-1])
    unroll = max_par = max_vec = 0.0
    for a in actions:
        if a.kind == "Annotate" and a.attrs and a.phase == "schedule":
            raw = values.get(a.inputs[1], a.inputs[1]) if len(a.inputs) > 1 else None
            v = _log2(raw) if isinstance(raw, int) else 0.0
            if a.attrs[0] == "meta_schedule.unroll_explicit" or a.attrs[0] == "meta_schedule.unroll_implicit":
                unroll = max(unroll, v)
            elif a.attrs[0] == "meta_schedule.parallel":
                max_par = max(max_par, v)
            elif a.attrs[0] == "meta_schedule.vectorize":
                max_vec = max(max_vec, v)
    s, r = levels[4], levels[2]
    par = s[0] + s[1]
    log_flops = _log2(flops)
    f = [
        len(actions), sum(a.mutates for a in actions), counts.get("Split", 0), counts.get("Fuse", 0),
        counts.get("CacheRead", 0), counts.get("CacheWrite", 0),
        counts.get("ComputeAt", 0) + counts.get("ReverseComputeAt", 0),
        counts.get("ComputeInline", 0) + counts.get("ReverseComputeInline", 0), counts.get("RFactor", 0),
        *s, *r, par, s[2] + s[3], s[3], last_inner, r[1], unroll, max_par, max_vec, n_tiles[4], n_tiles[2],
        log_flops, log_flops - par if par else log_flops, min(par, _log2(max(cores, 1))),
    ]
    return np.asarray(f, dtype=np.float32)


def candidate_features(actions: Sequence[Action], *, flops: float = 0.0, cores: int = 1
                       ) -> tuple[list[int], list[list[float]], list[int], np.ndarray]:
    """``steps`` and ``trace_features`` of one trace in one pass."""
    design = schedule_phase(actions)
    values = sampled_values(design)
    tokens, params, indices = steps(design, design=design, values=values)
    return tokens, params, indices, trace_features(design, flops=flops, cores=cores, design=design, values=values)


# ---- hardware ------------------------------------------------------------------------------------------

HARDWARE_FEATURES = ("is_gpu", "cores", "avx512", "avx2", "fma", "neon", "l1d", "l2", "l3", "memory")


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
    """Numbers from a hardware descriptor (``workbench.hardware.hardware_descriptor``)."""
    desc = desc or {}
    flags = set(desc.get("isa_flags") or ())
    caches = {str(k).lower(): v for k, v in (desc.get("caches") or {}).items()}
    return np.asarray([
        float(target_kind == "cuda" or bool(desc.get("gpus")) and target_kind != "llvm"),
        _log2(desc.get("physical_cores") or desc.get("logical_cores") or 1), float("avx512f" in flags),
        float("avx2" in flags), float("fma" in flags), float("neon" in flags or "asimd" in flags),
        _size(caches.get("l1d")), _size(caches.get("l2")), _size(caches.get("l3")),
        _log2((desc.get("memory_gib") or 0) * 2**30),
    ], dtype=np.float32)
