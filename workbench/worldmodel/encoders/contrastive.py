"""A small RoBERTa (built from a config, no pretrained weights) over a BPE tokenizer trained on TIR text,
trained with InfoNCE: equivalent rewrites of a program (renamed variables, expanded loop grids) are positives,
other schedules of the same program are the hard negatives."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench._tvm import torch_ready
from workbench.worldmodel.config import DEFAULTS
from workbench.worldmodel.encoders.base import CONFIG_FILE, TransformerEncoder
from workbench.worldmodel.files import ModelFileError, load_tensors
from workbench.worldmodel.text import equivalent_view, indent_tokens


class ContrastiveEncoder(TransformerEncoder):
    """A small RoBERTa (from a config) over a BPE tokenizer trained on TIR, trained contrastively."""

    name = "contrastive"

    def __init__(self, dim: int = DEFAULTS.latent_dim, hidden: int = DEFAULTS.encoder_hidden,
                 layers: int = DEFAULTS.encoder_layers, heads: int = DEFAULTS.encoder_heads,
                 vocab_size: int = DEFAULTS.encoder_vocab_size, max_length: int = DEFAULTS.encoder_max_length,
                 positives: str = DEFAULTS.positives, seed: int = DEFAULTS.seed) -> None:
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
        torch = torch_ready()
        from transformers import RobertaConfig, RobertaModel

        torch.manual_seed(self.seed)
        cfg = RobertaConfig(vocab_size=self.tokenizer.get_vocab_size(), hidden_size=self.hidden,
                            num_hidden_layers=self.layers, num_attention_heads=self.heads,
                            intermediate_size=2 * self.hidden, max_position_embeddings=self.max_length + 2,
                            pad_token_id=self.tokenizer.token_to_id("<pad>"), type_vocab_size=1,
                            hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
        self.model = RobertaModel(cfg, add_pooling_layer=False)
        self.head = torch.nn.Linear(self.hidden, self.dim)

    def train_tokenizer(self, texts: Sequence[str]) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                     pre_tokenizers.Digits(individual_digits=False)])
        trainer = trainers.BpeTrainer(vocab_size=self.vocab_size, special_tokens=["<pad>", "<unk>", "<s>", "</s>"],
                                      show_progress=False)
        tok.train_from_iterator((indent_tokens(t) for t in texts), trainer)
        tok.enable_truncation(self.max_length)
        tok.enable_padding(pad_id=tok.token_to_id("<pad>"), pad_token="<pad>")
        self.tokenizer = tok

    def _embed(self, batch: Sequence[str], train: bool = False) -> Any:
        torch = torch_ready()
        enc = self.tokenizer.encode_batch([indent_tokens(t) for t in batch])
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled)

    def fit(self, groups: dict[str, list[str]], *, steps: int = DEFAULTS.encoder_steps,
            groups_per_batch: int = DEFAULTS.encoder_groups_per_batch, per_group: int = DEFAULTS.encoder_per_group,
            lr: float = DEFAULTS.encoder_lr, weight_decay: float = DEFAULTS.encoder_weight_decay,
            warmup_steps: int = DEFAULTS.encoder_warmup_steps, temperature: float = DEFAULTS.temperature,
            grad_clip: float = DEFAULTS.grad_clip, progress: bool = True,
            on_step: Callable[[int, float], None] | None = None) -> dict[str, Any]:
        """InfoNCE over two views of each program; a batch takes several programs from few subgraphs."""
        torch = torch_ready()
        import torch.nn.functional as F
        from tqdm.auto import tqdm

        rng = random.Random(self.seed)
        texts = [t for ts in groups.values() for t in ts]
        self.train_tokenizer(texts)
        self._build()
        usable = {k: list(dict.fromkeys(v)) for k, v in groups.items() if v}
        names = sorted(usable)
        params = list(self.model.parameters()) + list(self.head.parameters())
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warmup_steps) * max(0.05, 1 - s / steps))
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
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
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
