"""What post-processing makes of a candidate, worked out from its actions, against the real programs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tvm import s_tir, tirx

from workbench.actions import sampled_values
from workbench.hardware import kernel_threads
from workbench.testing import sample_records
from workbench.worldmodel.effects import EFFECT_FEATURES, Machine, effect_features, make_plan, program_info
from workbench.worldmodel.features import HARDWARE_FEATURES, hardware_features, schedule_phase
from workbench.worldmodel.items import items_from_logs, replay_states

# Sketches of every kind the effects follow: multi-level tiling with a cache write (matmul, conv), compute-at and
# inlining chains (softmax), rfactor (norm), a padded depthwise convolution, pooling.
SUBGRAPHS = ("matmul_128", "softmax_256x256", "norm_256x256", "conv2d_14x14x128_3x3", "depthwise_14x14x512_s2",
             "max_pool2d_56x56x64")


def _real(final_mod, names):
    """Per block name: the product of the parallel loops around it and of its vectorized loops."""
    sch = s_tir.Schedule(final_mod)
    out = {}
    for name in names:
        for candidate in (name, name + "_update"):  # DecomposeReduction renames a reduction's block
            try:
                block = sch.get_sblock(candidate)
            except Exception:  # noqa: BLE001 - TVM raises builtin errors for an unknown block name
                continue
            par = lanes = 1
            for loop_rv in sch.get_loops(block):
                loop = sch.get(loop_rv)
                if loop.kind == tirx.ForKind.PARALLEL:
                    par *= int(loop.extent)
                elif loop.kind == tirx.ForKind.VECTORIZED:
                    lanes *= int(loop.extent)
            out[name] = (par, lanes)
            break
    return out


@pytest.fixture(scope="module")
def records():
    return sample_records(SUBGRAPHS, per_subgraph=25)


def _emulate(item):
    design = schedule_phase(item.actions)
    values = sampled_values(design)
    plan = make_plan(program_info(item.mod), design, values)
    tiles = [t for a in design if a.kind == "SamplePerfectTile" for t in a.decision]
    cats = [values.get(a.outputs[0]) for a in design if a.kind == "SampleCategorical"]
    unroll = plan.caps.get("unroll")
    unroll = cats[unroll[1]] if isinstance(unroll, tuple) else unroll
    return plan, plan.postprocess(plan.extents(tiles), float(unroll or 0))


def test_parallel_extents_and_vector_lanes_match_the_real_programs(records):
    agree = {"parallel": 0, "vector": 0}
    n = 0
    per_subgraph: dict[str, list[bool]] = {}
    for item in items_from_logs(records):
        plan, post = _emulate(item)
        final = replay_states(item.mod, item.extra["trace"], [len(item.actions)])[0]
        emulated = {plan.names[b]: v[:2] for b, v in post.items()}
        for name, (par, lanes) in _real(final, set(plan.names)).items():
            got = emulated.get(name, (1.0, 1.0))
            agree["parallel"] += got[0] == par
            agree["vector"] += got[1] == lanes
            per_subgraph.setdefault(item.group, []).append(got == (par, lanes))
            n += 1
    assert n > 200
    # Every block's parallel extent; vector lanes of all but a padding block computed inside a convolution's
    # window (its inner extents need TVM's region analysis: unknown here, never guessed).
    assert agree["parallel"] / n >= 0.99, agree
    assert agree["vector"] / n >= 0.9, agree
    for name in ("matmul_128", "softmax_256x256", "norm_256x256"):
        assert all(per_subgraph[name]), name


def test_effect_features_read_the_decisions_that_decide_speed(records):
    machine = Machine(cores=2, lanes=16, l1=48 * 1024, l2=1024 * 1024)
    rows = {}
    for item in items_from_logs(records[records["subgraph"] == "softmax_256x256"]):
        design = schedule_phase(item.actions)
        values = sampled_values(design)
        plan = make_plan(program_info(item.mod), design, values)
        tiles = [a.decision for a in design if a.kind == "SamplePerfectTile"]
        feats = dict(zip(EFFECT_FEATURES, effect_features(plan, tiles, 16.0, machine), strict=True))
        locations = tuple(a.decision for a in design if a.kind == "SampleComputeLocation")
        rows[locations] = feats
    # Softmax's sketches differ in where its four blocks are computed: the features say how many are inlined,
    # at the root or at a loop, and how many loops lie outside them.
    assert len({(f["ca_inline"], f["ca_root"], f["ca_loop"], f["ca_outside"]) for f in rows.values()}) >= 4
    for locations, f in rows.items():
        assert f["ca_loop"] == sum(1 for d in locations if d >= 0)
        assert f["ca_inline"] == sum(1 for d in locations if d == -2)
        assert f["unknown"] == 0.0 and 0 < f["par_coverage"] <= 1.0
        assert f["par_per_core"] == pytest.approx(f["par_extent"] - 1.0)


def test_rfactor_of_another_loop_is_another_feature(records):
    """norm_256x256's rfactor sketches split the reduction and rfactor its inner or its outer piece: the run time
    differs by up to 15x between such candidates, so the features must tell them apart."""
    seen = {}
    for item in items_from_logs(records[records["subgraph"] == "norm_256x256"]):
        design = schedule_phase(item.actions)
        plan = make_plan(program_info(item.mod), design, sampled_values(design))
        if plan.rfactors:
            tiles = [a.decision for a in design if a.kind == "SamplePerfectTile"]
            feats = dict(zip(EFFECT_FEATURES, effect_features(plan, tiles, 0.0, Machine()), strict=True))
            seen[(feats["rf_inner"], feats["rf_extent"])] = tiles
    assert {inner for inner, _ in seen} == {0.0, 1.0}
    assert len(seen) >= 4


def test_a_trace_it_cannot_follow_is_unknown_not_an_error(records):
    item = items_from_logs(records.head(1))[0]
    design = schedule_phase(item.actions)
    # Scramble the operands: loops that do not exist, a block that is not in the program.
    broken = [a.__class__(index=a.index, kind=a.kind, inputs=tuple(f"nope{i}" for i, _ in enumerate(a.inputs)),
                          attrs=("no_such_block", "main") if a.kind == "GetSBlock" else a.attrs, outputs=a.outputs,
                          decision=a.decision, phase=a.phase) for a in design]
    plan = make_plan(program_info(item.mod), broken, sampled_values(broken))
    assert plan.unknown
    feats = effect_features(plan, [a.decision for a in broken if a.kind == "SamplePerfectTile"], 16.0, Machine())
    # The "unknown" feature says so; the rest describes the program as far as it could be followed.
    assert len(feats) == len(EFFECT_FEATURES) and feats[-1] == 1.0
    assert all(isinstance(x, float) and (math.isnan(x) or math.isfinite(x)) for x in feats)


def test_machine_from_a_descriptor():
    desc = {"isa_flags": ["avx2", "fma"], "runtime_threads": 8, "caches": {"L1d": "48K", "L2": "2M"}}
    assert Machine.of(desc) == Machine(cores=8, lanes=8, l1=48 * 1024, l2=2 * 1024 * 1024)
    assert Machine.of({"isa_flags": ["avx512f"]}).lanes == 16 and Machine.of(None) == Machine()


def test_the_machine_has_the_threads_its_kernels_ran_on_not_its_cores():
    # Every shipped CPU record ran on TVM 0.27's default pool: half the logical cores on x86, so one thread on
    # a 2-vCPU VM with 2 physical cores; a descriptor that names runtime_threads says what the pool was.
    old_vm = {"arch": "x86_64", "logical_cores": 2, "physical_cores": 2, "isa_flags": ["avx2", "fma"]}
    assert kernel_threads(old_vm) == 1 and Machine.of(old_vm).cores == 1
    assert kernel_threads({**old_vm, "runtime_threads": 2}) == Machine.of({**old_vm, "runtime_threads": 2}).cores == 2
    assert kernel_threads({"arch": "x86_64", "logical_cores": 16, "physical_cores": 8}) == 8
    assert kernel_threads({"arch": "aarch64", "logical_cores": 8, "isa_flags": ["neon"]}) == 8
    assert kernel_threads({"logical_cores": 4, "isa_flags": ["avx2"]}) == 2  # no arch: x86 by its ISA
    assert kernel_threads(None) == 1
    one, two = hardware_features(old_vm), hardware_features({**old_vm, "runtime_threads": 2})
    i = HARDWARE_FEATURES.index("threads")
    assert (one[i], two[i]) == (0.0, 1.0) and np.array_equal(np.delete(one, i), np.delete(two, i))
