"""A sketch's loop nests as linear forms of its tile sizes, and post-processing's rules applied to them.

A :class:`Plan` (made by :mod:`workbench.worldmodel.loopnest`) holds every loop of a sketch after its design
actions, each extent a linear form in the log2 of the sampled tile sizes; the candidates of one sketch (and one
choice of compute locations) share it. :meth:`Plan.evaluate` turns a candidate's tile sizes into extents with one
matrix product; :meth:`Plan.postprocess` applies MetaSchedule's ``RewriteParallelVectorizeUnroll`` rules (read
from TVM's ``rewrite_parallel_vectorize_unroll.cc``) to them: which outer loops are fused and parallelized, which
inner loops are fused and vectorized, which blocks get the unroll pragma.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.worldmodel.program import ProgramInfo

NAN = math.nan
CONST = -1  # the constant term of a linear form

Form = dict[int, float]  # log2 extent = form[CONST] + sum(coef * log2(tile entry)) over the other keys


def const_form(x: float) -> Form:
    return {CONST: math.log2(x) if x > 0 else NAN}


def add_forms(*forms: Form) -> Form:
    out: Form = {CONST: 0.0}
    for f in forms:
        for k, v in f.items():
            out[k] = out.get(k, 0.0) + v
    return out


def neg_form(f: Form) -> Form:
    return {k: -v for k, v in f.items()}


def unknown_form() -> Form:
    return {CONST: NAN}


@dataclass
class Plan:
    """A sketch's loop nests after its design actions, as linear forms of the tile sizes (see the module
    docstring). Loops are numbered; ``forms[i]`` is loop i's log2 extent."""

    info: ProgramInfo
    forms: list[Form] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)  # "S", "R", "O" or "M" (fused from mixed kinds)
    axis: list[tuple[int, int]] = field(default_factory=list)  # (initial block, iterator); (-1, -1) unknown
    inner_piece: list[bool] = field(default_factory=list)  # the innermost piece of its split
    multi: set[int] = field(default_factory=set)  # loops whose body holds more than one statement
    nest: dict[int, list[int]] = field(default_factory=dict)  # block -> its loops, outer to inner
    names: list[str] = field(default_factory=list)
    base: list[int] = field(default_factory=list)  # the initial block a block stands for, -1 for none
    order: list[int] = field(default_factory=list)  # live blocks in program order
    caps: dict[str, Any] = field(default_factory=dict)  # parallel/vectorize/unroll: a number or ("cat", k)
    operands: dict[int, tuple[Form, float, float, float]] = field(default_factory=dict)  # action index ->
    # (log2 extent, depth in its nest, block, kind) of the loop it acted on
    locations: list[tuple[int, Form, float]] = field(default_factory=list)  # (decision, log2 loops outside,
    # depth fraction) of each sampled compute location
    rfactors: list[tuple[Form, bool]] = field(default_factory=list)  # (log2 extent, innermost piece)
    accesses: dict[int, Any] = field(default_factory=dict)  # block -> its accesses (``BlockInfo.accesses``)
    unknown: bool = False  # something in the trace could not be followed
    n_entries: int = 0  # tile-size entries the forms refer to
    _matrix: Any = None  # the forms as (coefficients, constants), built on first use
    _reduces: dict[int, bool] | None = None
    _strides: dict[int, tuple[int, list[list[float]]]] = field(default_factory=dict)  # block -> (its iterators'
    # block, per access the stride multiplier of each iterator)

    def extents(self, tiles: Sequence[float]) -> list[float]:
        """Each loop's extent for the flat list of a candidate's tile sizes (NaN: unknown)."""
        return self.evaluate(tiles)[0]

    def evaluate(self, tiles: Sequence[float]) -> tuple[list[float], list[float], list[float], list[float]]:
        """For a candidate's flat tile sizes: each loop's extent, and the log2 extents of each action's
        operand (in ``operands`` order), of the loops outside each sampled compute location, and of each
        rfactored loop. One matrix product over the plan's linear forms."""
        import numpy as np

        if self._matrix is None:
            self._compile()
        w, c = self._matrix
        logs = np.log2(np.asarray(tiles, dtype=np.float64)) if len(tiles) else np.zeros(0)
        if len(logs) != w.shape[1]:
            logs = np.full(w.shape[1], np.nan)
        out = c + w @ logs if w.shape[1] else c.copy()
        n = len(self.forms)
        ext = np.exp2(out[:n])
        near = np.rint(ext)
        ext = np.where(np.abs(ext - near) <= 1e-6 * ext, near, ext).tolist()
        rest = out[n:].tolist()
        a, b = len(self.operands), len(self.locations)
        return ext, rest[:a], rest[a:a + b], rest[a + b:]

    def evaluate_many(self, logs: Any) -> list[tuple[list[float], list[float], list[float], list[float]]]:
        """:meth:`evaluate` for a matrix of candidates' log2 tile sizes (one row each)."""
        import numpy as np

        if self._matrix is None:
            self._compile()
        w, c = self._matrix
        logs = np.asarray(logs, dtype=np.float64).reshape(len(logs), -1)
        if logs.shape[1] != w.shape[1]:
            logs = np.full((len(logs), w.shape[1]), np.nan)
        out = c + logs @ w.T if w.shape[1] else np.tile(c, (len(logs), 1))
        n = len(self.forms)
        ext = np.exp2(out[:, :n])
        near = np.rint(ext)
        ext = np.where(np.abs(ext - near) <= 1e-6 * ext, near, ext).tolist()
        rest = out[:, n:].tolist()
        a, b = len(self.operands), len(self.locations)
        return [(e, r[:a], r[a:a + b], r[a + b:]) for e, r in zip(ext, rest, strict=True)]

    def evaluate_arrays(self, logs: Any) -> tuple[Any, Any, Any, Any]:
        """:meth:`evaluate` of many candidates at once, as arrays (one row each): extents (n, loops), and the
        log2 extents of the operands, of the loops outside each compute location, of each rfactored loop."""
        import numpy as np

        if self._matrix is None:
            self._compile()
        w, c = self._matrix
        logs = np.asarray(logs, dtype=np.float64).reshape(len(logs), -1)
        if logs.shape[1] != w.shape[1]:
            logs = np.full((len(logs), w.shape[1]), np.nan)
        out = c + logs @ w.T if w.shape[1] else np.tile(c, (len(logs), 1))
        n = len(self.forms)
        ext = np.exp2(out[:, :n])
        near = np.rint(ext)
        ext = np.where(np.abs(ext - near) <= 1e-6 * ext, near, ext)
        a, b = len(self.operands), len(self.locations)
        return ext, out[:, n:n + a], out[:, n + a:n + a + b], out[:, n + a + b:]

    def postprocess_many(self, ext: Any, unroll: float) -> dict[int, tuple[Any, Any, bool]]:
        """:meth:`postprocess` of many candidates at once: ``ext`` (n, loops) extents; per live block, the arrays
        of parallel extents and vector lanes, and whether it is unrolled (the same for every candidate of a plan:
        the unroll value is one of the choices a plan is made for)."""
        import numpy as np

        n = ext.shape[0]
        par_cap = _number(self.caps.get("parallel"))
        vec_cap = _number(self.caps.get("vectorize"))
        kind, axis, multi = self.kind, self.axis, self.multi
        nan = np.isnan(ext)
        reduction_blocks = self._reduction_blocks()
        annotated: set[int] = set()
        marks_par = np.zeros(ext.shape, dtype=bool)
        marks_vec = np.zeros(ext.shape, dtype=bool)
        whole: dict[int, tuple[Any, Any, Any]] = {}
        unrolled: dict[int, bool] = {}
        ones, zeros = np.ones(n, dtype=bool), np.zeros(n, dtype=np.int64)
        for b in self.order:
            loops = self.nest.get(b, ())
            nb = len(loops)
            if not nb:
                continue
            n_par = np.full(n, -1)
            if par_cap == par_cap:
                count, prod, alive = zeros.copy(), np.ones(n), ones.copy()
                for x in loops:
                    if kind[x] != "S" or x in annotated:
                        break
                    ok = alive & ~nan[:, x]
                    count += ok
                    prod = np.where(ok, prod * ext[:, x], prod)
                    alive = ok & (prod <= par_cap) & (x not in multi)
                    if not alive.any():
                        break
                n_par = np.where(prod == 1.0, -1, count)
            n_vec, reach, strides = np.full(n, -1), zeros.copy(), None
            if vec_cap == vec_cap:
                strides = self._block_strides(b)
                alive = ones.copy()
                for x in reversed(loops):
                    if kind[x] != "S" or x in annotated or x in multi:
                        break
                    alive = alive & ~nan[:, x]
                    reach += alive
                fusible = _contiguous_many(loops, ext, axis, strides, reach)
                count, prod, alive = zeros.copy(), np.ones(n), ones.copy()
                for x in reversed(loops):
                    alive = alive & (count < fusible) & (count < reach)
                    if not alive.any():
                        break
                    prod = np.where(alive, prod * ext[:, x], prod)  # TVM multiplies, then checks the cap
                    over = alive & (prod > vec_cap)
                    count += alive & ~over
                    alive = alive & ~over
                n_vec = np.where(prod == 1.0, -1, count)
            both = (n_par != -1) & (n_vec != -1)
            fuse_all = np.zeros(n, dtype=bool)
            if both.any() and strides is not None:
                full = both & (reach == nb)
                if full.any():
                    fuse_all = full & (_contiguous_many(loops, ext, axis, strides, np.where(full, nb, 0)) >= nb)
                n_par = np.where(both & ~fuse_all, np.minimum(n_par, nb - n_vec), n_par)
            for i, x in enumerate(loops):
                marks_par[:, x] |= fuse_all | (~fuse_all & (i < n_par))
                marks_vec[:, x] |= ~fuse_all & (n_vec > 0) & (i >= nb - n_vec)
            if fuse_all.any():
                total = np.prod(ext[:, list(loops)], axis=1)
                # TVM splits the fused loop by the vector cap: exactly that many lanes, the rest parallel.
                whole[b] = (fuse_all, np.ceil(total / vec_cap), np.full(n, vec_cap))
            unrolled[b] = bool(unroll > 0) and reduction_blocks[b]
            if unrolled[b]:
                annotated.add(loops[0])
        out = {}
        for b in self.order:
            loops = list(self.nest.get(b, ()))
            if loops:
                sub = ext[:, loops]
                par = np.prod(np.where(marks_par[:, loops], sub, 1.0), axis=1)
                lanes = np.prod(np.where(marks_vec[:, loops], sub, 1.0), axis=1)
                if b in whole:
                    mask, whole_par, whole_lanes = whole[b]
                    par, lanes = np.where(mask, whole_par, par), np.where(mask, whole_lanes, lanes)
                out[b] = (par, lanes, unrolled.get(b, False))
        return out

    def _compile(self) -> None:
        import numpy as np

        forms = [*self.forms, *(o[0] for o in self.operands.values()), *(x[1] for x in self.locations),
                 *(r[0] for r in self.rfactors)]
        w = np.zeros((len(forms), self.n_entries))
        c = np.zeros(len(forms))
        for i, f in enumerate(forms):
            for k, v in f.items():
                if k == CONST:
                    c[i] = v
                elif 0 <= k < self.n_entries:
                    w[i, k] = v
        self._matrix = (w, c)

    def postprocess(self, ext: Sequence[float], unroll: float) -> dict[int, tuple[float, float, bool]]:
        """Post-processing's parallel, vectorize and unroll rules for loop extents ``ext``: per live block, the
        product of the parallel loops around it, of its vectorized loops, and whether its outermost loop gets
        the unroll pragma (1.0 where it gets none).

        TVM fuses the loops it parallelizes (or vectorizes) into one; here they stay apart and are marked, which
        gives a later block that shares them the same scan: the products and the break points are the same.
        """
        par_cap = _number(self.caps.get("parallel"))
        vec_cap = _number(self.caps.get("vectorize"))
        kind, axis, multi = self.kind, self.axis, self.multi
        annotated: set[int] = set()
        parallel: set[int] = set()
        vector: set[int] = set()
        whole: dict[int, tuple[float, float]] = {}
        unrolled: dict[int, bool] = {}
        reduction_blocks = self._reduction_blocks()
        for b in self.order:
            loops = self.nest.get(b, ())
            n = len(loops)
            if not n:
                continue
            n_par = -1 if par_cap != par_cap else _count_parallel(loops, ext, kind, multi, annotated, par_cap)
            n_vec = -1
            if vec_cap == vec_cap:
                strides = self._block_strides(b)
                n_vec, reach = _count_vector(loops, ext, kind, axis, multi, annotated, vec_cap, strides)
            if n_par != -1 and n_vec != -1:
                if reach == n and _contiguous(loops, ext, axis, strides, n) >= n:
                    n_par = n_vec = n  # every loop data parallel, plain and contiguous: fuse them all
                else:
                    n_par = min(n_par, n - n_vec)
            if n_par == n and n_vec == n:  # fuse everything, split off the vector lanes, parallelize the rest
                total = math.prod(ext[x] for x in loops)
                # TVM splits the fused loop by the vector cap: exactly that many lanes, the rest parallel.
                whole[b] = (float(math.ceil(total / vec_cap)), vec_cap)
                parallel.update(loops)
            else:
                if n_par > 0:
                    parallel.update(loops[:n_par])
                if n_vec > 0:
                    vector.update(loops[n - n_vec:])
            unrolled[b] = unroll > 0 and reduction_blocks[b]
            if unrolled[b]:
                annotated.add(loops[0])
        out = {}
        for b in self.order:
            loops = self.nest.get(b, ())
            if loops:
                par, lanes = whole.get(b) or (math.prod(ext[x] for x in loops if x in parallel),
                                              math.prod(ext[x] for x in loops if x in vector))
                out[b] = (par, lanes, unrolled.get(b, False))
        return out

    def _reduction_blocks(self) -> dict[int, bool]:
        """Whether each live block has a reduction iterator of its own (post-processing unrolls only those:
        TVM's ``IsSpatial``): its own loops, not the loops it shares with a block it is computed at."""
        if self._reduces is None:
            self._reduces = {}
            for b in self.order:
                nest = self.nest.get(b, ())
                own = [x for x in nest if self.axis[x][0] == self.base[b]] if self.base[b] >= 0 else list(nest)
                self._reduces[b] = any(self.kind[x] in ("R", "M") for x in own)
        return self._reduces

    def _block_strides(self, b: int) -> tuple[int, list[list[float]]]:
        """(the block whose iterators the loops are pieces of, per access the stride multiplier of each of
        its iterators: its coefficient in the last buffer dimension it indexes times that dimension's stride)."""
        cached = self._strides.get(b)
        if cached is None:
            out = []
            for shape, dims in self.accesses.get(b, ()):
                n_iters = max((len(d) for d in dims), default=0)
                mult = [0.0] * n_iters
                for j in range(n_iters):
                    scale = 1.0
                    for d in range(len(dims) - 1, -1, -1):
                        if j < len(dims[d]) and dims[d][j]:
                            mult[j] = dims[d][j] * scale
                            break
                        scale *= shape[d] if d < len(shape) else 1
                out.append(mult)
            block = self.base[b] if self.base[b] >= 0 else -2
            cached = self._strides[b] = (block, out)
        return cached


