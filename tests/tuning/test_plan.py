"""Search that plans in the world model's space: decision vectors proposed and scored, only the best built."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from workbench.logs import load_logs
from workbench.tuning import TuningError, TuningRun
from workbench.tuning.vectors import factor_moves, move_factor, random_tiles, retile


def test_tile_factorizations_are_exact():
    rng = random.Random(0)
    for extent, parts, inner in ((128, 4, 64), (56, 4, 16), (3, 2, 64), (1, 4, 64), (97, 2, 64)):
        for _ in range(50):
            tiles = random_tiles(extent, parts, inner, rng)
            assert tiles is not None and math.prod(tiles) == extent and len(tiles) == parts and tiles[-1] <= inner
            moved = move_factor(tiles, inner, rng)
            assert moved is None or (math.prod(moved) == extent and moved[-1] <= inner and len(moved) == parts)
    assert random_tiles(97, 2, 8, random.Random(1)) == [97, 1]  # a prime larger than the cap goes outer


def test_factor_moves_are_every_one_prime_move():
    # 12 = 2*2*3 in (2, 6): move a 2 out of the first, or a 2 or the 3 out of the second.
    assert set(factor_moves((2, 6), 0)) == {(1, 12), (4, 3), (6, 2)}
    assert set(factor_moves((2, 6), 4)) == {(4, 3), (6, 2)}  # innermost capped at 4
    assert factor_moves((1, 1, 1), 0) == () and move_factor((1, 1), 0, random.Random(0)) is None
    assert factor_moves((97, 1), 8) == ()  # the prime cannot go inner: nowhere to move
    table = factor_moves((4, 2, 8), 16)
    moves = set(table)
    assert len(table) == len(moves) and all(math.prod(m) == 64 and m[-1] <= 16 for m in moves)  # distinct
    rng = random.Random(3)
    assert {tuple(move_factor((4, 2, 8), 16, rng)) for _ in range(400)} == moves  # every move is drawn


@pytest.mark.slow
def test_plan_run_measures_every_candidate_once_and_resumes(tmp_path):
    work_dir = tmp_path / "run"
    run = TuningRun("matmul_128", trials=16, trials_per_iter=8, cost_model="world", strategy="plan",
                    work_dir=work_dir, confirm=0, seed=1)
    run.run(progress=False)
    assert run.status == "done" and run.measured == 16
    df = load_logs(work_dir, progress=False)
    assert len(df) == 16 and df["trace_key"].is_unique and set(df["source"]) == {"tune:world"}
    sessions = run.run_file.saved()["sessions"]
    assert sessions[-1]["cost_model"]["predicted"] >= 10 * 16  # scored many more than it built
    resumed = TuningRun("matmul_128", trials=32, trials_per_iter=8, cost_model="world", strategy="plan",
                        work_dir=work_dir, confirm=0, seed=1)
    resumed.run(progress=False)
    df = load_logs(work_dir, progress=False)
    assert len(df) == 32 and df["trace_key"].is_unique  # nothing measured twice across sessions
    rounds = resumed.rounds()
    assert len(rounds) == 4 and all(r["scored"] > r["built"] > 0 for r in rounds["plan"])


def _plan_search(**kwargs):
    """A plan search over matmul_128's design space, set up as MetaSchedule sets it up (nothing measured)."""
    from tvm.s_tir import meta_schedule as ms

    from workbench._tvm import ensure_intrinsics
    from workbench.hardware import make_target
    from workbench.subgraphs import load_subgraph
    from workbench.tuning.cost_model import world_cost_model
    from workbench.tuning.plan import PlanSearch

    sub = load_subgraph("matmul_128")
    cm = kwargs.pop("cost_model", None) or world_cost_model()
    search = PlanSearch(cost_model=cm, seed_samples=8, **kwargs)
    target = make_target("cpu")
    ensure_intrinsics(target)
    ctx = ms.TuneContext(mod=sub.mod, target=target, space_generator="post-order-apply",
                         task_name=sub.name, num_threads=1)
    search._initialize_with_tune_context(ctx)
    search.pre_tuning(8, 8, ctx.generate_design_space(), None, cm)
    return search


