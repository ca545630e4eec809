"""The shipped sample logs: what they hold, that TVM opens every work dir, and that they stay small."""

from __future__ import annotations

import subprocess
import sys

from workbench import sample_logs_dir
from workbench.logs import load_logs
from workbench.worldmodel.evaluate import DEFAULT_HOLDOUT, holdout_names


def test_cpu_logs_are_wide_deep_from_several_machines_and_from_the_search():
    df = load_logs(sample_logs_dir() / "cpu", with_actions=False, progress=False)
    assert len(df) >= 20000 and df["subgraph"].nunique() >= 100
    assert df["machine"].nunique() >= 2 and df["machine"].notna().all()
    assert (df["source"].str.startswith("tune:")).sum() >= 5000
    assert set(df["source"].unique()) <= {"random", "tune:xgb", "tune:world"}
    # Tuning runs never ran on a held-out subgraph (their records would be the search's picks there).
    held = holdout_names(DEFAULT_HOLDOUT, set(df["subgraph"]))
    assert not (df["subgraph"].isin(held) & df["source"].str.startswith("tune:")).any()


def test_tvm_opens_every_work_dir_with_every_record():
    dirs = sorted(p for folder in ("cpu", "cuda") for p in (sample_logs_dir() / folder).iterdir() if p.is_dir())
    code = ("import sys; from workbench._tvm import import_tvm; import_tvm(); "
            "from tvm.s_tir.meta_schedule.database import JSONDatabase; "
            "print(*[len(JSONDatabase(work_dir=p, allow_missing=False)) for p in sys.argv[1:]])")
    done = subprocess.run([sys.executable, "-c", code, *map(str, dirs)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    opened = [int(n) for n in done.stdout.split()]
    counted = [len(load_logs(d, with_actions=False, progress=False)) for d in dirs]
    assert opened == counted and sum(opened) > 20000


def test_sample_logs_stay_small():
    size = sum(p.stat().st_size for p in sample_logs_dir().rglob("*") if p.is_file())
    assert size <= 200 * 2**20, f"sample_logs is {size / 2**20:.0f} MiB"
