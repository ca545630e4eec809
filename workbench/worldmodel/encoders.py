"""State encoders: a TIR program (its normalized text) to a vector.

Three kinds, chosen by name or passed as an instance:

* ``tfidf``: TF-IDF over TIR tokens projected by a truncated SVD; fast lexical baseline.
* ``contrastive``: a small RoBERTa built from a config (no pretrained weights) with a BPE tokenizer trained
  on TIR text, trained with InfoNCE: equivalent rewrites of a program (renamed variables, expanded loop
  grids) are positives, other schedules of the same program are the hard negatives.
* ``hf``: any local Hugging Face encoder directory (e.g. a CodeBERT checkpoint), loaded offline.

Every encoder saves to and loads from a directory with JSON config, ``.safetensors`` weights and tokenizer
JSON files; nothing is pickled.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.worldmodel.text import equivalent_view

CONFIG_FILE = "encoder.json"
_TOKEN = re.compile(r"[A-Za-z_]+|\d+|\S")


class ModelFileError(ValueError):
    """A model directory with a missing, corrupt or inconsistent file."""


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelFileError(f"{path}: missing file")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ModelFileError(f"{path}: not valid JSON ({err})") from err


def load_tensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise ModelFileError(f"{path}: missing file")
    try:
        return load_file(str(path))
    except Exception as err:  # noqa: BLE001 - safetensors raises several error types for bad files
        raise ModelFileError(f"{path}: not a valid safetensors file ({err})") from err


def _indent_tokens(text: str) -> str:
    """Make nesting visible to tokenizers that drop whitespace: ``   for`` becomes ``@3 for``."""
    return "\n".join(f"@{len(ln) - len(ln.lstrip(' '))} {ln.lstrip(' ')}" for ln in text.splitlines())


class Encoder:
    """Base class: ``encode(texts)`` gives an (n, dim) float32 array."""

    name = "encoder"
    dim = 0

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        raise NotImplementedError

    def fit(self, groups: dict[str, list[str]], **kwargs: Any) -> dict[str, Any]:
        """Train on program texts grouped by subgraph; returns training statistics."""
        return {}

    def save(self, path: str | Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | Path) -> Encoder:
        path = Path(path)
        config = read_json(path / CONFIG_FILE)
        kind = config.get("kind")
        if kind not in ENCODERS:
            raise ModelFileError(f"{path / CONFIG_FILE}: unknown encoder kind {kind!r} (known: {sorted(ENCODERS)})")
        return ENCODERS[kind]._load(path, config)

    @classmethod
    def _load(cls, path: Path, config: dict[str, Any]) -> Encoder:
        raise NotImplementedError


class TfidfEncoder(Encoder):
    """TF-IDF over TIR tokens and token bigrams, projected to ``dim`` by truncated SVD."""

    name = "tfidf"

    def __init__(self, dim: int = 64, max_features: int = 20000, seed: int = 0) -> None:
        self.dim = dim
        self.max_features = max_features
        self.seed = seed
        self.vocab: dict[str, int] = {}
        self.idf = np.zeros(0, dtype=np.float32)
        self.components = np.zeros((0, dim), dtype=np.float32)
        self.mean = np.zeros(dim, dtype=np.float32)

    @staticmethod
    def _terms(text: str) -> list[str]:
        toks = _TOKEN.findall(_indent_tokens(text))
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

    def fit(self, groups: dict[str, list[str]], **kwargs: Any) -> dict[str, Any]:
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
        enc = cls(dim=config["dim"], max_features=config.get("max_features", 20000), seed=config.get("seed", 0))
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


class _TransformerEncoder(Encoder):
    """Shared parts of the transformer encoders: batching, mean pooling, a linear projection."""

    max_length = 512

    def _setup_torch(self) -> Any:
        from workbench._tvm import torch_ready

        return torch_ready()

    def _embed(self, batch: Sequence[str], train: bool = False) -> Any:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        torch = self._setup_torch()
        from tqdm.auto import tqdm

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


class ContrastiveEncoder(_TransformerEncoder):
    """A small RoBERTa (from a config) over a BPE tokenizer trained on TIR, trained contrastively."""

    name = "contrastive"

    def __init__(self, dim: int = 64, hidden: int = 128, layers: int = 4, heads: int = 4, vocab_size: int = 2000,
                 max_length: int = 384, positives: str = "rewrite", seed: int = 0) -> None:
        if positives not in ("rewrite", "dropout"):
            raise ValueError(f"positives must be 'rewrite' or 'dropout', not {positives!r}")
        self.dim, self.hidden, self.layers, self.heads = dim, hidden, layers, heads
        self.vocab_size, self.max_length, self.positives, self.seed = vocab_size, max_length, positives, seed
        self.tokenizer: Any = None
        self.model: Any = None
        self.head: Any = None  # pooled hidden state -> latent (dim)

    def config(self) -> dict[str, Any]:
        return {"kind": "contrastive", "dim": self.dim, "hidden": self.hidden, "layers": self.layers,
                "heads": self.heads, "vocab_size": self.vocab_size, "max_length": self.max_length,
                "positives": self.positives, "seed": self.seed}

    def _build(self) -> None:
        torch = self._setup_torch()
        from transformers import RobertaConfig, RobertaModel

        torch.manual_seed(self.seed)
        cfg = RobertaConfig(vocab_size=self.tokenizer.get_vocab_size(), hidden_size=self.hidden,
                            num_hidden_layers=self.layers, num_attention_heads=self.heads,
                            intermediate_size=2 * self.hidden, max_position_embeddings=self.max_length + 2,
                            pad_token_id=self.tokenizer.token_to_id("<pad>"), type_vocab_size=1,
                            hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
        self.model = RobertaModel(cfg, add_pooling_layer=False)
        self.head = torch.nn.Linear(self.hidden, self.dim)

    def _train_tokenizer(self, texts: Sequence[str]) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                     pre_tokenizers.Digits(individual_digits=False)])
        trainer = trainers.BpeTrainer(vocab_size=self.vocab_size, special_tokens=["<pad>", "<unk>", "<s>", "</s>"],
                                      show_progress=False)
        tok.train_from_iterator((_indent_tokens(t) for t in texts), trainer)
        tok.enable_truncation(self.max_length)
        tok.enable_padding(pad_id=tok.token_to_id("<pad>"), pad_token="<pad>")
        self.tokenizer = tok

    def _embed(self, batch: Sequence[str], train: bool = False) -> Any:
        torch = self._setup_torch()
        enc = self.tokenizer.encode_batch([_indent_tokens(t) for t in batch])
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled)

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return [len(self.tokenizer.encode(_indent_tokens(t)).tokens) - 0 for t in texts]

    def fit(self, groups: dict[str, list[str]], *, steps: int = 300, groups_per_batch: int = 4,
            per_group: int = 8, lr: float = 5e-4, temperature: float = 0.1,
            progress: bool = True, on_step: Callable[[int, float], None] | None = None,
            **kwargs: Any) -> dict[str, Any]:
        """InfoNCE over two views of each program; a batch takes several programs from few subgraphs."""
        torch = self._setup_torch()
        import torch.nn.functional as F
        from tqdm.auto import tqdm

        rng = random.Random(self.seed)
        texts = [t for ts in groups.values() for t in ts]
        self._train_tokenizer(texts)
        self._build()
        usable = {k: list(dict.fromkeys(v)) for k, v in groups.items() if v}
        names = sorted(usable)
        params = list(self.model.parameters()) + list(self.head.parameters())
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * max(0.05, 1 - s / steps))
        losses, t0 = [], time.perf_counter()
        self.model.train()
        bar = tqdm(range(steps), desc="training encoder", unit="step", disable=not progress, leave=False)
        for step in bar:
            batch = []
            for name in rng.sample(names, min(groups_per_batch, len(names))):
                pool = usable[name]
                batch += rng.sample(pool, min(per_group, len(pool)))
            if self.positives == "rewrite":
                a = [equivalent_view(t, rng) for t in batch]
                b = [equivalent_view(t, rng) for t in batch]
            else:
                a, b = batch, batch
            za = F.normalize(self._embed(a, train=True), dim=-1)
            zb = F.normalize(self._embed(b, train=True), dim=-1)
            z = torch.cat([za, zb])
            sim = z @ z.T / temperature
            sim.fill_diagonal_(float("-inf"))
            n = len(batch)
            target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
            loss = F.cross_entropy(sim, target)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if on_step:
                on_step(step, losses[-1])
        self.model.eval()
        return {"steps": steps, "loss_first20": float(np.mean(losses[:20])), "loss_last20": float(np.mean(losses[-20:])),
                "seconds": time.perf_counter() - t0, "losses": losses, "vocab": self.tokenizer.get_vocab_size()}

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_FILE).write_text(json.dumps(self.config()))
        self.tokenizer.save(str(path / "tokenizer.json"))
        state = {f"model.{k}": v.contiguous() for k, v in self.model.state_dict().items()}
        state.update({f"head.{k}": v.contiguous() for k, v in self.head.state_dict().items()})
        save_file(state, str(path / "encoder.safetensors"))

    @classmethod
    def _load(cls, path: Path, config: dict[str, Any]) -> ContrastiveEncoder:
        from tokenizers import Tokenizer

        kwargs = {k: config[k] for k in ("dim", "hidden", "layers", "heads", "vocab_size", "max_length",
                                         "positives", "seed") if k in config}
        enc = cls(**kwargs)
        if not (path / "tokenizer.json").is_file():
            raise ModelFileError(f"{path / 'tokenizer.json'}: missing file")
        try:
            enc.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        except Exception as err:  # noqa: BLE001 - tokenizers raises a plain Exception on bad JSON
            raise ModelFileError(f"{path / 'tokenizer.json'}: not a valid tokenizer file ({err})") from err
        enc._build()
        tensors = load_tensors(path / "encoder.safetensors")
        try:
            enc.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
            enc.head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
        except RuntimeError as err:
            raise ModelFileError(f"{path / 'encoder.safetensors'}: weights do not match {CONFIG_FILE} ({err})") from err
        enc.model.eval()
        return enc


class HFEncoder(_TransformerEncoder):
    """A local Hugging Face encoder directory (CodeBERT-style), loaded offline; mean-pooled last layer."""

    name = "hf"

    def __init__(self, path: str | Path, max_length: int = 512) -> None:
        from transformers import AutoModel, AutoTokenizer

        self._setup_torch()
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


ENCODERS: dict[str, type[Encoder]] = {"tfidf": TfidfEncoder, "contrastive": ContrastiveEncoder, "hf": HFEncoder}


def get_encoder(spec: str | Encoder, **kwargs: Any) -> Encoder:
    """An encoder by name (``tfidf``, ``contrastive``, ``hf:/path/to/dir``) or the instance itself."""
    if isinstance(spec, Encoder):
        return spec
    if isinstance(spec, str) and spec.startswith("hf:"):
        return HFEncoder(spec[3:], **kwargs)
    if spec == "hf":
        raise ValueError("the hf encoder needs a directory: 'hf:/path/to/model'")
    if spec not in ENCODERS:
        raise ValueError(f"unknown encoder {spec!r}; choose from tfidf, contrastive, hf:/path")
    return ENCODERS[spec](**kwargs)
