"""Subgraphs from a PyTorch module: torch.export -> Relax -> fused TIR tasks with their weights."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

from workbench._tvm import import_tvm, torch_ready
from workbench.hardware import make_target
from workbench.subgraphs.base import Subgraph, SubgraphError

_OP_WORDS = ("conv3d_transpose", "conv2d_transpose", "conv1d", "conv2d", "conv3d", "batch_matmul", "matmul",
             "dense", "softmax", "layer_norm", "group_norm", "batch_norm", "rms_norm", "max_pool2d",
             "avg_pool2d", "adaptive_avg_pool2d", "mean", "sum", "gelu", "relu", "tanh", "erf", "take",
             "max", "power", "where", "transpose", "reshape", "pad", "add", "multiply", "divide", "subtract")


_DATA_MOVEMENT = ("reshape", "transpose", "broadcast_to", "cast", "expand_dims", "squeeze", "strided_slice", "pad")


def op_family(task_name: str) -> str:
    """The main operator of a fused task name ("fused_reshape10_gelu_reshape11" -> "gelu")."""
    parts = [re.sub(r"\d+$", "", p) for p in re.sub(r"^fused_", "", task_name).split("_")]
    words = ["_".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, min(i + 4, len(parts) + 1))]
    for op in _OP_WORDS:  # ordered from most to least specific
        if op not in _DATA_MOVEMENT and op in words:
            return op
    return parts[0] if parts and parts[0] else "unknown"


# The graph pipelines, from an imported Relax program to the fused TIR tasks MetaSchedule tunes (their names
# go into the catalog's cache key: another pipeline gives other tasks).
_FOLDS = ("fold", "fold_pack", "fold_nhwc", "fold_nhwc_pack")
GRAPH_PIPELINES = (*_FOLDS, *(f"{name}_fast" for name in _FOLDS), "zero")
GRAPH_PIPELINE = "fold"  # the default


def graph_pipeline(name: str = GRAPH_PIPELINE) -> Any:
    """TVM's passes from an imported Relax program to fused TIR tasks, by name:

    - ``"zero"``: TVM's zero pipeline (LegalizeOps, AnnotateTIROpPattern, FoldConstant, FuseOps, FuseTIR). A
      batch norm after a convolution stays its own task: ResNet-50 comes out as 41 tasks, each conv and each
      batch norm (+ ReLU, + residual add) on its own, and the batch norm tasks read and write the whole
      activation again.
    - ``"fold"`` (the default): for inference, a batch norm that follows a convolution with constant weights is
      folded into them first (TVM's ``FoldBatchnormToConv2D``: the weights scaled per output channel, the
      shift a bias add, then ``FoldConstant``), so the convolution, its bias, activation and residual add fuse
      into one task; then as ``"zero"``.
    - ``"fold_nhwc"``: as ``"fold"``, then 2-D convolutions converted to NHWC activations and OHWI weights
      (TVM's ``ConvertLayout``; the weights' transpose folded away), the layout Ansor's CPU rules were built
      around. Layout transforms around each convolution become tasks or fuse into their neighbours.
    - ``"fold_pack"``, ``"fold_nhwc_pack"``: as ``"fold"`` / ``"fold_nhwc"``, with the weights of each task
      marked layout-free (TVM's ``AttachAttrLayoutFreeBuffers``: the model's constants). MetaSchedule's
      ``RewriteLayout`` post-processor then repacks them into the order the candidate's tiled loops read them
      (Ansor's layout rewrite, e.g. a dense weight as [N/16, K, 16] for a 16-wide register tile); the packing
      is not timed in tuning, and :func:`workbench.tuning.e2e.compile_tuned` folds it into the constants at
      compile time (TVM's ``SplitLayoutRewritePreproc`` + ``FoldConstant``). The pass renames each task's
      function (``fused_conv2d_add_relu`` becomes ``fused_conv2d_add_relu1``).
    - ``"<any fold pipeline>_fast"`` (``"fold_pack_fast"``, ...): as that pipeline, with exp, erf, tanh and
      softmax computed by TVM's vectorizable polynomial approximations (TVM's ``FastMathTransform``: topi's
      ``fast_exp``, ``fast_erf``, ``fast_tanh``, ``fast_softmax``), and GELU by ``fast_erf`` too
      (:func:`fast_gelu`). TVM's exact ``erf`` is a call to the C library's scalar ``erff`` per element, which
      no schedule can vectorize: BERT-base's GELU task ran at about 1 GFLOP/s in tuning, and the tuned
      ``fold_pack_fast`` build of BERT-base is 1.10x faster than ``fold_pack``'s (ViT-B/16: 1.12x, with softmax;
      ``benchmarks/results/compare_builds_*.md``). ``fast_erf`` is within 1e-6 of the exact GELU, as PyTorch's
      own is.
    """
    tvm = import_tvm()
    from tvm import relax

    if name not in GRAPH_PIPELINES:
        raise SubgraphError(f"unknown graph pipeline {name!r}; known: {', '.join(GRAPH_PIPELINES)}")
    zero = relax.get_pipeline("zero")
    if name == "zero":
        return zero
    steps = name.split("_")
    # The fold rewrites conv2d -> batch_norm -> [0] on NCHW/OIHW only: it runs before any layout change.
    passes = [relax.transform.FoldBatchnormToConv2D(), relax.transform.FoldConstant()]
    if "nhwc" in steps:
        passes += [relax.transform.ConvertLayout({"relax.nn.conv2d": ["NHWC", "OHWI"]}),
                   relax.transform.FoldConstant()]
    if "fast" in steps:  # before the zero pipeline's LegalizeOps, which then finds nothing left to legalize
        passes += [relax.transform.FastMathTransform(),
                   relax.transform.LegalizeOps(customize_legalize_map={"relax.nn.gelu": fast_gelu})]
    passes.append(zero)
    if "pack" in steps:  # after fusion: it marks the PrimFunc parameters bound to constants
        passes += [relax.transform.CanonicalizeBindings(), relax.transform.AttachAttrLayoutFreeBuffers()]
    return tvm.transform.Sequential(passes, name=f"workbench_{name}")


def fast_gelu(bb: Any, call: Any) -> Any:
    """A legalization of Relax's ``nn.gelu`` (the erf form) by topi's ``fast_erf`` (float32 and float16; other
    dtypes keep TVM's exact ``erf``), in TVM's own formula ``x * (0.5 + erf(x / sqrt 2) * 0.5)``.

    Written here because TVM has none: its ``FastMathTransform`` rewrites a ``relax.erf`` call, but ``nn.gelu``
    reaches ``erf`` only inside its legalization.
    """
    import_tvm()
    from tvm import tirx, topi

    def gelu(data: Any) -> Any:
        erf = topi.fast_erf if data.dtype in ("float32", "float16") else topi.erf
        half = tirx.const(0.5, data.dtype)
        return data * (half + erf(data * tirx.const(0.5**0.5, data.dtype)) * half)

    return bb.call_te(gelu, call.args[0], primfunc_name_hint="gelu")


def relax_from_torch(module: Any, example_inputs: Sequence[Any], *, pipeline: str = GRAPH_PIPELINE) -> Any:
    """The Relax IRModule of ``module`` traced on ``example_inputs`` (weights bound as constants), after the
    graph pipeline ``pipeline`` (:func:`graph_pipeline`)."""
    passes = graph_pipeline(pipeline)  # an unknown name fails before the (slow) export and import
    torch = torch_ready()
    from tvm.relax.frontend.torch import from_exported_program

    module = module.eval()
    with warnings.catch_warnings():
        # torch deep-copies its own pytree specs through a deprecated path and says so to the user, who can
        # do nothing about it (a FutureWarning in the middle of a notebook); nothing else is silenced.
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
        try:
            with torch.no_grad():
                exported = torch.export.export(module, tuple(example_inputs))
        except Exception as err:  # noqa: BLE001 - torch.export raises many error types
            raise SubgraphError(f"torch.export failed for {type(module).__name__}: {first_line(err)}") from err
        try:
            mod = from_exported_program(exported, keep_params_as_input=False)
        except Exception as err:  # noqa: BLE001 - TVM's importer asserts (naming the operators it lacks)
            raise SubgraphError(f"importing {type(module).__name__} into TVM Relax failed (after torch.export): "
                                f"{first_line(err)}") from err
    try:
        return passes(mod)
    except Exception as err:  # noqa: BLE001 - any pass may fail on an operator it cannot legalize or fuse
        raise SubgraphError(f"TVM's graph pipeline {pipeline!r} (see graph_pipeline) failed for "
                            f"{type(module).__name__}: {first_line(err)}") from err


def first_line(err: BaseException) -> str:
    """The first non-blank line of an error's message (its type's name if it has none)."""
    lines = [x.strip() for x in str(err).splitlines() if x.strip()]
    return lines[0] if lines else type(err).__name__


def subgraphs_from_relax(mod: Any, *, prefix: str, target: Any = "cpu", source: str = "torch") -> list[Subgraph]:
    """The tuning tasks MetaSchedule extracts from a Relax module, named ``<prefix>/<task name>``, sorted by name."""
    import_tvm()
    from tvm.s_tir.meta_schedule.relax_integration import extract_tasks

    # Relax names tasks deterministically (conv2d, conv2d1, ...); extraction order is not, so sort.
    tasks = sorted(extract_tasks(mod, make_target(target)), key=lambda t: str(t.task_name))
    subgraphs = []
    for index, task in enumerate(tasks):
        name = f"{prefix}/{task.task_name}"
        subgraphs.append(Subgraph(
            name=name, mod=task.dispatched[0], weight=int(task.weight), source=source,
            op=op_family(str(task.task_name)), meta={"task_name": str(task.task_name), "task_index": index},
        ))
    return subgraphs


def from_torch(module: Any, example_inputs: Sequence[Any], *, name: str | None = None,
               target: Any = "cpu") -> list[Subgraph]:
    """All fused subgraphs of a PyTorch ``nn.Module`` called on ``example_inputs``, with their weights."""
    prefix = name or type(module).__name__.lower()
    return subgraphs_from_relax(relax_from_torch(module, example_inputs), prefix=prefix, target=target,
                                source=f"torch:{type(module).__name__}")
