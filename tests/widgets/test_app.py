"""The Workbench: its views linked by traits (a click, an opened disagreement, an edit, a pick reach every view)."""

from __future__ import annotations

import json

from workbench.testing import HELD_OUT, tiny_matmul


class Points:
    """What plotly hands a click callback: the indices of the clicked points."""

    def __init__(self, *inds: int) -> None:
        self.point_inds = list(inds)


def test_workbench_opens_on_measured_records_and_links_views(app):
    n = len(app.records)
    assert n > 50 and "held out" in app.message.value
    assert len(app.projector.figure.data[0].x) == n
    best = int(app.records["latency"].idxmin())
    assert app.row == best and app.projector.selected == best  # opened on the best record
    assert app.candidate.key == app.space.candidate(app.records.loc[best, "trace"]).key
    assert app.stepper.candidate is app.candidate and app.measure.candidate is app.candidate
    # Clicking a point opens that record in the stepper, the trajectory view and the measure panel.
    app.projector.handle_click(None, Points(5), None)
    row = int(app.projector.info["row"].iloc[5])
    assert app.projector.selected == row and app.row == row and app.ranking.selected == row
    assert app.stepper.candidate.key == app.space.candidate(app.records.loc[row, "trace"]).key
    assert app.measure.candidate is app.stepper.candidate
    assert app.trajectory.candidates == [app.stepper.candidate]
    kinds = {t.name.split("(")[-1] for t in app.trajectory.figure.data if t.name}
    assert {"predicted)", "real)"} <= kinds
    # The ranking debugger: metrics for the world model, worst disagreements, contributions, open in stepper.
    assert "world" in app.ranking.metrics.value
    worst = app.ranking.worst.options[0][1]
    app.ranking.worst.value = worst
    assert app.ranking.selected == worst and app.row == row  # selecting explains, it does not open
    assert app.ranking.contrib.data[0].type == "bar" and len(app.ranking.contrib.data[0].x) > 3
    app.ranking.open_button.click()
    assert app.row == worst and app.ranking.opened == worst
    assert app.stepper.candidate.key == app.space.candidate(app.records.loc[worst, "trace"]).key
    assert app.projector.selected == worst  # selected in the projector too
    app.projector.handle_click(None, Points(5), None)  # another row: the ranking follows, the list lets go
    listed = [r for _, r in app.ranking.worst.options]
    assert app.ranking.selected == row and app.ranking.worst.value == (row if row in listed else None)
    app.ranking.worst.value = worst  # the same disagreement again opens again
    app.ranking.open_button.click()
    assert app.row == worst and app.stepper.candidate.key == app.space.candidate(app.records.loc[worst, "trace"]).key


def test_stepper_edits_and_steps_reach_the_trajectory_and_the_measure_panel(app, other_tiling):
    st, view = app.stepper, app.trajectory
    st.forward_button.click()
    st.forward_button.click()
    assert view.position == st.position > 0
    assert any(t.name == "current step" for t in view.figure.data)
    errors = view.info.errors
    assert (errors[errors["step"] > 0]["error"] > 0).all()
    while st.stepper.action is None or not isinstance(st.stepper.action.decision, list):
        st.forward_button.click()
    original = st.candidate
    assert st.apply_edit(json.dumps(other_tiling(json.loads(st.decision.value)))), st.edit_message.value
    # The edit is measured and rolled out beside the original; the candidate opened stays the app's.
    assert app.measure.candidate is st.candidate and app.candidate is original
    assert view.candidates == [original, st.candidate] and view.labels == ["original", "edited"]
    assert {t.legendgroup for t in view.figure.data if t.legendgroup} == {"0", "1"}
    assert {t.name for t in view.figure.data} >= {"original (predicted)", "edited (predicted)"}
    st.undo_button.click()
    assert st.candidate is original and app.measure.candidate is original
    assert view.candidates == [original] and view.labels == ["selected"]


def test_picking_a_subgraph_reopens_every_view(app):
    app.picker.load("matmul_128")
    assert "trained on it" in app.message.value and app.tuning.subgraph == "matmul_128"
    assert set(app.records["subgraph"]) == {"matmul_128"} and app.ranking.info.subgraph == "matmul_128"
    best = int(app.records["latency"].idxmin())
    assert app.row == best and app.projector.selected == best
    assert app.stepper.candidate.space.subgraph.name == "matmul_128" and app.measure.candidate is app.candidate
    # A subgraph without records: fresh candidates are sampled, numbered from 0.
    app.picker.subgraph = tiny_matmul(16)
    assert "no measured records" in app.message.value and app.tuning.subgraph == "tiny_matmul_16"
    assert app.row == 0 and app.candidate is app.sampled[0] and app.stepper.candidate is app.sampled[0]
    assert len(app.projector.figure.data[0].x) == len(app.sampled) and app.ranking.info is None
    app.projector.handle_click(None, Points(2), None)
    assert app.row == 2 and app.stepper.candidate is app.sampled[2]


