"""TF-IDF over TIR tokens and token bigrams, projected by a truncated SVD: the fast lexical encoder."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.worldmodel.config import DEFAULTS
from workbench.worldmodel.encoders.base import CONFIG_FILE, Encoder
from workbench.worldmodel.files import ModelFileError, load_tensors, read_json
from workbench.worldmodel.text import indent_tokens

_TOKEN = re.compile(r"[A-Za-z_]+|\d+|\S")


class TfidfEncoder(Encoder):
    """TF-IDF over TIR tokens and token bigrams, projected to ``dim`` by truncated SVD."""

    name = "tfidf"

    def __init__(self, dim: int = DEFAULTS.latent_dim, max_features: int = DEFAULTS.tfidf_max_features,
                 seed: int = DEFAULTS.seed) -> None:
        self.dim = dim
        self.max_features = max_features
        self.seed = seed
        self.vocab: dict[str, int] = {}
        self.idf = np.zeros(0, dtype=np.float32)
        self.components = np.zeros((0, dim), dtype=np.float32)
        self.mean = np.zeros(dim, dtype=np.float32)

    @staticmethod
    def _terms(text: str) -> list[str]:
        toks = _TOKEN.findall(indent_tokens(text))
        return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]

    def _tf(self, texts: Sequence[str]) -> Any:
        from scipy import sparse

        rows, cols, vals = [], [], []
        for i, text in enumerate(texts):
            counts = Counter(t for t in self._terms(text) if t in self.vocab)
            for term, c in counts.items():
                rows.append(i)
                cols.append(self.vocab[term])
                vals.append(1.0 + math.log(c))
        m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.vocab)), dtype=np.float32)
        m = m.multiply(self.idf[None, :]).tocsr()
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
        return sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ m

    def fit(self, groups: dict[str, list[str]], *, progress: bool = False) -> dict[str, Any]:
        from scipy.sparse.linalg import svds

        texts = [t for ts in groups.values() for t in ts]
        df = Counter()
        for text in texts:
            df.update(set(self._terms(text)))
        terms = [t for t, c in df.most_common(self.max_features) if c >= 2]
        self.vocab = {t: i for i, t in enumerate(terms)}
        n = len(texts)
        self.idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in terms], dtype=np.float32)
        m = self._tf(texts)
        k = min(self.dim, min(m.shape) - 1)
        rng = np.random.default_rng(self.seed)
        _, s, vt = svds(m.astype(np.float64), k=k, v0=rng.standard_normal(min(m.shape)))
        order = np.argsort(-s)
        comps = np.zeros((len(terms), self.dim), dtype=np.float32)
        comps[:, :k] = vt[order].T
        # Fix the sign of each component so retraining with the same seed gives the same vectors.
        signs = np.sign(comps[np.abs(comps).argmax(axis=0), np.arange(self.dim)])
        self.components = comps * np.where(signs == 0, 1, signs)[None, :]
        self.mean = np.zeros(self.dim, dtype=np.float32)
        z = np.asarray(m @ self.components)
        self.mean = z.mean(axis=0).astype(np.float32)
        return {"vocab": len(terms), "programs": n}

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not self.vocab:
            raise RuntimeError("the tfidf encoder is not fitted")
        z = np.asarray(self._tf(list(texts)) @ self.components, dtype=np.float32)
        return (z - self.mean) * 10.0  # unit-norm TF-IDF rows give small coordinates; scale to O(1)

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_FILE).write_text(json.dumps({"kind": "tfidf", "dim": self.dim,
                                                    "max_features": self.max_features, "seed": self.seed}))
        (path / "tfidf_vocab.json").write_text(json.dumps(list(self.vocab)))
        save_file({"idf": self.idf, "components": self.components, "mean": self.mean},
                  str(path / "tfidf.safetensors"))

    @classmethod
    def _load(cls, path: Path, config: dict[str, Any]) -> TfidfEncoder:
        enc = cls(dim=config["dim"], max_features=config.get("max_features", DEFAULTS.tfidf_max_features),
                  seed=config.get("seed", DEFAULTS.seed))
        terms = read_json(path / "tfidf_vocab.json")
        tensors = load_tensors(path / "tfidf.safetensors")
        enc.vocab = {t: i for i, t in enumerate(terms)}
        enc.idf = tensors["idf"].numpy()
        enc.components = tensors["components"].numpy()
        enc.mean = tensors["mean"].numpy()
        if enc.components.shape != (len(terms), enc.dim) or enc.idf.shape != (len(terms),):
            raise ModelFileError(f"{path}: tfidf weights do not match the vocabulary "
                                 f"({enc.components.shape} vs {len(terms)} terms, dim {enc.dim})")
        return enc
