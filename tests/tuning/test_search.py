"""The search wrapper every run uses: nothing measured twice, the shared budget, and a resumed session that
gets past the records of earlier sessions its search proposes first."""

from __future__ import annotations

from types import SimpleNamespace

from workbench.traces import trace_key


def _cand(i: int):
    return SimpleNamespace(sch=SimpleNamespace(trace=[[["Sample", i]], []]))


class _Inner:
    """A search that proposes ``batches`` in order (as the evolutionary search does after a resume: the best
    records of earlier sessions first, each batch once), then nothing."""

    def __init__(self, batches):
        self.batches = list(batches)

    def generate_measure_candidates(self):
        return self.batches.pop(0) if self.batches else None

    def notify_runner_results(self, candidates, results):
        pass


def _filter(inner, seen, left, **kwargs):
    import workbench._tvm  # noqa: F401 - TVM first, with the project's settings
    from workbench.tuning.search import SeenFilter

    f = SeenFilter(inner, seen, {"left": left}, **kwargs)
    f = getattr(f, "_inst", f)  # the Python object behind TVM's wrapper (called directly, not through the FFI)
    f.max_trials, f.per_iter = 100, 4
    return f


def test_a_resumed_session_gets_past_every_batch_of_known_records():
    known = [_cand(i) for i in range(12)]  # 12 records of earlier sessions: three batches of 4, all known
    fresh = [_cand(100 + i) for i in range(4)]
    seen = {trace_key(c.sch.trace) for c in known}
    f = _filter(_Inner([known[:4], known[4:8], known[8:], fresh]), seen, left=4)
    got = f.generate_measure_candidates()
    assert got == fresh and f.skipped == 12 and f.budget["left"] == 0
    assert f.generate_measure_candidates() is None  # the budget is spent


def test_nothing_is_proposed_twice_and_an_exhausted_search_ends():
    a, b = _cand(1), _cand(2)
    f = _filter(_Inner([[a, b], [a, b], [a], [b]]), set(), left=10)
    assert f.generate_measure_candidates() == [a, b]
    assert f.generate_measure_candidates() is None  # only known ones, then a batch far smaller than asked: ended
    assert f.exhausted and f.skipped == 3


def test_tvm_shows_no_table_of_its_own_on_a_thread_that_runs_a_tuning_run(monkeypatch):
    """In a notebook, TVM's task scheduler displays its per-task table after every batch; a TuningRun's thread
    asks for quiet (the run shows its own progress) and other threads are left as they were."""
    import builtins
    import threading

    from workbench.tuning.search import (  # TVM loaded with the project's settings
        get_global_func,
        quiet_statistics,
    )

    class ZMQInteractiveShell:  # what TVM looks for to decide it is in a notebook
        pass

    monkeypatch.setattr(builtins, "get_ipython", lambda: ZMQInteractiveShell(), raising=False)
    using_ipython = get_global_func("s_tir.meta_schedule.using_ipython")
    assert using_ipython() is True
    elsewhere = []
    with quiet_statistics():
        assert using_ipython() is False
        other = threading.Thread(target=lambda: elsewhere.append(using_ipython()))
        other.start()
        other.join()
    assert elsewhere == [True] and using_ipython() is True


def _located(i: int, where: int):
    """A candidate whose trace computes one producer block at ``where`` (-2 inlined, -1 root, >= 0 a loop)."""
    insts = [["SamplePerfectTile", [], [i], ["v0"]], ["SampleComputeLocation", ["b0"], [], ["v1"]]]
    return SimpleNamespace(sch=SimpleNamespace(trace=[insts, [[0, [i, 1]], [1, where]]]))


def test_compute_locations_reads_each_decision_in_order():
    from workbench.traces import compute_locations

    insts = [["SampleComputeLocation", ["b0"], [], ["v0"]], ["SamplePerfectTile", ["l0"], [4, 64], ["v1"]],
             ["SampleCategorical", [], [[0, 16]], ["v2"]], ["SampleComputeLocation", ["b1"], [], ["v3"]]]
    assert compute_locations([insts, [[0, -2], [1, [8, 8]], [2, 1], [3, 5]]]) == (-2, 5)
    assert compute_locations([insts[1:3], [[0, [8, 8]], [1, 1]]]) == ()  # no such decision: one plan


def test_diverse_picks_hedge_across_plans_and_keep_the_exploration_share():
    from workbench.tuning.search import diverse_picks

    # 12 model picks in score order (10 of plan "a", then 2 of "b"), then 4 random picks
    bests = [("a", i) for i in range(10)] + [("b", 10), ("b", 11)]
    tail = [("r", 12 + i) for i in range(4)]
    got = diverse_picks(bests + tail, 8, randoms=4, n_random=1, key=lambda c: c[0])
    # 7 model picks, at most ceil(7/2) = 4 of one plan until no other plan is left, then one random pick
    assert got == [("a", 0), ("a", 1), ("a", 2), ("a", 3), ("b", 10), ("b", 11), ("a", 4), ("r", 12)]
    one_plan = [("a", i) for i in range(12)]
    assert diverse_picks(one_plan + tail, 8, randoms=4, n_random=1, key=lambda c: c[0]) == one_plan[:7] + tail[:1]
    assert diverse_picks(bests[:3], 8, randoms=0, n_random=0, key=lambda c: c[0]) == bests[:3]  # fewer than asked


