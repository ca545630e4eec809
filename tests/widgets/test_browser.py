"""A real browser: JupyterLab serves a temporary copy of the notebooks, headless Chromium runs the tour.

Chromium is Debian's package (``make test`` installs it); Playwright's Python package drives it through
``executable_path`` (Playwright's own browser download does not work here). Screenshots go to
``$WORKBENCH_SCREENSHOTS`` (default: the test's temporary directory).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, over a temporary copy of the notebooks (autosave never reaches
    the repo), with every cell rendered (no windowing) so the whole notebook can be checked."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is not installed ({CHROMIUM}); `make test` installs it")
    tmp = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", tmp / "notebooks")
    settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    notes = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    notes.mkdir(parents=True)  # no news pop-up over the notebook (and no request for it)
    (notes / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                         "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp / 'notebooks'}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "lab.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"JupyterLab did not start: {(tmp / 'lab.log').read_text()[-2000:]}") from None
            time.sleep(0.5)
    yield url, token, tmp
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _wait_idle(page, timeout_s: float) -> None:
    """Wait until the kernel's status in the status bar says Idle and no cell shows the running prompt."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        status = page.locator("#jp-main-statusbar").inner_text(timeout=10_000)
        running = page.locator(".jp-InputPrompt", has_text="[*]").count()
        if "Idle" in status and running == 0:
            return
        time.sleep(1)
    raise AssertionError(f"the kernel did not finish in {timeout_s} s (status bar: {status!r})")


def _open_and_run_all(pw, address: str):
    """Headless Chromium on a notebook of the lab: open it, Run All, wait until the kernel is idle."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(address, timeout=120_000)
    page.locator("#jp-main-statusbar", has_text="Idle").wait_for(timeout=180_000)
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    time.sleep(3)
    _wait_idle(page, timeout_s=600)
    return browser, page


def test_tour_runs_in_chromium_and_widgets_respond(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    url, token, _ = lab
    shots = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser, page = _open_and_run_all(pw, f"{url}/lab/tree/00_tour.ipynb?token={token}")
        text = page.locator(".jp-Notebook").inner_text()
        assert "Error displaying widget" not in text
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                            has_text="Traceback").count() == 0
        assert "Traceback" not in text
        assert page.locator(".widget-button").count() > 5  # ipywidgets rendered, not their text repr
        trajectory = page.locator(".js-plotly-plot", has_text="latent trajectories").last
        trajectory.scroll_into_view_if_needed()
        trajectory.wait_for(timeout=60_000)
        page.screenshot(path=str(shots / "tour_after_run_all.png"), full_page=False)
        before = trajectory.inner_html()
        forward = page.locator("button", has_text="forward ▶").last
        forward.scroll_into_view_if_needed()
        for _ in range(3):
            forward.click()
            time.sleep(1.0)
        _wait_idle(page, timeout_s=60)
        deadline = time.time() + 30
        while trajectory.inner_html() == before and time.time() < deadline:
            time.sleep(0.5)
        after = trajectory.inner_html()
        trajectory.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "tour_after_stepping.png"), full_page=False)
        assert after != before, "stepping with the button did not change the trajectory plot"
        step_text = page.locator(".widget-html", has_text="step ").last.inner_text()
        assert "step" in step_text
        browser.close()


APP_CELLS = [
    """from widgets import Workbench
from workbench.testing import sample_records
from workbench.tuning import TuningRun
logs = sample_records(("matmul_256", "matmul_128"), per_subgraph=120)
app = Workbench("matmul_256", logs=logs, work_root="tune")
app""",
    """# two finished runs of another seed: the dashboard overlays them on the runs of seed 0
for seed in (1, 2):
    TuningRun("matmul_128", trials=4, trials_per_iter=4, cost_model="xgb", work_dir=f"tune/matmul_128-xgb-s{seed}",
              seed=seed, confirm=0).run(progress=False)
