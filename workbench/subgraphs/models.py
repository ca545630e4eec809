"""Representative subgraphs from real models: transformers architectures built from configs, random weights.

No weights are downloaded: every model is built from a config with random initialisation, which gives the
real layer shapes (all that tuning needs). Extraction takes 5-20 s a model, so the tasks are cached as
TVM JSON in the user cache directory (``$WORKBENCH_CACHE``, default ``~/.cache/tvm-workbench``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench._tvm import import_tvm, torch_ready
from workbench.hardware import cache_root
from workbench.subgraphs.base import Subgraph, SubgraphError
from workbench.subgraphs.torch_import import GRAPH_PIPELINE, GRAPH_PIPELINES


@dataclass(frozen=True)
class ModelSpec:
    """A real model architecture and example input for extraction."""

    name: str
    description: str
    build: Callable[[], tuple[Any, tuple]]  # returns (nn.Module, example inputs)


def _resnet50() -> tuple[Any, tuple]:
    torch = torch_ready()
    from transformers import ResNetConfig, ResNetModel

    config = ResNetConfig(depths=[3, 4, 6, 3], hidden_sizes=[256, 512, 1024, 2048], layer_type="bottleneck")
    return ResNetModel(config), (torch.randn(1, 3, 224, 224),)


def _mobilenet_v2() -> tuple[Any, tuple]:
    torch = torch_ready()
    from transformers import MobileNetV2Config, MobileNetV2Model

    return MobileNetV2Model(MobileNetV2Config()), (torch.randn(1, 3, 224, 224),)


def _bert_base() -> tuple[Any, tuple]:
    torch = torch_ready()
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(attn_implementation="eager"), add_pooling_layer=False)
    return model, (torch.randint(0, 30522, (1, 128)),)


def _gpt_neo_125m() -> tuple[Any, tuple]:
    torch = torch_ready()
    from transformers import GPTNeoConfig, GPTNeoModel

    config = GPTNeoConfig(hidden_size=768, num_layers=12, num_heads=12, attention_types=[[["global", "local"], 6]],
                          use_cache=False, attn_implementation="eager")
    return GPTNeoModel(config), (torch.randint(0, 50257, (1, 128)),)


def _vit_b16() -> tuple[Any, tuple]:
    torch = torch_ready()
    from transformers import ViTConfig, ViTModel

    model = ViTModel(ViTConfig(attn_implementation="eager"), add_pooling_layer=False)
    return model, (torch.randn(1, 3, 224, 224),)


def _llama_block() -> tuple[Any, tuple]:
    torch = torch_ready()
    from transformers import LlamaConfig, LlamaModel

    config = LlamaConfig(hidden_size=768, intermediate_size=2048, num_hidden_layers=2, num_attention_heads=12,
                         num_key_value_heads=4, vocab_size=32000, max_position_embeddings=512, use_cache=False,
                         attn_implementation="eager")
    return LlamaModel(config), (torch.randint(0, 32000, (1, 128)),)


def _convnext_tiny() -> tuple[Any, tuple]:
    torch = torch_ready()
    from transformers import ConvNextConfig, ConvNextModel

    return ConvNextModel(ConvNextConfig()), (torch.randn(1, 3, 224, 224),)


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("resnet50", "ResNet-50, batch 1, 224x224", _resnet50),
    ModelSpec("mobilenet_v2", "MobileNet-V2, batch 1, 224x224", _mobilenet_v2),
    ModelSpec("bert_base", "BERT-base encoder, batch 1, sequence 128", _bert_base),
    ModelSpec("gpt_neo_125m", "GPT-Neo 125M-sized decoder, batch 1, sequence 128", _gpt_neo_125m),
    ModelSpec("vit_b16", "ViT-B/16, batch 1, 224x224", _vit_b16),
    ModelSpec("llama_block", "Llama-style decoder (2 layers, hidden 768, grouped-query attention 12/4 heads, "
              "SwiGLU 2048, RMSNorm, rotary), batch 1, sequence 128", _llama_block),
    ModelSpec("convnext_tiny", "ConvNeXt-T, batch 1, 224x224", _convnext_tiny),
)}


def cache_dir() -> Path:
    return cache_root() / "models"


def _cache_path(model: str, pipeline: str) -> Path:
    tvm = import_tvm()
    return cache_dir() / f"{model}-tvm{tvm.__version__}-{pipeline}.json"


def build_model(model: str) -> tuple[Any, tuple]:
    """A catalog model's module (in eval mode) and example inputs, with the random weights of seed 0.

    The same seed every time, so the fused tasks of a rebuilt model are the cached ones.
    """
    if model not in MODELS:
        raise SubgraphError(f"unknown model {model!r}; known models: {', '.join(MODELS)}")
    torch = torch_ready()
    torch.manual_seed(0)
    module, inputs = MODELS[model].build()
    return module.eval(), tuple(inputs)


def extract_model(model: str, pipeline: str = GRAPH_PIPELINE) -> list[Subgraph]:
    """Build ``model`` from its config and extract its fused subgraphs after the graph pipeline ``pipeline``
    (slow: 5-20 s)."""
    from workbench.subgraphs.torch_import import relax_from_torch, subgraphs_from_relax

    module, inputs = build_model(model)
    relax_mod = relax_from_torch(module, inputs, pipeline=pipeline)
    subgraphs = subgraphs_from_relax(relax_mod, prefix=task_prefix(model, pipeline), source=f"model:{model}")
    for sub in subgraphs:
        sub.meta["pipeline"] = pipeline
    return subgraphs


def task_prefix(model: str, pipeline: str) -> str:
    """How a model's task names start: ``resnet50/`` for the default pipeline and for ``"zero"`` (the names the
    shipped records use), ``resnet50@fold_nhwc/`` for any other: a layout change keeps TVM's task names, so two
    pipelines would otherwise give one name to two different programs."""
    return model if pipeline in (GRAPH_PIPELINE, "zero") else f"{model}@{pipeline}"


def _save(model: str, subgraphs: list[Subgraph], pipeline: str) -> None:
    tvm = import_tvm()
    path = _cache_path(model, pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [{"name": s.name, "weight": s.weight, "flops": s.flops, "op": s.op, "source": s.source,
                "meta": s.meta, "mod": tvm.ir.save_json(s.mod)} for s in subgraphs]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"model": model, "subgraphs": entries}))
    tmp.replace(path)


def _load(model: str, pipeline: str) -> list[Subgraph] | None:
    from workbench.subgraphs.torch_import import op_family

    tvm = import_tvm()
    path = _cache_path(model, pipeline)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if any(not e["name"].startswith(task_prefix(model, pipeline) + "/") for e in data["subgraphs"]):
            raise ValueError("task names from before task_prefix")
        return [Subgraph(name=e["name"], mod=tvm.ir.load_json(e["mod"]), weight=e["weight"], flops=e["flops"],
                         source=e["source"], op=op_family(e["meta"]["task_name"]), meta=e["meta"])
                for e in data["subgraphs"]]
    except (ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)  # a stale or broken cache entry is rebuilt, not trusted
        return None


def split_model(text: str, pipeline: str | None = None) -> tuple[str, str]:
    """A model and its graph pipeline: ``"resnet50@fold_pack"`` -> ``("resnet50", "fold_pack")``; a plain name
    takes ``pipeline`` (default: the default pipeline). A name and a ``pipeline`` that disagree are an error."""
    model, at, named = text.partition("@")
    if at and pipeline is not None and pipeline != named:
        raise SubgraphError(f"{text!r} names the graph pipeline {named!r}, but {pipeline!r} was asked for")
    return model, named if at else pipeline or GRAPH_PIPELINE


def model_key(model: str, pipeline: str | None = None) -> str:
    """One name for a model under a pipeline: ``"resnet50"`` for the default, else ``"resnet50@fold_pack"``."""
    model, pipeline = split_model(model, pipeline)
    return model if pipeline == GRAPH_PIPELINE else f"{model}@{pipeline}"


def model_subgraphs(model: str, *, refresh: bool = False, pipeline: str | None = None) -> list[Subgraph]:
    """The fused subgraphs of a catalog model after the graph pipeline ``pipeline``
    (:func:`workbench.subgraphs.torch_import.graph_pipeline`; ``"resnet50@fold_pack"`` names both), from the
    cache or freshly extracted."""
    model, pipeline = split_model(model, pipeline)
    if model not in MODELS:
        raise SubgraphError(f"unknown model {model!r}; known models: {', '.join(MODELS)}")
    if pipeline not in GRAPH_PIPELINES:
        raise SubgraphError(f"unknown graph pipeline {pipeline!r}; known: {', '.join(GRAPH_PIPELINES)}")
    cached = None if refresh else _load(model, pipeline)
    if cached is not None:
        return cached
    subgraphs = extract_model(model, pipeline)
    _save(model, subgraphs, pipeline)
    return subgraphs


def is_cached(model: str, pipeline: str | None = None) -> bool:
    model, pipeline = split_model(model, pipeline)
    return _cache_path(model, pipeline).is_file()