@pytest.mark.slow
def test_an_invalid_decision_vector_is_a_recorded_rejection(tmp_path):
    search = _plan_search(population=64)
    sk = search.sketches[0]
    k = sk.kinds.index("SamplePerfectTile")
    good = next(v for v in iter(search._random_vector, "never") if v is not None and v[0] == sk.index)
    bad = list(good[1])
    bad[k] = tuple([sk.extents[k] + 1] + [1] * (len(bad[k]) - 1))  # not a factorization of the loop
    assert search._build(sk.index, tuple(bad)) is None
    zero = list(good[1])
    zero[k] = tuple([0] * len(zero[k]))  # nothing TVM could split by
    assert search._build(sk.index, tuple(zero)) is None
    c = sk.kinds.index("SampleCategorical")
    odd = list(good[1])
    odd[c] = sk.choices[c] + 5  # a choice the instruction does not have: TVM itself refuses it
    assert search._build(sk.index, tuple(odd)) is None
    assert {(sk.index, tuple(bad)), (sk.index, tuple(zero)), (sk.index, tuple(odd))} <= search.state.invalid
    assert search.state.stats["rejected"] == 3
    batch = search.generate_measure_candidates()
    assert batch and len(batch) == 8


class _Verifier:
    """A verifier that likes the candidates built last best; it keeps what it was shown."""

    def __init__(self):
        self.shown: list[list] = []

    def predict(self, context, candidates):
        self.shown.append(list(candidates))
        return np.arange(len(candidates), dtype="float64")


@pytest.mark.slow
def test_a_verifier_picks_the_batch_from_the_world_models_best_k():
    from workbench.tuning.cost_model import VerifiedCostModel, world_cost_model

    verifier = _Verifier()
    verified = VerifiedCostModel(world_cost_model(), verifier, k=12)
    search = _plan_search(population=64, explore=0.0, cost_model=verified)
    assert search.verifier is verifier and search.verify_k == 12 and hasattr(search.cost_model, "blend")
    batch = search.generate_measure_candidates()
    assert len(verifier.shown) == 1 and len(verifier.shown[0]) == 12  # the world model's best 12, built
    drafted = verifier.shown[0]
    assert batch == [drafted[i] for i in range(11, 3, -1)]  # the verifier's best 8, in its order
    assert search.state.last_round["verified"] == 12 and search.state.last_round["built"] == 8
    # The run's cost model reports the planner's work as its own (the session's candidates scored).
    assert verified.stats["verified"] == 12 and verified.stats["predicted"] == search.state.stats["scored"] > 12
    assert search._inst.clone().verifier is verifier  # a clone (the Python object's) drafts for the same verifier
    # The 4 built but not measured may be proposed again; the 8 in the batch never.
    kept = [v for v in search.state.proposed if v not in search.state.invalid]
    assert len(kept) == 8
    with pytest.raises(ValueError, match="verifier's own order"):
        _plan_search(cost_model=VerifiedCostModel(world_cost_model(), verifier, k=None, mix=True))


def test_plan_needs_the_world_model(tmp_path):
    with pytest.raises(TuningError, match="plan strategy searches with the world model"):
        TuningRun("matmul_128", cost_model="xgb", strategy="plan", work_dir=tmp_path / "x")
    run = TuningRun("matmul_128", cost_model="world_verify", strategy="transfer", work_dir=tmp_path / "v")
    assert run.cost_model_spec == "world_verify"  # the world model drafts, its verifier picks
    with pytest.raises(TuningError, match="unknown search strategy"):
        TuningRun("matmul_128", strategy="annealing", work_dir=tmp_path / "y")


@pytest.mark.slow
def test_plan_proposes_in_families_and_moves_them_whole():
    """Vectors of one sketch with the same categorical values and compute locations (a family) share one
    compiled plan: random families come whole, a tile mutation stays in its family, a move changes one of those
    decisions for the family's best members at once and keeps their tile sizes."""
    search = _plan_search(population=64, family=8, moves=4)._inst  # the Python object behind TVM's wrapper

    def fixed(v):
        return tuple(v[1][k] for k in search.sketches[v[0]].fixed)

    def tiles(v):
        return tuple(v[1][k] for k in search.sketches[v[0]].tiles)

    fam = search._random_family()
    assert len(fam) >= 2 and len({(v[0], fixed(v)) for v in fam}) == 1 and len({tiles(v) for v in fam}) > 1
    mutants = [m for m in (search._mutate(*fam[0]) for _ in range(20)) if m is not None]
    assert mutants and all(fixed(m) == fixed(fam[0]) and m[0] == fam[0][0] for m in mutants)
    assert any(tiles(m) != tiles(fam[0]) for m in mutants)
    moved = search._move(fam)
    assert moved, "a family with a categorical choice and compute locations can move"
    assert len({(v[0], fixed(v)) for v in moved}) == 1 and fixed(moved[0]) != fixed(fam[0])
    assert [tiles(v) for v in moved] == [tiles(v) for v in fam[: len(moved)]]
    ranked = search._plan_round()
    assert len(ranked) > 64 and search.state.stats["scored"] >= len(ranked)


