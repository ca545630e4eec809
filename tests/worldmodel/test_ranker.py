"""The ranker's parallel exponent: speed per busy core, learned on one machine and read back on another."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.worldmodel import Evaluator
from workbench.worldmodel.config import TrainConfig
from workbench.worldmodel.ranker import Ranker, parallel_share, relevance

NAMES = ["act:par_extent", "act:par_per_core", "act:par_balance", "f"]


def _row(par: int, threads: int, f: float) -> list[float]:
    """Features of a program of parallel extent ``par`` on ``threads`` threads, as effects.py computes them."""
    ext = math.log2(par)
    return [ext, ext - math.log2(threads), par / (threads * math.ceil(par / threads)), f]


def test_parallel_share_counts_the_busy_cores():
    x = np.array([_row(1, 2, 0), _row(2, 2, 0), _row(3, 2, 0), _row(64, 2, 0), _row(1, 1, 0), _row(8, 1, 0),
                  [math.nan, math.nan, math.nan, 0]], np.float32)
    np.testing.assert_allclose(parallel_share(x, NAMES), [1, 2, 1.5, 2, 1, 1, 1], rtol=1e-6)
    assert parallel_share(x[:, 1:], NAMES[1:]) is None  # no parallel extent among the features: no scaling


def _one_thread_training(rng):
    """Groups measured on one thread: latency 2**f, whatever the parallel extent."""
    rows, lat, groups = [], [], []
    for g in range(12):
        for _ in range(40):
            f = rng.uniform(0, 3)
            rows.append(_row(int(rng.choice([1, 2, 4, 8])), 1, f))
            lat.append(2.0 ** f * rng.uniform(0.97, 1.03))
            groups.append(f"g{g}@one-thread")
    return np.array(rows, np.float32), np.array(lat), np.array(groups, dtype=object)


@pytest.mark.parametrize("exponent, picks_parallel", [(0.0, False), (1.0, True)])
def test_the_exponent_scores_down_a_program_that_leaves_a_core_idle(exponent, picks_parallel):
    x, lat, groups = _one_thread_training(np.random.default_rng(0))
    r = Ranker(rounds=60, seed=0, feature_names=NAMES, parallel_exponent=exponent).fit(x, lat, groups)
    # On two threads: a serial program of 1 core-unit (1 us) against parallel ones of 1.4 core-units (0.7 us).
    test = np.array([_row(1, 2, 0.0), _row(4, 2, 0.5), _row(8, 2, 0.5)], np.float32)
    scores = r.predict(test)
    assert (int(np.argmax(scores)) != 0) is picks_parallel, scores


def test_training_reads_latencies_per_busy_core():
    """On two threads, a serial program of 2 us costs as many core-microseconds as a parallel one of 1 us."""
    x = np.array([_row(1, 2, 0.0), _row(2, 2, 1.0), _row(4, 2, 2.0)] * 30, np.float32)
    lat = np.array([2.0, 1.0, 4.0] * 30)
    groups = np.array(["g@two-threads"] * 90, dtype=object)
    plain = Ranker(rounds=40, seed=0, feature_names=NAMES, parallel_exponent=0).fit(x, lat, groups)
    per_core = Ranker(rounds=40, seed=0, feature_names=NAMES, parallel_exponent=1).fit(x, lat, groups)
    raw = lambda r: r.booster.predict(r._dmatrix(x[:3]))  # noqa: E731 - the trees' output before scaling
    assert raw(plain)[1] > raw(plain)[0] + 0.2  # 1 us against 2 us
    assert abs(raw(per_core)[0] - raw(per_core)[1]) < 0.05  # 2 core-us each
    # Read back on the machine: the parallel program wins again (1 us against 2 us).
    assert per_core.predict(x[:3])[1] > per_core.predict(x[:3])[0] + 0.2


def test_contributions_still_sum_to_the_scaled_score():
    x, lat, groups = _one_thread_training(np.random.default_rng(1))
    r = Ranker(rounds=30, seed=0, feature_names=NAMES, parallel_exponent=1.0).fit(x, lat, groups)
    test = np.array([_row(1, 2, 0.0), _row(4, 2, 0.5)], np.float32)
    np.testing.assert_allclose(r.contributions(test).sum(axis=1), r.predict(test), rtol=1e-4)
    np.testing.assert_allclose(r.copy().predict(test), r.predict(test))


def test_only_the_regression_objective_takes_an_exponent():
    with pytest.raises(ValueError, match="needs the regression objective"):
        Ranker(objective="pairwise", parallel_exponent=1.0)
    Ranker(objective="pairwise", parallel_exponent=0.0)
    with pytest.raises(ValueError, match="finite number"):
        Ranker(parallel_exponent=-0.5)


def test_a_saved_model_keeps_its_exponent(evaluator, small_logs, tmp_path):
    ev = evaluator.copy()
    ev.ranker.parallel_exponent = 1.0
    loaded = Evaluator.load(ev.save(tmp_path / "model"))
    assert loaded.ranker.parallel_exponent == 1.0
    np.testing.assert_array_equal(loaded.score(small_logs.head(20)), ev.score(small_logs.head(20)))


def test_labels_for_fit_and_update_are_read_per_busy_core():
    """fit and the online update both label rows with relevance of latency x busy cores ** exponent."""
    x = np.array([_row(1, 2, 0.0), _row(2, 2, 1.0), _row(4, 2, 2.0)], np.float32)
    lat, groups = np.array([2.0, 1.0, 4.0]), np.array(["g"] * 3, dtype=object)
    for exponent, scaled in ((0.0, lat), (1.0, lat * [1, 2, 2]), (0.5, lat * np.sqrt([1, 2, 2]))):
        r = Ranker(feature_names=NAMES, parallel_exponent=exponent)
        np.testing.assert_allclose(r._dmatrix(x, lat, groups).get_label(), relevance(scaled, groups), rtol=1e-6)
    r = Ranker(rounds=5, seed=0, feature_names=NAMES, parallel_exponent=1.0).fit(x, lat, groups)
    r.update(x, lat, groups, rounds=3)
    assert r.predict(x).dtype == np.float32 and np.isfinite(r.predict(x)).all()


def test_the_config_resolves_the_exponent_by_objective():
    assert TrainConfig().ranker_parallel_exponent == 0.5
    assert TrainConfig(ranker_objective="pairwise").ranker_parallel_exponent == 0.0
    assert Ranker(objective="ndcg").parallel_exponent == 0.0 and Ranker().parallel_exponent == 0.5
    for bad in ({"ranker_objective": "pairwise", "ranker_parallel_exponent": 1.0},
                {"ranker_parallel_exponent": -1.0}, {"ranker_parallel_exponent": float("nan")}):
        with pytest.raises(ValueError, match="parallel exponent"):
            TrainConfig(**bad)
    # A model saved before the exponent existed was trained without it.
    assert TrainConfig.from_saved({"ranker_rounds": 7, "gone": 1}).ranker_parallel_exponent == 0.0
    assert TrainConfig.from_saved({"ranker_parallel_exponent": 1.0}).ranker_parallel_exponent == 1.0
