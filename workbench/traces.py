"""A trace's plain JSON form and its one identity, ``trace_key``, shared by candidates, logs and tuning runs.

A MetaSchedule trace reaches the workbench in three forms: a TVM ``Trace`` object (a sampled candidate, a
search candidate), its JSON as the workbench writes it (``collect``), and its JSON as TVM's own writer stores
it (tuning runs). TVM's writer stores booleans as ``1``/``0`` (``Split``'s ``preserve_unit_iters``), the
workbench's JSON as ``true``/``false``; everything else (floats such as ``SampleCategorical``'s
probabilities, post-processing instructions) is the same. ``trace_key`` hashes the canonical form, with
booleans as integers, so the same program has the same key whichever wrote it: resuming without measuring
anything twice depends on that.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from workbench._tvm import import_tvm


def to_plain_json(obj: Any) -> Any:
    """Unpack TVM containers and immediates (``T.float32(0.25)``) into plain JSON values."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    tvm = import_tvm()
    if isinstance(obj, tvm.tirx.IntImm):
        return int(obj.value)
    if isinstance(obj, tvm.tirx.FloatImm):
        return float(obj.value)
    if isinstance(obj, dict) or hasattr(obj, "items"):
        return {str(k): to_plain_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple) or hasattr(obj, "__iter__"):
        return [to_plain_json(x) for x in obj]
    return str(obj)


def trace_to_json(trace: Any) -> list:
    """A TVM trace, post-processing included, as plain JSON ``[insts, decisions]``."""
    return to_plain_json(trace.as_json(remove_postproc=False))


def canonical_json(obj: Any) -> Any:
    """``obj`` with booleans as integers, as TVM's JSON writer stores them."""
    if isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, list | tuple):
        return [canonical_json(x) for x in obj]
    if isinstance(obj, dict):
        return {k: canonical_json(v) for k, v in obj.items()}
    return obj


def json_hash(obj: Any) -> str:
    """A short stable hash of a JSON value (sorted keys, no spaces)."""
    return hashlib.sha1(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()).hexdigest()[:16]


def trace_key(trace: Any) -> str:
    """The identity of a trace: a TVM ``Trace`` or its JSON ``[insts, decisions]``, however it was written."""
    if not isinstance(trace, list | tuple):
        trace = trace_to_json(trace)
    return json_hash(canonical_json(trace))


def compute_locations(trace: Any) -> tuple:
    """The decisions of a trace's ``SampleComputeLocation`` instructions, in order: its plan of where each
    producer block is computed (inlined, at the root, or at a loop), the structure that tile sizes cannot
    change. In the data issue's logs one such decision explains 23-52% of the log-latency variance of softmax
    and layer norm. ``trace``: a TVM ``Trace`` or its JSON ``[insts, decisions]``."""
    insts, decisions = trace if isinstance(trace, list | tuple) else trace_to_json(trace)
    chosen = {int(i): d for i, d in decisions}
    return tuple(chosen.get(i) for i, inst in enumerate(insts) if inst[0] == "SampleComputeLocation")


def plain_value(x: Any, *, lists: bool = False) -> Any:
    """A TVM value read off a trace object as a plain one: random variables by handle (``r<handle>``),
    immediates by value, containers as tuples (or lists with ``lists``)."""
    if x is None or isinstance(x, bool | int | float | str):
        return x
    if hasattr(x, "__chandle__") and type(x).__name__ in ("SBlockRV", "LoopRV", "Var"):
        return f"r{x.__chandle__()}"
    if hasattr(x, "value"):
        return x.value
    if hasattr(x, "__iter__"):
        items = [plain_value(y, lists=lists) for y in x]
        return items if lists else tuple(items)
    return str(x)


def first_error_line(err: BaseException) -> str:
    """The informative line of a (TVM) error message: TVM puts it last, after the backtrace."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    informative = [ln for ln in lines if not ln.startswith(("File ", "at ", "^", "#"))]
    return (informative[-1] if informative else (lines[-1] if lines else type(err).__name__))[:500]
