"""Fast, target-aware TVM start-up: import TVM once, and only the tensor intrinsics a target needs.

Two costs dominate a cold TVM 0.27 start on CPU machines:

* ``tvm_ffi`` eagerly imports ``torch`` (about 1.4 s) only to enable torch fast paths;
* ``import tvm.s_tir.tensor_intrin`` registers the intrinsics of every backend (60-90 s, mostly CUDA).
  MetaSchedule's ``TuneContext`` and every ``LocalBuilder`` worker import it.

``import_tvm()`` defers torch while TVM loads (unless torch is already imported) and replaces the
``tensor_intrin`` package by an empty namespace so that ``ensure_intrinsics(target)`` loads just the
modules the target needs. ``worker_initializer`` does the intrinsics part in builder and runner workers
(TVM's popen worker has already imported TVM, and with it torch, before an initializer runs).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
import types
from typing import Any

_INTRIN_PKG = "tvm.s_tir.tensor_intrin"
# Which intrinsic modules each target kind needs (by TVM's own registration modules).
_INTRIN_BY_KIND = {
    "llvm": {"x86_64": ["x86"], "aarch64": ["arm_cpu"], "riscv64": ["riscv_cpu"]},
    "cuda": ["cuda"],
    "rocm": ["rocm"],
    "metal": ["metal"],
}
_loaded_intrinsics: set[str] = set()


class _DeferTorch(importlib.abc.MetaPathFinder):
    """Makes ``import torch`` fail while TVM loads, so tvm_ffi skips its optional torch hooks."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == "torch" or fullname.startswith("torch."):
            raise ImportError("torch deferred by workbench while TVM loads")
        return None


def cpu_threads() -> int | None:
    """The threads TVM's CPU runtime should run kernels on: the machine's physical cores, at most the logical
    CPUs this process may run on (None when psutil cannot count the physical cores)."""
    try:
        import psutil

        cores = psutil.cpu_count(logical=False)
    except ImportError:  # psutil is a dependency; without it, TVM keeps its own default
        return None
    if not cores:
        return None
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return max(1, min(cores, allowed))


def set_cpu_threads() -> None:
    """Size TVM's CPU thread pool by :func:`cpu_threads`, unless ``TVM_NUM_THREADS`` or ``OMP_NUM_THREADS`` is set.

    TVM 0.27 otherwise takes half the logical cores on x86 (``MaxConcurrency`` assumes two hyper-threads per
    core), so a machine whose cores have one thread each, such as a VM with 2 vCPUs, runs every kernel on half
    its cores: measured on a 2-core EPYC VM, 117 GFLOP/s of FMA throughput on TVM's default 1 thread against 232
    on 2. The variable is read when the pool starts (the first parallel kernel) and is inherited by
    MetaSchedule's runner processes, so it is set before TVM is imported."""
    if "TVM_NUM_THREADS" not in os.environ and "OMP_NUM_THREADS" not in os.environ and (n := cpu_threads()):
        os.environ["TVM_NUM_THREADS"] = str(n)


def runtime_threads() -> int | None:
    """How many threads TVM's CPU runtime in this process runs kernels on (None if TVM cannot say)."""
    try:
        return int(import_tvm().get_global_func("runtime.NumThreads")())
    except Exception:  # noqa: BLE001 - an older or stripped runtime without the function
        return None


def import_tvm() -> types.ModuleType:
    """Import TVM with the fast path, its CPU thread pool sized by :func:`set_cpu_threads`; safe to call many
    times."""
    set_cpu_threads()
    if "tvm" in sys.modules and _INTRIN_PKG in sys.modules:
        return sys.modules["tvm"]
    defer = "torch" not in sys.modules and os.environ.get("WORKBENCH_EAGER_TORCH", "0") != "1"
    finder = _DeferTorch()
    if defer:
        sys.meta_path.insert(0, finder)
    try:
        import tvm
        import tvm.s_tir
    finally:
        if defer:
            sys.meta_path.remove(finder)
    if _INTRIN_PKG not in sys.modules:
        spec = importlib.util.find_spec(_INTRIN_PKG)
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"{_INTRIN_PKG} not found: is apache-tvm installed correctly?")
        pkg = types.ModuleType(_INTRIN_PKG, "Lazily populated by workbench._tvm.ensure_intrinsics")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__spec__ = spec
        pkg.__file__ = spec.origin
        pkg.__package__ = _INTRIN_PKG
        sys.modules[_INTRIN_PKG] = pkg
        tvm.s_tir.tensor_intrin = pkg
    return tvm


def intrinsic_modules(target: Any) -> list[str]:
    """The ``tvm.s_tir.tensor_intrin`` submodules that ``target`` can use."""
    kind = target.kind.name if hasattr(target, "kind") else str(target)
    entry = _INTRIN_BY_KIND.get(kind, [])
    if isinstance(entry, dict):
        import platform

        return entry.get(platform.machine(), [])
    return list(entry)


def ensure_intrinsics(target: Any) -> None:
    """Register the tensor intrinsics ``target`` needs (and nothing else)."""
    import_tvm()
    for name in intrinsic_modules(target):
        if name not in _loaded_intrinsics:
            importlib.import_module(f"{_INTRIN_PKG}.{name}")
            _loaded_intrinsics.add(name)


def worker_initializer(target_kind: str = "llvm") -> None:
    """Initializer for MetaSchedule popen workers: register only the target's tensor intrinsics."""
    import_tvm()
    ensure_intrinsics(target_kind)


def torch_ready() -> types.ModuleType:
    """Import torch after TVM and hand it to tvm_ffi's converters (which skipped it at import)."""
    import torch

    try:
        import tvm_ffi._convert as ffi_convert

        if getattr(ffi_convert, "torch", None) is None:
            ffi_convert.torch = torch
    except ImportError:  # pragma: no cover - tvm_ffi layout changed
        pass
    return torch
