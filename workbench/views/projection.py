"""2-D (or 3-D) projections of latent vectors: PCA by default, UMAP (``umap-learn``) and t-SNE (scikit-learn),
both installed by the README's set-up commands."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Projection:
    """Coordinates (n, 2) or (n, 3) and how they were made."""

    coords: np.ndarray
    method: str
    explained: tuple[float, ...] | None = None  # PCA: variance fraction of each component
    fitted: Any = None  # what places more vectors the same way: PCA (mean, components), UMAP its model

    @property
    def dims(self) -> int:
        return int(self.coords.shape[1]) if self.coords.ndim == 2 else 2

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Coordinates (m, dims) of more vectors, by the projection fitted on the first ones (they do not move)."""
        x = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1)
        if not len(x):
            return np.zeros((0, self.dims))
        if self.fitted is None:
            raise ValueError(f"a {self.method} projection cannot place new points: project them all together")
        if self.method == "umap":
            return np.asarray(self.fitted.transform(x), dtype=np.float64)
        mean, comps = self.fitted
        coords = np.zeros((len(x), self.dims))
        coords[:, : len(comps)] = (x - mean) @ comps.T
        return coords

    def describe(self) -> str:
        if self.method == "pca" and self.explained is not None:
            return "PCA, " + " + ".join(f"{100 * e:.0f}%" for e in self.explained) + " of the variance"
        return {"tsne": "t-SNE"}.get(self.method, self.method.upper())


def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


METHODS = ("pca", "umap", "tsne")


def available_methods() -> list[str]:
    """The projections this environment can make (PCA always)."""
    out = ["pca"] + (["umap"] if umap_available() else [])
    try:
        import sklearn.manifold  # noqa: F401
    except ImportError:
        return out
    return [*out, "tsne"]


def project(vectors: np.ndarray, *, method: str = "pca", seed: int = 0, dims: int = 2) -> Projection:
    """Project ``vectors`` (n, d) to ``dims`` (2 or 3) dimensions. ``method``: "pca", "umap" (``umap-learn``) or
    "tsne" (scikit-learn; t-SNE places no new points later: :meth:`Projection.apply` raises, so fit it on
    everything at once)."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected an (n, d) array, got shape {x.shape}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, not {dims!r}")
    n = len(x)
    if method == "umap":
        if not umap_available():
            raise ValueError("UMAP needs the umap-learn package (pip install umap-learn); use method='pca'")
        import umap

        model = umap.UMAP(n_components=dims, random_state=seed, n_neighbors=max(2, min(15, n - 1)), n_jobs=1)
        with warnings.catch_warnings():  # a seed makes UMAP single-threaded, and it says so every time
            warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
            coords = model.fit_transform(x)
        return Projection(np.asarray(coords, dtype=np.float64), "umap", fitted=model)
    if method == "tsne":
        if "tsne" not in available_methods():
            raise ValueError("t-SNE needs scikit-learn (pip install scikit-learn); use method='pca'")
        from sklearn.manifold import TSNE

        if n < 3:  # t-SNE needs a perplexity below the number of points
            return Projection(np.zeros((n, dims)), "tsne")
        coords = TSNE(n_components=dims, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed
                      ).fit_transform(x)
        return Projection(np.asarray(coords, dtype=np.float64), "tsne")
    if method != "pca":
        raise ValueError(f"unknown projection {method!r}: use one of {', '.join(METHODS)}")
    if n == 0:
        return Projection(np.zeros((0, dims)), "pca", (0.0,) * dims)
    mean = x.mean(axis=0)
    centred = x - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:dims]
    # A fixed sign per component, so the same data always lands the same way round.
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])
    comps = comps * np.where(signs == 0, 1, signs)[:, None]
    coords = np.zeros((n, dims))
    coords[:, : len(comps)] = centred @ comps.T
    var = s**2
    total = var.sum() or 1.0
    explained = tuple(float(v / total) for v in (list(var[:dims]) + [0.0] * dims)[:dims])
    return Projection(coords, "pca", explained, fitted=(mean, comps))  # type: ignore[arg-type]
