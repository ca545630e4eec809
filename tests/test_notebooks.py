"""Every notebook runs top to bottom (executed from a temporary copy, so the repo stays clean)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    nb = nbformat.read(copy, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    shown = "".join(o.get("text", "") + str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "Total trials" not in shown and "Weighted Latency" not in shown  # TVM's own table after every batch
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "FutureWarning" not in stderr, stderr[:2000]
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
