"""Any local Hugging Face encoder directory (e.g. a CodeBERT checkpoint), loaded offline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench._tvm import torch_ready
from workbench.worldmodel.encoders.base import CONFIG_FILE, TransformerEncoder
from workbench.worldmodel.files import ModelFileError


class HFEncoder(TransformerEncoder):
    """A local Hugging Face encoder directory (CodeBERT-style), loaded offline; mean-pooled last layer."""

    name = "hf"

    def __init__(self, path: str | Path, max_length: int = 512) -> None:
        from transformers import AutoModel, AutoTokenizer

        torch_ready()
        self.path = Path(path)
        if not self.path.is_dir():
            raise ModelFileError(f"{self.path}: no such Hugging Face model directory")
        self.max_length = max_length
        try:
            self.hf_tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
        except (OSError, ValueError) as err:
            raise ModelFileError(f"{self.path}: cannot load a Hugging Face encoder offline: {err}") from err
        self.model.eval()
        self.dim = int(self.model.config.hidden_size)

    def _embed(self, batch: Sequence[str], train: bool = False) -> Any:
        enc = self.hf_tokenizer(list(batch), padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="pt")
        hidden = self.model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_FILE).write_text(json.dumps({"kind": "hf", "max_length": self.max_length,
                                                    "source": str(self.path)}))
        self.model.save_pretrained(str(path / "hf"), safe_serialization=True)
        self.hf_tokenizer.save_pretrained(str(path / "hf"))

    @classmethod
    def _load(cls, path: Path, config: dict[str, Any]) -> HFEncoder:
        return cls(path / "hf", max_length=config.get("max_length", 512))
