"""The latent transition: free-rollout training on replayed traces, and the value head on measured records."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.testing import SMALL_SUBGRAPHS as SMALL
from workbench.worldmodel.features import N_PARAMS
from workbench.worldmodel.items import items_from_logs
from workbench.worldmodel.metrics import pairwise_accuracy
from workbench.worldmodel.train import measured_for, rollouts_for
from workbench.worldmodel.transition import (
    Measured,
    Rollouts,
    TransitionModel,
    distinct_rows,
    fit_transition,
    rank_loss,
)


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


def test_shared_rollout_equals_the_plain_one():
    """``final`` embeds each distinct step once and rolls each distinct prefix out once: the same latents as the
    step-by-step rollout, for traces of different lengths, repeated steps and prefixes, and two starts."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = TransitionModel(16, hidden=32)
    steps = [(int(rng.integers(0, 5)), rng.normal(size=N_PARAMS).astype(np.float32)) for _ in range(4)]
    tokens, params = [], []
    for _ in range(40):
        picks = rng.integers(0, len(steps), size=int(rng.integers(0, 7)))
        tokens.append([steps[i][0] for i in picks])
        params.append([steps[i][1] for i in picks] or np.zeros((0, N_PARAMS)))
    z0 = rng.normal(size=(2, 16)).astype(np.float32)[rng.integers(0, 2, size=40)]
    batch = Rollouts.pack(z0, tokens, params)
    with torch.inference_mode():
        plain = model._final(batch)
    shared = model.final(batch)
    assert torch.allclose(shared, plain, atol=1e-5)
    assert len({tuple(t) for t in tokens}) < len(tokens) and any(not t for t in tokens)  # shared, empty traces


def test_distinct_rows_is_bitwise_and_survives_hash_collisions():
    rows = torch.tensor([[1.0, 0.0], [1.0, -0.0], [float("nan"), 2.0], [1.0, 0.0], [float("nan"), 2.0]])
    for hashed in (True, False):  # False: the column-by-column path a hash collision falls back to
        first, code = distinct_rows(rows, hashed=hashed)
        assert code.tolist()[0] == code.tolist()[3] and code.tolist()[2] == code.tolist()[4]
        assert len(set(code.tolist())) == 3  # -0.0 and 0.0 differ in their bits: kept apart (still exact)
        assert torch.equal(rows[first][code].view(torch.int32), rows.view(torch.int32))
    with pytest.raises(TypeError, match="float32"):
        distinct_rows(rows.double())  # float64 bits would not line up with the hash's columns
