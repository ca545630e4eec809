"""Widget fixtures: the shipped evaluator and a slice of the sample logs are shared (read-only); every test
that needs a Workbench gets its own."""

from __future__ import annotations

import math

import pytest

from workbench.testing import HELD_OUT, SMALL_SUBGRAPHS, sample_records


@pytest.fixture(scope="session")
def evaluator():
    from workbench.worldmodel import load_default

    return load_default("cpu")


@pytest.fixture(scope="session")
def logs():
    """Every shipped record of the held-out subgraph and of three training subgraphs."""
    return sample_records((HELD_OUT, *SMALL_SUBGRAPHS), per_subgraph=150)


@pytest.fixture(scope="session")
def held_out_records(logs):
    return logs[(logs["subgraph"] == HELD_OUT) & (logs["status"] == "ok")]


@pytest.fixture(scope="session")
def held_out_space():
    from workbench.actions import DesignSpace
    from workbench.subgraphs import load_subgraph

    return DesignSpace(load_subgraph(HELD_OUT))


@pytest.fixture
def app(evaluator, logs, tmp_path):
    from widgets import Workbench

    app = Workbench(HELD_OUT, evaluator=evaluator, logs=logs, work_root=tmp_path / "tune")
    yield app
    app.close()


@pytest.fixture(scope="session")
def other_tiling():
    """Another perfect tiling of a SamplePerfectTile decision's loop, innermost factor 1 (always allowed)."""
    def tiling(decision: list[int]) -> list[int]:
        whole = math.prod(decision)
        first = [whole] + [1] * (len(decision) - 1)
        return first if first != decision else [1, whole] + [1] * (len(decision) - 2)

    return tiling