def test_a_tab_shown_asks_its_figures_to_fill_the_column(app, monkeypatch):
    """A figure first drawn in a hidden tab keeps plotly's 700 px; showing the tab re-sizes it (in the browser
    test, the dashboard's plot is then as wide as its column)."""
    asked = []
    for fig in (app.tuning.figure, app.tuning.rounds_figure, app.projector.figure):
        monkeypatch.setattr(fig, "_send_relayout_msg", lambda data, *a, f=fig: asked.append((f, dict(data))))
    app.tabs.selected_index = 4  # "tune"
    assert {id(f) for f, _ in asked} == {id(app.tuning.figure), id(app.tuning.rounds_figure)}
    assert all(data == {"autosize": True} for _, data in asked)
    asked.clear()
    app.tabs.selected_index = 0
    app.tabs.selected_index = 4  # shown again: asked again (the flag was already on)
    assert [data for f, data in asked if f is app.tuning.figure] == [{"autosize": None}, {"autosize": True}]


def test_closing_the_workbench_closes_every_view(evaluator, logs, tmp_path):
    from widgets import Workbench

    app = Workbench(HELD_OUT, evaluator=evaluator, logs=logs, work_root=tmp_path)
    inner = [app.picker, app.picker.dropdown, app.projector, app.projector.figure, app.stepper,
             app.stepper.slider, app.trajectory.figure, app.ranking, app.measure, app.measure.button, app.tuning]
    assert all(w.comm is not None for w in inner)
    app.close()
    assert app.comm is None and all(w.comm is None for w in inner)


def test_one_selection_everywhere_header_zoom_and_edits(app, other_tiling):
    """The header and the projector's details name what is open; a click keeps a zoom; an edit is a point in
    the projector, keeps the step ring and is what the measure panel labels."""
    proj, header = app.projector, app.header
    best = app.row
    summary = views_summary(app, best)
    assert summary in header.value and "not edited" in header.value and summary in proj.details.value
    assert app.decisions.candidate is app.candidate and app.decisions.importances.data[0].type == "bar"
    # Zoom in (what a box-zoom in the browser sends), then click a point: the zoom stays, the ring moves.
    proj.figure.layout.xaxis.range = [-0.5, 0.5]
    proj.handle_click(None, Points(7), None)
    row = int(proj.info["row"].iloc[7])
    assert tuple(proj.figure.layout.xaxis.range) == (-0.5, 0.5) and app.row == row
    assert list(proj.figure.data[1].x) == [proj.info.set_index("row").loc[row, "x"]]
    assert views_summary(app, row) in header.value and views_summary(app, row) in proj.details.value
    # Open a worst disagreement from the ranking tab: the projector's details and the header name it.
    worst = next(r for _, r in app.ranking.worst.options if r != row)
    app.ranking.worst.value = worst
    app.ranking.open_button.click()
    assert app.row == worst and views_summary(app, worst) in proj.details.value
    assert views_summary(app, worst) in header.value and "explore tab" in app.ranking.open_message.value
    assert app.ranking.stepper is None  # the app's stepper opens it, not one inside the debugger
    # An edit: a diamond in the projector (the other points stay put), the step ring stays, the header says so.
    st = app.stepper
    xs = list(proj.figure.data[0].x)
    while st.stepper.action is None or not isinstance(st.stepper.action.decision, list):
        st.forward_button.click()
    assert st.apply_edit(json.dumps(other_tiling(json.loads(st.decision.value)))), st.edit_message.value
    assert [t.name for t in proj.figure.data] == ["candidates", "selected", "edited"]
    assert list(proj.figure.data[0].x) == xs and len(proj.figure.data[2].x) == 1
    assert tuple(proj.figure.layout.xaxis.range) == (-0.5, 0.5)  # the zoom survives the redraw
    assert any(t.name == "current step" for t in app.trajectory.figure.data)
    assert "edited (1 edit" in header.value and app.measure.label == "edited"
    assert app.measure.logged_ms(app.candidate) == app.records.loc[worst, "latency"] * 1e3
    st.undo_button.click()
    assert [t.name for t in proj.figure.data] == ["candidates", "selected"] and "not edited" in header.value
    # MetaSchedule's XGBModel, trained in the ranking tab, colours the projector too: where the models disagree.
    app.ranking.train_baseline(wait=True)
    assert "world vs xgb" in proj.color.options and proj.info["xgb score"].notna().sum() > 1
    # Another subgraph: nothing of the old one stays in the details or the header.
    app.picker.subgraph = tiny_matmul(16)
    assert app.row == 0 and views_summary(app, 0) in proj.details.value and "not measured" in proj.details.value
    assert views_summary(app, 0) in header.value and app.measure.label == "" and "measured" not in header.value
    assert "world vs xgb" not in proj.color.options  # no records of it: nothing to compare


def views_summary(app, row):
    from workbench import views

    return views.trace_summary(app.candidate_for(row).actions)
