"""The tuning dashboard: start, stop (closing stops too), resume from the work dirs, curves and table."""

from __future__ import annotations

import time


def test_tuning_dashboard_starts_stops_and_resumes(tmp_path):
    from widgets import TuningDashboard

    settings = {"trials": 16, "trials_per_iter": 4, "cost_models": ("world", "xgb"), "work_root": tmp_path,
                "interval": 0.2, "confirm": 0}
    dash = TuningDashboard("matmul_128", **settings)
    dash.start()
    deadline = time.time() + 300
    while dash.runs["world"].measured < 4 and time.time() < deadline:
        time.sleep(0.2)
    dash.close()  # stops the runs after the batch being measured is saved, then closes the widgets
    assert "stopped" in dash.status.value and dash.runs["world"].measured < 16 and dash.runs["xgb"].measured == 0
    assert not dash.running and not any(r.running for r in dash.runs.values()) and dash.comm is None
    again = TuningDashboard("matmul_128", **settings)
    again.start()  # resumes the world run from its work dir, then runs xgb
    again.wait()
    assert "done" in again.status.value, again.status.value
    assert {r.measured for r in again.runs.values()} == {16}
    names = {t.name for t in again.figure.data}
    assert {"world", "xgb"} <= names
    assert "best ms" in again.table.value and again.bar.value == 32
    assert not again.start_button.disabled and again.stop_button.disabled
    again.close()


def test_the_planned_world_model_is_a_choice_and_its_batches_have_a_view(tmp_path):
    from widgets import TuningDashboard

    dash = TuningDashboard("matmul_128", trials=4, work_root=tmp_path, cost_models=("world_plan", "xgb"))
    runs = dash.make_runs()
    assert list(runs) == ["world_plan", "xgb"]
    assert runs["world_plan"].strategy == "plan" and runs["world_plan"].config.cost_model == "world"
    assert runs["xgb"].strategy == "evolutionary"
    dash.runs = runs
    dash.refresh()  # nothing measured yet: empty figures, no table rows, no error
    assert len(dash.rounds_figure.data) == 0 and dash.rounds_table.value == ""
