"""The Subgraph record: one tuning task, its TIR and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench._tvm import import_tvm


class SubgraphError(ValueError):
    """A subgraph that cannot be found, parsed or used."""


@dataclass
class Subgraph:
    """One tuning task: a TIR module with one PrimFunc, and where it came from."""

    name: str  # unique, human-readable ("conv2d_resnet_56x56", "resnet50/t07_fused_conv2d_add_relu")
    mod: Any  # tvm.IRModule with a single PrimFunc, named "main"
    weight: int = 1  # how often the task occurs in its model (1 for single operators)
    flops: float = 0.0  # floating-point operations of one run, from TVM's estimator
    source: str = ""  # "builtin:<kind>", "model:<model>", "torch", "tvmscript:<path>"
    op: str = ""  # operator family ("conv2d", "matmul", "softmax", ...), used for queries
    meta: dict[str, Any] = field(default_factory=dict)  # shapes, model layer info, ...

    def __post_init__(self) -> None:
        tvm = import_tvm()
        if isinstance(self.mod, tvm.tirx.PrimFunc):
            self.mod = tvm.IRModule({"main": self.mod})
        if not isinstance(self.mod, tvm.IRModule):
            raise SubgraphError(f"subgraph {self.name!r}: expected a tvm IRModule or PrimFunc, got {type(self.mod)}")
        funcs = [gv for gv, f in self.mod.functions.items() if isinstance(f, tvm.tirx.PrimFunc)]
        if len(funcs) != 1:
            raise SubgraphError(f"subgraph {self.name!r}: expected exactly one PrimFunc, found {len(funcs)}")
        if funcs[0].name_hint != "main":
            func = self.mod[funcs[0]].with_attr("global_symbol", "main")
            self.mod = tvm.IRModule({"main": func})
        if not self.flops:
            self.flops = estimate_flops(self.mod)

    @property
    def func(self) -> Any:
        return self.mod["main"]

    def script(self) -> str:
        """The initial program as TVMScript."""
        return self.mod.script()

    def structural_hash(self) -> int:
        return structural_hash(self.mod)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "source": self.source, "weight": self.weight,
                "mflops": round(self.flops / 1e6, 3), **{k: v for k, v in self.meta.items() if k == "shape"}}

    def __repr__(self) -> str:
        return f"Subgraph({self.name!r}, op={self.op!r}, weight={self.weight}, {self.flops / 1e6:.2f} MFLOP, {self.source})"


def structural_hash(mod: Any) -> int:
    """TVM's structural hash of an IR node (equal for structurally equal programs)."""
    import_tvm()  # before tvm_ffi, so torch stays deferred
    import tvm_ffi

    return int(tvm_ffi.structural_hash(mod))


def estimate_flops(mod: Any) -> float:
    """FLOPs of one run of the module's PrimFunc, by TVM's estimator (0.0 when it cannot tell)."""
    import_tvm()
    from tvm.s_tir.analysis import estimate_tir_flops

    try:
        return float(estimate_tir_flops(mod))
    except Exception:  # noqa: BLE001 - data-movement ops have no FLOP count
        return 0.0
