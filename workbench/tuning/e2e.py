"""End to end: a PyTorch model's tuned TVM build against PyTorch itself, on the same inputs.

``TorchModel`` holds a module and example inputs (a catalog model is rebuilt from its config with the seed
the catalog uses, so its fused tasks are the cached ones). ``compile_tuned`` builds the Relax program with the
best schedules of a tuning database (MetaSchedule's ``compile_relax``; on CPU a task without a record is built
unscheduled and single-threaded, so tune every task; on GPU TVM's DLight rules schedule it).
``compare_with_torch`` times the TVM build, PyTorch eager and, where it works, ``torch.compile``, and checks
that the outputs match.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench._tvm import ensure_intrinsics, import_tvm, torch_ready


@dataclass
class TorchModel:
    """A PyTorch module and example inputs, with its Relax program and fused subgraphs (built on demand)."""

    name: str
    module: Any
    inputs: tuple
    _relax: Any = field(default=None, repr=False)
    _subgraphs: Any = field(default=None, repr=False)

    @classmethod
    def from_catalog(cls, name: str) -> TorchModel:
        from workbench.subgraphs.models import MODELS

        if name not in MODELS:
            from workbench.subgraphs import SubgraphError

            raise SubgraphError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
        torch = torch_ready()
        torch.manual_seed(0)  # as workbench.subgraphs.models.extract_model
        module, inputs = MODELS[name].build()
        return cls(name, module.eval(), tuple(inputs))

    def relax(self) -> Any:
        """The Relax program (weights bound as constants), after TVM's "zero" pipeline."""
        if self._relax is None:
            from workbench.subgraphs.torch_import import relax_from_torch

            self._relax = relax_from_torch(self.module, self.inputs)
        return self._relax

    def subgraphs(self, target: Any = "cpu") -> list[Any]:
        """The fused tasks MetaSchedule tunes, with their weights (the catalog's cache for catalog models)."""
        if self._subgraphs is None:
            from workbench.subgraphs.models import MODELS, model_subgraphs
            from workbench.subgraphs.torch_import import subgraphs_from_relax

            if self.name in MODELS and self._relax is None:
                self._subgraphs = model_subgraphs(self.name)
            else:
                self._subgraphs = subgraphs_from_relax(self.relax(), prefix=self.name, target=target,
                                                       source=f"torch:{type(self.module).__name__}")
        return self._subgraphs


def compile_tuned(model: TorchModel, database: Any, target: Any = "cpu") -> Any:
    """The model built with the database's best schedules (a Relax VM executable)."""
    import_tvm()
    from tvm.s_tir.meta_schedule.relax_integration import compile_relax

    from workbench.hardware import make_target

    target = make_target(target)
    ensure_intrinsics(target)
    return compile_relax(database, model.relax(), target, params=None)


@dataclass
class Comparison:
    """Median times (ms) over ``repeat`` interleaved runs, and how far the TVM outputs are from PyTorch's."""

    model: str
    tvm_ms: float
    eager_ms: float
    compile_ms: float | None  # torch.compile, None when it did not work here
    compile_error: str | None
    max_abs_err: float
    max_rel_err: float
    outputs_match: bool
    repeat: int
    times: dict[str, list[float]] = field(default_factory=dict)

    @property
    def speedup_vs_eager(self) -> float:
        return self.eager_ms / self.tvm_ms


def _flat_outputs(out: Any) -> list[np.ndarray]:
    torch = torch_ready()
    if isinstance(out, torch.Tensor):
        return [out.detach().cpu().numpy()]
    if hasattr(out, "numpy") and not isinstance(out, list | tuple | dict):
        return [out.numpy()]
    if isinstance(out, dict):
        return [x for v in out.values() for x in _flat_outputs(v)]
    if hasattr(out, "to_tuple"):  # transformers ModelOutput
        return [x for v in out.to_tuple() for x in _flat_outputs(v)]
    if isinstance(out, list | tuple) or type(out).__name__ == "Array":
        return [x for v in out for x in _flat_outputs(v)]
    return []


def compare_with_torch(model: TorchModel, executable: Any, *, repeat: int = 10, warmup: int = 3,
                       rtol: float = 1e-3, atol: float = 1e-3, try_compile: bool = True) -> Comparison:
    """Time the TVM build, PyTorch eager and ``torch.compile`` on the same inputs, interleaved."""
    tvm = import_tvm()
    torch = torch_ready()
    from tvm import relax

    dev = tvm.cpu(0)
    vm = relax.VirtualMachine(executable, dev)
    args = [tvm.runtime.tensor(x.detach().cpu().numpy(), dev) for x in model.inputs]

    def run_tvm() -> Any:
        return vm["main"](*args)

    def run_eager() -> Any:
        with torch.no_grad():
            return model.module(*model.inputs)

    runners = {"tvm": run_tvm, "eager": run_eager}
    compile_error = None
    if try_compile:
        try:
            compiled = torch.compile(model.module)
            with torch.no_grad():
                compiled(*model.inputs)  # compiles here, outside the timing

            def run_compiled() -> Any:
                with torch.no_grad():
                    return compiled(*model.inputs)

            runners["compile"] = run_compiled
        except Exception as err:  # noqa: BLE001 - torch.compile fails in many ways on machines without a toolchain
            compile_error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]
    ref = _flat_outputs(run_eager())
    got = _flat_outputs(run_tvm())
    n = min(len(ref), len(got))
    abs_err = max((float(np.max(np.abs(a - b))) for a, b in zip(ref[:n], got[:n], strict=True)), default=math.inf)
    rel_err = max((float(np.max(np.abs(a - b) / (np.abs(a) + atol))) for a, b in zip(ref[:n], got[:n],
                                                                                       strict=True)), default=math.inf)
    match = n > 0 and all(a.shape == b.shape and np.allclose(b, a, rtol=rtol, atol=atol)
                          for a, b in zip(ref[:n], got[:n], strict=True))
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(warmup):
        for fn in runners.values():
            fn()
    for i in range(repeat):
        names = list(runners) if i % 2 == 0 else list(reversed(runners))
        for name in names:
            start = time.perf_counter()
            runners[name]()
            times[name].append((time.perf_counter() - start) * 1e3)
    return Comparison(model=model.name, tvm_ms=statistics.median(times["tvm"]),
                      eager_ms=statistics.median(times["eager"]),
                      compile_ms=statistics.median(times["compile"]) if "compile" in times else None,
                      compile_error=compile_error, max_abs_err=abs_err, max_rel_err=rel_err, outputs_match=match,
                      repeat=repeat, times=times)
