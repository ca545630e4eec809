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


def test_tour_runs_in_chromium_and_widgets_respond(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    url, token, _ = lab
    shots = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(f"{url}/lab/tree/00_tour.ipynb?token={token}", timeout=120_000)
        page.locator("#jp-main-statusbar", has_text="Idle").wait_for(timeout=180_000)
        page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        time.sleep(3)
        _wait_idle(page, timeout_s=600)
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