def test_plan_search_checks_its_settings():
    from workbench.tuning.plan import PlanSearch

    for bad in ({"family": 0}, {"moves": -1}, {"population": 2}, {"materialize": 0}):
        with pytest.raises(ValueError, match="plan search: population >= 4"):
            PlanSearch(**bad)
    for bad in ({"beam": -1}, {"beam_width": 0}, {"beam_expand": 0}):
        with pytest.raises(ValueError, match="plan search: beam >= 0"):
            PlanSearch(**bad)
    with pytest.raises(ValueError, match="plan search: transfer >= 0"):
        PlanSearch(transfer=-1)
    with pytest.raises(ValueError, match=r"plan search: warm_share in \[0, 1\]"):
        PlanSearch(warm_share=1.5)


def test_beam_stages_group_decisions_by_the_first_step_they_reach():
    from types import SimpleNamespace

    from workbench.tuning.beam import decision_stages
    from workbench.worldmodel.features import N_PARAMS

    # Three steps; tile decisions of sizes 2, 1, 2 (five columns): the first reaches step 2, the second step 0,
    # the third steps 0 and 1 (its first is 0, as the second's), and no step reads a fourth of size 1.
    w = np.zeros((3, N_PARAMS, 6))
    w[2, 0, 0], w[0, 1, 2], w[1, 0, 3], w[0, 2, 4] = 1.0, 1.0, 1.0, -1.0
    cp = SimpleNamespace(tokens=[1, 2, 3], params_w=w.reshape(3 * N_PARAMS, 6), tile_shapes=[2, 1, 2, 1])
    assert decision_stages(cp) == [([1, 2], 2), ([0], 3), ([3], 3)]
    none = SimpleNamespace(tokens=[1, 2], params_w=np.zeros((2 * N_PARAMS, 0)), tile_shapes=[])
    assert decision_stages(none) == []  # no tile decision: nothing to beam (softmax's sketches)


def test_a_fresh_factorization_keeps_the_product_where_the_sketch_never_learned_the_extent():
    from types import SimpleNamespace

    # Extent 0: the sketch's own trace left this tile undecided; a base read from a measured record has (6, 4).
    sk = SimpleNamespace(extents=[0, 24], max_inner=[0, 0])
    rng = random.Random(0)
    for k in (0, 1):
        for _ in range(100):
            fresh = retile(sk, k, (6, 4), rng, move_share=0.0)
            assert fresh is not None and math.prod(fresh) == 24 and len(fresh) == 2
            moved = retile(sk, k, (6, 4), rng, move_share=1.0)
            assert moved is not None and math.prod(moved) == 24 and tuple(moved) != (6, 4)


def test_a_beam_whose_children_are_all_refused_keeps_its_base():
    from types import SimpleNamespace

    from workbench.tuning.beam import beam_family
    from workbench.worldmodel.features import N_PARAMS

    # Two stages (decision 1, then 0; see the stage grouping test). Every child is refused: the first stage
    # keeps nothing new, and the second must still start from the beam it had (it divided by zero before, and
    # crashed a beam run of conv2d_transpose_4x4x512 in benchmarks/results/tune_search_beam5.md).
    w = np.zeros((3, N_PARAMS, 3))
    w[2, 0, 0], w[0, 1, 2] = 1.0, 1.0
    cp = SimpleNamespace(tokens=[1, 2, 3], params_w=w.reshape(3 * N_PARAMS, 3), tile_shapes=[2, 1])
    sk = SimpleNamespace(tiles=[0, 1], extents=[16, 1], max_inner=[0, 0])
    base = ((4, 4), (1,))
    kept, scored = beam_family(sk, base, cp, np.zeros(4), transition=None, width=4, expand=2,
                               rng=random.Random(0), skip=lambda v: True)
    assert kept == [base] and scored == 0


def test_a_beam_keeps_its_prefixes_apart_from_the_decisions_no_step_reads():
    from types import SimpleNamespace

    from workbench.tuning.beam import beam_family
    from workbench.worldmodel.features import N_PARAMS

    # Decision 0 (extent 64) reaches step 0; no step reads decision 1 (extent 64). A stand-in value head rates
    # a prefix by its first tile (log2): the beam must keep ``width`` distinct prefixes, each as it is and with
    # one draw of the unread decision; scoring it too kept only the best prefix's children (ties).
    class Head:
        @staticmethod
        def final(batch):
            return batch.params[:, 0, 0]

        @staticmethod
        def values(z):
            return z

    w = np.zeros((2, N_PARAMS, 4))
    w[0, 0, 0] = 1.0
    cp = SimpleNamespace(tokens=[1, 2], params_w=w.reshape(2 * N_PARAMS, 4), params0=np.zeros(2 * N_PARAMS),
                         tile_shapes=[2, 2])
    sk = SimpleNamespace(tiles=[0, 1], extents=[64, 64], max_inner=[0, 0])
    base = ((8, 8), (8, 8))
    for seed in range(5):
        rng = random.Random(seed)
        kept, scored = beam_family(sk, base, cp, np.zeros(4), Head(), width=4, expand=8, rng=rng)
        prefixes = {d[0] for d in kept}
        assert len(prefixes) == 4 and scored > 4
        assert 4 < len(kept) <= 8 and len(set(kept)) == len(kept)
        assert all(math.prod(d[0]) == 64 and math.prod(d[1]) == 64 for d in kept)


