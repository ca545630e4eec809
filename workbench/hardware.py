"""Targets and the hardware descriptor that travels with every measurement."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench._tvm import import_tvm, runtime_threads

# ISA flags worth recording: the ones that change what code LLVM emits for tensor programs.
_ISA_PATTERN = re.compile(r"^(sse4_[12]|avx|avx2|fma|f16c|avx512\w*|avx_vnni|amx\w*|neon|asimd\w*|sve\w*|sme|sme2|sme_\w+)$")


class TargetError(ValueError):
    """A target name or spec that the workbench cannot use."""


def _cpu_caches() -> dict[str, str]:
    caches: dict[str, str] = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        key = f"L{level}" + ({"Data": "d", "Instruction": "i"}.get(kind, ""))
        caches[key] = size
    return caches


def _cpu_model_and_flags() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), []
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model") and model in ("", platform.machine(), platform.processor()):
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = sorted(f for f in value.split() if _ISA_PATTERN.match(f))
    return model, flags


def _gpus() -> list[dict[str, Any]]:
    if shutil.which("nvidia-smi") is None:
        return []
    query = "name,memory.total,driver_version,compute_cap"
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        try:
            name, mem, driver, cap = (part.strip() for part in line.split(","))
            memory = int(float(mem))
        except ValueError:  # "[N/A]" fields on some virtualised GPUs
            continue
        gpus.append({"name": name, "memory_mib": memory, "driver": driver, "compute_capability": cap})
    if gpus:
        try:
            tvm = import_tvm()
            dev = tvm.cuda(0)
            if dev.exist:
                gpus[0]["sms"] = int(dev.multi_processor_count)
        except Exception:  # noqa: BLE001 - SM count is a nice-to-have; nvidia-smi already answered
            pass
    return gpus


@lru_cache(maxsize=1)
def hardware_descriptor() -> dict[str, Any]:
    """What this machine is: CPU model, cores, ISA flags, caches, memory, GPUs, and an id for it."""
    import psutil

    tvm = import_tvm()
    from tvm.target import codegen

    model, flags = _cpu_model_and_flags()
    desc: dict[str, Any] = {
        "cpu_model": model,
        "arch": platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False) or os.cpu_count(),
        "llvm_mcpu": str(codegen.llvm_get_system_cpu()),
        "isa_flags": flags,
        "caches": _cpu_caches(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "gpus": _gpus(),
        "tvm_version": tvm.__version__,
        # how many threads a measured CPU kernel ran on: TVM 0.27 defaulted to half the logical cores on x86,
        # whatever the machine; descriptors written before this field were measured that way
        "runtime_threads": runtime_threads(),
    }
    desc["id"] = hardware_id(desc)
    return desc


def kernel_threads(desc: dict[str, Any] | None) -> int:
    """How many threads a CPU kernel measured on the machine ``desc`` ran on.

    ``runtime_threads`` where the descriptor names it; an older descriptor (written before that field, as every
    shipped CPU record's is) ran on TVM 0.27's default pool, ``max(1, logical_cores // 2)`` threads on x86 (it
    assumes two hyper-threads per core) and every logical core elsewhere: one thread on a 2-vCPU VM, whatever its
    ``physical_cores`` say."""
    desc = desc or {}
    if desc.get("runtime_threads"):
        return max(1, int(desc["runtime_threads"]))
    logical = int(desc.get("logical_cores") or desc.get("physical_cores") or 1)
    arch = str(desc.get("arch") or "").lower()
    flags = set(desc.get("isa_flags") or ())
    x86 = arch in ("x86_64", "amd64", "i686", "x86") or (not arch and bool(flags & {"avx", "avx2", "sse4_2"}))
    return max(1, logical // 2) if x86 else max(1, logical)


def hardware_id(desc: dict[str, Any]) -> str:
    """A short stable id of a descriptor (everything but the id itself)."""
    payload = json.dumps({k: v for k, v in desc.items() if k != "id"}, sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()[:12]


def has_cuda() -> bool:
    """True when a CUDA GPU is usable by TVM on this machine."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        return bool(import_tvm().cuda(0).exist)
    except Exception:  # noqa: BLE001
        return False


def make_target(target: Any = "cpu") -> Any:
    """A ``tvm.target.Target`` from "cpu", "cuda", a JSON dict or a Target.

    "cpu" is LLVM for the host's ISA (``mcpu`` from LLVM's host detection) with all its cores,
    which MetaSchedule needs to place parallel loops.
    """
    tvm = import_tvm()
    if isinstance(target, tvm.target.Target):
        return target
    if isinstance(target, dict):
        try:
            return tvm.target.Target(target)
        except Exception as err:  # noqa: BLE001
            raise TargetError(f"invalid target spec {target!r}: {err}") from err
    if target in ("cpu", "llvm"):
        from tvm.target import codegen

        return tvm.target.Target(
            {"kind": "llvm", "mcpu": str(codegen.llvm_get_system_cpu()), "num-cores": os.cpu_count() or 1}
        )
    if target in ("cuda", "gpu"):
        if not has_cuda():
            raise TargetError("target 'cuda' needs an NVIDIA GPU, and none is visible on this machine")
        return tvm.target.Target.from_device(tvm.cuda(0))
    raise TargetError(f"unknown target {target!r}: use 'cpu', 'cuda', a JSON dict or a tvm.target.Target")


# ---- measured peak ------------------------------------------------------------------------------------
_PEAK_CHAINS = 12  # independent FMA chains per core: more than FMA latency x FMA ports on any x86 or Arm core


def _vector_lanes(flags: list[str]) -> int:
    """FP32 lanes of the widest vector register the ISA flags name."""
    if any(f.startswith("avx512f") for f in flags):
        return 16
    return 8 if "avx" in flags or "avx2" in flags else 4


def _fma_kernel(threads: int, lanes: int, iters: int) -> Any:
    """A TIR function in which each of ``threads`` parallel workers runs ``_PEAK_CHAINS`` independent chains of
    ``acc = acc * a + b`` on ``lanes``-wide vectors, held in registers (LLVM contracts each into one FMA)."""
    import_tvm()
    from tvm.script import tirx as T  # noqa: N812

    chains, width = _PEAK_CHAINS, _PEAK_CHAINS * lanes

    @T.prim_func
    def fma(a: T.Buffer((threads * width,), "float32"), b: T.Buffer((threads * width,), "float32")):
        T.func_attr({"global_symbol": "fma", "tir.noalias": True})
        for t in T.parallel(threads):
            acc = T.alloc_buffer((width,), "float32", scope="local")
            for i in T.serial(width):
                acc[i] = a[t * width + i]
            for it in T.serial(iters):  # noqa: B007 - the loop is the work
                for j in T.unroll(chains):
                    for k in T.vectorized(lanes):
                        acc[j * lanes + k] = acc[j * lanes + k] * T.float32(0.99999) + T.float32(1e-5)
            for i in T.serial(width):
                b[t * width + i] = acc[i]

    return fma


def _time_fma(threads: int, lanes: int, *, iters: int, repeat: int) -> float:
    """GFLOP/s of :func:`_fma_kernel` on this machine: the best of ``repeat`` timings."""
    import numpy as np

    tvm = import_tvm()
    lib = tvm.tirx.build(tvm.IRModule({"fma": _fma_kernel(threads, lanes, iters)}), target=make_target("cpu"))
    dev = tvm.cpu()
    a = tvm.runtime.tensor(np.ones(threads * _PEAK_CHAINS * lanes, "float32"), dev)
    b = tvm.runtime.tensor(np.zeros(threads * _PEAK_CHAINS * lanes, "float32"), dev)
    seconds = min(lib.time_evaluator("fma", dev, number=5, repeat=repeat, min_repeat_ms=20)(a, b).results)
    return 2.0 * threads * _PEAK_CHAINS * lanes * iters / seconds / 1e9


def cache_root() -> Path:
    """The workbench's cache directory: ``$WORKBENCH_CACHE``, default ``~/.cache/tvm-workbench``."""
    return Path(os.environ.get("WORKBENCH_CACHE", Path.home() / ".cache" / "tvm-workbench"))


def peak_gflops(*, refresh: bool = False, iters: int = 20_000, repeat: int = 5) -> dict[str, Any]:
    """This machine's measured FP32 peak, the ceiling a tuned kernel's GFLOP/s is read against.

    It is timed, not computed from a clock and a core count, which a VM or a turbo clock makes unreliable: a
    TVM-built loop of independent fused multiply-adds on the widest vectors (``_fma_kernel``), on the threads
    TVM's runtime runs kernels on (``gflops``; ``threads``) and on one (``gflops_one_core``), best of ``repeat``
    timings. The result is kept beside the hardware descriptor in the workbench cache (``peak-<hardware id>.json``)
    and measured again only with ``refresh=True``; it is not part of the descriptor's id, since a measurement moves
    from run to run. Measure on an idle machine: anything running beside lowers it (``loadavg`` records the load
    when it was taken)."""
    desc = hardware_descriptor()
    path = cache_root() / f"peak-{desc['id']}.json"
    if not refresh:
        try:
            saved = json.loads(path.read_text())
            if saved.get("hardware_id") == desc["id"] and saved.get("gflops", 0) > 0:
                return saved
        except (OSError, ValueError, AttributeError, TypeError):  # nothing saved yet, or not a peak: measure
            pass
    lanes, cores = _vector_lanes(desc["isa_flags"]), kernel_threads(desc)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out = {"gflops": _time_fma(cores, lanes, iters=iters, repeat=repeat),
           "gflops_one_core": _time_fma(1, lanes, iters=iters, repeat=repeat),
           "threads": cores, "lanes": lanes, "chains": _PEAK_CHAINS,
           "kernel": f"{_PEAK_CHAINS} independent FP32 FMA chains of {lanes} lanes per core (TVM, LLVM)",
           "loadavg": load, "hardware_id": desc["id"], "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(path)
    return out
