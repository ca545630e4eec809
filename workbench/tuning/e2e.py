"""End to end: a PyTorch model's tuned TVM build against PyTorch itself, on the same inputs.

``TorchModel`` holds a module and example inputs (a catalog model is rebuilt from its config with the seed
the catalog uses, so its fused tasks are the cached ones). ``compile_tuned`` builds the Relax program with the
best schedules of a tuning database (MetaSchedule's ``compile_relax`` pipeline, plus the fix described there; on
CPU a task without a record is built unscheduled and single-threaded, so tune every task; on GPU TVM's DLight
rules schedule it).
``compare_with_torch`` times the TVM build, PyTorch eager and, where it works, ``torch.compile``, and checks
that the outputs match.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench._tvm import ensure_intrinsics, import_tvm, runtime_threads, torch_ready
from workbench.hardware import make_target
from workbench.subgraphs.models import MODELS, build_model, model_subgraphs, split_model
from workbench.subgraphs.torch_import import (
    GRAPH_PIPELINE,
    first_line,
    op_family,
    relax_from_torch,
    subgraphs_from_relax,
)
from workbench.tuning.state import TuningError

# Steps of compile_tuned that a CompileError names (the others are named where they run).
LEGALIZE, FUSE, APPLY = "legalizing the operators", "fusing the operators", "applying the tuned schedules"
DLIGHT, CODEGEN = "scheduling the untuned functions (DLight)", "generating code"


class CompileError(TuningError):
    """A tuned model that did not compile: ``step`` (where in :func:`compile_tuned`), ``function`` (the fused
    function that fails it alone, if one does) and ``op`` (its main operator)."""

    def __init__(self, message: str, *, step: str, function: str | None = None, op: str | None = None) -> None:
        super().__init__(message)
        self.step, self.function, self.op = step, function, op


@dataclass
class TorchModel:
    """A PyTorch module and example inputs, with its Relax program and fused subgraphs (built on demand)."""

    name: str
    module: Any
    inputs: tuple
    pipeline: str = GRAPH_PIPELINE  # the graph pipeline its tasks come from (``graph_pipeline``)
    _relax: Any = field(default=None, repr=False)
    _subgraphs: Any = field(default=None, repr=False)

    @classmethod
    def from_catalog(cls, name: str, pipeline: str | None = None) -> TorchModel:
        """A catalog model, rebuilt with the weights its cached tasks were extracted from (``"resnet50@fold_pack"``
        names the pipeline too)."""
        name, pipeline = split_model(name, pipeline)
        module, inputs = build_model(name)
        return cls(name, module, inputs, pipeline)

    def relax(self) -> Any:
        """The Relax program (weights bound as constants), after the graph pipeline ``pipeline``."""
        if self._relax is None:
            self._relax = relax_from_torch(self.module, self.inputs, pipeline=self.pipeline)
        return self._relax

    def subgraphs(self, target: Any = "cpu") -> list[Any]:
        """The fused tasks MetaSchedule tunes, with their weights (the catalog's cache for catalog models)."""
        if self._subgraphs is None:
            if self.name in MODELS and self._relax is None:
                self._subgraphs = model_subgraphs(self.name, pipeline=self.pipeline)
            else:
                self._subgraphs = subgraphs_from_relax(self.relax(), prefix=self.name, target=target,
                                                       source=f"torch:{type(self.module).__name__}")
        return self._subgraphs


def compile_tuned(model: TorchModel, database: Any, target: Any = "cpu", *,
                  coverage: dict[str, list[str]] | None = None) -> Any:
    """The model built with the database's best schedules (a Relax VM executable).

    This is MetaSchedule's ``compile_relax`` pipeline with one fix. In TVM 0.27 the fused functions that
    ``compile_relax`` looks up carry an ``op_pattern`` attribute that the tasks ``extract_tasks`` gave to the
    tuner do not, so no fused task (most of a model) finds its tuning record, and on CPU each is then built
    unscheduled: ViT-B/16 ran 150x slower than with its records applied. Here the functions not found as they
    are are looked up again without that attribute. ``coverage``, if given, is filled with
    the functions that got a tuned schedule (``"tuned"``) and those that did not (``"untuned"``), and under a
    ``_pack`` graph pipeline those whose weights were repacked once at compile time (``"prepacked"``).

    A build that fails raises :class:`CompileError` naming the step (legalizing, fusing, applying the tuned
    schedules, repacking the weights, lowering, generating code) and, where a step works function by function,
    the first fused function that fails it alone and its operator; the database is only read.
    """
    tvm = import_tvm()
    from tvm import relax, tirx
    from tvm.relax import pipeline as pipelines
    from tvm.relax.transform import MetaScheduleApplyDatabase

    target = make_target(target)
    ensure_intrinsics(target)
    found: dict[str, list[str]] = {"tuned": [], "untuned": [], "prepacked": []}
    originals: dict[str, Any] = {}

    def scheduled(func: Any) -> bool:
        return bool(func.attrs) and any(k.endswith("is_scheduled") and bool(v) for k, v in func.attrs.items())

    @tvm.transform.module_pass(opt_level=0, name="DropOpPattern")
    def drop_op_pattern(mod: Any, _ctx: Any) -> Any:  # the key the tuner's tasks have
        for gv, func in list(mod.functions_items()):
            if isinstance(func, tirx.PrimFunc) and not scheduled(func) and func.attrs and "op_pattern" in func.attrs:
                originals[gv.name_hint] = func
                mod[gv] = func.without_attr("op_pattern")
        return mod

    @tvm.transform.module_pass(opt_level=0, name="RestoreOpPattern")
    def restore_op_pattern(mod: Any, _ctx: Any) -> Any:  # functions no record was found for stay as they were
        for gv, func in list(mod.functions_items()):
            if isinstance(func, tirx.PrimFunc):
                if scheduled(func):
                    found["tuned"].append(gv.name_hint)
                else:
                    found["untuned"].append(gv.name_hint)
                    if gv.name_hint in originals:
                        mod[gv] = originals[gv.name_hint]
        return mod

    is_gpu = pipelines.BackendDispatcher.is_gpu_target(target)
    steps: dict[str, Any] = {}  # the passes of each step, made in the target's context (the database pass needs it)
    step = ["importing the model"]  # the step running now, for the error of one that fails

    def run(name: str, mod: Any) -> Any:
        step[0] = name
        return steps[name](mod)

    @tvm.transform.module_pass(opt_level=3, name="TunedPipeline")
    def tuned_pipeline(mod: Any, _ctx: Any) -> Any:
        mod = run(LEGALIZE, mod)
        mod = run(FUSE, mod)
        mod = run(APPLY, mod)
        if any(isinstance(f, tirx.PrimFunc) and f.attrs and "layout_free_buffers" in f.attrs
               for _, f in mod.functions_items()):
            # A "_pack" pipeline: the weight repacking the tuned schedules begin with (RewriteLayout) becomes a
            # function of its own, applied to the constant weights once, here, instead of at every call.
            mod = run("repacking the weights", mod)
            mod = relax.transform.DeadCodeElimination()(mod)  # the repacking functions FoldConstant applied
            names = [gv.name_hint for gv in mod.get_global_vars()]
            found["prepacked"] = sorted(n.removesuffix("_prepacked") for n in names if n.endswith("_prepacked")
                                        and f"{n.removesuffix('_prepacked')}_weight_prepack" not in names)
            if left := [n for n in names if n.endswith("_weight_prepack")]:  # FoldConstant could not apply it
                warnings.warn(f"{len(left)} weight repackings run at every call, not once at compile time: "
                              f"{', '.join(left)}", stacklevel=2)
        if is_gpu:  # what the database does not cover gets DLight's default GPU schedules
            mod = run(DLIGHT, mod)
        mod = run("lowering", mod)
        step[0] = CODEGEN
        return mod

    with target, database, tvm.transform.PassContext(opt_level=3):
        relax_mod = model.relax()  # its own errors name the export, import or graph pipeline step
        seq = tvm.transform.Sequential
        steps[LEGALIZE] = seq([*pipelines.library_dispatch_passes(target), relax.transform.LegalizeOps()])
        steps[FUSE] = seq([relax.transform.AnnotateTIROpPattern(), relax.transform.FoldConstant(),
                           relax.transform.FuseOps(), relax.transform.FuseTIR()])
        steps[APPLY] = seq([MetaScheduleApplyDatabase(),  # the functions that match as they are
                            drop_op_pattern,
                            MetaScheduleApplyDatabase(),  # the fused ones, under the key they were tuned with
                            restore_op_pattern])
        steps["repacking the weights"] = seq([relax.transform.SplitLayoutRewritePreproc(),
                                              relax.transform.FoldConstant()])
        if is_gpu:
            from tvm.s_tir import dlight

            steps[DLIGHT] = dlight.ApplyDefaultSchedule(dlight.gpu.Matmul(), dlight.gpu.GEMV(),
                                                        dlight.gpu.Reduction(), dlight.gpu.GeneralReduction(),
                                                        dlight.gpu.Fallback())
        try:
            lower = [*pipelines.dataflow_lower_passes(target), *pipelines.finalize_passes(target)]
        except (AttributeError, ValueError):  # 0.27's CPU backend does not export them at its top level
            from tvm.relax.backend.cpu_generic import pipeline as cpu

            lower = [*cpu.dataflow_lower_passes(target), *cpu.finalize_passes(target)]
        steps["lowering"] = seq(lower)
        try:
            executable = relax.build(relax_mod, target=target, relax_pipeline=tuned_pipeline)
        except Exception as err:  # noqa: BLE001 - TVM raises many error types; the step and function say where
            function = _failing_function(relax_mod, step[0], steps, target) if step[0] in (APPLY, CODEGEN) else None
            raise _compile_error(model, database, step[0], err, function) from err
    if coverage is not None:
        coverage.update(found)
    return executable


def _compile_error(model: TorchModel, database: Any, step: str, err: BaseException,
                   function: str | None) -> CompileError:
    """The error of a tuned build that failed at ``step`` (in ``function``, if one was found), saying what is
    kept."""
    try:
        kept = f"the database's {len(database)} tuning records are kept"
    except Exception:  # noqa: BLE001 - a database without a size
        kept = "the tuning records are kept"
    op = op_family(function) if function else None
    where = f" in {function} ({op})" if function else ""
    return CompileError(f"compiling {model.name} ({model.pipeline} pipeline) with its tuning records failed at "
                        f"step '{step}'{where}: {first_line(err)}; {kept}", step=step, function=function, op=op)


def _failing_function(relax_mod: Any, step: str, steps: dict[str, Any], target: Any) -> str | None:
    """The first fused function (by name) that fails ``step`` alone, None if none does: the program legalized
    and fused again by the build's own steps, then each function on its own has its records applied (then, for
    code generation, DLight's schedules on GPU, and is built). Run in the build's target and database context."""
    tvm = import_tvm()
    from tvm import tirx

    try:
        mod = steps[FUSE](steps[LEGALIZE](relax_mod))
    except Exception:  # noqa: BLE001 - the step's own error is reported either way
        return None
    for gv, func in sorted(mod.functions_items(), key=lambda kv: kv[0].name_hint):
        if not isinstance(func, tirx.PrimFunc):
            continue
        try:
            alone = steps[APPLY](tvm.IRModule({gv: func}))
            if step == CODEGEN:
                tvm.compile(steps[DLIGHT](alone) if DLIGHT in steps else alone, target=target)
        except Exception:  # noqa: BLE001 - this one fails the step: it is the culprit
            return gv.name_hint
    return None


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
    tvm_threads: int | None = None  # the threads each side ran on
    torch_threads: int | None = None

    @property
    def speedup_vs_eager(self) -> float:
        return self.eager_ms / self.tvm_ms


def flat_outputs(out: Any) -> list[np.ndarray]:
    """Every tensor of a model's output (PyTorch tensors, TVM tensors, tuples, dicts, transformers outputs) as NumPy."""
    torch = torch_ready()
    if isinstance(out, torch.Tensor):
        return [out.detach().cpu().numpy()]
    if hasattr(out, "numpy") and not isinstance(out, list | tuple | dict):
        return [out.numpy()]
    if isinstance(out, dict):
        return [x for v in out.values() for x in flat_outputs(v)]
    if hasattr(out, "to_tuple"):  # transformers ModelOutput
        return [x for v in out.to_tuple() for x in flat_outputs(v)]
    if isinstance(out, list | tuple) or type(out).__name__ == "Array":
        return [x for v in out for x in flat_outputs(v)]
    return []


def torch_runners(model: TorchModel, try_compile: bool = True) -> tuple[dict[str, Any], str | None]:
    """Callables running PyTorch eager (``"eager"``) and, where it works here, ``torch.compile``d (``"compile"``,
    compiled here, outside any timing) on the model's inputs; and why ``torch.compile`` did not work, if not."""
    torch = torch_ready()

    def run_eager() -> Any:
        with torch.no_grad():
            return model.module(*model.inputs)

    runners = {"eager": run_eager}
    if not try_compile:
        return runners, None
    try:
        compiled = torch.compile(model.module)
        with torch.no_grad():
            compiled(*model.inputs)

        def run_compiled() -> Any:
            with torch.no_grad():
                return compiled(*model.inputs)

        runners["compile"] = run_compiled
    except Exception as err:  # noqa: BLE001 - torch.compile fails in many ways on machines without a toolchain
        return runners, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]
    return runners, None


