"""2D projections: deterministic PCA, UMAP only when installed, shapes checked."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.views import project, umap_available


def test_projection_is_deterministic_and_umap_is_optional():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8))
    a, b = project(x), project(x.copy())
    assert np.allclose(a.coords, b.coords) and a.explained[0] >= a.explained[1]
    assert a.coords.shape == (40, 2) and "PCA" in a.describe()
    if not umap_available():
        with pytest.raises(ValueError, match="umap-learn"):
            project(x, method="umap")


def test_projection_of_nothing_or_of_the_wrong_shape():
    assert project(np.zeros((0, 5))).coords.shape == (0, 2)
    with pytest.raises(ValueError, match="shape"):
        project(np.zeros(5))
    with pytest.raises(ValueError, match="unknown projection"):
        project(np.zeros((3, 2)), method="tsne")
