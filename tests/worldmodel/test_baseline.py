"""MetaSchedule's XGBModel as the baseline, trained on the shipped logs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import tvm
from tvm import s_tir

from workbench import sample_logs_dir
from workbench.logs import WorkDir, load_logs
from workbench.worldmodel import ModelFileError
from workbench.worldmodel.baseline import BOOSTER_FILE, VERIFIER_FILE, MetaScheduleXGB
from workbench.worldmodel.metrics import pairwise_accuracy

SAMPLE_LOGS = sample_logs_dir() / "cpu"


def test_failure_policy():
    rows = pd.DataFrame({
        "latency": [1e-3, math.nan, math.nan, math.nan],
        "status": ["ok", "build_error", "timeout", "run_error"],
        "error": [None, "LocalBuilder: An exception occurred", "LocalBuilder: Timeout, killed after 60.0 seconds",
                  "LocalRunner: An exception occurred"],
    })
    kept = MetaScheduleXGB(progress=False).training_rows(rows)
    assert list(kept["status"]) == ["ok", "run_error"]  # as MetaSchedule's UpdateCostModel callback
    assert list(MetaScheduleXGB(failures="drop", progress=False).training_rows(rows)["status"]) == ["ok"]


def test_metaschedule_xgb_fits_and_ranks_its_training_records():
    df = load_logs(SAMPLE_LOGS / "dense_512x32x512", SAMPLE_LOGS / "matmul_128", with_actions=False)
    df = pd.concat([g.sample(40, random_state=0) for _, g in df.groupby("subgraph")], ignore_index=True)
    model = MetaScheduleXGB(progress=False).fit(df, seed=0)
    assert model.settings["records"] == 80 and model.settings["config"]["seed"] == 0
    scores = model.predict(df)
    assert scores.shape == (80,) and np.isfinite(scores).all()
    assert pairwise_accuracy(scores, df["latency"]) > 0.6
    # Row order is kept whatever the grouping inside predict.
    shuffled = df.sample(frac=1.0, random_state=1)
    np.testing.assert_allclose(model.predict(shuffled), scores[shuffled.index.to_numpy()], rtol=1e-6)
    # Scoring schedules directly gives the same scores as scoring their records.
    rows = df[df["subgraph"] == "matmul_128"].head(5)
    (entry,) = [w for w in WorkDir(rows["logdir"].iloc[0]).workloads() if w.index == rows["workload"].iloc[0]]
    mod = entry.module()
    schedules = []
    for trace in rows["trace"]:
        sch = s_tir.Schedule(mod)
        s_tir.Trace.apply_json_to_schedule(trace, sch)
        schedules.append(sch)
    np.testing.assert_allclose(model.predict_schedules(mod, schedules), scores[rows.index.to_numpy()], rtol=1e-6)


def test_a_saved_model_scores_as_the_fitted_one_and_refuses_foreign_files(tmp_path, monkeypatch):
    df = load_logs(SAMPLE_LOGS / "matmul_128", with_actions=False).sample(60, random_state=0).reset_index(drop=True)
    model = MetaScheduleXGB(progress=False).fit(df, seed=0)
    path = model.save(tmp_path / "verifier", info={"subgraphs": ["matmul_128"]})
    loaded = MetaScheduleXGB.load(path)
    assert loaded.info == {"subgraphs": ["matmul_128"]} and loaded.settings["records"] == 60
    np.testing.assert_allclose(loaded.predict(df), model.predict(df), rtol=1e-6)
    # A tuning run's copy never retrains on the run's few records alone: it keeps what it learned from the logs.
    assert loaded.cost_model().last_train_size > 10**9
    assert model.cost_model().last_train_size == model.model.data_size > 0
    # Saving again replaces the model in one step; a directory of something else is never overwritten.
    model.save(path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match="not a model directory"):
        model.save(tmp_path / "other")
    with monkeypatch.context() as m:  # PerStoreFeature is TVM's: another TVM's features are refused
        m.setattr(tvm, "__version__", "0.1.0")
        with pytest.raises(ModelFileError, match="TVM 0.1.0.*silently wrong"):
            MetaScheduleXGB.load(path)
    booster = path / BOOSTER_FILE
    booster.write_text(booster.read_text().replace('"', "'", 1))
    with pytest.raises(ModelFileError, match=f"{BOOSTER_FILE}: not the file"):
        MetaScheduleXGB.load(path)
    meta = json.loads((path / VERIFIER_FILE).read_text())
    (path / VERIFIER_FILE).write_text(json.dumps({**meta, "format": 0}))
    with pytest.raises(ModelFileError, match="workbench train"):
        MetaScheduleXGB.load(path)
    with pytest.raises(ModelFileError, match="missing file"):
        MetaScheduleXGB.load(tmp_path / "nothing")
