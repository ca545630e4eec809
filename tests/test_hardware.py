"""The hardware descriptor that travels with every record, and targets from names."""

from __future__ import annotations

import pytest

from workbench.hardware import TargetError, hardware_descriptor, hardware_id, has_cuda, make_target


def test_hardware_descriptor_describes_this_machine():
    desc = hardware_descriptor()
    assert desc["logical_cores"] >= 1 and desc["cpu_model"] and desc["arch"]
    assert desc["llvm_mcpu"] and desc["caches"] and desc["memory_gib"] > 0
    assert all(f.startswith(("sse", "avx", "fma", "f16c", "amx", "neon", "asimd", "sve", "sme")) for f in desc["isa_flags"])
    assert len(desc["id"]) == 12 and desc["id"] == hardware_id(desc)


def test_hardware_id_changes_with_the_machine():
    desc = dict(hardware_descriptor())
    assert hardware_id(desc | {"cpu_model": "another cpu"}) != desc["id"]
    assert hardware_id(desc | {"id": "anything"}) == desc["id"]  # the id itself is not hashed


def test_cpu_target_uses_host_isa_and_cores():
    target = make_target("cpu")
    assert target.kind.name == "llvm"
    assert int(target.attrs["num-cores"]) >= 1
    assert str(target.attrs["mcpu"]) == hardware_descriptor()["llvm_mcpu"]
    assert make_target(target) is target
    assert make_target({"kind": "llvm", "num-cores": 1}).kind.name == "llvm"


def test_bad_targets_are_clear_errors():
    with pytest.raises(TargetError, match="unknown target 'tpu'"):
        make_target("tpu")
    with pytest.raises(TargetError, match="invalid target spec"):
        make_target({"kind": "no_such_kind"})
    if not has_cuda():
        with pytest.raises(TargetError, match="needs an NVIDIA GPU"):
            make_target("cuda")


def test_peak_is_measured_once_per_machine_and_physically_possible(tmp_path, monkeypatch):
    from workbench.hardware import peak_gflops

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    desc = hardware_descriptor()
    peak = peak_gflops(iters=2_000, repeat=2)
    # A loop LLVM folded away or did not vectorize would time as impossibly fast or a scalar's speed: no core
    # retires more than two FMA vectors of its width a cycle, and none runs above 6 GHz.
    ceiling = 2 * 2 * peak["lanes"] * 6.0 * peak["threads"]
    assert 0 < peak["gflops_one_core"] <= peak["gflops"] * 1.5 and peak["gflops"] < ceiling
    assert peak["gflops_one_core"] > 2 * 6.0 * 2  # faster than two scalar FMAs a cycle at 6 GHz: vectors ran
    assert peak["hardware_id"] == desc["id"] and (tmp_path / f"peak-{desc['id']}.json").is_file()
    assert peak_gflops() == peak  # from the cache, not measured again
    (tmp_path / f"peak-{desc['id']}.json").write_text("{not json")
    assert peak_gflops(iters=2_000, repeat=2)["gflops"] > 0  # an unreadable cache is measured again, not an error


def test_tvm_runs_cpu_kernels_on_every_physical_core_unless_told_otherwise():
    """TVM 0.27 alone takes half the logical cores on x86: one thread of a 2-core VM."""
    import os
    import subprocess
    import sys

    from workbench._tvm import cpu_threads

    probe = ("from workbench.hardware import hardware_descriptor; from workbench._tvm import runtime_threads; "
             "print(runtime_threads(), hardware_descriptor()['runtime_threads'])")
    env = {k: v for k, v in os.environ.items() if k not in ("TVM_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == [str(cpu_threads())] * 2, out.stderr[-2000:]
    out = subprocess.run([sys.executable, "-c", probe], env=env | {"TVM_NUM_THREADS": "1"}, capture_output=True,
                         text=True, timeout=300)
    assert out.stdout.split() == ["1", "1"], out.stderr[-2000:]  # the user's setting wins
    assert hardware_id(hardware_descriptor() | {"runtime_threads": 99}) != hardware_descriptor()["id"]
