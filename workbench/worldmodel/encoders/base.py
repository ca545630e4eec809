"""The encoder interface, the shared transformer base, and encoders chosen by name or loaded from a directory.

Every encoder saves to and loads from a directory with a JSON config (``encoder.json``, whose ``kind`` says
which class reads it), ``.safetensors`` weights and tokenizer JSON files; nothing is pickled.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench._tvm import torch_ready
from workbench.worldmodel.files import ModelFileError, read_json

CONFIG_FILE = "encoder.json"
# kind -> "module:class"; imported on first use, so loading a tfidf model never imports transformers.
KINDS = {
    "tfidf": "workbench.worldmodel.encoders.tfidf:TfidfEncoder",
    "contrastive": "workbench.worldmodel.encoders.contrastive:ContrastiveEncoder",
    "hf": "workbench.worldmodel.encoders.hf:HFEncoder",
}


class Encoder:
    """Base class: ``encode(texts)`` gives an (n, dim) float32 array."""

    name = "encoder"
    dim = 0

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        raise NotImplementedError

    def fit(self, groups: dict[str, list[str]], *, progress: bool = False) -> dict[str, Any]:
        """Train on program texts grouped by subgraph; returns training statistics."""
        return {}

    def save(self, path: str | Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | Path) -> Encoder:
        """The encoder saved in ``path``, whatever its kind."""
        path = Path(path)
        config = read_json(path / CONFIG_FILE)
        kind = config.get("kind") if isinstance(config, dict) else None
        if kind not in KINDS:
            raise ModelFileError(f"{path / CONFIG_FILE}: unknown encoder kind {kind!r} (known: {sorted(KINDS)})")
        try:
            return encoder_class(kind)._load(path, config)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ModelFileError(f"{path / CONFIG_FILE}: a {kind} encoder that cannot be rebuilt from this "
                                 f"directory ({type(err).__name__}: {err})") from err

    @classmethod
    def _load(cls, path: Path, config: dict[str, Any]) -> Encoder:
        raise NotImplementedError


class TransformerEncoder(Encoder):
    """Shared parts of the transformer encoders: batching sorted by length, and ``_embed`` per batch."""

    model: Any = None

    def _embed(self, batch: Sequence[str], train: bool = False) -> Any:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        torch = torch_ready()

        # Sorting by length keeps padding small; the output keeps the input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        self.model.eval()
        with torch.inference_mode():
            for start in tqdm(range(0, len(order), batch_size), desc=f"encoding ({self.name})", unit="batch",
                              disable=not progress, leave=False):
                idx = order[start:start + batch_size]
                out[idx] = self._embed([texts[i] for i in idx]).float().numpy()
        return out


def encoder_class(kind: str) -> type[Encoder]:
    module, _, name = KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def create(spec: str | Encoder, **kwargs: Any) -> Encoder:
    """An encoder by name (``tfidf``, ``contrastive``, ``hf:/path/to/dir``) or the instance itself."""
    if isinstance(spec, Encoder):
        return spec
    if isinstance(spec, str) and spec.startswith("hf:"):
        return encoder_class("hf")(spec[3:], **kwargs)
    if spec == "hf":
        raise ValueError("the hf encoder needs a directory: 'hf:/path/to/model'")
    if spec not in KINDS:
        raise ValueError(f"unknown encoder {spec!r}; choose from tfidf, contrastive, hf:/path")
    return encoder_class(spec)(**kwargs)
