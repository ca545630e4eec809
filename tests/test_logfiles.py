"""One writer per work dir, appends that write fully or raise, and reading that survives any bad line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from workbench.logfiles import LOCK_FILE, WorkDirBusy, WriterLock, append_line, parse_lines

HOLD = ("import sys, time; from workbench.logfiles import WriterLock; WriterLock(sys.argv[1]).acquire(); "
        "print('held', flush=True); time.sleep(600)")


@pytest.fixture()
def holder(tmp_path):
    """Another process writing the work dir (it holds the lock until killed)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


def test_a_second_writer_is_refused_every_time_naming_the_holder(tmp_path, holder):
    refused = 0
    for _ in range(100):
        with pytest.raises(WorkDirBusy, match=rf"is being written by PID {holder.pid} \(-c {tmp_path}\)"):
            WriterLock(tmp_path).acquire()
        refused += 1
    assert refused == 100
    holder.send_signal(signal.SIGKILL)  # the holder dies: the kernel drops its lock
    holder.wait()
    with WriterLock(tmp_path) as lock:
        assert lock.held
        assert str(os.getpid()) in (tmp_path / LOCK_FILE).read_text()


def test_the_lock_is_per_writer_also_inside_one_process(tmp_path):
    first = WriterLock(tmp_path).acquire()
    with pytest.raises(WorkDirBusy, match=f"PID {os.getpid()}"):
        WriterLock(tmp_path).acquire()
    first.release()
    WriterLock(tmp_path).acquire().release()


def test_the_collect_command_refuses_a_busy_work_dir(tmp_path, holder):
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "collect", "--subgraph", "matmul_128",
                           "--trials", "1", "--out", str(tmp_path), "--quiet"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2 and f"is being written by PID {holder.pid}" in done.stderr


def test_bad_lines_are_problems_never_errors(tmp_path):
    path = tmp_path / "lines.json"
    path.write_bytes(b'[1]\n\n{"a": \n' + b"[" * 100000 + b"]" * 100000 + b'\n\xff\xfe\n[2]\n[3')
    problems: list[str] = []
    assert [obj for _, obj in parse_lines(path, problems)] == [[1], [2]]
    assert [p.split(": ", 1)[1] for p in problems] == [
        "blank line", "invalid JSON (Expecting value)", "JSON nested too deeply",
        "invalid JSON (Expecting value)", "truncated last line (was a run killed while writing?)"]
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in problems] == ["2", "3", "4", "5", "7"]


def test_an_append_writes_everything_or_raises(tmp_path, monkeypatch):
    path = tmp_path / "lines.json"
    append_line(path, {"n": 1})
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))  # short writes
    append_line(path, {"n": 2, "long": "x" * 100})
    monkeypatch.setattr(os, "write", lambda fd, data: 0)  # a full disk
    with pytest.raises(OSError, match="nothing written"):
        append_line(path, {"n": 3})
    monkeypatch.undo()
    problems: list[str] = []
    assert [obj["n"] for _, obj in parse_lines(path, problems)] == [1, 2] and not problems
