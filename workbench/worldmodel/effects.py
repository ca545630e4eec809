"""What a candidate's actions do to the program that runs, as the ranker's named features.

The speed of a program depends on what post-processing makes of its design decisions (the real parallel extent,
the vector lanes, which blocks are unrolled), where producers are computed and what an rfactor splits off:
:mod:`workbench.worldmodel.program` reads the initial program, :mod:`workbench.worldmodel.loopnest` replays a
sketch's design actions on its loops into a :class:`workbench.worldmodel.plan.Plan`, the plan applies
post-processing's rules to a candidate's tile sizes, and :func:`effect_features` reads the result against the
machine (cores, vector lanes, cache sizes), so one model can transfer between CPUs. Nothing is built or replayed:
``tests/worldmodel/test_effects.py`` checks the parallel extents and vector lanes against the real programs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.hardware import kernel_threads
from workbench.worldmodel.loopnest import make_plan
from workbench.worldmodel.plan import NAN, Plan
from workbench.worldmodel.program import ProgramInfo, program_info

__all__ = ["EFFECT_FEATURES", "Machine", "Plan", "ProgramInfo", "effect_features", "effect_features_many",
           "make_plan", "program_info"]

EFFECT_FEATURES = (
    "par_extent", "par_per_core", "par_balance", "par_coverage", "vec_lanes", "vec_fit", "vec_coverage",
    "unrolled_blocks", "ca_inline", "ca_root", "ca_loop", "ca_outside", "ca_depth", "rf_extent", "rf_inner",
    "reg_tile_fit", "l1_fit", "l2_fit", "unknown",
)


@dataclass(frozen=True)
class Machine:
    """What the effect features compare a program with: the threads a kernel runs on (``cores``,
    :func:`workbench.hardware.kernel_threads`), fp32 vector lanes, cache bytes."""

    cores: int = 1
    lanes: int = 4
    l1: float = 32 * 1024
    l2: float = 1024 * 1024

    @classmethod
    def of(cls, desc: dict[str, Any] | None) -> Machine:
        desc = desc or {}
        flags = set(desc.get("isa_flags") or ())
        lanes = 16 if "avx512f" in flags else 8 if ("avx2" in flags or "avx" in flags) else 4
        caches = {str(k).lower(): v for k, v in (desc.get("caches") or {}).items()}
        return cls(cores=kernel_threads(desc), lanes=lanes,
                   l1=_bytes(caches.get("l1d"), 32 * 1024), l2=_bytes(caches.get("l2"), 1024 * 1024))


def _bytes(text: Any, default: float) -> float:
    if isinstance(text, int | float) and text > 0:
        return float(text)
    if not isinstance(text, str) or not text:
        return default
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text.rstrip("iB ")[-1:].upper(), 1)
    try:
        return float(text.rstrip("KMGkmgiB ")) * scale
    except ValueError:
        return default


def _log2(x: float) -> float:
    return math.log2(x) if x > 0 else (NAN if math.isnan(x) else 0.0)


def effect_features(plan: Plan, tiles: Sequence[Sequence[int]], unroll: float, machine: Machine,
                    evaluated: tuple | None = None) -> list[float]:
    """The :data:`EFFECT_FEATURES` of a candidate: its sketch's ``plan``, its tile sizes (each
    ``SamplePerfectTile`` decision, in order), its unroll value, and ``plan.evaluate`` of those tiles if
    already at hand. Unknown values are NaN (XGBoost's missing value)."""
    if evaluated is None:
        evaluated = plan.evaluate([float(t) for tile in tiles for t in tile])
    ext, _, outside_logs, rf_logs = evaluated
    info = plan.info
    post = plan.postprocess(ext, unroll) if info.blocks else {}
    heavy = info.heaviest()
    # The heaviest block's own result (a block that was inlined has none: NaN).
    main = next((b for b in plan.order if plan.base[b] == heavy and b in post), None)
    par, lanes, _ = post[main] if main is not None else (NAN, NAN, False)
    total = sum(b.iterations for b in info.blocks) or 1
    par_cov = vec_cov = 0.0
    unrolled = 0
    for b, (p, v, u) in post.items():
        base = plan.base[b]
        unrolled += u
        if base >= 0 and plan.names[b] == info.blocks[base].name:
            weight = info.blocks[base].iterations / total
            par_cov += weight * (p > 1)
            vec_cov += weight * (v > 1)
    cores = max(machine.cores, 1)
    balance = par / (cores * math.ceil(par / cores)) if par >= 1 else NAN
    locs = plan.locations
    at_loop = [i for i, x in enumerate(locs) if x[0] >= 0]
    rf_inner = plan.rfactors[-1][1] if plan.rfactors else False
    reg, l1, l2 = _tile_fit(tiles, machine)
    log_par, log_lanes = _log2(par), _log2(lanes)
    return [float(x) for x in (
        log_par, log_par - math.log2(cores), balance, par_cov,
        log_lanes, log_lanes - math.log2(machine.lanes), vec_cov, float(unrolled),
        float(sum(1 for x in locs if x[0] == -2)), float(sum(1 for x in locs if x[0] == -1)), float(len(at_loop)),
        sum(outside_logs[i] for i in at_loop), (sum(locs[i][2] for i in at_loop) / len(at_loop)) if at_loop else 0.0,
        rf_logs[-1] if rf_logs else 0.0, float(rf_inner), reg, l1, l2, float(plan.unknown),
    )]


def _tile_fit(tiles: Sequence[Sequence[int]], machine: Machine) -> tuple[float, float, float]:
    """log2 of (register tile / vector lanes, L1-level tile bytes / L1, L2-level tile bytes / L2) for the
    multi-level tiling's tile sizes: 4-level tiles of data-parallel loops, 2-level of reduction loops. The
    working set of a tile is approximated as output tile + (reduction tile x each spatial tile): exact for a
    matmul's C, A and B tiles."""
    spatial = [[max(int(x), 1) for x in t] for t in tiles if len(t) == 4]
    reduce = [[max(int(x), 1) for x in t] for t in tiles if len(t) == 2]
    if not spatial:
        return NAN, NAN, NAN
    reg = math.prod(t[3] for t in spatial)
    s23 = [t[2] * t[3] for t in spatial]
    s123 = [t[1] * t[2] * t[3] for t in spatial]
    r1 = math.prod(t[1] for t in reduce) if reduce else 1
    r01 = math.prod(t[0] * t[1] for t in reduce) if reduce else 1
    ws1 = 4.0 * (math.prod(s23) + r1 * sum(s23))
    ws2 = 4.0 * (math.prod(s123) + r01 * sum(s123))
    return (math.log2(reg / machine.lanes), math.log2(ws1 / machine.l1), math.log2(ws2 / machine.l2))


def effect_features_many(plan: Plan, flats: Any, shapes: Sequence[int], unroll: float, machine: Machine) -> Any:
    """:func:`effect_features` of many candidates of one plan at once: ``flats`` (n, entries) their flat tile
    sizes, ``shapes`` the length of each tile decision; returns an (n, len(EFFECT_FEATURES)) array."""
    import numpy as np

    flats = np.asarray(flats, dtype=np.float64).reshape(len(flats), -1)
    n = len(flats)
    logs = np.log2(np.maximum(flats, 1e-300))
    ext, _, outside_logs, rf_logs = plan.evaluate_arrays(logs)
    info = plan.info
    post = plan.postprocess_many(ext, unroll) if info.blocks else {}
    heavy = info.heaviest()
    main = next((b for b in plan.order if plan.base[b] == heavy and b in post), None)
    par, lanes = (post[main][0], post[main][1]) if main is not None else (np.full(n, NAN), np.full(n, NAN))
    total = sum(b.iterations for b in info.blocks) or 1
    par_cov, vec_cov = np.zeros(n), np.zeros(n)
    unrolled = 0
    for b, (p, v, u) in post.items():
        base = plan.base[b]
        unrolled += u
        if base >= 0 and plan.names[b] == info.blocks[base].name:
            weight = info.blocks[base].iterations / total
            par_cov += weight * (p > 1)
            vec_cov += weight * (v > 1)
    cores = max(machine.cores, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        balance = np.where(par >= 1, par / (cores * np.ceil(par / cores)), NAN)
        log_par = np.where(par > 0, np.log2(np.where(par > 0, par, 1.0)), np.where(np.isnan(par), NAN, 0.0))
        log_lanes = np.where(lanes > 0, np.log2(np.where(lanes > 0, lanes, 1.0)), np.where(np.isnan(lanes), NAN, 0.0))
    locs = plan.locations
    at_loop = [i for i, x in enumerate(locs) if x[0] >= 0]
    outside = outside_logs[:, at_loop].sum(axis=1) if at_loop else np.zeros(n)
    depth = (sum(locs[i][2] for i in at_loop) / len(at_loop)) if at_loop else 0.0
    rf = rf_logs[:, -1] if rf_logs.shape[1] else np.zeros(n)
    rf_inner = float(plan.rfactors[-1][1]) if plan.rfactors else 0.0
    reg, l1, l2 = _tile_fit_many(flats, shapes, machine)
    const = lambda v: np.full(n, float(v))  # noqa: E731 - a column of one value
    columns = [log_par, log_par - math.log2(cores), balance, par_cov, log_lanes, log_lanes - math.log2(machine.lanes),
               vec_cov, const(unrolled), const(sum(1 for x in locs if x[0] == -2)),
               const(sum(1 for x in locs if x[0] == -1)), const(len(at_loop)), outside, const(depth), rf,
               const(rf_inner), reg, l1, l2, const(plan.unknown)]
    return np.stack(columns, axis=1)


def _tile_fit_many(flats: Any, shapes: Sequence[int], machine: Machine) -> tuple[Any, Any, Any]:
    """:func:`_tile_fit` of many candidates (``flats`` (n, entries), ``shapes`` per tile decision)."""
    import numpy as np

    n = len(flats)
    flats = np.maximum(flats, 1.0)
    starts = np.cumsum([0, *shapes])[:-1]
    spatial = [flats[:, s:s + 4] for s, k in zip(starts, shapes, strict=True) if k == 4]
    reduce = [flats[:, s:s + 2] for s, k in zip(starts, shapes, strict=True) if k == 2]
    if not spatial:
        return np.full(n, NAN), np.full(n, NAN), np.full(n, NAN)
    reg = np.prod([t[:, 3] for t in spatial], axis=0)
    s23 = [t[:, 2] * t[:, 3] for t in spatial]
    s123 = [t[:, 1] * t[:, 2] * t[:, 3] for t in spatial]
    r1 = np.prod([t[:, 1] for t in reduce], axis=0) if reduce else np.ones(n)
    r01 = np.prod([t[:, 0] * t[:, 1] for t in reduce], axis=0) if reduce else np.ones(n)
    ws1 = 4.0 * (np.prod(s23, axis=0) + r1 * np.sum(s23, axis=0))
    ws2 = 4.0 * (np.prod(s123, axis=0) + r01 * np.sum(s123, axis=0))
    return np.log2(reg / machine.lanes), np.log2(ws1 / machine.l1), np.log2(ws2 / machine.l2)
