"""Replays a sketch's design actions on the initial program's loops, keeping every extent symbolic.

The design actions split, fuse and reorder loops, move blocks (compute-at, inline), add cache blocks and rfactor
reductions. :class:`LoopNests` follows them on the loops of :func:`workbench.worldmodel.program.program_info`:
exact for splits, fuses, reorders, cache writes and the loops a compute-at shares with its consumer; a loop whose
extent needs TVM's region analysis (the inner loops of a block computed at a loop whose axes do not line up with
its own, such as a convolution's padded window) is unknown (NaN). The result is a
:class:`workbench.worldmodel.plan.Plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.worldmodel.plan import CONST, NAN, Form, Plan, add_forms, const_form, neg_form, unknown_form
from workbench.worldmodel.program import ProgramInfo


class LoopNests:
    """Builds a :class:`Plan` by replaying a sketch's design actions (see the module docstring).

    ``values``: each sampled variable's value (``workbench.actions.sampled_values``); tile sizes are kept
    symbolic (entries in the order the sketch samples them), compute locations and other decisions are read
    as they are. Nothing here raises on an unexpected trace: what cannot be followed becomes unknown.
    """

    def __init__(self, info: ProgramInfo) -> None:
        self.p = Plan(info)
        self.rv: dict[str, tuple[str, Any]] = {}
        self.reads: list[set[str]] = []
        self.writes: list[set[str]] = []
        self.iters: list[list[tuple[float, str, tuple[int, int]]]] = []  # a block's own iterators
        self.targets: dict[int, int | None] = {}
        self.categoricals = 0
        for i, b in enumerate(info.blocks):
            its = [(float(e), k, (i, j)) for j, (e, k) in enumerate(zip(b.extents, b.kinds, strict=True))]
            self._new_block(b.name, set(b.reads), set(b.writes), base=i, iters=its)
            self.p.nest[i] = [self._new_loop(const_form(e), k, ax) for e, k, ax in its]
            self.p.order.append(i)
            self.p.accesses[i] = b.accesses

    # ---- bookkeeping ----------------------------------------------------------------------------------
    def _new_loop(self, form: Form, kind: str, axis: tuple[int, int], inner: bool = True) -> int:
        p = self.p
        p.forms.append(form)
        p.kind.append(kind)
        p.axis.append(axis)
        p.inner_piece.append(inner)
        return len(p.forms) - 1

    def _new_block(self, name: str, reads: set[str], writes: set[str], *, base: int,
                   iters: list[tuple[float, str, tuple[int, int]]]) -> int:
        self.p.names.append(name)
        self.p.base.append(base)
        self.reads.append(reads)
        self.writes.append(writes)
        self.iters.append(iters)
        return len(self.p.names) - 1

    def _ref(self, name: Any, kind: str) -> Any:
        ref = self.rv.get(name) if isinstance(name, str) else None
        return ref[1] if ref and ref[0] == kind else None

    def _owner(self, loop: int) -> int | None:
        """The block whose nest holds ``loop`` deepest (the first in program order among equals)."""
        best, owner = -1, None
        for b in self.p.order:
            nest = self.p.nest.get(b, ())
            if loop in nest and len(nest) > best:
                best, owner = len(nest), b
        return owner

    def _replace(self, old: Sequence[int], new: Sequence[int]) -> None:
        """Replace the run of loops ``old`` (consecutive in a nest) by ``new`` in every nest holding them."""
        for b, nest in self.p.nest.items():
            if old[0] in nest:
                i = nest.index(old[0])
                self.p.nest[b] = nest[:i] + list(new) + nest[i + len(old):]

    def _consumers(self, b: int) -> list[int]:
        return [c for c in self.p.order if c != b and self.reads[c] & self.writes[b]]

    def _operand(self, a: Any, loop: int) -> None:
        owner = self._owner(loop)
        nest = self.p.nest.get(owner, []) if owner is not None else []
        depth = (nest.index(loop) + 1) / len(nest) if loop in nest else 0.0
        n = max(len(self.p.info.blocks), 1)
        block = (self.p.base[owner] + 1) / n if owner is not None and self.p.base[owner] >= 0 else 0.0
        self.p.operands[a.index] = (self.p.forms[loop], depth, block,
                                    {"S": 1.0, "R": -1.0}.get(self.p.kind[loop], 0.0))

    # ---- the interpreter ------------------------------------------------------------------------------
    def run(self, actions: Sequence[Any], values: dict[str, Any]) -> Plan:
        """Replay the design actions (stops at post-processing)."""
        for a in actions:
            if a.kind == "EnterPostproc" or a.phase != "schedule":
                break
            handler = _HANDLERS.get(a.kind)
            if handler is None:
                if a.kind not in _NO_EFFECT:
                    self.p.unknown = True
                continue
            try:
                handler(self, a, values)
            except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError):
                self.p.unknown = True
        return self.p

    def _sample_tile(self, a: Any, values: dict) -> None:
        for name in a.outputs:
            self.rv[name] = ("e", self.p.n_entries)
            self.p.n_entries += 1

    def _sample_categorical(self, a: Any, values: dict) -> None:
        if a.outputs:
            self.rv[a.outputs[0]] = ("cat", self.categoricals)
        self.categoricals += 1

    def _get_sblock(self, a: Any, values: dict) -> None:
        name = a.attrs[0] if a.attrs else None
        if name == "root":
            self.rv[a.outputs[0]] = ("root", None)
            return
        for b, known in enumerate(self.p.names):
            if known == name:
                self.rv[a.outputs[0]] = ("b", b)
                return
        self.p.unknown = True

    def _get_loops(self, a: Any, values: dict) -> None:
        b = self._ref(a.inputs[0], "b")
        if b is None:
            self.p.unknown = True
            return
        nest = self.p.nest.get(b, [])
        if len(nest) != len(a.outputs):
            self.p.unknown = True  # the nest went another way than we followed: unknown loops from here
            nest = self.p.nest[b] = [self._new_loop(unknown_form(), "O", (-1, -1)) for _ in a.outputs]
        for name, loop in zip(a.outputs, nest, strict=True):
            self.rv[name] = ("l", loop)

    def _get_blocks(self, a: Any, values: dict) -> None:  # GetConsumers / GetProducers / GetChildBlocks
        b = self._ref(a.inputs[0], "b") if a.inputs else None
        if a.kind == "GetConsumers" and b is not None:
            found = self._consumers(b)
        elif a.kind == "GetProducers" and b is not None:
            found = [p for p in self.p.order if p != b and self.writes[p] & self.reads[b]]
        else:
            found = list(self.p.order)
        if len(found) == len(a.outputs):
            for name, blk in zip(a.outputs, found, strict=True):
                self.rv[name] = ("b", blk)

    def _split(self, a: Any, values: dict) -> None:
        loop = self._ref(a.inputs[0], "l")
        if loop is None:
            self.p.unknown = True
            return
        factors: list[Form | None] = []
        for x in a.inputs[1:]:
            ref = self.rv.get(x) if isinstance(x, str) else None
            if ref is not None and ref[0] == "e":
                factors.append({CONST: 0.0, ref[1]: 1.0})
            elif isinstance(x, int) and not isinstance(x, bool):
                factors.append(const_form(x))
            elif x is None:
                factors.append(None)
            else:
                value = values.get(x) if isinstance(x, str) else None
                factors.append(const_form(value) if isinstance(value, int | float) else unknown_form())
        missing = [i for i, f in enumerate(factors) if f is None]
        if len(missing) == 1:
            factors[missing[0]] = add_forms(self.p.forms[loop], neg_form(add_forms(*(f for f in factors if f is not None))))
        factors = [f if f is not None else unknown_form() for f in factors]
        n = len(factors)
        p = self.p
        new = [self._new_loop(f, p.kind[loop], p.axis[loop], inner=p.inner_piece[loop] and i == n - 1)
               for i, f in enumerate(factors)]
        if loop in p.multi:
            p.multi.add(new[-1])
        self._operand(a, loop)
        self._replace([loop], new)
        for name, new_loop in zip(a.outputs, new, strict=False):
            self.rv[name] = ("l", new_loop)

    def _fuse(self, a: Any, values: dict) -> None:
        loops = [self._ref(x, "l") for x in a.inputs]
        if not loops or any(x is None for x in loops):
            self.p.unknown = True
            return
        p = self.p
        kinds = {p.kind[x] for x in loops}
        fused = self._new_loop(add_forms(*(p.forms[x] for x in loops)), kinds.pop() if len(kinds) == 1 else "M",
                               p.axis[loops[-1]], inner=p.inner_piece[loops[-1]])
        if any(x in p.multi for x in loops):
            p.multi.add(fused)
        self._operand(a, loops[0])
        self._replace(loops, [fused])
        if a.outputs:
            self.rv[a.outputs[0]] = ("l", fused)

    def _reorder(self, a: Any, values: dict) -> None:
        loops = [self._ref(x, "l") for x in a.inputs]
        if not loops or any(x is None for x in loops):
            self.p.unknown = True
            return
        self._operand(a, loops[0])
        wanted = set(loops)
        for b, nest in self.p.nest.items():
            if wanted <= set(nest):
                slots = sorted(nest.index(x) for x in loops)
                nest = list(nest)
                for slot, loop in zip(slots, loops, strict=True):
                    nest[slot] = loop
                self.p.nest[b] = nest

    def _annotate(self, a: Any, values: dict) -> None:
        key = a.attrs[0] if a.attrs else ""
        if key in ("meta_schedule.parallel", "meta_schedule.vectorize", "meta_schedule.unroll_explicit",
                   "meta_schedule.unroll_implicit") and len(a.inputs) > 1:
            raw = a.inputs[1]
            ref = self.rv.get(raw) if isinstance(raw, str) else None
            value = ref if ref is not None and ref[0] == "cat" else values.get(raw, NAN) if isinstance(raw, str) \
                else raw
            self.p.caps["unroll" if "unroll" in key else key.rpartition(".")[2]] = value

    def _sample_location(self, a: Any, values: dict) -> None:
        b = self._ref(a.inputs[0], "b")
        d = a.decision
        if b is None or not isinstance(d, int) or not a.outputs:
            self.p.unknown = True
            return
        self.rv[a.outputs[0]] = ("at", len(self.p.locations))
        outside: Form = {CONST: 0.0}
        depth = 0.0
        target = None
        if d >= 0:
            consumers = self._consumers(b)
            nest = self.p.nest.get(consumers[0], []) if consumers else []
            if d < len(nest):
                target = nest[d]
                outside = add_forms(*(self.p.forms[x] for x in nest[:d + 1]))
                depth = (d + 1) / len(nest)
            else:
                self.p.unknown = True
        self.targets[len(self.p.locations)] = target
        self.p.locations.append((d, outside, depth))

    def _compute_at(self, a: Any, values: dict) -> None:
        b = self._ref(a.inputs[0], "b")
        ref = self.rv.get(a.inputs[1]) if isinstance(a.inputs[1], str) else None
        if b is None or ref is None:
            self.p.unknown = True
            return
        if ref[0] == "at":
            d = self.p.locations[ref[1]][0]
            if d == -2:
                self._inline(b)
                return
            if d == -1:
                return
            loop = self.targets.get(ref[1])
        else:
            loop = ref[1] if ref[0] == "l" else None
        owner = self._owner(loop) if loop is not None else None
        if owner is None:
            self.p.unknown = True
            return
        p = self.p
        outer = p.nest[owner][: p.nest[owner].index(loop) + 1]
        self._operand(a, loop)
        p.multi.add(loop)
        p.nest[b] = outer + self._inner_loops(b, owner, outer)
        p.order.remove(b)
        at = p.order.index(owner)
        p.order.insert(at if a.kind == "ComputeAt" else at + 1, b)  # producers go before, consumers after

    def _inner_loops(self, b: int, other: int, outer: list[int]) -> list[int]:
        """The loops of block ``b`` under ``outer`` (loops of block ``other``) after a compute-at: one per
        iterator of ``b``, each covering what ``outer`` leaves of it. Exact when the outer loops are pieces of
        the same iterator (a cache block) or of the iterator of ``other`` that indexes the buffer between the
        two blocks in the same dimension as ``b``'s iterator does; unknown (NaN) otherwise."""
        p = self.p
        link = self._linked_iterators(b, other)
        outer_axes = {p.axis[x] for x in outer}
        loops = []
        for e, k, ax in self.iters[b]:
            form = const_form(e)
            if k == "S":
                target = ax if ax in outer_axes else link.get(ax[1])
                if target is None:
                    form = unknown_form() if any(p.axis[x] != (-1, -1) for x in outer) else form
                else:
                    form = add_forms(form, neg_form(add_forms(*(p.forms[x] for x in outer if p.axis[x] == target))))
            loops.append(self._new_loop(form, k, ax))
        return loops

    def _linked_iterators(self, b: int, other: int) -> dict[int, tuple[int, int]]:
        """Iterator i of block ``b`` -> the iterator (block, j) of ``other`` that walks the same dimension of
        a buffer one of them writes and the other reads (the unit-stride one, and a data-parallel one first,
        where several do: a convolution's window)."""
        info = self.p.info
        mb, ob = self.p.base[b], self.p.base[other]
        if not (0 <= mb < len(info.blocks) and 0 <= ob < len(info.blocks)) or self.p.names[b] != info.blocks[mb].name:
            return {}
        mine, theirs = info.blocks[mb], info.blocks[ob]
        out: dict[int, tuple[int, int]] = {}
        # Blocks between them were inlined (an epilogue): data-parallel iterators of the same extents, in order.
        my_s = [j for j, k in enumerate(mine.kinds) if k == "S"]
        their_s = [j for j, k in enumerate(theirs.kinds) if k == "S"]
        if [mine.extents[j] for j in my_s] == [theirs.extents[j] for j in their_s]:
            out = {i: (ob, j) for i, j in zip(my_s, their_s, strict=True)}
        # their accesses list their reads, then their writes
        for my_side, their_side, their_offset in ((mine.write_index, theirs.read_index, 0),
                                                  (mine.read_index, theirs.write_index, len(theirs.reads))):
            for buf, dims in my_side:
                for m, (their_buf, _) in enumerate(their_side):
                    if their_buf != buf or their_offset + m >= len(theirs.accesses):
                        continue
                    strides = theirs.accesses[their_offset + m][1]
                    if len(strides) != len(dims):
                        continue
                    for i, st in zip(dims, strides, strict=True):
                        walkers = [j for j, x in enumerate(st) if x == 1]
                        if i < 0 or not walkers:
                            continue
                        walkers.sort(key=lambda j: theirs.kinds[j] != "S")
                        out[i] = (ob, walkers[0])  # an access says it: over the guess by extents
        return out

    def _inline(self, b: int, *, into_producer: bool = False) -> None:
        """Remove block ``b``: its consumers now read what it read (compute-inline), or its producers write
        what it wrote (reverse-compute-inline)."""
        p = self.p
        if into_producer:
            for q in p.order:
                if q != b and self.writes[q] & self.reads[b]:
                    self.writes[q] = (self.writes[q] - self.reads[b]) | self.writes[b]
        else:
            for c in self._consumers(b):
                self.reads[c] = (self.reads[c] - self.writes[b]) | self.reads[b]
        if b in p.order:
            p.order.remove(b)
        p.nest.pop(b, None)

    def _compute_inline(self, a: Any, values: dict) -> None:
        b = self._ref(a.inputs[0], "b")
        if b is None:
            self.p.unknown = True
            return
        self._inline(b, into_producer=a.kind == "ReverseComputeInline")

    def _cache(self, a: Any, values: dict) -> None:
        b = self._ref(a.inputs[0], "b")
        if b is None or not a.outputs or b not in self.p.order:
            self.p.unknown = True
            return
        p = self.p
        scope = a.attrs[1] if len(a.attrs) > 1 else "global"
        buffer = f"{p.names[b]}_{scope}"
        if a.kind == "CacheWrite":
            # TVM names the new block after the buffer; it copies the written buffer: one loop per data-
            # parallel iterator of b (the same iterators, so a compute-at can tell what its loops cover).
            spatial = [it for it in self.iters[b] if it[1] == "S"]
            new = self._new_block(buffer, {buffer}, set(self.writes[b]), base=p.base[b], iters=spatial)
            self.writes[b] = {buffer}
            p.nest[new] = [self._new_loop(const_form(e), "S", ax) for e, _, ax in spatial]
            p.order.insert(p.order.index(b) + 1, new)
            # It reads the cache and writes the buffer, both indexed by those iterators in order.
            n_iters = len(self.p.info.blocks[p.base[b]].extents) if p.base[b] >= 0 else 0
            shape = tuple(int(e) for e, _, _ in spatial)
            dims = tuple(tuple(1 if i == ax[1] else 0 for i in range(n_iters)) for _, _, ax in spatial)
            p.accesses[new] = ((shape, dims), (shape, dims))
        else:  # CacheRead: a copy block of a shape we do not follow, before b
            new = self._new_block(buffer, set(), {buffer}, base=-1, iters=[])
            self.reads[b] = self.reads[b] | {buffer}
            p.nest[new] = []
            p.order.insert(p.order.index(b), new)
        self.rv[a.outputs[0]] = ("b", new)

    def _rfactor(self, a: Any, values: dict) -> None:
        loop = self._ref(a.inputs[0], "l")
        owner = self._owner(loop) if loop is not None else None
        if owner is None or not a.outputs:
            self.p.unknown = True
            return
        p = self.p
        self._operand(a, loop)
        p.rfactors.append((p.forms[loop], p.inner_piece[loop]))
        buffer = f"{p.names[owner]}_rf"
        rf = self._new_block(buffer, set(self.reads[owner]), {buffer}, base=-1, iters=[])
        # The rf block keeps the nest (the rfactored loop becomes data parallel); the block reduces over it.
        p.nest[rf] = [self._new_loop(p.forms[x], "S" if x == loop else p.kind[x], p.axis[x])
                      for x in p.nest[owner]]
        p.nest[owner] = ([self._new_loop(p.forms[x], "S", p.axis[x]) for x in p.nest[owner] if p.kind[x] == "S"]
                         + [self._new_loop(p.forms[loop], "R", p.axis[loop])])
        self.reads[owner] = {buffer}
        p.order.insert(p.order.index(owner), rf)
        self.rv[a.outputs[0]] = ("b", rf)


