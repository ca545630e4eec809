"""The search wrapper every run uses: nothing measured twice, the shared budget, and a resumed session that
gets past the records of earlier sessions its search proposes first."""

from __future__ import annotations

from types import SimpleNamespace

from workbench.traces import trace_key


def _cand(i: int):
    return SimpleNamespace(sch=SimpleNamespace(trace=[[["Sample", i]], []]))


class _Inner:
    """A search that proposes ``batches`` in order (as the evolutionary search does after a resume: the best
    records of earlier sessions first, each batch once), then nothing."""

    def __init__(self, batches):
        self.batches = list(batches)

    def generate_measure_candidates(self):
        return self.batches.pop(0) if self.batches else None


def _filter(inner, seen, left):
    import workbench._tvm  # noqa: F401 - TVM first, with the project's settings
    from workbench.tuning.search import SeenFilter

    f = SeenFilter(inner, seen, {"left": left})
    f = getattr(f, "_inst", f)  # the Python object behind TVM's wrapper (called directly, not through the FFI)
    f.max_trials, f.per_iter = 100, 4
    return f


def test_a_resumed_session_gets_past_every_batch_of_known_records():
    known = [_cand(i) for i in range(12)]  # 12 records of earlier sessions: three batches of 4, all known
    fresh = [_cand(100 + i) for i in range(4)]
    seen = {trace_key(c.sch.trace) for c in known}
    f = _filter(_Inner([known[:4], known[4:8], known[8:], fresh]), seen, left=4)
    got = f.generate_measure_candidates()
    assert got == fresh and f.skipped == 12 and f.budget["left"] == 0
    assert f.generate_measure_candidates() is None  # the budget is spent


def test_nothing_is_proposed_twice_and_an_exhausted_search_ends():
    a, b = _cand(1), _cand(2)
    f = _filter(_Inner([[a, b], [a, b], [a], [b]]), set(), left=10)
    assert f.generate_measure_candidates() == [a, b]
    assert f.generate_measure_candidates() is None  # only known ones, then a batch far smaller than asked: ended
    assert f.exhausted and f.skipped == 3


def test_tvm_shows_no_table_of_its_own_on_a_thread_that_runs_a_tuning_run(monkeypatch):
    """In a notebook, TVM's task scheduler displays its per-task table after every batch; a TuningRun's thread
    asks for quiet (the run shows its own progress) and other threads are left as they were."""
    import builtins
    import threading

    from workbench.tuning.search import (  # TVM loaded with the project's settings
        get_global_func,
        quiet_statistics,
    )

    class ZMQInteractiveShell:  # what TVM looks for to decide it is in a notebook
        pass

    monkeypatch.setattr(builtins, "get_ipython", lambda: ZMQInteractiveShell(), raising=False)
    using_ipython = get_global_func("s_tir.meta_schedule.using_ipython")
    assert using_ipython() is True
    elsewhere = []
    with quiet_statistics():
        assert using_ipython() is False
        other = threading.Thread(target=lambda: elsewhere.append(using_ipython()))
        other.start()
        other.join()
    assert elsewhere == [True] and using_ipython() is True
