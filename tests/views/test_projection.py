"""2D projections: deterministic PCA, UMAP and t-SNE (installed by the set-up), shapes checked."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.views import available_methods, project, umap_available


def test_projection_is_deterministic_and_umap_is_optional():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8))
    a, b = project(x), project(x.copy())
    assert np.allclose(a.coords, b.coords) and a.explained[0] >= a.explained[1]
    assert a.coords.shape == (40, 2) and "PCA" in a.describe()
    # The README's set-up installs UMAP and t-SNE: both work, and neither can be asked to place new points
    # the way it did not fit (t-SNE), or places them where the fit puts them (UMAP, PCA).
    assert umap_available() and set(available_methods()) == {"pca", "umap", "tsne"}
    for method in ("umap", "tsne"):
        p = project(x, method=method)
        assert p.coords.shape == (40, 2) and np.isfinite(p.coords).all() and p.describe() in ("UMAP", "t-SNE")
    assert project(x, method="umap").apply(x[:3]).shape == (3, 2)
    with pytest.raises(ValueError, match="cannot place new points"):
        project(x, method="tsne").apply(x[:3])
    assert np.allclose(a.apply(x[:5]), a.coords[:5])  # PCA places its own points where it put them


def test_projection_in_three_dimensions():
    x = np.random.default_rng(1).normal(size=(30, 6))
    p = project(x, dims=3)
    assert p.coords.shape == (30, 3) and len(p.explained) == 3 and p.describe().count("%") == 3
    assert np.allclose(p.coords[:, :2], project(x).coords)  # the same first two components
    assert np.allclose(p.apply(x[:4]), p.coords[:4])
    for method in ("umap", "tsne"):
        assert project(x, method=method, dims=3).coords.shape == (30, 3)
    with pytest.raises(ValueError, match="dims must be 2 or 3"):
        project(x, dims=4)


def test_projection_of_nothing_or_of_the_wrong_shape():
    assert project(np.zeros((0, 5))).coords.shape == (0, 2)
    with pytest.raises(ValueError, match="shape"):
        project(np.zeros(5))
    with pytest.raises(ValueError, match="unknown projection"):
        project(np.zeros((3, 2)), method="isomap")
