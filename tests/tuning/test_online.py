"""Online adaptation: each model trusted as far as it predicted the run's batches before it saw them."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.tuning.online import OnlineBlend, pairwise_counts


def test_pairwise_counts_within_groups():
    scores = np.array([3.0, 2.0, 1.0, 5.0, 1.0])
    latency = np.array([1.0, 2.0, 3.0, 1.0, 2.0])  # higher score = faster: the first group is ordered right
    groups = ["a", "a", "a", "b", "b"]
    assert pairwise_counts(scores, latency, groups) == (4, 4)
    assert pairwise_counts(-scores, latency, groups) == (0, 4)
    assert pairwise_counts(scores, np.array([1.0, 1.0, 1.0, 2.0, 2.0]), groups) == (0, 0)  # ties are not pairs


def _batches(rng, n_batches=6, size=16, dims=6):
    w = rng.normal(size=dims)
    for _ in range(n_batches):
        x = rng.normal(size=(size, dims)).astype(np.float32)
        latency = np.exp(-(x @ w) * 0.5)  # faster where x . w is large
        yield x, latency, x @ w


def test_a_wrong_prior_is_overruled_by_the_run_s_own_model():
    rng = np.random.default_rng(0)
    blend = OnlineBlend(seed=0)
    records = []
    *batches, fresh = _batches(rng, n_batches=7)
    for x, latency, truth in batches:
        prior = -truth  # a prior that gets this subgraph exactly backwards
        blend.scores(x, prior)  # the search scores a population before the batch is measured
        records.append(blend.observe(x, prior, latency, ["task"] * len(x)))
    assert records[0]["weights"] == [0.5, 0.0] and records[0]["online"] is None
    assert all(r["prior_pairwise"] == 0.0 for r in records)
    assert blend.skill("prior") == 0.0 and blend.skill("online") > 0.3
    w_prior, w_online = blend.weights()
    assert w_online > 0.3 and w_prior == 0.0
    # The blend now orders a fresh batch as the run's model does, not as the prior.
    x, latency, truth = fresh
    good, total = pairwise_counts(blend.scores(x, -truth), latency, ["task"] * len(x))
    assert good / total > 0.65
    assert (blend.scores(x, -truth) > 0).all()  # the search draws parents in proportion to them


def test_a_good_prior_keeps_its_weight_and_scores_share_a_scale_within_a_round():
    rng = np.random.default_rng(2)
    blend = OnlineBlend(seed=0, learn=False)
    for x, latency, truth in _batches(rng, n_batches=3):
        blend.scores(x, truth)
        blend.observe(x, truth, latency, ["t"] * len(x))
    assert blend.skill("prior") == pytest.approx(1.0) and blend.weights() == (1.0, 0.0)
    first = np.array([0.0, 1.0, 2.0])
    a = blend.scores(np.zeros((3, 6)), first)  # the round's first population sets the scale...
    b = blend.scores(np.zeros((3, 6)), first + 1.0)  # ...so a better population scores higher, not the same
    assert (b > a).all()