def _number(x: Any) -> float:
    return float(x) if isinstance(x, int | float) else NAN


def _count_parallel(loops: list[int], ext: list[float], kind: list[str], multi: set[int], annotated: set[int],
                    cap: float) -> int:
    count, prod = 0, 1.0
    for x in loops:
        if kind[x] != "S" or x in annotated or math.isnan(ext[x]):
            break
        count += 1
        prod *= ext[x]
        if prod > cap or x in multi:
            break
    return -1 if prod == 1.0 else count


def _count_vector(loops: list[int], ext: list[float], kind: list[str], axis: list[tuple[int, int]],
                  multi: set[int], annotated: set[int], cap: float, strides: tuple[int, list[list[float]]]
                  ) -> tuple[int, int]:
    """(loops vectorized, -1 for none; how many innermost loops are plain data-parallel loops of known
    extent, the reach of the vectorizer before contiguity and the cap)."""
    reach = 0
    for x in reversed(loops):
        if kind[x] != "S" or x in annotated or x in multi or math.isnan(ext[x]):
            break
        reach += 1
    fusible = _contiguous(loops, ext, axis, strides, reach)
    count, prod = 0, 1.0
    for x in reversed(loops):
        if count >= fusible or count >= reach:
            break
        prod *= ext[x]
        if prod > cap:
            break
        count += 1
    return (-1 if prod == 1.0 else count), reach


