"""Beam search over a candidate's tile decisions, pruned by the world model's value head along the rollout.

The plan strategy (:mod:`workbench.tuning.plan`) scores whole decision vectors. Here the tile decisions of one
*family* (a sketch with its categorical values and compute locations fixed, see
:meth:`workbench.tuning.vectors.Sketch.family`) are chosen one stage at a time, as the research's planning in a
world model does: a stage is the decisions whose sizes first reach the same step of the rollout, in step order.
After a stage, each partial vector's steps are fixed up to the first step a later decision reaches; the
transition rolls those steps out from the encoded initial program (no program built; siblings share their
prefix, see :meth:`workbench.worldmodel.transition.TransitionModel.final`), the value head ``v(z_t)`` reads the
state reached, and only the ``width`` best prefixes are expanded further. The decisions after a stage are still
the parent's while it is scored; the rollout stops before the first step they reach, so they cannot move it.
The tile decisions no step reads (only the ranker's trace features do) are not pruned by the value head,
which cannot tell their choices apart: every kept prefix comes back with them redrawn once (a prime factor
moved, or a fresh factorization) beside its own.

On the held-out subgraphs' records of ``sample_logs`` the value head halfway along the rollout already orders
programs of one family nearly as well as at its end (pairwise 0.73 against 0.75,
``benchmarks/results/prefix_value.md``): pruning by it is not a blind cut.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from workbench.tuning.vectors import Sketch, retile
from workbench.worldmodel.decisions import CompiledPlan
from workbench.worldmodel.features import N_PARAMS
from workbench.worldmodel.transition import Rollouts, torch


def first_steps(cp: CompiledPlan) -> list[int]:
    """Per tile decision of a compiled plan (in its tile order): the first step of the rollout its sizes reach;
    ``len(cp.tokens)`` for a decision no step reads (only trace features do)."""
    s = len(cp.tokens)
    reach = (np.abs(cp.params_w).reshape(s, N_PARAMS, -1).sum(axis=1) > 0) if s else np.zeros((0, 0), bool)
    first, off = [], 0
    for size in cp.tile_shapes:
        hit = np.nonzero(reach[:, off:off + size].any(axis=1))[0] if s else []
        first.append(int(hit[0]) if len(hit) else s)
        off += size
    return first


def decision_stages(cp: CompiledPlan) -> list[tuple[list[int], int]]:
    """The tile decisions of a compiled plan (indices in its tile order) grouped by the first step of the
    rollout their sizes reach, in step order: ``[(decisions, steps fixed once they and every earlier stage are
    chosen)]``. Decisions no step reads (only trace features do) come last, fixing every step."""
    s, first = len(cp.tokens), first_steps(cp)
    stages: list[tuple[list[int], int]] = []
    for j in sorted(range(len(first)), key=first.__getitem__):
        if stages and first[stages[-1][0][-1]] == first[j]:
            stages[-1][0].append(j)
        else:
            stages.append(([j], 0))
    if not stages:  # no tile decision (a sketch of categorical choices and compute locations only)
        return []
    ends = [first[group[0]] for group, _ in stages[1:]] + [s]
    return [(group, end) for (group, _), end in zip(stages, ends, strict=True)]


def prefix_values(cp: CompiledPlan, sketch: Sketch, vectors: Sequence[tuple], z0: np.ndarray, transition: Any,
                  steps: int) -> np.ndarray:
    """The value head on the state after the first ``steps`` steps of each decision vector of ``cp``'s family
    (higher = predicted faster), rolled out from the initial program's encoding ``z0``."""
    n = len(vectors)
    if steps <= 0 or n == 0:
        return np.zeros(n, dtype=np.float32)
    e = cp.params_w.shape[1]
    flats = np.asarray([[t for k in sketch.tiles for t in v[k]] for v in vectors], dtype=np.float64).reshape(n, e)
    logs = np.log2(np.maximum(flats, 1e-300))
    w = cp.params_w.reshape(len(cp.tokens), N_PARAMS, e)[:steps].reshape(steps * N_PARAMS, e)
    params = (cp.params0[: steps * N_PARAMS] + logs @ w.T).reshape(n, steps, N_PARAMS).astype(np.float32)
    tokens = torch.as_tensor(np.asarray(cp.tokens[:steps], dtype=np.int64)).expand(n, steps)
    batch = Rollouts(torch.from_numpy(np.repeat(np.asarray(z0, dtype=np.float32)[None, :], n, axis=0)),
                     tokens.contiguous(), torch.from_numpy(params), torch.ones((n, steps), dtype=torch.bool))
    return transition.values(transition.final(batch)).numpy()


def beam_family(sketch: Sketch, base: tuple, cp: CompiledPlan, z0: np.ndarray, transition: Any, *,
                width: int, expand: int, rng: random.Random,
                skip: Callable[[tuple], bool] = lambda v: False) -> tuple[list[tuple], int]:
    """Tile choices of ``base``'s family, kept stage by stage by the value head (see the module docstring): each
    stage draws about ``width * expand`` children, spread evenly over the kept prefixes (a prime factor moved, or
    a fresh factorization, in each of the stage's decisions; the prefixes themselves compete too), and keeps the
    ``width`` best. A stage with no more than ``width`` distinct children keeps them all unscored; one with no
    child left keeps the beam it had. The decisions no step reads (only the ranker's trace features do) are not
    a stage: the value head ties every choice of them, and keeping its ``width`` best would keep the children of
    the few best prefixes only. Instead each kept prefix comes back as it is and with them redrawn once (up to
    ``2 * width`` vectors), for the ranker to tell apart. Returns (the vectors, prefixes scored);
    ``skip`` leaves out a vector (one TVM refused)."""
    if width < 1 or expand < 1:
        raise ValueError(f"beam: width and expand >= 1 needed; got {width}, {expand}")
    beam, scored = [base], 0
    first, unread = first_steps(cp), []
    for group, end in decision_stages(cp):
        if first[group[0]] == len(cp.tokens):  # the last stage, if any: no step reads these decisions
            unread = group
            continue
        children = dict.fromkeys(beam)
        per = -(-width * expand // len(beam))  # the first stage spreads from the base alone
        for d in beam:
            for _ in range(per):
                children[_redrawn(sketch, d, group, rng)] = None
        kids = [c for c in children if not skip(c)]
        if not kids:  # every child refused (the kept prefixes among them): keep the beam it had
            continue
        if len(kids) <= width:
            beam = kids
            continue
        values = prefix_values(cp, sketch, kids, z0, transition, end)
        scored += len(kids)
        # Equal values (children of one prefix that differ only where the value head cannot see) keep a
        # random subset, not the first few.
        order = np.lexsort((np.asarray([rng.random() for _ in kids]), -values))[:width]
        beam = [kids[i] for i in order]
    if unread:
        drawn = (_redrawn(sketch, d, unread, rng) for d in beam)
        beam = list(dict.fromkeys([*beam, *(c for c in drawn if not skip(c))]))
    return beam, scored


def _redrawn(sketch: Sketch, d: tuple, group: list[int], rng: random.Random) -> tuple:
    """``d`` with each tile decision of ``group`` (indices in the sketch's tile order) moved or drawn afresh."""
    out = list(d)
    for j in group:
        k = sketch.tiles[j]
        moved = retile(sketch, k, out[k], rng, move_share=0.5)
        if moved is not None:
            out[k] = tuple(moved)
    return tuple(out)