def test_a_diverse_search_hedges_its_first_batch_then_searches_as_usual():
    # per_iter 4, widened 4x: TVM's first batch of 16 is 12 model picks (9 inlined, 3 at a loop), 4 random ones
    wide = [_located(i, -2) for i in range(9)] + [_located(9 + i, 3) for i in range(3)]
    wide += [_located(20 + i, -1) for i in range(4)]
    plain = [wide[2], _located(30, -2), _located(31, -2), _located(32, -2)]
    f = _filter(_Inner([plain]), set(), left=10, widen=4, explore=0.25)
    f.first, f.first_pending = _Inner([wide]), True  # as pre_tuning sets them up for a session
    got = f.generate_measure_candidates()
    # 3 model picks (at most 2 inlined) and int(4 * 0.25) = 1 random pick, as a plain batch's share
    assert got == [wide[0], wide[1], wide[9], wide[12]]
    assert f.budget["left"] == 6 and f.given == 4
    assert {trace_key(c.sch.trace) for c in got} <= f.seen and trace_key(wide[2].sch.trace) not in f.seen
    # the next batch is the plain search's, which may propose what the first batch passed over
    assert f.generate_measure_candidates() == plain and f.given == 8


def test_hedge_picks_one_per_plan_first_then_the_best_measured_plan():
    from workbench.tuning.search import hedge_picks

    plans = ["a"] * 6 + ["b", "c", "d", "c"]
    scores = [10.0 - i for i in range(10)]  # in index order, best first
    # nothing measured: half the batch is the best candidate of each plan (in score order), the rest by score
    assert hedge_picks(plans, scores, 8, plan_best={}) == [0, 6, 7, 8, 1, 2, 3, 4]
    # measured: two picks for plans never measured (b, d), then half the rest from the plan of the fastest
    # program (c: 7 and 9), then by score
    assert hedge_picks(plans, scores, 8, plan_best={"a": 2.0, "c": 1.0}) == [6, 8, 7, 9, 0, 1, 2, 3]
    assert hedge_picks(plans[:3], scores[:3], 8, plan_best={"a": 1.0}) == [0, 1, 2]  # fewer than asked
    assert hedge_picks(["a"] * 4, scores[:4], 2, plan_best={}) == [0, 1]  # one plan: the model's order


def test_a_hedged_search_keeps_what_it_passes_over_and_focuses_on_the_plan_measured_fastest():
    from types import SimpleNamespace as NS

    # per_iter 8, widened 4x: TVM's batch of 32 is 24 model picks (20 inlined, 4 at loop 3), 8 random (root)
    wide = [_located(i, -2) for i in range(20)] + [_located(20 + i, 3) for i in range(4)]
    wide += [_located(40 + i, -1) for i in range(8)]
    late = [_located(60, -2), _located(61, -2)]  # then the search is nearly out of programs
    f = _filter(_Inner([wide, late]), set(), left=16, widen=4, explore=0.25, hedge=True)
    f.per_iter = 8
    got = f.generate_measure_candidates()
    # 6 model picks: the best of each plan for 3 (the root plan's from the random tail the batch leaves), the
    # rest by score; then int(8 * 0.25) = 2 random picks
    assert got == [wide[0], wide[20], wide[26], wide[1], wide[2], wide[3], wide[24], wide[25]]
    assert len(f.reserve) == 32 - 8 and not set(f.reserve) & f.seen
    ms = [0.004] * 8
    ms[1] = 0.001  # the loop-3 program is the fastest
    f.notify_runner_results(got, [NS(error_msg=None, run_secs=[s]) for s in ms])
    assert f.plan_best == {(-2,): 0.004, (3,): 0.001, (-1,): 0.004}
    got2 = f.generate_measure_candidates()
    # every plan measured: half the batch from loop 3's (all 3 left in the reserve), then by score, the two new
    # ones first (without a cost model, the order they came in)
    assert got2[:3] == wide[21:24] and got2[3:5] == late and len(got2) == 8
    assert f.exhausted and f.given == 16 and f.budget["left"] == 0
    assert not {trace_key(c.sch.trace) for c in got} & {trace_key(c.sch.trace) for c in got2}
    assert f.generate_measure_candidates() is None  # the budget is spent


def test_local_picks_the_best_plans_candidates_nearest_the_fastest_program():
    from workbench.tuning.search import decision_distance, decision_signature, hedge_picks

    insts = [["SamplePerfectTile", ["l0"], [], ["v0"]], ["SampleCategorical", [], [], ["v1"]],
             ["SampleComputeLocation", ["b0"], [], ["v2"]]]
    best = decision_signature([insts, [[0, [4, 8]], [1, 2], [2, 3]]])
    one_off = decision_signature([insts, [[0, [4, 8]], [1, 1], [2, 3]]])
    two_off = decision_signature([insts, [[0, [8, 4]], [1, 1], [2, 3]]])
    other = decision_signature([insts[:2], [[0, [4, 8]], [1, 2]]])  # another sketch
    assert decision_distance(best, best) == 0 and decision_distance(one_off, best) == 1
    assert decision_distance(two_off, best) == 2 and decision_distance(other, best) == float("inf")
    plans = ["a"] * 6
    scores = [10.0 - i for i in range(6)]
    near = [3.0, 2.0, 1.0, 1.0, 2.0, 0.0]
    # all plans measured, "a" the best: half of 4 from "a" nearest first (5, then 2 before 3 by score), then by score
    assert hedge_picks(plans, scores, 4, plan_best={"a": 1.0}, near=near) == [5, 2, 0, 1]
    assert hedge_picks(plans, scores, 4, plan_best={"a": 1.0}) == [0, 1, 2, 3]  # without: by score
