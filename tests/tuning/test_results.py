"""What a run reports as its best: confirmed re-measurements where they cover the fastest logged record."""

from __future__ import annotations

import math
import warnings

import pytest

from workbench.logs import WorkDir, load_logs
from workbench.subgraphs import load_subgraph
from workbench.testing import sample_work_dir
from workbench.tuning.results import best_records, needs_confirmation


def test_a_confirmation_counts_only_where_it_covers_the_fastest_logged_record(tmp_path):
    path = sample_work_dir(tmp_path / "wd", ("matmul_128",), records=10)
    sub = load_subgraph("matmul_128")
    df = load_logs(path, progress=False)
    ok = df[df["status"] == "ok"].sort_values("latency")
    assert needs_confirmation(df, [sub], top=2)
    wd = WorkDir(path)
    second = ok.iloc[1]
    wd.add_confirmation(0, second["trace_key"], [second["latency"] * 1.2] * 3, pass_index=0, hardware="hw")
    best = best_records(path, [sub]).loc["matmul_128"]  # the fastest logged record is not confirmed: it stands
    assert not best["confirmed"] and best["latency_ms"] == pytest.approx(ok["latency"].iloc[0] * 1e3)
    slow, fast = ok["latency"].iloc[1] * 2, ok["latency"].iloc[1] * 1.05  # re-measured, the logged order flips
    for rank, latency in ((0, slow), (1, fast)):  # a new pass covers the top two
        wd.add_confirmation(0, ok.iloc[rank]["trace_key"], [latency] * 3, pass_index=1, hardware="hw")
    wd.close()
    best = best_records(path, [sub]).loc["matmul_128"]
    assert best["confirmed"] and best["latency_ms"] == pytest.approx(fast * 1e3)
    assert best["logged_ms"] == pytest.approx(ok["latency"].iloc[1] * 1e3)
    confirmed = load_logs(path, progress=False)["confirmed_latency"]
    assert confirmed.notna().sum() == 2  # only the latest pass counts
    assert not needs_confirmation(load_logs(path, progress=False), [sub], top=2)
    assert needs_confirmation(load_logs(path, progress=False), [sub], top=3)


def test_nothing_measured_reports_nothing(tmp_path):
    path = sample_work_dir(tmp_path / "wd", ("matmul_128",), records=0)
    best = best_records(path, [load_subgraph("matmul_128")]).loc["matmul_128"]
    assert math.isnan(best["latency_ms"]) and not best["confirmed"] and best["trace"] is None


def test_records_of_another_machine_in_a_work_dir_are_named_when_a_run_opens_it(tmp_path):
    from workbench.tuning.results import warn_other_machines

    path = sample_work_dir(tmp_path / "wd", ("matmul_128",), records=4)  # shipped records: another machine's id
    df = load_logs(path, progress=False)
    theirs = sorted(set(df["machine"]))
    assert len(theirs) == 1
    with pytest.warns(UserWarning, match=rf"4 of its records were measured on other hardware \({theirs[0]}"):
        warn_other_machines(path, df, {"id": "mine"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_other_machines(path, df, {"id": theirs[0]})  # the machine that measured them: silent
        warn_other_machines(path, df[:0], {"id": "mine"})  # nothing measured yet: silent