_NO_EFFECT = frozenset({"SamplePartitionedTile", "Unannotate", "StorageAlign", "SetScope", "EnterPostproc", "Bind",
                        "Parallel", "Vectorize", "Unroll"})

_HANDLERS = {
    "SamplePerfectTile": LoopNests._sample_tile, "SampleCategorical": LoopNests._sample_categorical,
    "GetSBlock": LoopNests._get_sblock, "GetLoops": LoopNests._get_loops, "GetConsumers": LoopNests._get_blocks,
    "GetProducers": LoopNests._get_blocks, "GetChildBlocks": LoopNests._get_blocks, "Split": LoopNests._split,
    "Fuse": LoopNests._fuse, "Reorder": LoopNests._reorder, "Annotate": LoopNests._annotate,
    "SampleComputeLocation": LoopNests._sample_location, "ComputeAt": LoopNests._compute_at,
    "ReverseComputeAt": LoopNests._compute_at, "ComputeInline": LoopNests._compute_inline,
    "ReverseComputeInline": LoopNests._compute_inline, "CacheWrite": LoopNests._cache,
    "CacheRead": LoopNests._cache, "RFactor": LoopNests._rfactor,
}


def make_plan(info: ProgramInfo, design: Sequence[Any], values: dict[str, Any]) -> Plan:
    """The :class:`Plan` of a candidate's design actions (shared by every candidate of its sketch that samples
    the same compute locations)."""
    return LoopNests(info).run(design, values)
