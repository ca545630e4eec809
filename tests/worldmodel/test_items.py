"""What is scored: items from candidates, from search schedules (the fast trace reader) and from logs."""

from __future__ import annotations

import pytest
from tvm import s_tir

from workbench.actions import DesignSpace, actions_from_trace
from workbench.subgraphs import load_subgraph
from workbench.worldmodel.items import TraceReader, as_items, final_program, items_from_candidates


def test_trace_reader_fast_path_reads_the_same_decisions(conv_space):
    """The fast path (structure known from a trace's decisions) gives what a full read of each trace gives."""
    mod = conv_space.subgraph.mod
    traces = []
    for cand in conv_space.sample(24, seed=11):  # post-processed schedules, as a search hands them over
        sch = s_tir.Schedule(mod)
        cand.trace.apply_to_schedule(sch, remove_postproc=False)
        traces.append(sch.trace)
    reader = TraceReader()
    for _ in range(2):  # the second pass takes the fast path for every known structure
        for trace in traces:
            got = reader.read(trace, workload=12345)
            want = actions_from_trace(trace, design_only=True)
            assert _wired(got) == _wired(want)
    # conv2d's sketches differ only in the tile loop their cache block is computed at: each is its own structure.
    assert reader.known_structures() >= 2


@pytest.mark.parametrize("name", ["softmax_256x256", "norm_256x256"])
def test_trace_reader_tells_apart_reductions_that_differ_in_wiring(name):
    """Reductions have sketches with the same decisions that differ in which loop RFactor or a compute-at
    acts on; one reader, shared by two subgraphs, reads every trace as its full read does."""
    reader = TraceReader()
    for workload, subgraph in enumerate([name, "conv2d_7x7x512_3x3"]):
        sg = load_subgraph(subgraph)
        traces = []
        for cand in DesignSpace(sg).sample(40, seed=5):
            sch = s_tir.Schedule(sg.mod)
            cand.trace.apply_to_schedule(sch, remove_postproc=False)
            traces.append(sch.trace)
        for _ in range(2):
            for trace in traces:
                assert _wired(reader.read(trace, workload)) == _wired(actions_from_trace(trace, design_only=True))
    assert reader.known_structures() >= 4


def _wired(actions):
    """Kinds, decisions, and each operand as the (instruction, output slot) that made it: names aside."""
    made = {name: (a.index, k) for a in actions for k, name in enumerate(a.outputs)}
    return [(a.kind, a.decision, tuple(made.get(x, x) if isinstance(x, str) else x for x in a.inputs))
            for a in actions]
    assert TraceReader().known_structures() == 0  # caches belong to a reader, not to the class


def test_items_from_each_source_agree_on_the_program(conv_space, evaluator):
    cands = conv_space.sample(2, seed=4)
    items = as_items(cands)
    assert [it.group for it in items] == [conv_space.subgraph.name] * 2
    assert final_program(items[0]).script() == cands[0].mod.script()
    assert items_from_candidates(cands)[1].actions == cands[1].actions
