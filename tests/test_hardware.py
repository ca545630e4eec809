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
