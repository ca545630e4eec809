"""Warm starts from similar subgraphs: the fastest measured schedules of the world model's training subgraphs,
their decisions fitted to a new task's sketches.

Two subgraphs of one operator kind (two transposed convolutions, two batched matmuls) get design-space sketches
with the same instructions in the same order when their loop nests have the same shape; only the loop extents
differ. A schedule measured fast on one then says which loops to tile how deeply, where to compute the cache
write and how far to unroll on the other, and only its tile sizes must be fitted to the new extents. Reusing the
schedules of similar kernels this way is Transfer-Tuning's idea (Gibson and Cano, PACT 2022); here they join the
plan strategy's candidates (:class:`workbench.tuning.plan.PlanSearch`, ``transfer``), ranked by the world model
like every other vector.

The library is the shipped ``sample_logs/<target>``'s records of the subgraphs the world model's
``info["subgraphs"]`` names (for the shipped models, the records they were trained on; a held-out subgraph's own
records are never among them). "Fastest" is over every machine a subgraph's folder holds records of, so the
fastest machine's schedules come first.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.integrity import FAILED_RUN_SECS
from workbench.traces import trace_to_json
from workbench.tuning.vectors import SAMPLING, Sketch


@dataclass(frozen=True)
class Warm:
    """One fast record of a library subgraph: its design instructions' signature and sampled decisions."""

    subgraph: str
    latency: float  # seconds, the mean of its measured repeats
    signature: tuple
    decisions: tuple


def design_signature(trace_json: Any) -> tuple[tuple, tuple] | None:
    """(signature, decisions) of a trace in MetaSchedule's JSON form. The signature is, per design instruction
    (up to ``EnterPostproc``; a lookup with no result, which a simplified trace drops, left out), its kind and
    what it acts on: the named blocks and loops of its inputs (numbered in trace order, so equal names mean the
    same wiring), or for a sampling instruction its attributes (tile parts and innermost cap, categorical
    candidates). The decisions are the sampling instructions' values in trace order (None where the trace
    decided none). None for a trace without the form."""
    try:
        insts, decided = trace_json[0], {int(i): v for i, v in trace_json[1]}
        sig, values = [], []
        for i, inst in enumerate(insts):
            kind = str(inst[0])
            if kind == "EnterPostproc":
                break
            if kind.startswith("Get") and not inst[3]:  # a lookup with no result (a trace simplified drops it)
                continue
            if kind in SAMPLING:
                attrs = inst[2]
                sig.append((kind, json.dumps(attrs[0] if kind == "SampleCategorical" else attrs)))
                v = decided.get(i)
                values.append(None if v is None else tuple(int(x) for x in v) if kind == "SamplePerfectTile"
                              else int(v))
            else:  # which blocks and loops it acts on (by name, numbered in trace order), not its numbers
                sig.append((kind, tuple(x for x in inst[1] if isinstance(x, str))))
        return tuple(sig), tuple(values)
    except (TypeError, ValueError, IndexError, KeyError):
        return None


@lru_cache(maxsize=8)
def library(logs_dir: str, subgraphs: tuple[str, ...], per_subgraph: int) -> tuple[Warm, ...]:
    """The ``per_subgraph`` fastest successful records (distinct decisions) of each of ``subgraphs`` under
    ``logs_dir`` (a folder per subgraph, MetaSchedule's ``database_tuning_record.json`` in it). A subgraph
    without records is skipped; a line that is not a record is skipped (the logs' own checks name it)."""
    out: list[Warm] = []
    for name in subgraphs:
        path = Path(logs_dir) / name.replace("/", "__") / "database_tuning_record.json"
        if not path.is_file():
            continue
        lines = path.read_text().splitlines()
        timed = sorted((t, n) for n, line in enumerate(lines) if (t := _latency(line)) is not None)
        kept: dict[tuple, None] = {}
        for latency, n in timed:
            if len(kept) >= per_subgraph:
                break
            try:
                form = design_signature(json.loads(lines[n])[1][0])
            except (ValueError, TypeError, IndexError, KeyError):
                continue
            if form is not None and None not in form[1] and form not in kept:
                kept[form] = None
                out.append(Warm(name, latency, *form))
    return tuple(out)


def fit_tiles(tiles: tuple[int, ...], extent: int) -> tuple[int, ...]:
    """A perfect factorization of ``extent`` shaped like ``tiles`` (another loop's): from the innermost out,
    each tile the largest divisor of what is left that is no larger than the source's; the outermost the rest."""
    out, rest = [1] * len(tiles), extent
    for i in range(len(tiles) - 1, 0, -1):
        out[i] = max(d for d in _divisors(rest) if d <= max(tiles[i], 1))
        rest //= out[i]
    out[0] = rest
    return tuple(out)


def _latency(line: str) -> float | None:
    """The mean measured seconds of a MetaSchedule record line ``[workload, [trace, run_secs, target, args]]``,
    read without parsing its trace where TVM's compact form allows (the run_secs list is the last list before
    the target's object); None for a failed run (stored as ``FAILED_RUN_SECS``) or a line without the form."""
    end = line.rfind("],{")
    try:
        if end < 0:  # not TVM's compact form (another JSON writer's spacing): parse the whole record
            secs = [float(x) for x in json.loads(line)[1][1]]
        else:
            secs = [float(x) for x in line[line.rfind("[", 0, end) + 1:end].split(",")]
        latency = sum(secs) / len(secs)
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError):
        return None
    return latency if math.isfinite(latency) and 0 < latency < FAILED_RUN_SECS else None


@lru_cache(maxsize=4096)
def _divisors(n: int) -> tuple[int, ...]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return tuple(sorted({*small, *(n // d for d in small)}))


def warm_vectors(sketches: list[Sketch], warm: tuple[Warm, ...]) -> list[tuple[int, tuple, Warm]]:
    """The library's records that fit one of ``sketches`` (same signature) as decision vectors of it:
    tile sizes fitted to its extents (:func:`fit_tiles`), categorical values and compute locations kept (a
    location the sketch does not allow makes a vector TVM refuses, a recorded rejection). Distinct vectors,
    in library order: ``[(sketch index, decisions, the record)]``."""
    sigs: dict[tuple, list[Sketch]] = {}
    for sk in sketches:
        form = design_signature(trace_to_json(sk.trace))
        if form is not None:
            sigs.setdefault(form[0], []).append(sk)
    out: dict[tuple, Warm] = {}
    for w in warm:
        for sk in sigs.get(w.signature, []):
            v = _fitted(sk, w.decisions)
            if v is not None:
                out.setdefault((sk.index, v), w)
    return [(s, v, w) for (s, v), w in out.items()]


def _fitted(sk: Sketch, decisions: tuple) -> tuple | None:
    if len(decisions) != len(sk.kinds):
        return None
    out: list[Any] = []
    for k, (kind, v) in enumerate(zip(sk.kinds, decisions, strict=True)):
        if kind == "SamplePerfectTile":
            if not sk.extents[k]:
                return None
            out.append(fit_tiles(v, sk.extents[k]))
        elif kind == "SampleCategorical" and not 0 <= v < max(sk.choices[k], 1):
            return None
        else:
            out.append(v)
    return tuple(out)
