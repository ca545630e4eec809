"""Ranking metrics on hand-made arrays."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from workbench.worldmodel.metrics import (
    RANKING_KEYS,
    group_metrics,
    kendall_tau,
    pairwise_accuracy,
    ranking_groups,
    summarize,
    top_k_score,
)


def test_perfect_order():
    lat = np.array([4.0, 1.0, 3.0, 2.0, 5.0])
    scores = 1.0 / lat
    assert pairwise_accuracy(scores, lat) == 1.0
    assert kendall_tau(scores, lat) == pytest.approx(1.0)
    assert top_k_score(scores, lat, 1) == 1.0


def test_reversed_order():
    lat = np.array([4.0, 1.0, 3.0, 2.0, 5.0])
    assert pairwise_accuracy(lat, lat) == 0.0
    assert kendall_tau(lat, lat) == pytest.approx(-1.0)
    assert top_k_score(lat, lat, 1) == pytest.approx(1.0 / 5.0)


def test_known_top_k():
    lat = [1.0, 2.0, 3.0, 4.0]
    scores = [0.0, 1.0, 3.0, 2.0]  # picks, best first: lat 3, 4, 2, 1
    assert top_k_score(scores, lat, 1) == pytest.approx(1 / 3)
    assert top_k_score(scores, lat, 2) == pytest.approx(1 / 3)
    assert top_k_score(scores, lat, 3) == pytest.approx(1 / 2)
    assert top_k_score(scores, lat, 10) == 1.0
    with pytest.raises(ValueError):
        top_k_score(scores, lat, 0)


def test_ties_and_nans():
    lat = [1.0, 2.0, 3.0]
    assert pairwise_accuracy([5.0, 5.0, 5.0], lat) == 0.5  # every score tie counts one half
    assert math.isnan(kendall_tau([5.0, 5.0, 5.0], lat))
    assert math.isnan(pairwise_accuracy([1.0, 2.0], [3.0, 3.0]))  # no pair with different latencies
    # A failed measurement (NaN latency) is dropped, whatever its score.
    assert pairwise_accuracy([3.0, 2.0, 1.0, 9.0], [1.0, 2.0, 3.0, math.nan]) == 1.0
    assert top_k_score([3.0, 2.0, 1.0, 9.0], [1.0, 2.0, 3.0, math.nan], 1) == 1.0


def test_pairwise_matches_brute_force():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties on both sides
    lat = rng.integers(1, 8, 60).astype(float)
    right = total = 0.0
    for i, j in itertools.combinations(range(60), 2):
        if lat[i] == lat[j]:
            continue
        total += 1
        faster, slower = (i, j) if lat[i] < lat[j] else (j, i)
        right += 1.0 if scores[faster] > scores[slower] else 0.5 if scores[faster] == scores[slower] else 0.0
    assert pairwise_accuracy(scores, lat) == pytest.approx(right / total)


def test_group_metrics_and_summary():
    df = pd.DataFrame({
        "subgraph": ["a"] * 4 + ["b"] * 3 + ["c"],
        "latency": [1.0, 2.0, 3.0, math.nan, 2.0, 2.0, 2.0, 1.0],
        "score": [3.0, 2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 1.0],
    })
    per = group_metrics(df, "score")
    assert list(per.index) == ["a", "b", "c"]
    assert per.loc["a", "n"] == 3 and per.loc["a", "pairwise"] == 1.0 and per.loc["a", "top1"] == 1.0
    assert per.loc["b", "n"] == 3 and math.isnan(per.loc["b", "pairwise"])  # one distinct latency
    assert per.loc["c", "n"] == 1 and math.isnan(per.loc["c", "top5"])
    summary = summarize(per)
    assert summary["groups"] == 1 and summary["skipped"] == 2
    assert summary["pairwise"] == 1.0 and summary["top1_gmean"] == 1.0


def test_geometric_mean_of_top_k():
    df = pd.DataFrame({"subgraph": ["a", "a", "b", "b"], "latency": [1.0, 2.0, 1.0, 4.0],
                       "score": [0.0, 1.0, 1.0, 0.0]})
    summary = summarize(group_metrics(df, "score"))
    assert summary["top1"] == pytest.approx(0.75)  # (0.5 + 1) / 2
    assert summary["top1_gmean"] == pytest.approx(math.sqrt(0.5))


def test_ranking_groups_keep_machines_apart():
    # One subgraph measured on two machines, the second 10x slower: pooled, the model that ranks each machine's
    # records perfectly would look wrong (it puts a slow machine's record first).
    df = pd.DataFrame({"subgraph": ["a"] * 4 + ["b"], "machine": ["m1", "m1", "m2", "m2", None],
                       "latency": [1.0, 2.0, 10.0, 20.0, 1.0], "score": [2.0, 1.0, 4.0, 3.0, 0.0]})
    assert list(ranking_groups(df)) == ["a@m1", "a@m1", "a@m2", "a@m2", "b"]
    assert group_metrics(df, "score").loc["a", "top1"] == pytest.approx(0.1)
    per = group_metrics(df, "score", group_col=RANKING_KEYS)
    assert per.index.names == RANKING_KEYS and len(per) == 3
    assert per.loc[("a", "m1"), "top1"] == 1.0 and per.loc[("a", "m2"), "top1"] == 1.0
    # Without a machine column the hardware dicts give it; without either, groups are the subgraphs.
    hw = df.drop(columns="machine").assign(hardware=[{"id": "m1"}] * 2 + [{"id": "m2"}] * 2 + [None])
    assert list(ranking_groups(hw)) == list(ranking_groups(df))
    assert list(ranking_groups(df[["subgraph"]])) == ["a"] * 4 + ["b"]


def test_draft_then_verify_reorders_only_the_drafts_top_k_of_each_group():
    from workbench.worldmodel.evaluate import draft_then_verify

    test = pd.DataFrame({"subgraph": ["a"] * 5 + ["b"] * 3, "machine": ["m"] * 8})
    draft = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 3.0, 2.0])
    verify = np.array([0.0, 1.0, 9.0, 8.0, 7.0, 9.0, 0.0, 5.0])
    scores = draft_then_verify(test, draft, verify, 3)
    order_a = list(np.argsort(-scores[:5]))
    # a: the draft's top 3 (records 0, 1, 2) re-ordered by the verifier (2, 1, 0), then the draft's rest (3, 4);
    # the verifier's high scores of 3 and 4 never lift them above the verified top.
    assert order_a == [2, 1, 0, 3, 4]
    # b: k covers the whole group, so the verifier alone orders it.
    assert list(5 + np.argsort(-scores[5:])) == [5, 7, 6]
    assert list(np.argsort(-draft_then_verify(test, draft, verify, 1)[:5])) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match=">= 1"):
        draft_then_verify(test, draft, verify, 0)
    with pytest.raises(ValueError, match="verifier scores"):
        draft_then_verify(test, draft, verify[:4], 2)
