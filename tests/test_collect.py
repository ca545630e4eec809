"""Collection: records appended as measured, and a killed run resumes without loss or repeats."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.logs import RECORD_FILE, load_logs

CLI = [sys.executable, "-m", "workbench.cli"]


def _count(path: Path) -> int:
    f = path / RECORD_FILE
    return f.read_text().count("\n") if f.is_file() else 0


@pytest.mark.slow
def test_killed_collection_resumes_without_losing_or_repeating(tmp_path):
    out = tmp_path / "wd"
    args = [*CLI, "collect", "--subgraph", "matmul_128", "--trials", "12", "--batch", "4", "--out", str(out),
            "--quiet", "--min-repeat-ms", "2"]
    log = tmp_path / "first_run.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 600
        while _count(out) < 4 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        alive = proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the CLI and its build/run workers
        proc.wait()
    assert alive, f"collection ended before it could be killed:\n{log.read_text()}"
    before = load_logs(out, errors="warn")
    assert 4 <= len(before) < 12, "kill landed too late to test resuming"

    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"existing {len(before):>5}" in done.stdout
    after = load_logs(out)
    assert len(after) == 12
    assert after["trace_key"].is_unique  # nothing measured twice
    assert list(after["trace_key"][: len(before)]) == list(before["trace_key"])  # nothing lost
    assert (after["status"] == "ok").all()

    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert "new     0" in again.stdout and len(load_logs(out)) == 12


@pytest.mark.slow
def test_a_second_machine_measures_its_own_records_beside_the_first_s(tmp_path):
    """Another machine's records in the work dir neither count toward this machine's trials nor keep it from
    measuring the same programs: each machine's records are its own (resumable across sessions)."""
    import json

    from workbench.hardware import hardware_descriptor
    from workbench.integrity import HARDWARE_FILE, MEASURE_FILE
    from workbench.testing import sample_work_dir

    out = sample_work_dir(tmp_path / "logs", ("matmul_128",), records=6)
    for name, key in ((MEASURE_FILE, "hardware"), (HARDWARE_FILE, "id")):  # as if another machine measured them
        lines = [json.loads(line) for line in (out / name).read_text().splitlines()]
        (out / name).write_text("".join(json.dumps(o | {key: "another-machine"}) + "\n" for o in lines))
    args = [*CLI, "collect", "--subgraph", "matmul_128", "--trials", "6", "--batch", "6", "--out", str(out),
            "--quiet", "--min-repeat-ms", "2"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    df = load_logs(out)
    here = hardware_descriptor()["id"]
    assert (df["machine"] == "another-machine").sum() == 6 and (df["machine"] == here).sum() == 6
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert "new     0" in again.stdout and len(load_logs(out)) == 12