def _contiguous(loops: list[int], ext: list[float], axis: list[tuple[int, int]],
                strides: tuple[int, list[list[float]]], limit: int) -> int:
    """How many of the innermost loops (at most ``limit``) walk memory contiguously in every access of their
    block, as TVM's ``AdjustParallelVectorize`` counts them: a loop is a piece of one iterator, its stride
    the iterator's stride multiplier times the extents of the iterator's pieces inside it; from the
    innermost, a loop an access does not use is free, the first used must have stride 1 (unless free loops
    came before), each next stride must be the previous one times the previous extent."""
    block, accesses = strides
    if not loops or limit <= 0:
        return 0
    if not accesses:
        return min(1, limit)
    best = limit
    for mult in accesses:
        count, prev, inner = 0, None, {}
        for x in reversed(loops):
            if count >= best:
                break
            ax = axis[x]
            within = inner.get(ax, 1.0)
            inner[ax] = within * ext[x]
            if ax[0] != block:
                break  # a loop of another block's iterators (a compute-at's outer loop): its stride is unknown
            st = mult[ax[1]] * within if ax[1] < len(mult) else 0.0
            if st == 0:
                count += 1
            elif prev is None:
                if st != 1 and count:
                    break
                count += 1
                prev = (st, ext[x])
            elif st == prev[0] * prev[1]:
                count += 1
                prev = (st, ext[x])
            else:
                break
        best = min(best, count)
    return best


