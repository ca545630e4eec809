"""Features of many candidates per sketch (compiled plans) against the reference, candidate by candidate."""

from __future__ import annotations

import numpy as np

from workbench.testing import sample_records
from workbench.worldmodel.decisions import batch_features, read_decisions
from workbench.worldmodel.effects import Machine, program_info
from workbench.worldmodel.features import N_PARAMS, candidate_features, schedule_phase
from workbench.worldmodel.items import items_from_logs


def test_compiled_plans_give_the_reference_features():
    records = sample_records(("matmul_128", "softmax_256x256", "norm_256x256", "conv2d_14x14x128_3x3",
                              "bert_base/layer_norm"), per_subgraph=30)
    items = items_from_logs(records)
    machine = Machine(cores=2, lanes=16)
    infos = [program_info(it.mod) for it in items]
    from workbench.worldmodel import decisions, features

    features._PLANS.clear()  # the reference below must make its own plans, not share the compiled ones' cache
    decisions._COMPILED.clear()
    tokens, params, indices, trace = batch_features([it.actions for it in items], infos=infos,
                                                    machines=[machine] * len(items), flops=[it.flops for it in items])
    features._PLANS.clear()
    for i, it in enumerate(items):
        ref = candidate_features(it.actions, flops=it.flops, cores=2, info=infos[i], machine=machine)
        assert tokens[i] == ref[0] and indices[i] == ref[2]
        np.testing.assert_allclose(params[i], np.asarray(ref[1]).reshape(-1, N_PARAMS), atol=1e-4)
        np.testing.assert_allclose(trace[i], ref[3], atol=1e-4, equal_nan=True)
    # Operands are read: most candidates have steps that say which loop they act on (a sketch that only inlines
    # or computes at the root has none).
    with_operands = [np.abs(p[:, -4:]).sum() > 0 for p in params if len(p)]
    assert sum(with_operands) >= 0.8 * len(with_operands)


def test_decisions_of_a_candidate():
    records = sample_records(("softmax_256x256",), per_subgraph=3)
    design = schedule_phase(records["actions"].iloc[0])
    structure, decisions = read_decisions(design)
    assert len(structure) == len(design)
    assert len(decisions.locations) == sum(a.kind == "SampleComputeLocation" for a in design)
    assert decisions.flat == [t for a in design if a.kind == "SamplePerfectTile" for t in a.decision]


def test_effects_of_many_candidates_as_arrays_match_one_by_one(monkeypatch):
    """A planner scores thousands of candidates of one plan: its array path gives the per-candidate results."""
    from workbench.worldmodel import decisions

    records = sample_records(("conv2d_14x14x128_3x3", "softmax_256x256", "max_pool2d_56x56x64"), per_subgraph=60)
    items = items_from_logs(records)
    kwargs = {"infos": [program_info(it.mod) for it in items], "machines": [Machine(cores=2, lanes=16)] * len(items),
              "flops": [it.flops for it in items]}
    monkeypatch.setattr(decisions, "VECTORIZE_FROM", 10**9)
    one_by_one = batch_features([it.actions for it in items], **kwargs)[3]
    monkeypatch.setattr(decisions, "VECTORIZE_FROM", 1)
    as_arrays = batch_features([it.actions for it in items], **kwargs)[3]
    np.testing.assert_allclose(as_arrays, one_by_one, atol=1e-4, equal_nan=True)
    from workbench.worldmodel.features import TRACE_FEATURES

    par, lanes = as_arrays[:, TRACE_FEATURES.index("par_extent")], as_arrays[:, TRACE_FEATURES.index("vec_lanes")]
    assert np.isfinite(par).mean() > 0.9 and (par > 0).mean() > 0.5 and (lanes > 0).sum() > 10  # not vacuous


def test_scoring_from_decisions_equals_scoring_candidates(evaluator):
    """What a planner scores from a decision vector (no Item, no actions) is what the evaluator gives the same
    candidate as a trace."""
    from workbench.worldmodel.decisions import CompiledPlan, group_features

    records = sample_records(("matmul_128",), per_subgraph=30)
    items = items_from_logs(records)
    want = evaluator.feature_matrix(items)
    info = evaluator.program_info(items[0].mod)
    rows = []
    for it in items:
        machine = Machine.of(it.hardware)
        design = schedule_phase(it.actions)
        _, decisions = read_decisions(design)
        cp = CompiledPlan.build(info, design)
        p, t = group_features(cp, [decisions.flat], machine=machine, flops=[it.flops])
        rows.append(evaluator.features_from_steps(it.mod, [cp.tokens], [p[0]], t, hardware=it.hardware)[0])
    np.testing.assert_allclose(np.stack(rows), want, atol=1e-4, equal_nan=True)