app.tuning.subgraph = "matmul_128"
app.tuning.overlay.value = app.tuning.overlay.options
print("overlaid:", app.tuning.overlay.value)""",
]


def _assert_fills_column(page, plot) -> None:
    """The plot is drawn (not only its box) at least 85% as wide as the notebook output holding it."""
    column = page.locator(".jp-OutputArea-output", has=plot).last.bounding_box()
    deadline = time.time() + 10
    while time.time() < deadline:  # a tab just shown is resized a moment later
        drawn = plot.evaluate("el => el._fullLayout.width")
        if drawn >= 0.85 * column["width"]:
            return
        time.sleep(0.5)
    raise AssertionError(f"a plot {drawn} px wide in a column of {column['width']} px")


def _header(page) -> str:
    return page.locator(".wb-header").last.inner_text()


def test_the_app_links_its_views_in_chromium(lab, tmp_path):
    """The Workbench in a real browser: a filtered, recoloured projector as wide as its column; a box-zoom, then a
    click opens the point everywhere (header, projector details, stepper, ranking tab) and keeps the zoom; an edit
    is a point in the projector and the trajectory rings the step; a worst disagreement opened from the ranking
    tab is named by the projector; adding a model's subgraphs keeps the selection; the decisions tab sweeps a
    decision; the dashboard overlays runs."""
    from playwright.sync_api import sync_playwright

    url, token, tmp = lab
    shots = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": c}
             for c in APP_CELLS]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    (tmp / "notebooks" / "app_in_browser.ipynb").write_text(json.dumps(nb))
    with sync_playwright() as pw:
        # a workspace of its own: only this notebook is open (the tour's app would match the same selectors)
        browser, page = _open_and_run_all(pw, f"{url}/lab/workspaces/app/tree/app_in_browser.ipynb?reset&token={token}")
        assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
        # The projector: a filter and a colouring by a named decision.
        box = page.locator("input[placeholder^='filter:']").last
        box.scroll_into_view_if_needed()
        box.fill("latency_ms < latency_ms.median()")
        box.press("Enter")
        page.locator(".widget-html", has_text="candidates match").last.wait_for(timeout=30_000)
        colour = page.locator(".widget-dropdown", has_text="colour by").last.locator("select")
        options = [o.replace("\xa0", " ").strip() for o in colour.locator("option").all_text_contents()]
        decision = next((o for o in options if o.endswith(" tile3")), None)
        assert decision, f"no tile decision to colour by among {options}"
        colour.select_option(label=decision)
        plot = page.locator(".js-plotly-plot", has_text="predicted final latents").last
        page.locator(".js-plotly-plot .colorbar", has_text=decision).last.wait_for(timeout=30_000)
        plot.screenshot(path=str(shots / "projector_filter_and_decision_colour.png"))
        # Figures fill the notebook's column (not plotly's default 700 px), also in a tab shown later.
        _assert_fills_column(page, plot)
        _assert_fills_column(page, page.locator(".js-plotly-plot", has_text="latent trajectories").last)
        # A box-zoom (a drag over the plot), then a click on a point inside it: the header (every view's
        # selection), the projector's details, the stepper and the ranking tab name the same candidate, the
        # trajectory is redrawn, and the zoom is kept.
        # The box is centred on the drawn point nearest the plot's centre: where the points lie depends on
        # the shipped model's projection, and a fixed box can hold none.
        drag = plot.locator(".nsewdrag").first.bounding_box()
        points = plot.locator(".scatterlayer .trace").first.locator(".point")
        cx, cy = drag["x"] + drag["width"] / 2, drag["y"] + drag["height"] / 2
        centres = [(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
                   for b in (points.nth(i).bounding_box() for i in range(points.count())) if b]
        assert centres, "the projector drew no points"
        px, py = min(centres, key=lambda c: (c[0] - cx) ** 2 + (c[1] - cy) ** 2)
        half_w, half_h = 0.2 * drag["width"], 0.2 * drag["height"]
        px = min(max(px, drag["x"] + half_w + 2), drag["x"] + drag["width"] - half_w - 2)
        py = min(max(py, drag["y"] + half_h + 2), drag["y"] + drag["height"] - half_h - 2)
        x0, y0, x1, y1 = px - half_w, py - half_h, px + half_w, py + half_h
        full = plot.evaluate("el => el._fullLayout.xaxis.range.slice()")
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
        page.mouse.move(x1, y1, steps=5)
        page.mouse.up()
        time.sleep(1.5)
        zoomed = plot.evaluate("el => el._fullLayout.xaxis.range.slice()")
        assert zoomed != full and zoomed[1] - zoomed[0] < full[1] - full[0], (full, zoomed)
        before = _header(page)
        trajectory = page.locator(".js-plotly-plot", has_text="latent trajectories").last
        drawn = trajectory.inner_html()
        inside = []  # points drawn inside the zoomed plot area (the others lie outside, clipped)
        for i in range(points.count()):
            b = points.nth(i).bounding_box()
            if b and drag["x"] + 10 < b["x"] < drag["x"] + drag["width"] - 10 \
                    and drag["y"] + 10 < b["y"] < drag["y"] + drag["height"] - 10:
                inside.append(i)
        assert inside, "no point inside the zoomed area"
        for i in inside[:6]:  # a point under another, or under the ring, may not take the click: try a few
            points.nth(i).click(force=True)
            deadline = time.time() + 20
            while _header(page) == before and time.time() < deadline:
                time.sleep(0.5)
            if _header(page) != before:
                break
        header = _header(page)
        assert header != before, "clicking a point did not open it"
        opened = header.split("open:", 1)[1].split("·")[0].strip().split(" (sketch")[0]
        details = page.locator(".wb-projector-details").last.inner_text()
        assert opened and opened in details, (opened, details)
        _wait_idle(page, timeout_s=60)
        assert opened in page.locator(".wb-stepper-candidate").last.inner_text()
        assert opened in page.locator(".wb-ranking-selected").last.text_content()
        assert trajectory.inner_html() != drawn, "the trajectory was not redrawn for the clicked candidate"
        kept = plot.evaluate("el => el._fullLayout.xaxis.range.slice()")
        assert kept == zoomed, f"the click reset the zoom: {zoomed} -> {kept}"
        # An edit in the stepper: the header says so, the edited candidate is a point of the projector and the
        # trajectory rings the stepper's step.
        forward = page.locator("button", has_text="forward ▶").last
        decision = page.locator(".widget-text", has_text="decision").last.locator("input")
        for _ in range(60):
            forward.click()
            time.sleep(0.4)
            text = decision.input_value()
            if text.startswith("[") and "," in text:
                break
        factors = json.loads(decision.input_value())
        for attempt in (factors[::-1], factors[1:] + factors[:1], factors[-1:] + factors[:-1]):
            if attempt == factors:
                continue
            decision.fill(json.dumps(attempt))
            page.locator("button", has_text="apply edit").last.click()
            deadline = time.time() + 30
            while "edited (" not in _header(page) and time.time() < deadline:
                time.sleep(0.5)
            if "edited (" in _header(page):
                break
        assert "edited (1 edit" in _header(page), page.locator(".widget-html", has_text="refused").last.inner_text()
        _wait_idle(page, timeout_s=60)
        names = plot.evaluate("el => el.data.map(t => t.name)")
        assert "edited" in names, names
        assert "current step" in trajectory.evaluate("el => el.data.map(t => t.name)")
        assert plot.evaluate("el => el._fullLayout.xaxis.range.slice()") == zoomed  # the edit kept the zoom too
        plot.screenshot(path=str(shots / "projector_with_an_edit.png"))
        # The ranking tab: open one of the worst disagreements; back in the explore tab, the projector's
        # details and the header name it.
        page.locator(".lm-TabBar-tabLabel", has_text="ranking").last.click()
        worst = page.locator(".widget-select", has_text="worst").last.locator("select")
        worst.wait_for(timeout=30_000)
        labels = [o.replace("\xa0", " ").strip() for o in worst.locator("option").all_text_contents()]
        pick = next(lb for lb in labels if lb.split(":")[0].strip() != opened)
        worst.select_option(index=labels.index(pick))
        page.locator("button", has_text="open in stepper").last.click()
        name = pick.split(":")[0].strip()
        deadline = time.time() + 30
        while name not in _header(page) and time.time() < deadline:
            time.sleep(0.5)
        assert name in _header(page), (name, _header(page))
        page.locator(".lm-TabBar-tabLabel", has_text="explore").last.click()
        assert name in page.locator(".wb-projector-details").last.inner_text()
        # Adding a model's subgraphs to the list leaves the open subgraph and candidate as they are.
        before = _header(page)
        page.locator("button", has_text="add its subgraphs").last.click()
        page.locator(".widget-html", has_text="subgraphs of").last.wait_for(timeout=180_000)
        _wait_idle(page, timeout_s=60)
        assert _header(page) == before
        # The decisions tab: importances, parallel coordinates, a sweep of one decision.
        page.locator(".lm-TabBar-tabLabel", has_text="decisions").last.click()
        parcoords = page.locator(".js-plotly-plot", has_text="named decisions").last
        parcoords.wait_for(timeout=30_000)
        parcoords.screenshot(path=str(shots / "parallel_coordinates.png"))
        page.locator("button", has_text="score every value").last.click()
        sweep = page.locator(".js-plotly-plot", has_text="every value of").last
        sweep.wait_for(timeout=60_000)
        sweep.screenshot(path=str(shots / "decision_sweep.png"))
        # The tune tab: the runs of seed 0 and the two earlier runs overlaid.
        page.locator(".lm-TabBar-tabLabel", has_text="tune").last.click()
        curves = page.locator(".js-plotly-plot", has_text="best latency vs trials").last
        curves.wait_for(timeout=30_000)
        _assert_fills_column(page, curves)
        assert curves.locator(".legendtext", has_text="(earlier)").count() == 2
        curves.screenshot(path=str(shots / "dashboard_two_earlier_runs.png"))
        browser.close()
