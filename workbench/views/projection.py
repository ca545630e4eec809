"""2D projections of latent vectors: PCA by default, UMAP when the ``umap-learn`` package is installed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Projection:
    """Coordinates (n, 2) and how they were made."""

    coords: np.ndarray
    method: str
    explained: tuple[float, float] | None = None  # PCA: variance fraction of each component

    def describe(self) -> str:
        if self.method == "pca" and self.explained is not None:
            return f"PCA, {100 * self.explained[0]:.0f}% + {100 * self.explained[1]:.0f}% of the variance"
        return self.method.upper()


def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def project(vectors: np.ndarray, *, method: str = "pca", seed: int = 0) -> Projection:
    """Project ``vectors`` (n, d) to 2D. ``method``: "pca" or "umap" (needs ``pip install umap-learn``)."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected an (n, d) array, got shape {x.shape}")
    n = len(x)
    if method == "umap":
        if not umap_available():
            raise ValueError("UMAP needs the umap-learn package (pip install umap-learn); use method='pca'")
        import umap

        coords = umap.UMAP(n_components=2, random_state=seed, n_neighbors=max(2, min(15, n - 1))).fit_transform(x)
        return Projection(np.asarray(coords, dtype=np.float64), "umap")
    if method != "pca":
        raise ValueError(f"unknown projection {method!r}: use 'pca' or 'umap'")
    if n == 0:
        return Projection(np.zeros((0, 2)), "pca", (0.0, 0.0))
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:2]
    # A fixed sign per component, so the same data always lands the same way round.
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])
    comps = comps * np.where(signs == 0, 1, signs)[:, None]
    coords = np.zeros((n, 2))
    coords[:, : len(comps)] = centred @ comps.T
    var = s**2
    total = var.sum() or 1.0
    explained = tuple(float(v / total) for v in (list(var[:2]) + [0.0, 0.0])[:2])
    return Projection(coords, "pca", explained)  # type: ignore[arg-type]