def _contiguous_many(loops: Sequence[int], ext: Any, axis: list[tuple[int, int]],
                     strides: tuple[int, list[list[float]]], limit: Any) -> Any:
    """:func:`_contiguous` of many candidates at once (``ext`` (n, loops), ``limit`` (n,))."""
    import numpy as np

    block, accesses = strides
    n = ext.shape[0]
    if not loops:
        return np.zeros(n, dtype=np.int64)
    if not accesses:
        return np.minimum(1, limit)
    best = np.asarray(limit, dtype=np.int64).copy()
    for mult in accesses:
        count = np.zeros(n, dtype=np.int64)
        prev_st, prev_ext, has_prev = np.zeros(n), np.ones(n), np.zeros(n, dtype=bool)
        alive = np.ones(n, dtype=bool)
        inner: dict[tuple[int, int], Any] = {}
        for x in reversed(loops):
            alive = alive & (count < best)
            if not alive.any():
                break
            ax = axis[x]
            within = inner.get(ax, 1.0)
            inner[ax] = within * ext[:, x]
            if ax[0] != block:
                break  # a loop of another block's iterators: its stride is unknown
            st = mult[ax[1]] * within if ax[1] < len(mult) else np.zeros(n)
            st = np.broadcast_to(st, (n,)).astype(np.float64)
            zero = st == 0
            ok_first = alive & ~zero & ~has_prev & ((st == 1) | (count == 0))
            ok_next = alive & ~zero & has_prev & (st == prev_st * prev_ext)
            ok = (alive & zero) | ok_first | ok_next
            count += ok
            moved = ok_first | ok_next
            prev_st = np.where(moved, st, prev_st)
            prev_ext = np.where(moved, ext[:, x], prev_ext)
            has_prev = has_prev | moved
            alive = ok
        best = np.minimum(best, count)
    return best
