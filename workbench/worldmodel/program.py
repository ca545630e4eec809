"""The blocks of a subgraph's initial program, read once: loop extents, iterator kinds, buffer accesses.

What :mod:`workbench.worldmodel.loopnest` replays a sketch's actions on (see there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BlockInfo:
    """A block of the initial program: the loops around it and the buffers it touches."""

    name: str
    extents: tuple[int, ...]  # loop extents, outer to inner
    kinds: tuple[str, ...]  # per loop: "S" data parallel, "R" reduction, "O" other
    reads: tuple[str, ...]  # buffer names
    writes: tuple[str, ...]
    # per buffer read / written: for each of its dimensions, the iterator indexing it alone (i, or i + c), else -1
    read_index: tuple[tuple[str, tuple[int, ...]], ...] = ()
    write_index: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # every access: (buffer shape, per dimension each iterator's stride in its index, 0 where it is absent)
    accesses: tuple[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]], ...] = ()

    @property
    def iterations(self) -> int:
        return math.prod(self.extents)


@dataclass(frozen=True)
class ProgramInfo:
    """The blocks of an initial program, in program order."""

    blocks: tuple[BlockInfo, ...]

    def heaviest(self) -> int:
        """Index of the block with the most iterations (the last of equals: the consumer, e.g. a matmul's
        compute block rather than its padding); -1 without blocks."""
        best, index = -1, -1
        for i, b in enumerate(self.blocks):
            if b.iterations >= best:
                best, index = b.iterations, i
        return index


_INFO: dict[int, ProgramInfo] = {}


def program_info(mod: Any, key: int | None = None) -> ProgramInfo:
    """The blocks of ``mod``'s initial program (cached by ``key``, default its structural hash)."""
    from workbench.subgraphs import structural_hash

    key = structural_hash(mod) if key is None else key
    info = _INFO.get(key)
    if info is None:
        info = _INFO[key] = _read_program(mod)
    return info


def _read_program(mod: Any) -> ProgramInfo:
    from workbench._tvm import import_tvm

    import_tvm()
    from tvm import s_tir

    sch = s_tir.Schedule(mod)
    try:
        children = sch.get_child_blocks(sch.get_sblock("root"))
    except Exception:  # noqa: BLE001 - a program without a root block: nothing to read
        return ProgramInfo(())
    blocks = []
    for rv in children:
        block = sch.get(rv)
        extents = []
        for loop in sch.get_loops(rv):
            ext = sch.get(loop).extent
            extents.append(int(ext.value) if hasattr(ext, "value") else 0)
        types = [int(iv.iter_type) for iv in block.iter_vars]
        # A MetaSchedule task's blocks bind their i-th loop to their i-th iterator (TE's create_prim_func).
        kinds = tuple("S" if t == 0 else "R" if t == 2 else "O" for t in types) \
            if len(types) == len(extents) else ("O",) * len(extents)
        iter_vars = [iv.var for iv in block.iter_vars]
        blocks.append(BlockInfo(str(block.name_hint), tuple(extents), kinds,
                                tuple(str(r.source.name) for r in block.reads),
                                tuple(str(w.source.name) for w in block.writes),
                                tuple(_index(r, iter_vars) for r in block.reads),
                                tuple(_index(w, iter_vars) for w in block.writes),
                                tuple(_access(r, iter_vars) for r in (*block.reads, *block.writes))))
    return ProgramInfo(tuple(blocks))


def _index(region: Any, iter_vars: list[Any]) -> tuple[str, tuple[int, ...]]:
    """(buffer name, per dimension the iterator that alone indexes it, or -1) of a block's read or write."""
    from tvm import tirx

    dims = []
    for rng in region.region:
        expr = rng.min
        if isinstance(expr, tirx.Add) and isinstance(expr.b, tirx.IntImm):
            expr = expr.a
        found = -1
        if isinstance(expr, tirx.Var):
            found = next((i for i, v in enumerate(iter_vars) if v.same_as(expr)), -1)
        dims.append(found)
    return str(region.source.name), tuple(dims)


def _access(region: Any, iter_vars: list[Any]) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """(buffer shape, per dimension each iterator's stride in its index) of a block's read or write."""
    shape = tuple(int(x.value) if hasattr(x, "value") else 0 for x in region.source.shape)
    return shape, tuple(tuple(_stride(rng.min, v) or 0 for v in iter_vars) for rng in region.region)


def _stride(expr: Any, var: Any) -> int | None:
    """The stride of ``var`` in an index expression as TVM's ``StrideExtractor`` finds it: through constant
    multiples and sums (the smallest of a sum's terms); None where it cannot tell (under a division, say)."""
    from tvm import tirx

    if isinstance(expr, tirx.Var):
        return 1 if expr.same_as(var) else None
    if isinstance(expr, tirx.Mul):
        for a, b in ((expr.a, expr.b), (expr.b, expr.a)):
            if isinstance(b, tirx.IntImm):
                inner = _stride(a, var)
                return inner * int(b.value) if inner is not None else None
        return None
    if isinstance(expr, tirx.Add | tirx.Sub):
        found = [x for x in (_stride(expr.a, var), _stride(expr.b, var)) if x is not None]
        return min(found) if found else None
    return None
