"""Subgraphs (tuning tasks): built-in operators, real-model subgraphs, PyTorch modules and TVMScript."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.subgraphs.base import Subgraph, SubgraphError, estimate_flops, structural_hash
from workbench.subgraphs.builtin import BUILTIN_NAMES, BUILTINS, load_builtin
from workbench.subgraphs.models import MODELS, build_model, is_cached, model_key, model_subgraphs, split_model
from workbench.subgraphs.script import check_tvmscript, from_tvmscript, parse_tvmscript
from workbench.subgraphs.torch_import import GRAPH_PIPELINE, GRAPH_PIPELINES, from_torch, graph_pipeline

__all__ = [
    "BUILTINS", "GRAPH_PIPELINE", "GRAPH_PIPELINES", "MODELS", "Subgraph", "SubgraphError", "build_model",
    "cached_models", "catalog", "check_tvmscript", "estimate_flops", "from_torch", "from_tvmscript", "graph_pipeline",
    "load_subgraph", "model_key", "model_subgraphs", "parse_tvmscript", "split_model", "structural_hash",
]


def _select_heaviest(model: str, op: str | None) -> Subgraph:
    candidates = [s for s in model_subgraphs(model) if op is None or s.op == op or s.op.startswith(op)]
    if not candidates:
        ops = sorted({s.op for s in model_subgraphs(model)})
        raise SubgraphError(f"model {model!r} has no subgraph of op {op!r}; its ops: {', '.join(ops)}")
    return max(candidates, key=lambda s: s.flops)


def load_subgraph(name: str | Path) -> Subgraph:
    """A subgraph by catalog name, model query or TVMScript file path.

    Names: a built-in ("conv2d_14x14x128_3x3"), a model task ("resnet50/fused_conv2d_add_relu", as `workbench
    subgraphs --model resnet50` lists them; another pipeline's as "resnet50@fold_nhwc/...", TVM's zero
    pipeline's, as older records name them, as "resnet50/conv2d1"), the heaviest task of a model, optionally of one op
    ("resnet50/heaviest:conv2d"), or a path to a TVMScript file.
    """
    text = str(name)
    if text in BUILTIN_NAMES:
        return load_builtin(text)
    head, sep, rest = text.partition("/")
    model, named = split_model(head)
    if sep and model in MODELS:
        if rest == "heaviest" or rest.startswith("heaviest:"):
            return _select_heaviest(head, rest.partition(":")[2] or None)
        # "resnet50@fold_nhwc/..." names its pipeline. A plain name is the default pipeline's; failing that, the
        # "zero" pipeline's, for records named before batch norm was folded (sample_logs' "resnet50/conv2d1").
        pipelines = [named] if "@" in head else [GRAPH_PIPELINE, "zero"]
        for pipeline in pipelines:  # model_subgraphs refuses an unknown pipeline by name
            for sub in model_subgraphs(model, pipeline=pipeline):
                if sub.name.partition("/")[2] == rest:
                    return sub
        raise SubgraphError(f"model {model!r} has no subgraph {rest!r} in the graph pipeline "
                            f"{' or '.join(map(repr, pipelines))}; run `workbench subgraphs --model {model}`")
    path = Path(text)
    if path.suffix in (".py", ".tvm", ".tvmscript", ".txt") or path.is_file():
        return from_tvmscript(path)
    raise SubgraphError(
        f"unknown subgraph {text!r}: not a built-in, not <model>/<task> for a catalog model "
        f"({', '.join(MODELS)}), and not a TVMScript file; `workbench subgraphs` lists the catalog"
    )


def catalog(*, models: bool | list[str] = False) -> Any:
    """The catalog as a DataFrame: built-ins, plus model subgraphs when ``models`` is True or a list."""
    import pandas as pd
    from tqdm.auto import tqdm

    rows = [load_builtin(spec.name).summary() | {"note": spec.note} for spec in BUILTINS]
    wanted = list(MODELS) if models is True else (models or [])
    slow = [m for m in wanted if not is_cached(m)]  # extraction takes 5-20 s a model the first time
    for model in tqdm(wanted, desc="extracting models", unit="model", disable=not slow, leave=False):
        rows += [s.summary() | {"note": MODELS[split_model(model)[0]].description} for s in model_subgraphs(model)]
    return pd.DataFrame(rows)


def cached_models() -> list[str]:
    return [m for m in MODELS if is_cached(m)]
