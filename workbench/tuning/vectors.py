"""Candidates as decision vectors: a design-space sketch as a template, one value per sampling instruction.

What the plan strategy (:mod:`workbench.tuning.plan`) and "plan from here" (:mod:`workbench.tuning.complete`)
share: a :class:`Sketch` read from a TVM trace, exact proposals (perfect tile factorizations, another categorical
choice, another compute location seen valid), :func:`evolve` (mutate-and-keep-the-best on scores alone) and
:func:`vector_features`, the world model's ranker inputs of
many decision vectors at once, computed from the decisions alone (no program built, no action list made).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from workbench.actions import Action, actions_from_trace
from workbench.worldmodel.decisions import CompiledPlan, group_features
from workbench.worldmodel.effects import Machine
from workbench.worldmodel.features import N_PARAMS, TRACE_FEATURES
from workbench.worldmodel.items import wiring_of, with_decisions

SAMPLING = ("SamplePerfectTile", "SampleCategorical", "SampleComputeLocation")


@lru_cache(maxsize=4096)
def _primes(n: int) -> tuple[int, ...]:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return tuple(out)


def random_tiles(extent: int, parts: int, max_inner: int, rng: random.Random) -> list[int] | None:
    """A random perfect factorization of ``extent`` into ``parts`` factors, innermost <= ``max_inner``."""
    for _ in range(20):
        tiles = [1] * parts
        for p in _primes(extent):
            tiles[int(rng.random() * parts)] *= p  # not rng.randrange: ~3x cheaper (~100k calls a round)
        if max_inner <= 0 or tiles[-1] <= max_inner:
            return tiles
    return None


@lru_cache(maxsize=65536)
def factor_moves(tiles: tuple[int, ...], max_inner: int) -> tuple[tuple[int, ...], ...]:
    """Every distinct factorization one prime factor away from ``tiles`` (moved from one tile to another; the
    product stays the extent), innermost <= ``max_inner`` (0: no cap). Cached: a search asks for the same
    tiles many thousand times a round."""
    out: dict[tuple[int, ...], None] = {}
    for i, t in enumerate(tiles):
        for p in set(_primes(t)):
            for j in range(len(tiles)):
                if j == i:
                    continue
                moved = list(tiles)
                moved[i] //= p
                moved[j] *= p
                if max_inner <= 0 or moved[-1] <= max_inner:
                    out[tuple(moved)] = None
    return tuple(out)


def move_factor(tiles: Sequence[int], max_inner: int, rng: random.Random) -> list[int] | None:
    """``tiles`` with one prime factor moved from one tile to another (the product stays the extent), drawn
    uniformly from the distinct moves that keep the innermost <= ``max_inner``; None when there is none."""
    moves = factor_moves(tuple(tiles), max_inner)
    return list(moves[int(rng.random() * len(moves))]) if moves else None


@dataclass
class Sketch:
    """A design-space sketch as a decision template: which instructions sample, and what each may take."""

    index: int
    trace: Any  # the sketch's TVM trace (its instructions are the template)
    template: list[Action]  # its design actions (decisions filled per candidate)
    positions: list[int]  # action index of each sampling instruction, in trace order
    kinds: list[str]
    insts: list[Any]  # the TVM instruction of each position
    extents: list[int]  # per tile decision: the loop extent (product of any valid decision); 0 otherwise
    max_inner: list[int]  # per tile decision: its max innermost factor (0: none)
    choices: list[int]  # per categorical decision: how many choices
    locations: list[set[int]] = field(default_factory=list)  # per compute location: values seen valid

    @cached_property
    def wiring(self) -> tuple:
        """How its placing instructions are wired (``workbench.worldmodel.items.wiring_of``)."""
        return wiring_of(self.template)

    @cached_property
    def tiles(self) -> list[int]:
        """Positions of the tile decisions (their sizes feed the plan's linear forms)."""
        return [k for k, kind in enumerate(self.kinds) if kind == "SamplePerfectTile"]

    @cached_property
    def fixed(self) -> list[int]:
        """Positions of the decisions a compiled plan is made for (categorical values, compute locations)."""
        return [k for k, kind in enumerate(self.kinds) if kind != "SamplePerfectTile"]

    def family(self, decisions: tuple) -> tuple:
        """The decisions a compiled plan is made for (categorical values, compute locations): vectors that
        share them differ only in tile sizes and are scored as one array."""
        return tuple(decisions[k] for k in self.fixed)

    def actions(self, decisions: tuple) -> list[Action]:
        """The design actions of the candidate with these decisions (tile sizes as lists)."""
        return with_decisions(self.template, ((p, list(v) if isinstance(v, tuple) else v)
                                              for p, v in zip(self.positions, decisions, strict=True)))

    def own_decisions(self) -> tuple:
        """The decisions the sketch's trace itself carries (tile sizes as tuples)."""
        return tuple(tuple(v) if isinstance(v, list) else v for v in (self.template[p].decision for p in self.positions))

    def learn(self, decisions: tuple) -> None:
        """Remember what a valid candidate's decisions say: an allowed compute location, a loop's extent."""
        for k, kind in enumerate(self.kinds):
            if kind == "SampleComputeLocation":
                self.locations[k].add(decisions[k])
            elif kind == "SamplePerfectTile" and not self.extents[k]:
                self.extents[k] = int(np.prod(decisions[k]))


def sketch_of(index: int, trace: Any) -> Sketch:
    """The decision template of a sketch (or of any candidate's trace: its own decisions are the known ones)."""
    template = actions_from_trace(trace, design_only=True)
    positions = [a.index for a in template if a.kind in SAMPLING]
    insts = [trace.insts[p] for p in positions]
    kinds = [template[p].kind for p in positions]
    extents, max_inner, choices = [], [], []
    for p in positions:
        a = template[p]
        if a.kind == "SamplePerfectTile":
            extents.append(int(np.prod(a.decision)) if isinstance(a.decision, list) else 0)
            max_inner.append(int(a.attrs[1]) if len(a.attrs) > 1 and isinstance(a.attrs[1], int) else 0)
            choices.append(0)
        elif a.kind == "SampleCategorical":
            extents.append(0)
            max_inner.append(0)
            choices.append(len(a.attrs[0]) if a.attrs else 1)
        else:
            extents.append(0)
            max_inner.append(0)
            choices.append(0)
    sk = Sketch(index, trace, template, positions, kinds, insts, extents, max_inner, choices,
                [set() for _ in positions])
    for k, a in enumerate(template[p] for p in positions):
        if a.kind == "SampleComputeLocation" and isinstance(a.decision, int):
            sk.locations[k].add(a.decision)
    return sk


def decisions_of(sketch: Sketch, trace: Any) -> tuple | None:
    """The decision vector of a built candidate of ``sketch`` (None if it is not one of its traces)."""
    where = {inst.__chandle__(): i for i, inst in enumerate(trace.insts)}
    values = sorted(trace.decisions.items(), key=lambda kv: where.get(kv[0].__chandle__(), -1))
    if len(values) != len(sketch.positions):
        return None
    kinds = [inst.kind.name for inst, _ in values]
    if kinds != sketch.kinds:
        return None
    out = []
    for (_, v), kind in zip(values, kinds, strict=True):
        out.append([int(x) for x in v] if kind == "SamplePerfectTile" else int(v))
    return tuple(tuple(x) if isinstance(x, list) else x for x in out)


def random_decisions(sketch: Sketch, rng: random.Random, *, base: tuple | None = None,
                     free: Sequence[int] | None = None) -> tuple | None:
    """Random decisions of ``sketch``; with ``free``, only those positions are drawn, the others kept from
    ``base``. None when a decision has nothing to draw from (an unknown extent, no compute location seen)."""
    if free is not None and base is None:
        raise ValueError("random_decisions: `free` draws only some decisions; the others come from `base`")
    out: list[Any] = []
    draw = set(range(len(sketch.kinds)) if free is None else free)
    for k, kind in enumerate(sketch.kinds):
        if k not in draw:
            out.append(base[k])
        elif kind == "SamplePerfectTile":
            n = len(sketch.template[sketch.positions[k]].outputs)
            tiles = random_tiles(sketch.extents[k], n, sketch.max_inner[k], rng) if sketch.extents[k] else None
            if tiles is None:
                return None
            out.append(tuple(tiles))
        elif kind == "SampleCategorical":
            out.append(rng.randrange(max(sketch.choices[k], 1)))
        else:
            if not sketch.locations[k]:
                return None
            out.append(rng.choice(sorted(sketch.locations[k])))
    return tuple(out)


def retile(sketch: Sketch, k: int, tiles: Sequence[int], rng: random.Random, *,
           move_share: float) -> list[int] | None:
    """Tile decision ``k`` changed from ``tiles``: a prime factor moved between tiles (with probability
    ``move_share``), else a fresh factorization of the loop's extent. Where the sketch has not learned the extent
    (0: its own trace left the decision undecided), ``tiles``' product is the extent, never 1. None: no change."""
    if rng.random() < move_share:
        return move_factor(tiles, sketch.max_inner[k], rng)
    extent = sketch.extents[k] or int(np.prod(tiles))
    return random_tiles(extent, len(tiles), sketch.max_inner[k], rng)


def mutate_decisions(sketch: Sketch, decisions: tuple, rng: random.Random, *,
                     free: Sequence[int] | None = None) -> tuple | None:
    """``decisions`` with one of them (one of ``free``, when given) changed: a prime factor moved between tiles
    (or a fresh factorization), another categorical choice, another compute location seen valid."""
    positions = list(range(len(decisions))) if free is None else list(free)
    if not positions:
        return None
    k = rng.randrange(len(decisions)) if free is None else rng.choice(positions)
    out = list(decisions)
    kind = sketch.kinds[k]
    if kind == "SamplePerfectTile":
        moved = retile(sketch, k, out[k], rng, move_share=0.7)
        if moved is None:
            return None
        out[k] = tuple(moved)
    elif kind == "SampleCategorical":
        out[k] = rng.randrange(max(sketch.choices[k], 1))
    else:
        if len(sketch.locations[k]) < 2:
            return None
        out[k] = rng.choice(sorted(sketch.locations[k]))
    return tuple(out)


def evolve(parents: Iterable[Hashable], *, score: Callable[[list], Sequence[float]],
           mutate: Callable[[Any], Any], population: int, generations: int, mutants: int, rng: random.Random,
           skip: Callable[[Any], bool] = lambda v: False,
           spawn: Callable[[list], Iterable[Hashable]] | None = None) -> tuple[list, dict]:
    """Generations of mutate-and-keep-the-best on scores alone: each generation adds ``mutants`` mutations of
    the first ``population`` members (and what ``spawn`` makes of them, given best first after the first
    generation), scores the new ones at once (``score``; ``skip`` leaves a vector unscored and out of the
    ranking), and keeps the best half plus a random quarter of the rest (diversity).
    Returns the last generation's vectors best first and every score."""
    pool = dict.fromkeys(parents)
    known: dict = {}
    ranked: list = []
    for _ in range(generations):
        members = list(pool)[:population]
        for v in members:
            for _ in range(mutants):
                m = mutate(v)
                if m is not None:
                    pool[m] = None
        if spawn is not None:
            pool.update(dict.fromkeys(spawn(members)))
        fresh = [v for v in pool if v not in known and not skip(v)]
        if fresh:
            known.update(zip(fresh, [float(x) for x in score(fresh)], strict=True))
        ranked = sorted((v for v in pool if v in known), key=lambda v: -known[v])
        if not ranked:
            break
        keep = ranked[: population // 2]
        rest = ranked[population // 2:]
        keep += rng.sample(rest, min(len(rest), population // 4))
        pool = dict.fromkeys(keep)
    return ranked, known


def compiled_for(info: Any, sketch: Sketch, decisions: tuple, compiled: dict[tuple, CompiledPlan]) -> CompiledPlan:
    """The compiled plan of the family of ``decisions`` (cached in ``compiled`` by sketch and family)."""
    key = (sketch.index, sketch.family(decisions))
    cp = compiled.get(key)
    if cp is None:
        cp = compiled[key] = CompiledPlan.build(info, sketch.actions(decisions))
    return cp


def vector_features(evaluator: Any, mod: Any, sketches: Sequence[Sketch], vectors: Sequence[tuple[int, tuple]], *,
                    machine: Machine, hardware: dict[str, Any], target_kind: str, flops: float,
                    compiled: dict[tuple, CompiledPlan]) -> np.ndarray:
    """The world model's ranker inputs of decision vectors ``(sketch index, decisions)`` of the subgraph ``mod``:
    per sketch and choice of categorical values and compute locations, one compiled plan (cached in
    ``compiled``) turns tile sizes into features by matrix products; then one rollout for all."""
    info = evaluator.program_info(mod)
    n = len(vectors)
    groups: dict[tuple, list[int]] = {}
    for i, (s, d) in enumerate(vectors):
        sk = sketches[s]
        groups.setdefault((s, sk.family(d)), []).append(i)
    tokens: list[Any] = [None] * n
    params: list[Any] = [None] * n
    trace = np.zeros((n, len(TRACE_FEATURES)), dtype=np.float32)
    for key, rows in groups.items():
        sk = sketches[key[0]]
        cp = compiled_for(info, sk, vectors[rows[0]][1], compiled)
        flats = [[t for k in sk.tiles for t in vectors[i][1][k]] for i in rows]
        p, t = group_features(cp, flats, machine=machine, flops=[flops] * len(rows))
        for j, i in enumerate(rows):
            tokens[i] = cp.tokens
            params[i] = p[j] if p is not None else np.zeros((0, N_PARAMS))
            trace[i] = t[j]
    return evaluator.features_from_steps(mod, tokens, params, trace, hardware=hardware, target_kind=target_kind)
