"""The ``workbench`` command: listing, collecting, tuning, training and evaluating, and its errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from workbench import sample_logs_dir
from workbench.cli import main
from workbench.logs import load_logs
from workbench.testing import SMALL_SUBGRAPHS as SMALL

CLI = [sys.executable, "-m", "workbench.cli"]


def test_subgraphs_lists_the_catalog():
    done = subprocess.run([*CLI, "subgraphs", "--op", "conv2d"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "conv2d_14x14x128_3x3" in done.stdout and "matmul_128" not in done.stdout


def test_hardware_names_the_machine_and_its_peak(tmp_path, capsys, monkeypatch):
    from workbench.hardware import hardware_descriptor

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["id"] == hardware_descriptor()["id"] and not list(tmp_path.iterdir())  # nothing timed
    (tmp_path / f"peak-{hardware_descriptor()['id']}.json").write_text(json.dumps(
        {"gflops": 123.0, "gflops_one_core": 61.0, "threads": 2, "kernel": "k", "measured": "then", "loadavg": 0.1,
         "hardware_id": hardware_descriptor()["id"]}))
    assert main(["hardware", "--peak"]) == 0
    assert "peak: 123 GFLOP/s FP32 on 2 threads, 61 on one" in capsys.readouterr().out  # the cached one


def test_unknown_subgraph_is_a_clear_error(tmp_path):
    done = subprocess.run([*CLI, "collect", "--subgraph", "conv9d", "--out", str(tmp_path / "x"), "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "unknown subgraph 'conv9d'" in done.stderr


@pytest.mark.slow
def test_tune_and_a_bad_subgraph(tmp_path, capsys):
    assert main(["tune", "--subgraph", "matmul_128", "--trials", "4", "--trials-per-iter", "4", "--cost-model", "xgb",
                 "--work-dir", str(tmp_path / "cli"), "--quiet",
                 "--confirm", "0"]) == 0
    out = capsys.readouterr().out
    assert "matmul_128" in out and "time (s): search" in out
    assert len(load_logs(tmp_path / "cli", progress=False)) == 4
    assert main(["tune", "--subgraph", "no_such_op", "--work-dir", str(tmp_path / "x"), "--quiet"]) == 2
    assert "no_such_op" in capsys.readouterr().err


@pytest.mark.slow
def test_tune_a_model_by_trials_per_task_and_compare_it_with_pytorch(tmp_path, capsys, monkeypatch):
    from workbench._tvm import torch_ready
    from workbench.subgraphs.models import MODELS, ModelSpec

    def tiny_mlp():
        torch = torch_ready()
        mlp = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32))
        return mlp, (torch.randn(4, 64),)

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(MODELS, "tiny_mlp", ModelSpec("tiny_mlp", "two dense layers", tiny_mlp))
    work = tmp_path / "mlp"
    assert main(["tune", "--model", "tiny_mlp", "--trials-per-task", "2", "--trials-per-iter", "2", "--cost-model",
                 "random", "--work-dir", str(work), "--quiet", "--confirm", "0", "--compare", "3"]) == 0
    out = capsys.readouterr().out
    assert len(load_logs(work, progress=False)) == 4  # 2 tasks x 2 trials
    assert "functions with a tuned schedule: 2 of 2" in out
    assert re.search(r"PyTorch eager +\d+\.\d\d ms +\(\d+ threads\): TVM's speed-up \d+\.\d\dx", out), out
    assert re.search(r"torch.compile +(\d+\.\d\d ms|did not run here)", out), out
    assert "outputs match PyTorch's: True" in out
    assert main(["tune", "--model", "tiny_mlp", "--trials", "8", "--trials-per-task", "2", "--quiet"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["tune", "--subgraph", "matmul_128", "--compare", "--quiet"]) == 2
    assert "for --model runs" in capsys.readouterr().err


def test_train_and_eval(tmp_path, capsys):
    logs = [str(sample_logs_dir() / "cpu" / name) for name in SMALL]
    out = tmp_path / "model"
    rc = main(["train", "--logs", *logs, "--out", str(out), "--holdout", "dense_512x32x512", "--encoder", "tfidf",
               "--latent-dim", "8", "--replay-traces", "2", "--transition-epochs", "2", "--ranker-rounds", "20",
               "--verifier", "--quiet"])
    assert rc == 0 and (out / "ranker.json").is_file()
    assert json.loads((out / "config.json").read_text())["info"]["holdout"] == ["dense_512x32x512"]
    # The verifier of world_verify, fitted on the same training records, beside the world model.
    from workbench.tuning.cost_model import load_verifier
    from workbench.worldmodel import Evaluator

    verifier = json.loads((out / "verifier" / "verifier.json").read_text())
    assert verifier["info"]["holdout"] == ["dense_512x32x512"] and "dense_512x32x512" not in verifier["info"]["subgraphs"]
    assert load_verifier(out).booster is not None and Evaluator.load(out).config.info["holdout"]  # both still load
    assert main(["verifier", "--logs", *logs, "--model", str(tmp_path / "none"), "--quiet"]) == 2
    assert "no such model directory" in capsys.readouterr().err
    report = tmp_path / "eval.json"
    rc = main(["eval", "--logs", *logs, "--model", str(out), "--holdout", "dense_512x32x512", "--json", str(report),
               "--baseline", "--verify", "2", "1000"])
    assert rc == 0
    result = json.loads(report.read_text())
    rows = {row["model"]: row for row in result["summary"]}
    assert list(rows) == ["world_model", "metaschedule_xgb", "world_verify2", "world_verify1000"]
    assert 0.0 <= rows["world_model"]["pairwise"] <= 1.0
    # Verifying a top k that holds every record is the verifier's own ranking.
    for metric in ("pairwise", "kendall", "top1", "top5"):
        assert rows["world_verify1000"][metric] == pytest.approx(rows["metaschedule_xgb"][metric]), metric
    assert main(["eval", "--logs", *logs, "--model", str(out), "--holdout", "dense_512x32x512", "--verify", "4"]) == 2
    assert "give --baseline" in capsys.readouterr().err
    # Evaluating on training subgraphs is refused unless asked for.
    assert main(["eval", "--logs", *logs, "--model", str(out), "--holdout", "matmul_128"]) == 2
    assert "trained on 1 of the evaluated subgraphs" in capsys.readouterr().err
    assert main(["train", "--logs", *logs, "--out", str(out), "--holdout", "nonexistent"]) == 2
    assert "matches no subgraph" in capsys.readouterr().err


def test_training_keeps_the_frozen_test_split_out_unless_asked():
    from workbench.cli import build_parser
    from workbench.worldmodel.evaluate import DEFAULT_HOLDOUT, holdout_names

    assert build_parser().parse_args(["train", "--logs", "x", "--out", "y"]).holdout == "default"
    names = ["matmul_128", "matmul_256", "mobilenet_v2/conv2d3", "resnet50/conv2d1"]
    # "default": the parts of the frozen split these logs hold (logs of other subgraphs lose nothing).
    assert holdout_names("default", names) == {"matmul_256", "mobilenet_v2/conv2d3"}
    assert holdout_names("default", ["matmul_128"]) == set() and holdout_names("none", names) == set()
    assert holdout_names("default,resnet50/conv2d1", names) == {"matmul_256", "mobilenet_v2/conv2d3",
                                                                 "resnet50/conv2d1"}
    assert "matmul_256" in DEFAULT_HOLDOUT
