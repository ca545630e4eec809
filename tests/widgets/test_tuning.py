"""The tuning dashboard: start, stop (closing stops too), resume from the work dirs, curves and table."""

from __future__ import annotations

import time

from workbench import views


def test_tuning_dashboard_starts_stops_and_resumes(tmp_path):
    from widgets import TuningDashboard

    settings = {"trials": 16, "trials_per_iter": 4, "cost_models": ("world", "xgb"), "work_root": tmp_path,
                "interval": 0.2, "confirm": 0}
    dash = TuningDashboard("matmul_128", **settings)
    dash.start()
    deadline = time.time() + 300
    live, said = [], set()  # the table's timings while it runs (they never go backwards), the status lines
    while dash.runs["world"].measured < 4 and time.time() < deadline:
        live.append(views.tuning_table(dash.runs).iloc[0])
        said.add(dash.status.value)
        time.sleep(0.2)
    while dash.runs["world"].measured < 8 and time.time() < deadline and not any("at this pace" in s for s in said):
        said.add(dash.status.value)  # an ETA once a batch of this session is measured
        time.sleep(0.1)
    dash.close()  # stops the runs after the batch being measured is saved, then closes the widgets
    assert any("trials left, about" in s and "at this pace" in s for s in said), said
    assert "stopped" in dash.status.value and dash.runs["world"].measured < 16 and dash.runs["xgb"].measured == 0
    assert f"{16 - dash.runs['world'].measured + 16} trials left" in dash.status.value
    assert not dash.running and not any(r.running for r in dash.runs.values()) and dash.comm is None
    for key in ("search s", "build s", "run s"):
        assert all(b[key] >= a[key] - 0.05 for a, b in zip(live[:-1], live[1:], strict=True)), (key, [x[key] for x in live])
    stopped_s = views.tuning_table(dash.runs).iloc[0]["search s"]
    again = TuningDashboard("matmul_128", **settings)
    opened = views.tuning_table(again.runs)  # opened again: what the work dirs say, not "new" and 0 s
    assert list(opened["status"]) == ["stopped", "new"] and opened["search s"].iloc[0] == stopped_s > 0
    assert "trials left" in again.status.value
    again.start()  # resumes the world run from its work dir, then runs xgb
    again.wait()
    assert "done" in again.status.value and "running" not in again.table.value, again.status.value
    assert {r.measured for r in again.runs.values()} == {16}
    names = {t.name for t in again.figure.data}
    assert {"world", "xgb"} <= names
    assert "best ms" in again.table.value and again.bar.value == 32
    assert not again.start_button.disabled and again.stop_button.disabled
    again.close()
    reopened = TuningDashboard("matmul_128", **settings)  # shows what the work dirs hold; nothing starts
    finished = views.tuning_table(reopened.runs)
    assert list(finished["status"]) == ["done", "done"] and (finished["search s"] > 0).all()
    assert finished["search s"].iloc[0] > stopped_s  # both sessions of the world run
    assert {"world", "xgb"} <= {t.name for t in reopened.figure.data} and "done" in reopened.status.value
    assert reopened.bar.value == 32 and not reopened.running
    reopened.x_axis.value = "wall clock"  # both sessions of the world run on one clock, end to end, no gap
    world = next(t for t in reopened.figure.data if t.name == "world")
    clock = list(world.x)
    sessions = reopened.runs["world"].timings(sessions="all")["total"]  # both sessions, start to end
    assert len(clock) == 16 and clock == sorted(clock) and 0 < clock[-1] <= sessions + 1
    assert "wall clock" in reopened.figure.layout.xaxis.title.text
    reopened.y_axis.value = "linear"
    assert reopened.figure.layout.yaxis.type == "linear"
    reopened.subgraph = "matmul_256"  # no runs of it here: empty again
    assert reopened.runs == {} and len(reopened.figure.data) == 0
    reopened.close()
    other_seed = TuningDashboard("matmul_128", **settings, seed=1)  # the seed-0 runs are earlier runs to compare
    assert other_seed.runs == {} and other_seed.overlay.options == ("matmul_128-world-s0", "matmul_128-xgb-s0")
    other_seed.overlay.value = other_seed.overlay.options
    dotted = [t for t in other_seed.figure.data if t.name.endswith("(earlier)")]
    assert len(dotted) == 2 and all(t.line.dash == "dot" and len(t.x) == 16 for t in dotted)
    other_seed.close()


def test_the_planned_world_model_is_a_choice_and_its_batches_have_a_view(tmp_path):
    from widgets import TuningDashboard

    dash = TuningDashboard("matmul_128", trials=4, work_root=tmp_path,
                           cost_models=("world_plan", "world_transfer", "world_diverse", "xgb"))
    runs = dash.make_runs()
    assert list(runs) == ["world_diverse", "world_plan", "world_transfer", "xgb"]
    assert runs["world_plan"].strategy == "plan" and runs["world_plan"].config.cost_model == "world"
    assert runs["world_transfer"].strategy == "transfer" and runs["world_transfer"].config.cost_model == "world"
    assert runs["world_diverse"].strategy == "diverse" and runs["world_diverse"].config.cost_model == "world"
    assert runs["xgb"].strategy == "evolutionary"
    dash.runs = runs
    dash.refresh()  # nothing measured yet: empty figures, no table rows, no error
    assert len(dash.rounds_figure.data) == 0 and dash.rounds_table.value == ""


def test_the_dashboard_checks_the_default_cost_model_and_metaschedules_unless_told(tmp_path):
    from widgets import TuningDashboard
    from workbench.worldmodel import load_default

    checked = [cm for cm, box in TuningDashboard("matmul_128", work_root=tmp_path).models.items() if box.value]
    assert checked == ["world_verify", "xgb"]  # the shipped CPU model has its verifier
    shipped = load_default("cpu")
    bare = shipped.save(tmp_path / "bare")  # a world model saved without a verifier beside it
    dash = TuningDashboard("matmul_128", work_root=tmp_path, evaluator=bare)
    assert [cm for cm, box in dash.models.items() if box.value] == ["world", "xgb"]
