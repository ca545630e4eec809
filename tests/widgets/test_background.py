"""The background-task helper: one run at a time, waited on, its failure reported and kept."""

from __future__ import annotations

import threading

from widgets import BackgroundTask


def test_a_task_runs_in_the_background_one_at_a_time():
    release, done, out = threading.Event(), [], []
    task = BackgroundTask("test", on_done=lambda: done.append(True))
    assert not task.running and task.wait()
    assert task.start(lambda x: (release.wait(10), out.append(x)), 7)
    assert task.running and not task.start(out.append, 8)  # the second start is refused
    assert not task.wait(timeout=0.05)
    release.set()
    assert task.wait() and not task.running
    assert out == [7] and done == [True] and task.error is None


def test_a_failure_is_reported_and_kept(capsys):
    errors = []
    task = BackgroundTask("test", on_error=errors.append)

    def fail() -> None:
        raise ValueError("no such record")

    task.start(fail)
    task.wait()
    assert isinstance(task.error, ValueError) and errors == [task.error]
    assert "no such record" in task.traceback
    quiet = BackgroundTask("quiet task")  # without on_error the traceback goes to stderr
    quiet.start(fail)
    quiet.wait()
    err = capsys.readouterr().err
    assert "quiet task failed" in err and "ValueError: no such record" in err
    assert quiet.start(lambda: None) and quiet.wait() and quiet.error is None  # a new run clears it