@pytest.mark.slow
def test_beam_stages_follow_the_rollout_and_prune_by_the_value_head():
    """Each tile decision sits in one stage, stages in step order; a prefix's value does not move with the
    decisions of later stages; the beam keeps the prefixes the value head rates best, all in the base's family."""
    from workbench.tuning.beam import beam_family, decision_stages, prefix_values
    from workbench.tuning.vectors import compiled_for

    search = _plan_search(population=64)._inst
    cm = search.cost_model
    info, z0 = cm.evaluator.program_info(search.context.mod), cm.evaluator.encode_initial(search.context.mod)
    sk_i, base = next(v for v in search.seeds if len(search.sketches[v[0]].tiles) >= 2)
    sk = search.sketches[sk_i]
    cp = compiled_for(info, sk, base, search._compiled)
    stages = decision_stages(cp)
    assert sorted(j for group, _ in stages for j in group) == list(range(len(sk.tiles)))
    ends = [end for _, end in stages]
    assert ends == sorted(ends) and ends[-1] == len(cp.tokens)
    rng = random.Random(0)
    (first, end), later = stages[0], [j for group, _ in stages[1:] for j in group]
    others = [random_decisions_in(sk, base, later, rng) for _ in range(6)]
    v = prefix_values(cp, sk, [base, *others], z0, cm.evaluator.transition, end)
    assert np.allclose(v, v[0], atol=1e-5), "a later stage's decisions reached the prefix's state"
    changed = [random_decisions_in(sk, base, first, rng) for _ in range(12)]
    assert len(set(prefix_values(cp, sk, changed, z0, cm.evaluator.transition, end).round(5))) > 1
    kept, scored = beam_family(sk, base, cp, z0, cm.evaluator.transition, width=8, expand=4, rng=rng)
    assert 0 < len(kept) <= 8 and scored > 8
    assert all(sk.family(d) == sk.family(base) for d in kept)
    assert all(math.prod(d[k]) == sk.extents[k] for d in kept for k in sk.tiles)
    # The value head rates the kept vectors' full prefixes above random ones of the family.
    rand = [random_decisions_in(sk, base, list(range(len(sk.tiles))), rng) for _ in range(64)]
    full = len(cp.tokens)
    kept_v = prefix_values(cp, sk, kept, z0, cm.evaluator.transition, full)
    assert np.median(kept_v) > np.median(prefix_values(cp, sk, rand, z0, cm.evaluator.transition, full))


def random_decisions_in(sk, base, tile_indices, rng):
    """``base`` with fresh tile factorizations for the tile decisions ``tile_indices`` (indices into sk.tiles)."""
    out = list(base)
    for j in tile_indices:
        k = sk.tiles[j]
        out[k] = tuple(random_tiles(sk.extents[k], len(out[k]), sk.max_inner[k], rng))
    return tuple(out)


@pytest.mark.slow
def test_beam_run_scores_prefixes_measures_once_and_resumes(tmp_path):
    work_dir = tmp_path / "beam"
    run = TuningRun("matmul_128", trials=16, trials_per_iter=8, cost_model="world", strategy="beam",
                    work_dir=work_dir, confirm=0, seed=2)
    run.run(progress=False)
    assert run.status == "done" and run.measured == 16
    resumed = TuningRun("matmul_128", trials=24, trials_per_iter=8, cost_model="world", strategy="beam",
                        work_dir=work_dir, confirm=0, seed=2)
    resumed.run(progress=False)
    df = load_logs(work_dir, progress=False)
    assert len(df) == 24 and df["trace_key"].is_unique  # nothing measured twice across sessions
    plans = [p for p in resumed.rounds()["plan"] if isinstance(p, dict)]
    assert len(plans) == 3 and all(p["prefixes"] > 0 and p["beamed"] > 0 and p["built"] > 0 for p in plans)
    from workbench.views import plan_table

    table = plan_table(resumed.rounds())  # the dashboard's per-batch table shows what the beam did
    assert list(table.columns[-2:]) == ["prefixes", "beamed"] and (table["prefixes"] > 0).all()
