"""World model: encoders, transition, ranker, evaluator persistence, training on real replayed traces."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest

from workbench import sample_logs_dir
from workbench.logs import load_logs
from workbench.worldmodel import ContrastiveEncoder, Evaluator, ModelFileError, TfidfEncoder, get_encoder
from workbench.worldmodel.text import equivalent_view, expand_grids, identifiers, rename
from workbench.worldmodel.train import (
    TrainConfig,
    fit_world,
    replay_trajectories,
    rollouts_for,
    train_evaluator,
)
from workbench.worldmodel.transition import Measured, TransitionModel, fit_transition, rank_loss, torch

SMALL = ("matmul_128", "dense_512x32x512", "conv2d_14x14x128_3x3")


@pytest.fixture(scope="module")
def small_logs():
    df = load_logs(*(sample_logs_dir() / "cpu" / name for name in SMALL), progress=False)
    # 40 records per subgraph keep training quick; the rows stay real measurements.
    return df.groupby("subgraph").head(40).reset_index(drop=True)


@pytest.fixture(scope="module")
def replayed(small_logs):
    return replay_trajectories(small_logs, 3, seed=0, progress=False)


@pytest.fixture(scope="module")
def tfidf(replayed):
    initial, trajs = replayed
    groups = {g: [t] for g, t in initial.items()}
    for tr in trajs:
        groups[tr.group].extend(tr.texts)
    enc = TfidfEncoder(dim=16, seed=0)
    enc.fit(groups)
    return enc, groups


@pytest.fixture(scope="module")
def evaluator(small_logs):
    cfg = TrainConfig(encoder="tfidf", latent_dim=16, replay_traces=3, transition_epochs=5, ranker_rounds=30)
    ev, _ = train_evaluator(small_logs, cfg, progress=False, log=lambda _: None)
    return ev


def test_text_rewrites_keep_the_program_shape():
    text = 'for i, j in T.grid(2, 3):\n with T.sblock("c"):\n  C[i, j] = A[i, j] + T.float32(1)\nB = alloc((2,))'
    assert identifiers(text) == ["i", "j", "B"]
    renamed = rename(text, random.Random(0))
    assert "T.grid(2, 3)" in renamed and "T.float32" in renamed and " i," not in renamed
    assert expand_grids(text).splitlines()[:2] == ["for i in range(2):", " for j in range(3):"]
    assert expand_grids(text).splitlines()[2] == '  with T.sblock("c"):'
    assert equivalent_view(text, random.Random(1)) != text


def test_tfidf_shapes_and_determinism(tfidf):
    enc, groups = tfidf
    texts = [t for ts in groups.values() for t in ts][:10]
    z = enc.encode(texts)
    assert z.shape == (10, 16) and np.isfinite(z).all()
    again = TfidfEncoder(dim=16, seed=0)
    again.fit(groups)
    np.testing.assert_allclose(again.encode(texts), z, rtol=1e-5, atol=1e-5)
    assert np.abs(z[0] - z[-1]).sum() > 0  # different programs get different vectors


def test_contrastive_encoder_trains_deterministically(tfidf):
    _, groups = tfidf
    texts = [t for ts in groups.values() for t in ts][:6]

    def train():
        enc = ContrastiveEncoder(dim=8, hidden=32, layers=1, heads=2, vocab_size=300, max_length=128, seed=3)
        stats = enc.fit(groups, steps=3, groups_per_batch=2, per_group=3, progress=False)
        return enc, stats

    a, stats = train()
    b, _ = train()
    za = a.encode(texts)
    assert za.shape == (6, 8) and np.isfinite(za).all()
    np.testing.assert_allclose(b.encode(texts), za, rtol=1e-4, atol=1e-5)
    assert len(stats["losses"]) == 3


def test_get_encoder_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown encoder"):
        get_encoder("bert")
    with pytest.raises(ModelFileError, match="no such Hugging Face model directory"):
        get_encoder(f"hf:{tmp_path / 'nothing'}")


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
    from workbench.worldmodel.train import measured_for

    measured = measured_for(enc, ok, Evaluator.items_from_logs(ok))
    assert len(measured.by_group()) == len(SMALL)
    model = TransitionModel(16, hidden=32)
    stats = fit_transition(model, rollouts_for(enc, initial, trajs), measured=measured, epochs=25, batch_size=4,
                           seed=0, progress=False)
    assert stats["value_loss_last"] < 0.8 * stats["value_loss_first"]
    with torch.inference_mode():
        v = model.values(model.final(measured.batch)).numpy()
    from workbench.worldmodel.metrics import pairwise_accuracy

    sub = ok["subgraph"].to_numpy() == "matmul_128"
    assert pairwise_accuracy(v[sub], ok["latency"].to_numpy()[sub]) > 0.6


def test_rank_loss_prefers_the_right_order():
    log_lat = torch.tensor([0.0, 1.0, 2.0])
    right, wrong = rank_loss(torch.tensor([2.0, 1.0, 0.0]), log_lat), rank_loss(torch.tensor([0.0, 1.0, 2.0]), log_lat)
    assert float(right) < 0.5 < float(wrong)
    assert float(rank_loss(torch.tensor([1.0, 1.0]), torch.tensor([0.5, 0.5]))) == 0.0  # no pair to order
    assert isinstance(Measured, type)


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
    from workbench.worldmodel.metrics import pairwise_accuracy

    sub = ok["subgraph"] == "matmul_128"
    assert pairwise_accuracy(scores[sub.to_numpy()], ok.loc[sub, "latency"].to_numpy()) > 0.6


def test_score_and_explain_fresh_candidates(evaluator, matmul_space):
    cands = matmul_space.sample(4, seed=5)
    scores = evaluator.score(cands)
    assert scores.shape == (4,) and np.isfinite(scores).all()
    info = evaluator.explain(cands[0])
    assert info["score"] == pytest.approx(float(scores[0]), rel=1e-5)
    traj = info["trajectory"]
    assert traj["latents"].shape == (len(traj["action_index"]), 16)
    assert traj["values"].shape == (len(traj["action_index"]) + 1,) and np.isfinite(traj["values"]).all()
    assert set(info["contribution_by_group"]) == {"latent", "action", "hardware"}


def test_save_load_round_trip(evaluator, small_logs, tmp_path):
    path = evaluator.save(tmp_path / "model")
    assert {p.name for p in path.iterdir()} >= {"config.json", "encoder", "transition.safetensors", "ranker.json"}
    loaded = Evaluator.load(path)
    np.testing.assert_array_equal(loaded.score(small_logs.head(30)), evaluator.score(small_logs.head(30)))


@pytest.mark.parametrize("damage", ["missing_ranker", "corrupt_ranker", "corrupt_weights", "missing_config",
                                    "bad_config", "wrong_shape"])
def test_damaged_model_dir_gives_clear_error(evaluator, tmp_path, damage):
    path = evaluator.save(tmp_path / "model")
    if damage == "missing_ranker":
        (path / "ranker.json").unlink()
        match = "ranker.json: missing file"
    elif damage == "corrupt_ranker":
        (path / "ranker.json").write_text('{"learner": ')
        match = "ranker.json: not a valid XGBoost"
    elif damage == "corrupt_weights":
        (path / "transition.safetensors").write_bytes(b"\x00" * 40)
        match = "transition.safetensors: not a valid safetensors"
    elif damage == "missing_config":
        (path / "config.json").unlink()
        match = "config.json: missing file"
    elif damage == "bad_config":
        (path / "config.json").write_text("{nope")
        match = "config.json: not valid JSON"
    else:
        cfg = json.loads((path / "config.json").read_text())
        cfg["transition"]["hidden"] = 7
        (path / "config.json").write_text(json.dumps(cfg))
        match = "transition.safetensors: weights do not match"
    with pytest.raises(ModelFileError, match=match):
        Evaluator.load(path)


def test_ranker_online_update_changes_scores(evaluator, small_logs):
    ev = Evaluator.load(evaluator.save(_tmp := __import__("tempfile").mkdtemp()))
    try:
        ok = small_logs[small_logs["status"] == "ok"].reset_index(drop=True)
        items = Evaluator.items_from_logs(ok)
        x = ev.feature_matrix(items)
        before = ev.ranker.predict(x)
        rounds = ev.ranker.booster.num_boosted_rounds()
        ev.ranker.update(x[:20], ok["latency"].to_numpy()[:20], ok["subgraph"].to_numpy()[:20], rounds=5)
        assert ev.ranker.booster.num_boosted_rounds() == rounds + 5
        assert not np.allclose(ev.ranker.predict(x), before)
        ev.ranker.update(x[20:30], ok["latency"].to_numpy()[20:30], ok["subgraph"].to_numpy()[20:30], rounds=5)
        assert ev.ranker.booster.num_boosted_rounds() == rounds + 5  # retrained from the base, not stacked
    finally:
        shutil.rmtree(_tmp)


def test_cli_train_and_eval(small_logs, tmp_path, capsys):
    from workbench.cli import main

    logs = [str(sample_logs_dir() / "cpu" / name) for name in SMALL]
    out = tmp_path / "model"
    rc = main(["train", "--logs", *logs, "--out", str(out), "--holdout", "dense_512x32x512", "--encoder", "tfidf",
               "--latent-dim", "8", "--replay-traces", "2", "--transition-epochs", "2", "--ranker-rounds", "20",
               "--quiet"])
    assert rc == 0 and (out / "ranker.json").is_file()
    assert json.loads((out / "config.json").read_text())["info"]["holdout"] == ["dense_512x32x512"]
    report = tmp_path / "eval.json"
    rc = main(["eval", "--logs", *logs, "--model", str(out), "--holdout", "dense_512x32x512", "--json", str(report)])
    assert rc == 0
    result = json.loads(report.read_text())
    assert [row["model"] for row in result["summary"]] == ["world_model"]
    assert 0.0 <= result["summary"][0]["pairwise"] <= 1.0
    # Evaluating on training subgraphs is refused unless asked for.
    assert main(["eval", "--logs", *logs, "--model", str(out), "--holdout", "matmul_128"]) == 2
    assert "trained on 1 of the evaluated subgraphs" in capsys.readouterr().err
    assert main(["train", "--logs", *logs, "--out", str(out), "--holdout", "nonexistent"]) == 2
    assert "matches no subgraph" in capsys.readouterr().err


def test_shipped_default_model_scores_held_out_candidates(conv_space):
    from workbench.worldmodel import default_model_dir, load_default
    from workbench.worldmodel.evaluate import DEFAULT_HOLDOUT, holdout_names

    ev = load_default("cpu")
    info = ev.config.info
    assert info["config"]["seed"] == 0 and info["config"]["encoder"] == "contrastive"
    # The shipped model never saw the default held-out subgraphs (benchmarks and tuning rely on it).
    held = holdout_names(DEFAULT_HOLDOUT, info["subgraphs"] + info["holdout"])
    assert held == set(info["holdout"]) and not held & set(info["subgraphs"])
    from workbench.actions import DesignSpace
    from workbench.subgraphs import load_subgraph

    cands = DesignSpace(load_subgraph("conv2d_7x7x512_3x3")).sample(6, seed=2)
    scores = ev.score(cands)
    assert np.isfinite(scores).all() and len(set(np.round(scores, 6))) > 1
    # Candidates, and the same programs as TVM schedules, score the same.
    items = Evaluator.items_from_schedules(cands[0].space.subgraph.mod, [c.trace for c in cands],
                                           flops=cands[0].space.subgraph.flops or 0.0)
    np.testing.assert_allclose(ev.score(items), scores, rtol=1e-5)
    assert (default_model_dir("cpu") / "encoder" / "tokenizer.json").is_file()


def test_shipped_cuda_model_ranks_its_gpu_records():
    """The CUDA model (trained on sample_logs/cuda, measured on an H100) loads and scores without a GPU."""
    from scipy.stats import kendalltau

    from workbench.worldmodel import load_default

    ev = load_default("cuda")
    info = ev.config.info
    assert info["config"]["encoder"] == "tfidf" and info["config"]["seed"] == 0
    assert "conv2d_7x7x512_3x3" not in info["subgraphs"]  # the CUDA search benchmark's subgraphs are unseen
    df = load_logs(sample_logs_dir() / "cuda" / "conv2d_14x14x128_3x3", progress=False)
    df = df[df["status"] == "ok"]
    assert len(df) >= 40 and (df["target"].map(lambda t: t["kind"]) == "cuda").all()
    tau = kendalltau(ev.score(df), -df["latency"].to_numpy()).statistic
    assert tau > 0.5  # a training subgraph: the model must order what it was fitted on


def test_trace_reader_fast_path_reads_the_same_decisions(conv_space):
    """The fast path (structure known from a trace's decisions) gives what a full read of each trace gives."""
    from tvm import s_tir

    from workbench.actions import actions_from_trace
    from workbench.worldmodel.evaluator import _TraceReader

    mod = conv_space.subgraph.mod
    traces = []
    for cand in conv_space.sample(24, seed=11):  # post-processed schedules, as a search hands them over
        sch = s_tir.Schedule(mod)
        cand.trace.apply_to_schedule(sch, remove_postproc=False)
        traces.append(sch.trace)
    reader = _TraceReader(workload=12345)
    for _ in range(2):  # the second pass takes the fast path for every known structure
        for trace in traces:
            got = reader.read(trace)
            want = actions_from_trace(trace, design_only=True, lean=True)
            assert [(a.kind, a.decision) for a in got] == [(a.kind, a.decision) for a in want]
    assert reader._fast


def test_hf_encoder_loads_a_local_directory_offline(tfidf, tmp_path):
    """A CodeBERT-style directory made here (no hub): tokenizer + RoBERTa weights, loaded offline."""
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    _, groups = tfidf
    texts = [t for ts in groups.values() for t in ts][:4]
    small = ContrastiveEncoder(dim=8, hidden=32, layers=1, heads=2, vocab_size=300, max_length=64)
    small._train_tokenizer(texts)
    tok = PreTrainedTokenizerFast(tokenizer_object=small.tokenizer, pad_token="<pad>", unk_token="<unk>")
    tok.save_pretrained(tmp_path / "codebert")
    cfg = RobertaConfig(vocab_size=small.tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=80,
                        pad_token_id=small.tokenizer.token_to_id("<pad>"))
    RobertaModel(cfg).save_pretrained(tmp_path / "codebert", safe_serialization=True)
    enc = get_encoder(f"hf:{tmp_path / 'codebert'}", max_length=64)
    z = enc.encode(texts)
    assert z.shape == (4, 32) and np.isfinite(z).all()
    enc.save(tmp_path / "saved")
    from workbench.worldmodel import Encoder

    np.testing.assert_allclose(Encoder.load(tmp_path / "saved").encode(texts), z, rtol=1e-5, atol=1e-6)
