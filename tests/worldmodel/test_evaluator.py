"""The evaluator: scoring and explaining candidates, saving and loading (and damaged dirs), the shipped models."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.stats import kendalltau

from workbench import sample_logs_dir
from workbench.actions import DesignSpace
from workbench.logs import load_logs
from workbench.subgraphs import load_subgraph
from workbench.worldmodel import Evaluator, ModelFileError, default_model_dir, load_default
from workbench.worldmodel.evaluate import DEFAULT_HOLDOUT, holdout_names


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


def _without_manifest(path):
    """A model dir as saved before manifests existed: its own parsers must name what is wrong."""
    cfg = json.loads((path / "config.json").read_text())
    cfg.pop("manifest"), cfg.pop("config_sha256")
    (path / "config.json").write_text(json.dumps(cfg))


# damage -> (how, the error with the manifest, the error of a dir saved without one)
DAMAGE = {
    "missing_ranker": (lambda p: (p / "ranker.json").unlink(), "ranker.json: missing file", "ranker.json: missing file"),
    "corrupt_ranker": (lambda p: (p / "ranker.json").write_text('{"learner": '), "ranker.json: not the file",
                       "ranker.json: not a valid XGBoost"),
    "corrupt_weights": (lambda p: (p / "transition.safetensors").write_bytes(b"\x00" * 40),
                        "transition.safetensors: not the file", "transition.safetensors: not a valid safetensors"),
    "corrupt_encoder": (lambda p: (p / "encoder" / "encoder.json").write_text("[]"), "encoder.json: not the file",
                        "encoder.json: unknown encoder kind"),
    "missing_config": (lambda p: (p / "config.json").unlink(), "config.json: missing file", "config.json: missing file"),
    "bad_config": (lambda p: (p / "config.json").write_text("{nope"), "config.json: not valid JSON",
                   "config.json: not valid JSON"),
    "list_config": (lambda p: (p / "config.json").write_text("[]"), "config.json: expected a JSON object",
                    "config.json: expected a JSON object"),
}


@pytest.mark.parametrize("manifest", [True, False], ids=["manifest", "legacy"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_model_dir_gives_clear_error(evaluator, tmp_path, damage, manifest):
    path = evaluator.save(tmp_path / "model")
    if not manifest and damage not in ("missing_config", "bad_config", "list_config"):
        _without_manifest(path)
    how, with_manifest, legacy = DAMAGE[damage]
    how(path)
    with pytest.raises(ModelFileError, match=with_manifest if manifest else legacy):
        Evaluator.load(path)


def test_a_file_from_another_model_is_refused(evaluator, tmp_path):
    cpu, other = evaluator.save(tmp_path / "cpu"), tmp_path / "cuda"
    shutil.copytree(default_model_dir("cuda"), other)
    for name in ("ranker.json", "transition.safetensors", "encoder/encoder.json"):
        mixed = tmp_path / f"mixed-{name.replace('/', '_')}"
        shutil.copytree(cpu, mixed)
        shutil.copy(other / name, mixed / name)
        with pytest.raises(ModelFileError, match=f"{name}: not the file this model was saved with"):
            Evaluator.load(mixed)
    edited = json.loads((cpu / "config.json").read_text())
    edited["transition"]["hidden"] = 7
    (cpu / "config.json").write_text(json.dumps(edited))
    with pytest.raises(ModelFileError, match="config.json: changed after the model was saved"):
        Evaluator.load(cpu)
    _without_manifest(cpu)
    with pytest.raises(ModelFileError, match="transition.safetensors: weights do not match"):
        Evaluator.load(cpu)


def test_saving_replaces_a_model_whole(evaluator, tmp_path, monkeypatch):
    path = evaluator.save(tmp_path / "model")
    before = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(evaluator.ranker), "save", fail)
    with pytest.raises(OSError, match="disk full"):
        evaluator.save(path)  # interrupted half-way: the old model stays, whole
    assert {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # and nothing half-written beside it
    Evaluator.load(path)


def test_ranker_online_update_changes_scores_of_a_copy_only(evaluator, small_logs):
    ev = evaluator.copy()
    ok = small_logs[small_logs["status"] == "ok"].reset_index(drop=True)
    x = ev.feature_matrix(ev.items_from_logs(ok))
    before = ev.ranker.predict(x)
    rounds = ev.ranker.booster.num_boosted_rounds()
    ev.ranker.update(x[:20], ok["latency"].to_numpy()[:20], ok["subgraph"].to_numpy()[:20], rounds=5)
    assert ev.ranker.booster.num_boosted_rounds() == rounds + 5
    assert not np.allclose(ev.ranker.predict(x), before)
    ev.ranker.update(x[20:30], ok["latency"].to_numpy()[20:30], ok["subgraph"].to_numpy()[20:30], rounds=5)
    assert ev.ranker.booster.num_boosted_rounds() == rounds + 5  # retrained from the base, not stacked
    np.testing.assert_array_equal(evaluator.ranker.predict(x), before)  # the original is untouched


def test_shipped_default_model_scores_held_out_candidates(conv_space):
    ev = load_default("cpu")
    info = ev.config.info
    assert info["config"]["seed"] == 0 and info["config"]["encoder"] == "tfidf"
    # The shipped model never saw the default held-out subgraphs (benchmarks and tuning rely on it).
    held = holdout_names(DEFAULT_HOLDOUT, info["subgraphs"] + info["holdout"])
    assert held == set(info["holdout"]) and not held & set(info["subgraphs"])
    cands = DesignSpace(load_subgraph("conv2d_7x7x512_3x3")).sample(6, seed=2)
    scores = ev.score(cands)
    assert np.isfinite(scores).all() and len(set(np.round(scores, 6))) > 1
    # Candidates, and the same programs as TVM schedules, score the same.
    items = ev.items_from_schedules(cands[0].space.subgraph.mod, [c.trace for c in cands],
                                    flops=cands[0].space.subgraph.flops or 0.0)
    np.testing.assert_allclose(ev.score(items), scores, rtol=1e-5)
    assert (default_model_dir("cpu") / "encoder" / "tfidf_vocab.json").is_file()


def test_programs_that_run_apart_never_tie():
    """Where the old features were blind (compute locations, the loop an rfactor splits off, what post-processing
    parallelizes), two programs of one subgraph that run > 1.5x apart must not get the same score."""
    from workbench.testing import sample_records

    ev = load_default("cpu")
    df = sample_records(("softmax_256x256", "norm_256x256", "vit_b16/layer_norm", "depthwise_14x14x512_s2"),
                        per_subgraph=1000)
    df = df[df["status"] == "ok"].drop_duplicates(["subgraph", "machine", "trace_key"]).reset_index(drop=True)
    scores = ev.score(df)
    ties = 0
    for _, g in df.assign(score=scores).groupby(["subgraph", "machine"]):
        for _, same in g.groupby("score"):
            lat = np.sort(same["latency"].to_numpy())
            ties += sum(int(np.sum(lat[i + 1:] > 1.5 * lat[i])) for i in range(len(lat)))
    assert len(df) > 500 and ties == 0


def test_records_of_an_unknown_machine_score_and_a_record_without_one_is_named(evaluator, small_logs):
    rows = small_logs.head(6).copy()
    rows["hardware"] = [{"id": "never-seen", "cpu_model": "Some ARM", "isa_flags": ["neon"], "physical_cores": 64,
                         "caches": {"L1d": "64K", "L2": "512K"}}] * len(rows)
    assert np.isfinite(evaluator.score(rows)).all()
    rows["hardware"] = [None] * len(rows)
    with pytest.raises(ModelFileError, match=r"database_tuning_record.json:\d+: the record has no hardware"):
        evaluator.score(rows)


def test_a_model_with_other_features_refuses_to_load(evaluator, tmp_path):
    path = evaluator.save(tmp_path / "model")
    cfg = json.loads((path / "config.json").read_text())
    cfg["feature_names"] = cfg["feature_names"][:-3]  # as a model trained before three features existed
    cfg.pop("config_sha256")
    from workbench.worldmodel.files import json_digest

    cfg["config_sha256"] = json_digest({k: v for k, v in cfg.items() if k != "config_sha256"})
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="trained on other features.*retrain it with `workbench train"):
        Evaluator.load(path)
    cfg["format"] = 2
    cfg["config_sha256"] = json_digest({k: v for k, v in cfg.items() if k != "config_sha256"})
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="format 2.*retrain it with `workbench train"):
        Evaluator.load(path)


def test_shipped_cuda_model_ranks_its_gpu_records():
    """The CUDA model (trained on sample_logs/cuda, measured on an H100) loads and scores without a GPU."""
    ev = load_default("cuda")
    info = ev.config.info
    assert info["config"]["encoder"] == "tfidf" and info["config"]["seed"] == 0
    assert "conv2d_7x7x512_3x3" not in info["subgraphs"]  # the CUDA search benchmark's subgraphs are unseen
    df = load_logs(sample_logs_dir() / "cuda" / "conv2d_14x14x128_3x3", progress=False)
    df = df[df["status"] == "ok"]
    assert len(df) >= 40 and (df["target"].map(lambda t: t["kind"]) == "cuda").all()
    tau = kendalltau(ev.score(df), -df["latency"].to_numpy()).statistic
    assert tau > 0.5  # a training subgraph: the model must order what it was fitted on


def test_saving_never_deletes_a_directory_that_is_not_a_model(evaluator, tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match="not a model directory"):
        evaluator.save(tmp_path / "results")
    assert (tmp_path / "results" / "notes.txt").read_text() == "mine"
    path = evaluator.save(tmp_path / "model")
    assert path.stat().st_mode & 0o055  # readable by others, as any directory (not mkdtemp's 0700)
