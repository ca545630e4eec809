"""Training the world model on real replayed traces and measured records; what a checkpoint records."""

from __future__ import annotations

import json
from dataclasses import asdict, fields

import numpy as np

from workbench.testing import SMALL_SUBGRAPHS as SMALL
from workbench.worldmodel import Evaluator, TrainConfig
from workbench.worldmodel.metrics import pairwise_accuracy
from workbench.worldmodel.train import fit_world


def test_fit_world_is_deterministic(small_logs):
    cfg = TrainConfig(encoder="tfidf", latent_dim=8, replay_traces=2, transition_epochs=2)
    runs = [fit_world(small_logs, cfg, progress=False, log=lambda _: None) for _ in range(2)]
    (_, t1, r1), (_, t2, _) = runs
    for (k, v1), v2 in zip(t1.state_dict().items(), t2.state_dict().values(), strict=True):
        assert np.allclose(v1.numpy(), v2.numpy()), k
    assert r1["replay"]["traces"] == 2 * len(SMALL)


def test_score_ranks_training_records(evaluator, small_logs):
    ok = small_logs[small_logs["status"] == "ok"].reset_index(drop=True)
    scores = evaluator.score(ok)
    assert scores.shape == (len(ok),) and np.isfinite(scores).all()
    sub = ok["subgraph"] == "matmul_128"
    assert pairwise_accuracy(scores[sub.to_numpy()], ok.loc[sub, "latency"].to_numpy()) > 0.6


def test_the_checkpoint_records_every_hyperparameter(evaluator, tmp_path):
    saved = json.loads((evaluator.save(tmp_path / "model") / "config.json").read_text())["info"]["config"]
    assert set(saved) == {f.name for f in fields(TrainConfig)}
    assert saved["latent_dim"] == 16 and saved["encoder"] == "tfidf" and saved["transition_lr"] > 0
    assert TrainConfig(**saved) == TrainConfig(**{**asdict(TrainConfig()), **saved})  # it rebuilds the config
    assert Evaluator.load(tmp_path / "model").config.info["config"] == saved
