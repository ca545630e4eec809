"""Small, real inputs for tests and examples: tiny subgraphs, a slice of the sample logs, a tiny evaluator.

Nothing here fakes what it stands for: the subgraphs are real TIR, the records real measurements from
``sample_logs``, the evaluator a real (small) world model trained on them in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench import sample_logs_dir
from workbench._tvm import import_tvm
from workbench.subgraphs import Subgraph

# Three training subgraphs of the shipped model, of three families, with 150 records each in sample_logs/cpu.
SMALL_SUBGRAPHS = ("matmul_128", "dense_512x32x512", "conv2d_14x14x128_3x3")
HELD_OUT = "matmul_256"  # in the sample logs, never seen by the shipped model


def tiny_matmul(n: int = 16, name: str | None = None) -> Subgraph:
    """An ``n`` x ``n`` x ``n`` float32 matmul: a design space of a few sketches that builds in a blink."""
    tvm = import_tvm()
    from tvm import te

    a = te.placeholder((n, n), name="A")
    b = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    c = te.compute((n, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
    return Subgraph(name=name or f"tiny_matmul_{n}", mod=tvm.IRModule({"main": te.create_prim_func([a, b, c])}),
                    source="testing", op="matmul")


def sample_records(names: Sequence[str] = SMALL_SUBGRAPHS, *, per_subgraph: int = 40) -> Any:
    """The first ``per_subgraph`` shipped CPU records of each named subgraph (a ``load_logs`` DataFrame)."""
    from workbench.logs import load_logs

    df = load_logs(*(sample_logs_dir() / "cpu" / name.replace("/", "__") for name in names), progress=False)
    return df.groupby("subgraph").head(per_subgraph).reset_index(drop=True)


def tiny_evaluator(records: Any = None, **config: Any) -> Any:
    """A world model trained in seconds (TF-IDF encoder, 16-d latent, a few epochs and trees) on ``records``
    (default :func:`sample_records`); keyword arguments override :class:`TrainConfig` fields."""
    from workbench.worldmodel.train import TrainConfig, train_evaluator

    settings = {"encoder": "tfidf", "latent_dim": 16, "replay_traces": 3, "transition_epochs": 5,
                "ranker_rounds": 30} | config
    evaluator, _ = train_evaluator(sample_records() if records is None else records, TrainConfig(**settings),
                                   progress=False, log=lambda _: None)
    return evaluator
