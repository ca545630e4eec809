"""Tuning runs into sample logs: one command, every record once, its origin and machine kept."""

from __future__ import annotations

import json

from workbench.cli import main
from workbench.logs import load_logs
from workbench.testing import sample_work_dir


def _as_run(path, cost_model):
    """A work dir made into a tuning run's (as a run with that cost model would have left it)."""
    config = {"tasks": ["matmul_128", "softmax_256x256"], "model": None, "target": "cpu", "trials": 12,
              "cost_model": cost_model, "seed": 0, "trials_per_iter": 4, "runner": "local"}
    (path / "workbench_run.json").write_text(json.dumps({"config": config, "sessions": []}))
    return path


def test_runs_import_into_one_work_dir_per_subgraph_once(tmp_path, capsys):
    xgb = _as_run(sample_work_dir(tmp_path / "runs" / "a", records=5), "xgb")
    world = _as_run(sample_work_dir(tmp_path / "runs" / "b", records=7), "world")
    out = tmp_path / "sample_logs"
    assert main(["import-runs", str(tmp_path / "runs"), "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["matmul_128", "softmax_256x256"]
    df = load_logs(out, progress=False)
    assert len(df) == 7 * 2  # the first 5 records of each subgraph are the same traces in both runs
    assert df.groupby("source").size().to_dict() == {"tune:world": 4, "tune:xgb": 10}
    source = load_logs(xgb, world, progress=False)
    merged = df.set_index(["subgraph", "trace_key"])
    for row in source.drop_duplicates(["subgraph", "trace_key"]).itertuples():
        got = merged.loc[(row.subgraph, row.trace_key)]
        assert got["latency"] == row.latency and got["hardware"] == row.hardware and got["status"] == row.status
    assert main(["import-runs", str(xgb), str(world), "--out", str(out), "--quiet"]) == 0
    assert "imported     0" in capsys.readouterr().out and len(load_logs(out, progress=False)) == 14


def _on_machine(src, dst, machine):
    """A copy of work dir ``src`` whose records say another machine (``machine``) measured them."""
    import shutil

    from workbench.integrity import HARDWARE_FILE, MEASURE_FILE

    shutil.copytree(src, dst)
    for name, key in ((MEASURE_FILE, "hardware"), (HARDWARE_FILE, "id")):
        lines = [json.loads(line) for line in (dst / name).read_text().splitlines()]
        (dst / name).write_text("".join(json.dumps(o | {key: machine}) + "\n" for o in lines))
    return dst


def test_sample_logs_of_two_machines_merge_into_one_folder(tmp_path, capsys):
    here = sample_work_dir(tmp_path / "logs" / "here", records=5)
    _on_machine(here, tmp_path / "logs" / "there", "other-machine")
    out = tmp_path / "merged"
    assert main(["import-runs", str(tmp_path / "logs"), "--out", str(out), "--quiet"]) == 0
    df = load_logs(out, progress=False)
    # The same traces on two machines are two records each; the origin (random samples) is kept.
    assert len(df) == 2 * 2 * 5 and df["machine"].nunique() == 2 and set(df["source"]) == {"random"}
    assert df.groupby(["subgraph", "machine"]).size().eq(5).all()
    assert main(["import-runs", str(tmp_path / "logs"), "--out", str(out), "--quiet"]) == 0
    assert len(load_logs(out, progress=False)) == 20
    capsys.readouterr()
    assert main(["import-runs", str(out), "--out", str(out), "--quiet"]) == 2
    assert "is inside --out" in capsys.readouterr().err
