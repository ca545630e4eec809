"""Draft then verify as a MetaSchedule cost model: the verifier sees only the draft's best few."""

from __future__ import annotations

import numpy as np
import pytest


class _Scores:
    """A cost model scoring candidate i as ``table[i]``; it keeps what it was asked and shown."""

    def __init__(self, table):
        self.table = table
        self.asked: list[list[int]] = []
        self.updates = 0

    def predict(self, context, candidates):
        self.asked.append(list(candidates))
        return np.array([self.table[c] for c in candidates], dtype=float)

    def update(self, context, candidates, results):
        self.updates += 1


def test_the_verifier_reorders_only_the_drafts_top_k_and_both_see_each_batch():
    from workbench.tuning.cost_model import VerifiedCostModel

    draft = _Scores({0: 5.0, 1: 4.0, 2: 3.0, 3: 2.0, 4: 1.0})
    verifier = _Scores({0: 0.0, 1: 1.0, 2: 9.0, 3: 8.0, 4: 7.0})
    model = VerifiedCostModel(draft, verifier, k=3)._inst  # the Python object behind TVM's wrapper
    scores = model.predict(None, [0, 1, 2, 3, 4])
    # The verifier is asked about the draft's top 3 only; its high scores of 3 and 4 never lift them.
    assert verifier.asked == [[0, 1, 2]]
    assert list(np.argsort(-scores)) == [2, 1, 0, 3, 4]
    assert (scores > 0).all()  # MetaSchedule draws parents in proportion to the scores
    assert model.stats["predicted"] == 5 and model.stats["verified"] == 3
    assert len(model.predict(None, [])) == 0
    model.update(None, [0], [None])
    assert draft.updates == verifier.updates == 1
    with pytest.raises(ValueError, match=">= 1"):
        VerifiedCostModel(draft, verifier, k=0)


def test_mixed_verification_ranks_by_the_mean_of_both_rank_orders():
    from workbench.tuning.cost_model import VerifiedCostModel

    draft = _Scores({0: 5.0, 1: 4.0, 2: 3.0, 3: 2.0, 4: 1.0})
    verifier = _Scores({0: 0.0, 1: 9.0, 2: 8.0, 3: 7.0, 4: 7.0})
    model = VerifiedCostModel(draft, verifier, k=None, mix=True)._inst
    scores = model.predict(None, [0, 1, 2, 3, 4])
    assert verifier.asked == [[0, 1, 2, 3, 4]]  # k=None: the verifier scores every candidate
    # Rank sums (0: worst, 4: best): 0 -> 4+0, 1 -> 3+4, 2 -> 2+3, 3 -> 1+1.5, 4 -> 0+1.5 (the tie shares it).
    assert list(np.argsort(-scores)) == [1, 2, 0, 3, 4]
    assert (scores >= 1).all() and (scores <= 2).all()
    # Inside a top k only: the verified top keeps the mixed order above the rest in the draft's.
    top2 = VerifiedCostModel(draft, _Scores({0: 0.0, 1: 9.0, 2: 8.0, 3: 99.0, 4: 99.0}), k=2, mix=True)._inst
    assert list(np.argsort(-top2.predict(None, [0, 1, 2, 3, 4]), kind="stable")) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="or None"):
        VerifiedCostModel(draft, verifier, k=-1, mix=True)


class _Result:
    def __init__(self, latency):
        self.error_msg, self.run_secs = None, [latency]


class _OnlineDraft(_Scores):
    """A draft with an online model (a real OnlineBlend whose model is a stand-in) scoring i as ``online[i]``."""

    def __init__(self, table, online):
        from workbench.tuning.online import OnlineBlend

        super().__init__(table)
        self.online, self.blend, self.online_last, self.round_info = online, OnlineBlend(), None, {}

    def predict(self, context, candidates):
        self.online_last = None if self.blend.model is None else np.array([self.online[c] for c in candidates])
        return super().predict(context, candidates)


def test_the_runs_own_model_overrules_the_verifier_inside_the_top_as_far_as_it_predicted_better():
    from workbench.tuning.cost_model import VerifiedCostModel

    draft = _OnlineDraft({0: 5.0, 1: 4.0, 2: 3.0, 3: 2.0, 4: 1.0}, {0: 9.0, 1: 2.0, 2: 0.0, 3: 99.0, 4: 99.0})
    verifier = _Scores({0: 0.0, 1: 1.0, 2: 9.0, 3: 8.0, 4: 7.0})
    model = VerifiedCostModel(draft, verifier, k=3, online=True)._inst
    # No online model yet: the verifier's order, as world_verify; nothing judged.
    assert list(np.argsort(-model.predict(None, [0, 1, 2, 3, 4]))) == [2, 1, 0, 3, 4]
    model.update(None, [0, 1, 2], [_Result(1.0), _Result(2.0), _Result(3.0)])
    assert model.verifier_pairs == [0, 0] and model.weights() == (0.5, 0.0)
    # Once the online model exists, each measured batch judges the verifier before anything trains on it:
    # here it ordered all three pairs the wrong way round (skill 0), the online model half its pairs (skill 0.5).
    draft.blend.model = object()
    draft.blend.pairs["online"] = [3, 4]
    model.update(None, [0, 1, 2], [_Result(1.0), _Result(2.0), _Result(3.0)])
    assert model.verifier_pairs == [0, 3] and model.weights() == (0.0, 0.5)
    # ... and the batch's record (workbench_rounds.json) says so.
    assert draft.round_info[""] == {"verifier_pairwise": 0.0, "verifier_weights": [0.0, 0.5]}
    scores = model.predict(None, [0, 1, 2, 3, 4])
    # The top 3 in the online model's order; its high scores of 3 and 4 never lift them above the top.
    assert list(np.argsort(-scores)) == [0, 1, 2, 3, 4] and (scores > 0).all()
    # A verifier as skilled as the online model shares the order: z-scores summed.
    model.verifier_pairs = [3, 4]
    scores = model.predict(None, [0, 1, 2, 3, 4])
    assert list(np.argsort(-scores)) == [0, 2, 1, 3, 4]
    # Without online=True the online model is never consulted.
    plain = VerifiedCostModel(draft, verifier, k=3)._inst
    assert list(np.argsort(-plain.predict(None, [0, 1, 2, 3, 4]))) == [2, 1, 0, 3, 4]
    with pytest.raises(ValueError, match="choose one"):
        VerifiedCostModel(draft, verifier, k=3, mix=True, online=True)


