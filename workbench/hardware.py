"""Targets and the hardware descriptor that travels with every measurement."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench._tvm import import_tvm

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
    }
    desc["id"] = hardware_id(desc)
    return desc


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
