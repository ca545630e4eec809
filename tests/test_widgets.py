"""Widgets driven headlessly: set values, click, call handlers; assert on figure data and widget state."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from workbench.views import project

HELD_OUT = "matmul_256"  # in the sample logs, never seen by the shipped model


class _Points:
    def __init__(self, *inds: int) -> None:
        self.point_inds = list(inds)


@pytest.fixture(scope="module")
def app():
    from widgets import Workbench

    return Workbench(HELD_OUT)


def test_workbench_opens_on_measured_records_and_links_views(app):
    n = len(app.records)
    assert n > 50 and "held out" in app.message.value
    assert len(app.projector.figure.data[0].x) == n
    best = int(app.records["latency"].idxmin())
    assert app.projector.selected == best and app.current is not None  # opened on the best record
    assert app.current.key == app.space.candidate(app.records.loc[best, "trace"]).key
    # Clicking a point opens that record in the stepper, the trajectory view and the measure panel.
    app.projector._on_click(None, _Points(5), None)
    row = int(app.projector.info["row"].iloc[5])
    assert app.projector.selected == row
    assert app.stepper.candidate.key == app.space.candidate(app.records.loc[row, "trace"]).key
    assert app.measure.candidate is app.stepper.candidate
    kinds = {t.name.split("(")[-1] for t in app.trajectory.figure.data if t.name}
    assert {"predicted)", "real)"} <= kinds
    # The ranking debugger: metrics for the world model, worst disagreements, contributions, open in stepper.
    assert "world" in app.ranking.metrics.value
    worst = app.ranking.worst.options[0][1]
    app.ranking.worst.value = worst
    assert app.ranking.contrib.data[0].type == "bar" and len(app.ranking.contrib.data[0].x) > 3
    app.ranking.open_button.click()
    assert app.stepper.candidate.key == app.space.candidate(app.records.loc[worst, "trace"]).key
    assert app.projector.selected == worst  # selected in the projector too


def test_ranking_debugger_adds_metaschedule_xgbmodel_on_demand(app):
    ranking = app.ranking
    assert not ranking.baseline_button.disabled and "xgb" not in ranking.metrics.value
    ranking.train_baseline(ranking.train_records, wait=True)
    assert "xgb" in ranking.metrics.value and len(ranking.figure.data) >= 2
    assert ranking.baseline_button.disabled and "trained" in ranking.busy.label.value


def test_action_stepper_steps_and_shows_diffs(conv_space):
    from widgets import ActionStepper

    cand = conv_space.sample(1, seed=3)[0]
    widget = ActionStepper(cand)
    assert widget.position == 0 and widget.back_button.disabled
    assert "initial program" in widget.title.value and widget.score.value == ""  # no evaluator: no score
    initial_program = widget.program.value
    widget.forward_button.click()
    first = widget.position
    assert first > 0 and widget.slider.value == first
    # With lookups skipped, every stop is an action that changes the program or has a decision.
    for _ in range(len(cand)):
        if "does not change" not in widget.diff.value:
            break
        widget.forward_button.click()
    assert "background:#e6ffec" in widget.diff.value  # added lines highlighted
    assert widget.program.value != initial_program
    widget.slider.value = len(cand)
    assert widget.position == len(cand) and widget.forward_button.disabled
    assert widget.program.value == cand.mod.script()
    widget.back_button.click()
    assert widget.position < len(cand)


def test_stepper_steps_edits_and_explains_refusals(app):
    st = app.stepper
    st.show(app.current)
    assert st.position == 0 and "initial program" in st.title.value
    st.forward_button.click()
    assert st.position > 0 and "step" in st.title.value and "final score" in st.score.value
    while st.stepper.action is None or st.stepper.action.decision is None or not isinstance(
            st.stepper.action.decision, list):
        st.forward_button.click()
    before_key, decision = st.candidate.key, json.loads(st.decision.value)
    assert not st.apply_edit(json.dumps([97] * len(decision)))  # no loop has that many factors of 97
    assert "refused" in st.edit_message.value and st.candidate.key == before_key
    assert st.apply_edit(json.dumps(list(reversed(decision)))) or "refused" in st.edit_message.value
    if st.candidate.key != before_key:  # the edit applied: the trajectory shows the original and the edit
        assert "applied" in st.edit_message.value
        labels = {t.legendgroup for t in app.trajectory.figure.data if t.legendgroup}
        assert labels == {"0", "1"}
        st.undo_button.click()
        assert st.candidate.key == before_key
    slider_to = min(len(st.candidate), st.position + 3)
    st.slider.value = slider_to
    assert st.position == slider_to


def test_trajectory_view_highlights_the_stepper_position(app):
    view = app.trajectory
    n = len(view.figure.data)
    app.stepper.forward_button.click()
    app.stepper.forward_button.click()
    assert any(t.name == "current step" for t in view.figure.data) and len(view.figure.data) >= n
    errors = view.info.errors
    assert (errors[errors["step"] > 0]["error"] > 0).all()


def test_projector_colours_by_score_or_latency(app):
    proj = app.projector
    proj.color.value = "score"
    assert "ranker score" in proj.figure.data[0].marker.colorbar.title.text
    proj.color.value = "latency"
    assert "latency" in proj.figure.data[0].marker.colorbar.title.text
    assert np.allclose(proj.figure.data[0].marker.color, np.log10(proj.info["latency_ms"]))


def test_measure_panel_measures_for_real_next_to_the_predicted_rank(app):
    panel = app.measure
    panel.repeat.value = 3
    panel.measure(wait=True)
    row = panel.results[-1]
    assert row["status"] == "ok" and row["latency_ms"] > 0 and row["spread_%"] >= 0
    assert row["predicted rank"].endswith("of 64")
    assert "ms</b>" in panel.status.value and not panel.button.disabled


def test_tuning_dashboard_starts_stops_and_resumes(tmp_path):
    from widgets import TuningDashboard

    dash = TuningDashboard("matmul_128", trials=16, trials_per_iter=4, cost_models=("world", "xgb"),
                           work_root=tmp_path, interval=0.2)
    dash.start()
    deadline = time.time() + 300
    while dash.runs["world"].measured < 4 and time.time() < deadline:
        time.sleep(0.2)
    dash.stop()
    assert "stopped" in dash.status.value and dash.runs["world"].measured < 16 and dash.runs["xgb"].measured == 0
    dash.start()  # resumes the world run, then runs xgb
    dash.wait()
    assert "done" in dash.status.value
    assert {r.measured for r in dash.runs.values()} == {16}
    names = {t.name for t in dash.figure.data}
    assert {"world", "xgb"} <= names
    assert "best ms" in dash.table.value and dash.bar.value == 32


def test_picker_loads_catalog_files_and_explains_errors(tmp_path):
    from widgets import SubgraphPicker

    seen = []
    picker = SubgraphPicker("matmul_128")
    picker.on_change(seen.append)
    assert picker.subgraph.name == "matmul_128" and "T.grid" in picker.tir.value
    assert picker.load("no_such_subgraph") is None and "no_such_subgraph" in picker.message.value
    path = tmp_path / "add.py"
    path.write_text(picker.subgraph.script())
    picker.path.value = str(path)
    picker.path_button.click()
    assert seen and seen[-1].name == "add" and picker.subgraph is seen[-1]


def test_projection_is_deterministic_and_umap_is_optional():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8))
    a, b = project(x), project(x.copy())
    assert np.allclose(a.coords, b.coords) and a.explained[0] >= a.explained[1]
    from workbench.views import umap_available

    if not umap_available():
        with pytest.raises(ValueError, match="umap-learn"):
            project(x, method="umap")