def test_a_verifier_that_drops_featureless_candidates_or_never_retrains():
    from workbench.tuning.cost_model import VerifiedCostModel

    class _Short(_Scores):  # as XGBModel's pack-sum: trailing candidates without a store feature get no score
        def predict(self, context, candidates):
            return super().predict(context, candidates)[:-1]

    draft = _Scores({0: 3.0, 1: 2.0, 2: 1.0})
    verifier = _Short({0: 1.0, 1: 5.0, 2: 9.0})
    model = VerifiedCostModel(draft, verifier, k=2, update_verifier=False)._inst
    scores = model.predict(None, [0, 1, 2])
    assert list(np.argsort(-scores)) == [0, 1, 2]  # the draft's second had no verifier score: it counts as 0
    model.update(None, [0], [None])
    assert draft.updates == 1 and verifier.updates == 0


def test_world_verify_needs_the_verifier_beside_the_world_model(tmp_path):
    from workbench.tuning import TuningError, TuningRun
    from workbench.tuning.cost_model import cost_model_problem, verifier_dir
    from workbench.worldmodel import Evaluator, ModelFileError, default_model_dir, load_default

    with pytest.raises(TuningError, match="no verifier beside the world model.*workbench verifier"):
        TuningRun("matmul_128", cost_model="world_verify", evaluator=tmp_path / "model", work_dir=tmp_path / "a")
    shipped = load_default("cpu")
    assert shipped.source == default_model_dir("cpu") and shipped.copy().source == shipped.source
    assert verifier_dir(shipped) == verifier_dir(None) == default_model_dir("cpu") / "verifier"  # the shipped one
    built = Evaluator(shipped.encoder, shipped.transition, shipped.ranker, shipped.config)  # from no directory
    with pytest.raises(ModelFileError, match="not loaded from a directory"):
        verifier_dir(built)
    saved = Evaluator.load(built.save(tmp_path / "model"))
    assert saved.source == tmp_path / "model" and "no verifier" in cost_model_problem("world_verify", saved)


def test_a_run_that_names_no_cost_model_drafts_then_verifies_where_it_can_and_a_resumed_run_keeps_its_own(tmp_path):
    from workbench.tuning import TuningRun
    from workbench.tuning.cost_model import default_cost_model
    from workbench.tuning.run import WORLD_EXPLORE
    from workbench.worldmodel import Evaluator, load_default

    assert default_cost_model() == "world_verify"  # the shipped CPU model has its verifier
    assert default_cost_model(strategy="hedge") == default_cost_model(strategy="local") == "world_verify"
    assert default_cost_model(strategy="plan") == default_cost_model(target="cuda") == "world"
    shipped = load_default("cpu")
    bare = Evaluator(shipped.encoder, shipped.transition, shipped.ranker, shipped.config).save(tmp_path / "model")
    assert default_cost_model(bare) == default_cost_model(Evaluator.load(bare)) == "world"  # no verifier beside it
    in_memory = Evaluator(shipped.encoder, shipped.transition, shipped.ranker, shipped.config)
    assert default_cost_model(in_memory) == "world"  # from no directory: no verifier to find
    new = TuningRun("matmul_128", work_dir=tmp_path / "new", confirm=0)
    assert new.config.cost_model == "world_verify" and new.explore == WORLD_EXPLORE
    assert TuningRun("matmul_128", work_dir=tmp_path / "p", strategy="plan").config.cost_model == "world"
    older = TuningRun("matmul_128", cost_model="world", work_dir=tmp_path / "old", confirm=0)
    (tmp_path / "old").mkdir()
    older.run_file.begin_session(0)  # a run of an earlier session, saved with the plain world model
    assert default_cost_model(work_dir=tmp_path / "old") == "world"
    assert TuningRun("matmul_128", work_dir=tmp_path / "old", confirm=0).config.cost_model == "world"
    xgb = TuningRun("matmul_128", cost_model="xgb", work_dir=tmp_path / "xgb", confirm=0)
    (tmp_path / "xgb").mkdir()
    xgb.run_file.begin_session(0)
    resumed = TuningRun("matmul_128", work_dir=tmp_path / "xgb", confirm=0)
    assert resumed.config.cost_model == "xgb" and resumed.explore is None  # MetaSchedule's own share, as before