def interleaved_times(runners: dict[str, Any], calls: int, *, block: int = 5,
                      warmup: int = 3) -> dict[str, list[list[float]]]:
    """ms per call of each runner, ``calls`` calls each, grouped by round: every round calls each runner
    ``block`` times in a row, in an order rotated every round, after ``warmup`` calls each. Blocks, not single
    calls: each runtime's idle worker threads spin for a while after a call, and a TVM pool spinning beside
    PyTorch's threads slowed eager BERT by ~10% when the calls alternated one by one (measured on a 2-core VM)."""
    names = list(runners)
    for _ in range(warmup):
        for fn in runners.values():
            fn()
    block = max(1, min(block, calls))
    times: dict[str, list[list[float]]] = {n: [] for n in names}
    for i in range(-(-calls // block)):
        for name in names[i % len(names):] + names[:i % len(names)]:
            batch = []
            for _ in range(min(block, calls - i * block)):
                start = time.perf_counter()
                runners[name]()
                batch.append((time.perf_counter() - start) * 1e3)
            times[name].append(batch)
    return times


def compare_with_torch(model: TorchModel, executable: Any, *, repeat: int = 10, warmup: int = 3, block: int = 5,
                       rtol: float = 1e-3, atol: float = 1e-3, try_compile: bool = True) -> Comparison:
    """Time the TVM build, PyTorch eager and ``torch.compile`` on the same inputs, ``repeat`` calls each, in
    interleaved blocks of ``block`` calls (:func:`interleaved_times`)."""
    tvm = import_tvm()
    torch = torch_ready()
    from tvm import relax

    dev = tvm.cpu(0)
    vm = relax.VirtualMachine(executable, dev)
    args = [tvm.runtime.tensor(x.detach().cpu().numpy(), dev) for x in model.inputs]
    runners, compile_error = torch_runners(model, try_compile)
    runners = {"tvm": lambda: vm["main"](*args), **runners}
    ref = flat_outputs(runners["eager"]())
    got = flat_outputs(runners["tvm"]())
    n = min(len(ref), len(got))
    abs_err = max((float(np.max(np.abs(a - b))) for a, b in zip(ref[:n], got[:n], strict=True)), default=math.inf)
    rel_err = max((float(np.max(np.abs(a - b) / (np.abs(a) + atol))) for a, b in zip(ref[:n], got[:n],
                                                                                       strict=True)), default=math.inf)
    match = n > 0 and all(a.shape == b.shape and np.allclose(b, a, rtol=rtol, atol=atol)
                          for a, b in zip(ref[:n], got[:n], strict=True))
    rounds = interleaved_times(runners, repeat, block=block, warmup=warmup)
    times = {name: [t for batch in batches for t in batch] for name, batches in rounds.items()}
    return Comparison(model=model.name, tvm_ms=statistics.median(times["tvm"]),
                      eager_ms=statistics.median(times["eager"]),
                      compile_ms=statistics.median(times["compile"]) if "compile" in times else None,
                      compile_error=compile_error, max_abs_err=abs_err, max_rel_err=rel_err, outputs_match=match,
                      repeat=repeat, times=times, tvm_threads=runtime_threads(), torch_threads=torch.get_num_threads())


def function_times(model: TorchModel, executable: Any, *, calls: int = 5, warmup: int = 3) -> Any:
    """Where a compiled model's time goes: each function the Relax VM calls, timed inside the model (TVM's VM
    instrument, around every call), as a DataFrame indexed by function, heaviest first: ``calls`` (per
    inference), ``ms`` (per inference), ``ms_per_call``, ``share`` (of the time inside called functions), and
    ``task`` (the tuning task it runs: the name without the ``_prepacked`` suffix a repacked one gets).

    Tuning times each task alone, again and again on the same buffers, so its weights stay in cache; inside the
    model they do not: set these beside the tasks' tuned latencies to see what the model adds.
    """
    import pandas as pd

    tvm = import_tvm()
    from tvm import relax

    dev = tvm.cpu(0)
    vm = relax.VirtualMachine(executable, dev)
    args = [tvm.runtime.tensor(x.detach().cpu().numpy(), dev) for x in model.inputs]
    for _ in range(warmup):
        vm["main"](*args)
    spent: dict[str, float] = {}
    count: dict[str, int] = {}
    started: list[float] = []

    def instrument(_func: Any, symbol: str, before: bool, _ret: Any, *_args: Any) -> int:
        if before:
            started.append(time.perf_counter())
        else:
            spent[symbol] = spent.get(symbol, 0.0) + time.perf_counter() - started.pop()
            count[symbol] = count.get(symbol, 0) + 1
        return 0  # VMInstrumentReturnKind.NO_OP: run the call as usual

    vm.set_instrument(instrument)
    for _ in range(calls):
        vm["main"](*args)
    table = pd.DataFrame({"calls": {s: c // calls for s, c in count.items()},
                          "ms": {s: t / calls * 1e3 for s, t in spent.items()}})
    table["ms_per_call"] = table["ms"] / table["calls"].clip(lower=1)
    table["share"] = table["ms"] / table["ms"].sum()
    table["task"] = [s.removesuffix("_prepacked") for s in table.index]
    return table.sort_values("ms", ascending=False).rename_axis("function")
