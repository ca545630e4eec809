"""The latent transition: free-rollout training on replayed traces, and the value head on measured records."""

from __future__ import annotations

import torch

from workbench.testing import SMALL_SUBGRAPHS as SMALL
from workbench.worldmodel.items import items_from_logs
from workbench.worldmodel.metrics import pairwise_accuracy
from workbench.worldmodel.train import measured_for, rollouts_for
from workbench.worldmodel.transition import Measured, TransitionModel, fit_transition, rank_loss


def test_transition_training_reduces_rollout_loss(tfidf, replayed):
    enc, _ = tfidf
    initial, trajs = replayed
    batch = rollouts_for(enc, initial, trajs)
    assert batch.tokens.shape[0] == len(trajs) and batch.targets.shape[-1] == 16
    model = TransitionModel(16, hidden=32)
    stats = fit_transition(model, batch, epochs=15, batch_size=4, seed=0, progress=False)
    assert stats["loss_last"] < 0.7 * stats["loss_first"]
    pred = model(batch)
    assert pred.shape == batch.targets.shape
    steps = stats["train_steps"]
    assert len(steps["rollout"]) == len(steps["copy_initial"]) == batch.tokens.shape[1]


def test_value_loss_on_measured_records_goes_down(tfidf, replayed, small_logs, evaluator):
    """The value head learns to order real measured records of the training subgraphs."""
    enc, _ = tfidf
    initial, trajs = replayed
    ok = small_logs[small_logs["status"] == "ok"].reset_index(drop=True)
    measured = measured_for(enc, ok, items_from_logs(ok))
    assert len(measured.by_group()) == len(SMALL)
    model = TransitionModel(16, hidden=32)
    stats = fit_transition(model, rollouts_for(enc, initial, trajs), measured=measured, epochs=25, batch_size=4,
                           seed=0, progress=False)
    assert stats["value_loss_last"] < 0.8 * stats["value_loss_first"]
    v = model.values(model.final(measured.batch)).numpy()
    sub = ok["subgraph"].to_numpy() == "matmul_128"
    assert pairwise_accuracy(v[sub], ok["latency"].to_numpy()[sub]) > 0.6


def test_rank_loss_prefers_the_right_order():
    log_lat = torch.tensor([0.0, 1.0, 2.0])
    right, wrong = rank_loss(torch.tensor([2.0, 1.0, 0.0]), log_lat), rank_loss(torch.tensor([0.0, 1.0, 2.0]), log_lat)
    assert float(right) < 0.5 < float(wrong)
    assert float(rank_loss(torch.tensor([1.0, 1.0]), torch.tensor([0.5, 0.5]))) == 0.0  # no pair to order
    assert isinstance(Measured, type)
