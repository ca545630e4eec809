"""The latent transition model: TransH-style steps ``z_{t+1} = T(z_t, a_t)``, rolled out over whole traces.

For an action token ``k`` with parameters ``p`` (tile factors, extents, annotation values, locations):

    h = MLP([emb(k), p])                        action embedding
    w = normalize(W[k] + U h)                   hyperplane normal, per kind and conditioned on parameters
    z_proj = z - (w . z) w                      project the state onto the hyperplane
    z' = z_proj + D([h, z_proj])                translate (conditioned on the action and the projection)

Latents are standardized with the training targets' mean and scale, stored with the weights.

A value head ``v(z)`` reads a latent state and says how fast the program it stands for is likely to be,
relative to other schedules of the same subgraph. Training grounds the latent in measurements: besides the
state loss on replayed traces (no measurement needed), a ranking loss on measured records rolls each
record's actions out from its encoded initial program and asks ``v(z_T)`` to order them by latency. The
state loss keeps the latent tied to the real programs; the ranking loss makes it keep what matters for
speed (the encoder alone, trained without measurements, does not know). ``v`` along a rollout is the
"score so far" of a partial schedule.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench._tvm import torch_ready
from workbench.worldmodel.config import DEFAULTS
from workbench.worldmodel.features import N_PARAMS, STEP_TOKENS

torch = torch_ready()  # this module is torch: import it (and hand it to TVM's FFI) when it loads
nn = torch.nn
F = torch.nn.functional


@dataclass
class Rollouts:
    """A padded batch of traces: tokens (B, T), params (B, T, P), mask (B, T), optional targets (B, T, D)."""

    z0: Any
    tokens: Any
    params: Any
    mask: Any
    targets: Any = None

    @classmethod
    def pack(cls, z0: np.ndarray, tokens: Sequence[Sequence[int]], params: Sequence[Sequence[Sequence[float]]],
             targets: Sequence[np.ndarray] | None = None) -> Rollouts:
        b, t = len(tokens), max((len(x) for x in tokens), default=0)
        tok = np.zeros((b, max(t, 1)), dtype=np.int64)
        par = np.zeros((b, max(t, 1), N_PARAMS), dtype=np.float32)
        mask = np.zeros((b, max(t, 1)), dtype=bool)
        tgt = np.zeros((b, max(t, 1), z0.shape[1]), dtype=np.float32) if targets is not None else None
        for i, (k, p) in enumerate(zip(tokens, params, strict=True)):
            n = len(k)
            if n:
                tok[i, :n], par[i, :n], mask[i, :n] = k, p, True
                if tgt is not None:
                    tgt[i, :n] = targets[i]
        return cls(torch.from_numpy(np.asarray(z0, dtype=np.float32)), torch.from_numpy(tok),
                   torch.from_numpy(par), torch.from_numpy(mask), None if tgt is None else torch.from_numpy(tgt))

    def subset(self, idx: Any) -> Rollouts:
        return Rollouts(self.z0[idx], self.tokens[idx], self.params[idx], self.mask[idx],
                        None if self.targets is None else self.targets[idx])


def distinct_rows(rows: Any, *, hashed: bool = True) -> tuple[Any, Any]:
    """(index of one row of each distinct value, which distinct value each row is) for a (N, C) float32 tensor,
    by bitwise equality: rows hashed to one int64 each (1-D ``unique`` is much faster than ``unique(dim=0)``),
    the result checked bit by bit, and column by column where two distinct rows shared a hash (or with
    ``hashed=False``)."""
    if rows.dtype != torch.float32:
        raise TypeError(f"distinct_rows compares float32 rows bit by bit, got {rows.dtype}")
    bits = rows.contiguous().view(torch.int32).to(torch.int64)
    first = code = None
    if hashed:
        gen = torch.Generator().manual_seed(rows.shape[1])
        mult = torch.randint(1, 2**62, (rows.shape[1],), generator=gen, dtype=torch.int64) * 2 + 1
        _, code = torch.unique((bits * mult).sum(1), return_inverse=True)  # int64 products wrap around
        first = _first_of(code, len(rows))
    if first is None or not torch.equal(bits[first][code], bits):  # a collision: exact, column by column
        code = torch.zeros(len(rows), dtype=torch.int64)
        for c in range(rows.shape[1]):
            _, col = torch.unique(bits[:, c], return_inverse=True)
            _, code = torch.unique(code * (int(col.max()) + 1) + col, return_inverse=True)
        first = _first_of(code, len(rows))
    return first, code


def _first_of(code: Any, n: int) -> Any:
    k = int(code.max()) + 1 if n else 0
    return torch.full((k,), n, dtype=torch.int64).scatter_reduce(0, code, torch.arange(n), reduce="amin")


class TransitionModel(nn.Module):
    """The TransH-style step (see the module docstring) and the value head, over ``dim``-sized latents."""

    def __init__(self, dim: int, hidden: int = DEFAULTS.transition_hidden,
                 token_dim: int = DEFAULTS.transition_token_dim, n_tokens: int = len(STEP_TOKENS)) -> None:
        super().__init__()
        self.dim, self.hidden, self.token_dim, self.n_tokens = dim, hidden, token_dim, n_tokens
        self.token = nn.Embedding(n_tokens, token_dim)
        self.action = nn.Sequential(nn.Linear(token_dim + N_PARAMS, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                                    nn.GELU())
        self.normal = nn.Embedding(n_tokens, dim)
        self.normal_mod = nn.Linear(hidden, dim)
        self.translate = nn.Sequential(nn.Linear(hidden + dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.value = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 1))
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def config(self) -> dict[str, int]:
        return {"dim": self.dim, "hidden": self.hidden, "token_dim": self.token_dim, "n_tokens": self.n_tokens}

    def standardize(self, z: Any) -> Any:
        return (z - self.mean) / self.scale

    def forward(self, batch: Rollouts) -> Any:
        """Free rollout from the standardized initial state: (B, T, D) predicted standardized states."""
        h_all = self.action(torch.cat([self.token(batch.tokens), batch.params], dim=-1))  # (B, T, H)
        # What does not depend on the state is computed for every step at once; the loop keeps only the
        # projection and the state half of the translation's first layer.
        w_all = F.normalize(self.normal(batch.tokens) + self.normal_mod(h_all), dim=-1)  # (B, T, D) normals
        first, act, last = self.translate
        w_h, w_z = first.weight[:, :self.hidden].contiguous(), first.weight[:, self.hidden:].contiguous()
        pre_h = F.linear(h_all, w_h, first.bias)  # (B, T, H)
        z = self.standardize(batch.z0)
        out = []
        for t in range(batch.tokens.shape[1]):
            w = w_all[:, t]
            z_proj = z - (z * w).sum(-1, keepdim=True) * w  # onto the action's hyperplane
            z_next = z_proj + last(act(pre_h[:, t] + F.linear(z_proj, w_z)))  # translate, given action and state
            z = torch.where(batch.mask[:, t, None], z_next, z)  # finished traces keep their final state
            out.append(z)
        return torch.stack(out, dim=1)

    def _final(self, batch: Rollouts) -> Any:
        if batch.tokens.shape[1] == 0:
            return self.standardize(batch.z0)
        return self.forward(batch)[:, -1]

    def final(self, batch: Rollouts) -> Any:
        """Predicted final standardized latent per trace (B, D), as :meth:`forward` rolls out, with the work
        shared: each distinct step (token and parameters) is embedded once, and each distinct prefix of steps
        from each distinct start is rolled out once. A planner's batch of decision vectors has a few hundred
        distinct steps among its 100,000s, and siblings share their steps up to the decision that differs."""
        with torch.inference_mode():
            if batch.tokens.shape[1] == 0:
                return self.standardize(batch.z0)
            b, t = batch.tokens.shape
            rows = torch.cat([batch.tokens[..., None].to(batch.params.dtype), batch.params], dim=-1).reshape(b * t, -1)
            first_row, step_of = distinct_rows(rows)
            steps, step_of = rows[first_row], step_of.reshape(b, t)
            kinds = steps[:, 0].long()
            h = self.action(torch.cat([self.token(kinds), steps[:, 1:]], dim=-1))  # (U, H)
            normals = F.normalize(self.normal(kinds) + self.normal_mod(h), dim=-1)  # (U, D)
            first, act, last = self.translate
            w_h, w_z = first.weight[:, :self.hidden].contiguous(), first.weight[:, self.hidden:].contiguous()
            pre_h = F.linear(h, w_h, first.bias)  # (U, H)
            z0 = self.standardize(batch.z0)
            first_state, state_of = distinct_rows(z0)
            states = z0[first_state]
            width = len(steps) + 1  # step code 0: no step (a finished trace keeps its state)
            for k in range(t):
                code = torch.where(batch.mask[:, k], step_of[:, k] + 1, torch.zeros_like(step_of[:, k]))
                pairs, state_of = torch.unique(state_of * width + code, return_inverse=True)
                z, step = states[pairs // width], pairs % width
                s = (step - 1).clamp(min=0)
                w = normals[s]
                z_proj = z - (z * w).sum(-1, keepdim=True) * w
                z_next = z_proj + last(act(pre_h[s] + F.linear(z_proj, w_z)))
                states = torch.where((step > 0)[:, None], z_next, z)
            return states[state_of]

    def values(self, z: Any) -> Any:
        """Value head on standardized latents (..., D) -> (...): higher = predicted faster."""
        with torch.inference_mode():
            return self.value(z).squeeze(-1)

    def standardized(self, z: np.ndarray) -> np.ndarray:
        """Encoder outputs (n, D) in the model's standardized units, as numbers."""
        with torch.inference_mode():
            return self.standardize(torch.from_numpy(np.asarray(z, dtype=np.float32))).numpy()

    def trajectory(self, batch: Rollouts) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(start (B, D), predicted states (B, T, D), value of the start (B,), values along the way (B, T))."""
        with torch.inference_mode():
            start = self.standardize(batch.z0)
            pred = self(batch) if batch.tokens.shape[1] else start[:, None, :0]
            v0 = self.value(start).squeeze(-1).numpy()
            v = self.value(pred).squeeze(-1).numpy() if pred.shape[-1] else np.zeros((len(start), 0))
            return start.numpy(), pred.numpy(), v0, v


def step_errors(pred: Any, batch: Rollouts, start: Any, max_steps: int = 64) -> dict[str, list[float]]:
    """Per-step mean squared error (standardized units) of a rollout and of copying the start state."""
    tgt = batch.targets
    err = ((pred - tgt) ** 2).mean(-1)
    z0 = start[:, None, :].expand_as(tgt)
    copy = ((z0 - tgt) ** 2).mean(-1)
    out: dict[str, list[float]] = {"rollout": [], "copy_initial": [], "count": []}
    for t in range(min(tgt.shape[1], max_steps)):
        m = batch.mask[:, t]
        if not m.any():
            break
        out["rollout"].append(float(err[m, t].mean()))
        out["copy_initial"].append(float(copy[m, t].mean()))
        out["count"].append(int(m.sum()))
    return out


@dataclass
class Measured:
    """Measured records for the value loss: their rollout inputs, log latencies and ranking groups."""

    batch: Rollouts
    log_latency: np.ndarray
    groups: np.ndarray

    def by_group(self) -> dict[str, np.ndarray]:
        """Row indices per group, for groups with at least two distinct latencies."""
        out: dict[str, list[int]] = {}
        for i, g in enumerate(self.groups):
            out.setdefault(str(g), []).append(i)
        return {g: np.asarray(ix) for g, ix in sorted(out.items()) if len(np.unique(self.log_latency[ix])) > 1}


def rank_loss(v: Any, log_latency: Any) -> Any:
    """RankNet over every pair of one group, weighted by how different their latencies are (log ratio)."""
    d = log_latency[:, None] - log_latency[None, :]  # > 0: row i is slower than column j
    w = d.abs() * (d.abs() > 1e-6)
    loss = F.binary_cross_entropy_with_logits(v[:, None] - v[None, :], (d < 0).to(v.dtype), reduction="none")
    return (loss * w).sum() / w.sum().clamp(min=1e-6)


def fit_transition(model: TransitionModel, batch: Rollouts, *, measured: Measured | None = None,
                   epochs: int = DEFAULTS.transition_epochs, batch_size: int = DEFAULTS.transition_batch_size,
                   lr: float = DEFAULTS.transition_lr, weight_decay: float = DEFAULTS.transition_weight_decay,
                   grad_clip: float = DEFAULTS.grad_clip, value_weight: float = DEFAULTS.value_weight,
                   groups_per_step: int = DEFAULTS.value_groups_per_step, per_group: int = DEFAULTS.value_per_group,
                   seed: int = DEFAULTS.seed, progress: bool = True, validation: Rollouts | None = None
                   ) -> dict[str, Any]:
    """Train on free rollouts: the loss covers every step of the predicted trajectory, not one-step targets.

    With ``measured``, each step also takes ``groups_per_step`` subgraphs with up to ``per_group`` measured
    records each and adds ``value_weight`` times the ranking loss of the value head on their final latents.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    tgt = batch.targets[batch.mask]
    model.mean.copy_(tgt.mean(0))
    model.scale.copy_(tgt.std(0).clamp(min=1e-3))
    std = Rollouts(batch.z0, batch.tokens, batch.params, batch.mask, model.standardize(batch.targets))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    groups = measured.by_group() if measured is not None else {}
    names = sorted(groups)
    log_lat = torch.from_numpy(measured.log_latency.astype(np.float32)) if measured is not None else None
    n, losses, value_losses, t0 = len(batch.tokens), [], [], time.perf_counter()
    bar = tqdm(range(epochs), desc="training transition", unit="epoch", disable=not progress, leave=False)
    model.train()
    for _ in bar:
        perm = torch.randperm(n, generator=gen)
        total = total_v = 0.0
        steps = 0
        for start in range(0, n, batch_size):
            part = std.subset(perm[start:start + batch_size])
            pred = model(part)
            loss = ((pred - part.targets) ** 2).mean(-1)[part.mask].mean()
            total += float(loss.detach()) * len(part.tokens)
            if names:
                value_loss = 0.0
                for g in rng.choice(names, size=min(groups_per_step, len(names)), replace=False):
                    ix = groups[g]
                    ix = np.sort(rng.choice(ix, size=min(per_group, len(ix)), replace=False))
                    sub = measured.batch.subset(torch.from_numpy(ix))
                    v = model.value(model._final(sub)).squeeze(-1)
                    value_loss = value_loss + rank_loss(v, log_lat[ix]) / min(groups_per_step, len(names))
                loss = loss + value_weight * value_loss
                total_v += float(value_loss.detach())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            steps += 1
        losses.append(total / n)
        if names:
            value_losses.append(total_v / steps)
        bar.set_postfix(loss=f"{losses[-1]:.4f}", **({"value": f"{value_losses[-1]:.3f}"} if names else {}))
    model.eval()
    report: dict[str, Any] = {"epochs": epochs, "loss_first": losses[0], "loss_last": losses[-1], "losses": losses,
                              "seconds": time.perf_counter() - t0, "traces": n}
    if names:
        report.update(value_loss_first=value_losses[0], value_loss_last=value_losses[-1], value_losses=value_losses,
                      value_weight=value_weight, measured_records=len(measured.groups), measured_groups=len(names))
    with torch.inference_mode():
        report["train_steps"] = step_errors(model(std), std, model.standardize(std.z0))
        if validation is not None:
            val = Rollouts(validation.z0, validation.tokens, validation.params, validation.mask,
                           model.standardize(validation.targets))
            report["validation_steps"] = step_errors(model(val), val, model.standardize(val.z0))
    return report
