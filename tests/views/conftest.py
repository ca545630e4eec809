"""View fixtures: the shipped evaluator, a few shipped records of one subgraph, tiny real candidates."""

from __future__ import annotations

import pytest

from workbench.testing import sample_records, tiny_matmul


@pytest.fixture(scope="session")
def evaluator():
    from workbench.worldmodel import load_default

    return load_default("cpu")


@pytest.fixture(scope="session")
def records():
    """40 measured records of matmul_128 (a load_logs DataFrame)."""
    return sample_records(("matmul_128",), per_subgraph=40)


@pytest.fixture(scope="session")
def tiny_candidates():
    from workbench.actions import DesignSpace

    return DesignSpace(tiny_matmul(16)).sample(4, seed=0)
