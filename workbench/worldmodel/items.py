"""What the world model scores: ``Item`` (an initial program and a candidate's actions, with its context), made
from candidates, from MetaSchedule's search schedules (read fast, see :class:`TraceReader`) or from logged
records; and the real programs a trace's prefixes produce (replayed, for training and static ablations)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._tvm import import_tvm
from workbench.actions import Action, Candidate, actions_from_json, actions_from_trace
from workbench.hardware import hardware_descriptor
from workbench.logs import RECORD_FILE, WorkDir
from workbench.subgraphs import structural_hash
from workbench.traces import plain_value
from workbench.worldmodel.files import ModelFileError

try:  # one FFI call per element; an Array's own __getitem__ makes two and checks bounds in Python
    from tvm_ffi._ffi_api import ArrayGetItem as array_item
    from tvm_ffi._ffi_api import ArraySize as array_size
except ImportError:  # another tvm_ffi layout: the public protocol (same results, slower)
    import operator

    array_item, array_size = operator.getitem, len


@dataclass
class Item:
    """One candidate to score: the initial program, its actions, and the context of the measurement."""

    mod: Any
    actions: list[Action]
    flops: float = 0.0
    hardware: dict[str, Any] | None = None
    target_kind: str = "llvm"
    group: str = ""  # subgraph name (the ranking group)
    final_mod: Any = None  # only needed without a transition model (static ablation)
    extra: dict[str, Any] = field(default_factory=dict)


def items_from_candidates(candidates: Sequence[Candidate], *, hardware: dict[str, Any] | None = None
                          ) -> list[Item]:
    """Items for :class:`workbench.actions.Candidate` objects (measured on ``hardware``, default this machine)."""
    hw = hardware if hardware is not None else hardware_descriptor()
    out = []
    for c in candidates:
        sg = c.space.subgraph
        out.append(Item(sg.mod, c.actions, flops=sg.flops or 0.0, hardware=hw,
                        target_kind=str(c.space.target.kind.name), group=sg.name, extra={"candidate": c}))
    return out


def items_from_schedules(mod: Any, schedules: Sequence[Any], *, reader: TraceReader, group: str = "",
                         flops: float = 0.0, hardware: dict[str, Any] | None = None, target_kind: str = "llvm"
                         ) -> list[Item]:
    """Items for TVM schedules or traces of one subgraph (e.g. MetaSchedule's search candidates).

    Only the design actions are read (before post-processing), straight from the trace objects, by
    ``reader`` (keep one per search: it learns each sketch's structure once).
    """
    hw = hardware if hardware is not None else hardware_descriptor()
    workload = structural_hash(mod)
    out = []
    for sch in schedules:
        trace = sch.trace if hasattr(sch, "trace") else sch
        out.append(Item(mod, reader.read(trace, workload), flops=flops, hardware=hw, target_kind=target_kind,
                        group=group, extra={"schedule": sch}))
    return out


def items_from_logs(df: Any) -> list[Item]:
    """Items for the rows of a ``load_logs`` DataFrame (initial programs read from each work dir)."""
    mods: dict[tuple[str, int], Any] = {}
    out = []
    for row in df.itertuples(index=False):
        key = (row.logdir, int(row.workload))
        if key not in mods:
            entries = {w.index: w for w in WorkDir(row.logdir).workloads()}
            if key[1] not in entries:
                raise ModelFileError(f"{row.logdir}: record refers to workload {key[1]}, which is missing")
            mods[key] = entries[key[1]].module()
        if not isinstance(row.hardware, dict) or not row.hardware.get("id"):
            record = getattr(row, "record", None)
            where = f"{Path(row.logdir) / RECORD_FILE}:{record + 1}" if record is not None else str(row.logdir)
            raise ModelFileError(f"{where}: the record has no hardware descriptor (its machine is unknown, so its "
                                 f"latency cannot be ranked or scored): a work dir written by plain TVM lacks "
                                 f"workbench_measurements.json; import it with `workbench import-runs` on the "
                                 f"machine that measured it, or drop the record")
        actions = row.actions if getattr(row, "actions", None) is not None else actions_from_json(row.trace)
        target = row.target if isinstance(row.target, dict) else {}
        out.append(Item(mods[key], actions, flops=float(row.flops or 0.0), hardware=row.hardware,
                        target_kind=str(target.get("kind", "llvm")), group=row.subgraph,
                        extra={"trace": row.trace}))
    return out


def as_items(source: Any) -> list[Item]:
    """Items from Candidates, Items, or a ``load_logs`` DataFrame."""
    if hasattr(source, "itertuples"):
        return items_from_logs(source)
    source = list(source)
    if source and isinstance(source[0], Item):
        return source
    if all(isinstance(c, Candidate) for c in source):
        return items_from_candidates(source)
    raise TypeError("expected Candidates, Items, or a DataFrame from workbench.logs.load_logs")


def _prefix_json(trace_json: list, k: int) -> list:
    insts, decisions = trace_json[0], trace_json[1]
    return [insts[:k], [d for d in decisions if int(d[0]) < k]]


def replay_states(mod: Any, trace_json: list, prefix_lengths: Sequence[int]) -> list[Any]:
    """The real program after each prefix of the trace (one fresh replay per prefix)."""
    import_tvm()
    from tvm import s_tir

    out = []
    for k in prefix_lengths:
        sch = s_tir.Schedule(mod, error_render_level="none")
        s_tir.Trace.apply_json_to_schedule(_prefix_json(trace_json, k), sch)
        out.append(sch.mod)
    return out


def final_program(item: Item) -> Any:
    """The real final program of an item (its candidate's, or its logged trace replayed)."""
    if item.final_mod is not None:
        return item.final_mod
    if "candidate" in item.extra:
        return item.extra["candidate"].mod
    return replay_states(item.mod, item.extra["trace"], [len(item.actions)])[0]


class TraceReader:
    """Design actions of many traces of the subgraphs it is given, read fast (caches live in the instance).

    Candidates of one design space share their instruction structure per sketch; only the decisions differ.
    A structure is the instruction kinds *and* how the instructions that place blocks are wired: two sketches
    of a tiled convolution differ only in the tile loop their cache block is computed at, which decides the
    program. The first trace of each structure is decoded in full; later ones reuse the decoded operands and
    read only their decisions. A fast path recognizes a known structure from the trace's length and its
    decisions: each decision's instruction must sit exactly where the structure has it, the kinds at a few other
    positions (the post-processing marker among them) must match, and each placing instruction's loop or block
    operand must be the output of the same instruction as in the structure; anything else takes the full path.
    """

    PROBES = 8  # non-decision positions whose kinds the fast path checks
    MAX_TEMPLATES = 10000  # structures kept before the caches start afresh
    # Instructions whose operands (which loop, which block) differ between sketches of the same kinds.
    WIRED = frozenset({"ComputeAt", "ReverseComputeAt", "RFactor", "CacheRead", "CacheWrite", "ComputeInline",
                       "ReverseComputeInline", "Fuse", "Reorder"})

    def __init__(self) -> None:
        self._templates: dict[tuple, list[Action]] = {}
        # fast key -> the structures sharing it: (template, decision positions, kind probes, wiring checks)
        self._fast: dict[tuple, list[tuple[list[Action], tuple[int, ...], tuple[tuple[int, str], ...],
                                           tuple[tuple[int, int, int, int], ...]]]] = {}
        self._kind_names: dict[int, str] = {}
        self._checks: dict[tuple, list | None] = {}  # fast key -> the structures with their wiring checks

    def known_structures(self) -> int:
        """How many trace structures (sketches of the subgraphs seen) the fast path knows."""
        return sum(len(v) for v in self._fast.values())

    def _kind(self, inst: Any) -> str:
        kind_obj = inst.kind
        kind = self._kind_names.get(kind_obj.__chandle__())
        if kind is None:  # instruction kinds are registered singletons: read each name once
            kind = self._kind_names[kind_obj.__chandle__()] = kind_obj.name
        return kind

    def read(self, trace: Any, workload: int) -> list[Action]:
        """The design actions of ``trace``, a candidate of the subgraph whose structural hash is ``workload``."""
        insts = trace.insts
        decisions = list(trace.decisions.items())
        fast_key = (workload, len(insts), tuple(self._kind(inst) for inst, _ in decisions))
        known = self._structures(fast_key)
        seen: dict[int, Any] = {}  # each instruction is fetched from TVM once per read (an FFI call each)

        def at(p: int) -> Any:
            inst = seen.get(p)
            if inst is None:
                inst = seen[p] = array_item(insts, p)
            return inst

        for n, (template, positions, probes, checks) in enumerate(known):
            try:  # another structure's operands may not exist here (fewer inputs, a None factor): not this one
                # the wiring first: it is what tells apart structures that share their decisions' kinds
                same = (all((array_item(at(p).inputs, k).__chandle__()
                             == array_item(at(q).outputs, o).__chandle__()) is wired
                            for p, k, q, o, wired in checks)
                        and all(at(p).__chandle__() == inst.__chandle__()
                                for p, (inst, _) in zip(positions, decisions, strict=True))
                        and all(self._kind(at(p)) == k for p, k in probes))
            except (IndexError, AttributeError, TypeError):
                same = False
            if same:
                if n:  # candidates of one sketch come in runs: try the last structure read first
                    known.insert(0, known.pop(n))
                return with_decisions(template, zip(positions, (v for _, v in decisions), strict=True))
        return self._read_full(trace, workload, fast_key, decisions)

    def _read_full(self, trace: Any, workload: int, fast_key: tuple, decisions: list[tuple[Any, Any]]
                   ) -> list[Action]:
        actions = actions_from_trace(trace, design_only=True)
        wiring = wiring_of(actions)
        kinds = tuple(a.kind for a in actions)
        key = (workload, kinds, tuple(w[1:] for w in wiring), tuple(w[0] for w in wiring))
        if len(self._templates) > self.MAX_TEMPLATES:
            self._templates.clear()
            self._fast.clear()
            self._checks.clear()
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = actions
        else:  # a known structure: its operands, this trace's decisions
            handles = {inst.__chandle__(): i for i, inst in enumerate(trace.insts[:len(kinds)])}
            actions = with_decisions(
                template, ((handles[i.__chandle__()], v) for i, v in decisions if i.__chandle__() in handles))
        handles = {inst.__chandle__(): i for i, inst in enumerate(trace.insts[:len(kinds)])}
        positions = tuple(handles.get(inst.__chandle__(), -1) for inst, _ in decisions)
        others = [i for i in range(len(kinds)) if i not in set(positions)]
        step = max(1, len(others) // self.PROBES)
        probes = [(i, kinds[i]) for i in others[::step]]
        if len(kinds) < len(trace.insts):
            probes.append((len(kinds), "EnterPostproc"))
        # Decisions of post-processing instructions (position -1) are not design decisions: the fast path
        # must see them at the same place too, so they are probed by identity like the others.
        if -1 not in positions:
            known = self._fast.setdefault(fast_key, [])
            if not any(t is template for t, *_ in known):
                known.append((template, positions, tuple(probes), wiring))
                self._checks[fast_key] = None
        return actions

    def _structures(self, fast_key: tuple) -> list:
        """The structures of ``fast_key`` as the fast path tries them: (template, decision positions, kind
        probes, wiring checks), the checks derived once per set of structures (:func:`wiring_checks`)."""
        known = self._fast.get(fast_key)
        if not known:
            return []
        tried = self._checks.get(fast_key)
        if tried is None:
            tried = self._checks[fast_key] = []
            others = [(t, w) for t, _, _, w in known]
            for template, positions, probes, wiring in known:
                checks = wiring_checks(template, wiring, others)
                probes = probes + tuple((i, template[i].kind) for c in checks for i in (c[0], c[2]))
                tried.append((template, positions, probes, checks))
        return tried

WIRED = TraceReader.WIRED


def wiring_of(actions: Sequence[Action]) -> tuple[tuple[int, int, int, int], ...]:
    """How a trace's placing instructions are wired: (instruction, operand, producing instruction, its output
    slot) for each loop or block operand of a :data:`WIRED` instruction."""
    producer = {name: (a.index, slot) for a in actions for slot, name in enumerate(a.outputs)}
    return tuple((a.index, k, *producer[x]) for a in actions if a.kind in WIRED
                 for k, x in enumerate(a.inputs) if isinstance(x, str) and x in producer)


PLACING = WIRED - {"Fuse", "Reorder"}  # the wired instructions that place a block or compute another


def wiring_checks(template: Sequence[Action], wiring: tuple[tuple[int, int, int, int], ...],
                  others: Sequence[tuple[Sequence[Action], tuple[tuple[int, int, int, int], ...]]]
                  ) -> tuple[tuple[int, int, int, int, bool], ...]:
    """The wiring the fast path checks for one structure among ``others`` (every structure sharing its fast
    key, as (template, wiring), itself included): ``(instruction, operand, producer, output slot, wired)``.

    Every operand of a :data:`PLACING` instruction (which block is computed where), every wire of the structure
    that not all the others share, and, negated, the others' wires of operands this structure has but leaves
    unwired. Checking the ``Fuse``/``Reorder`` wires all share would only repeat what the kinds already say.
    """
    mine = set(wiring)
    shared = set.intersection(*(set(w) for _, w in others)) if others else mine
    operands = {(p, k) for p, k, _, _ in wiring}
    checks = [(*w, True) for w in wiring if template[w[0]].kind in PLACING or w not in shared]
    n = len(template)
    checks += sorted({(p, k, q, o, False) for other, wires in others for p, k, q, o in wires
                      if (p, k, q, o) not in mine and (p, k) not in operands and p < n and q < n
                      and template[p].kind == other[p].kind and k < len(template[p].inputs)
                      and template[q].kind == other[q].kind and o < len(template[q].outputs)})
    return tuple(checks)


def with_decisions(template: list[Action], decisions: Any) -> list[Action]:
    """``template`` (a structure's design actions) with other decisions: ``(action index, value)`` pairs."""
    actions = list(template)
    for index, value in decisions:
        a = template[index]
        if not isinstance(value, int):
            # tile sizes: an Array of ints
            items = [array_item(value, i) for i in range(array_size(value))] if hasattr(value, "__len__") else None
            plain = items is not None and all(type(x) is int for x in items)
            value = items if plain else plain_value(value, lists=True)
        copy = object.__new__(Action)  # a frozen dataclass's __init__ costs more than the whole read
        copy.__dict__.update(a.__dict__, decision=value)
        actions[index] = copy
    return actions
