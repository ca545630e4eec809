"""Shared world-model fixtures: a slice of the real sample logs, its replayed traces, a tiny trained evaluator."""

from __future__ import annotations

import pytest

from workbench.testing import sample_records, tiny_evaluator
from workbench.worldmodel import TfidfEncoder
from workbench.worldmodel.train import replay_trajectories


@pytest.fixture(scope="session")
def small_logs():
    # 40 real records per subgraph of workbench.testing.SMALL_SUBGRAPHS keep training quick.
    return sample_records()


@pytest.fixture(scope="session")
def replayed(small_logs):
    return replay_trajectories(small_logs, 3, seed=0, progress=False)


@pytest.fixture(scope="session")
def tfidf(replayed):
    initial, trajs = replayed
    groups = {g: [t] for g, t in initial.items()}
    for tr in trajs:
        groups[tr.group].extend(tr.texts)
    enc = TfidfEncoder(dim=16, seed=0)
    enc.fit(groups)
    return enc, groups


@pytest.fixture(scope="session")
def evaluator(small_logs):
    return tiny_evaluator(small_logs)
