"""Loaders: built-in catalog, PyTorch modules, TVMScript, model queries."""

from __future__ import annotations

import pytest
import torch

from workbench.subgraphs import (
    BUILTINS,
    MODELS,
    Subgraph,
    SubgraphError,
    catalog,
    from_torch,
    from_tvmscript,
    load_subgraph,
)
from workbench.subgraphs.torch_import import op_family


def test_every_builtin_loads_with_flops():
    df = catalog()
    assert len(df) == len(BUILTINS) >= 20
    assert df["name"].is_unique
    conv = df.set_index("name").loc["conv2d_14x14x128_3x3"]
    # 14*14 outputs x 128 out channels x (3*3*128) MACs x 2 FLOPs
    assert conv["mflops"] == pytest.approx(14 * 14 * 128 * 3 * 3 * 128 * 2 / 1e6, rel=1e-3)
    assert set(df["op"]) >= {"matmul", "conv2d", "conv3d", "depthwise_conv2d", "conv2d_transpose", "softmax", "norm"}


def test_unknown_name_is_a_clear_error():
    with pytest.raises(SubgraphError, match="unknown subgraph 'conv9d'"):
        load_subgraph("conv9d")
    with pytest.raises(SubgraphError, match="unknown model"):
        from workbench.subgraphs import model_subgraphs

        model_subgraphs("alexnet")


class SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def test_torch_module_gives_fused_subgraphs_with_weights():
    torch.manual_seed(0)
    subs = from_torch(SmallNet(), (torch.randn(1, 3, 8, 8),), name="smallnet")
    ops = {s.op for s in subs}
    assert "conv2d" in ops and "matmul" in ops, ops
    assert all(s.name.startswith("smallnet/") and s.weight >= 1 for s in subs)
    conv = next(s for s in subs if s.op == "conv2d")
    assert conv.flops == pytest.approx(8 * 8 * 8 * 3 * 3 * 3 * 2, rel=0.05)


class ConvBNBlock(torch.nn.Module):
    """A residual block as ResNet has them: conv, batch norm, ReLU, conv, batch norm, + input, ReLU."""

    def __init__(self, c: int = 8):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c)
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c)
        for bn in (self.bn1, self.bn2):  # statistics far from the identity, so a wrong fold shows
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.data.uniform_(0.5, 2)
            bn.bias.data.uniform_(-1, 1)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


def test_graph_pipeline_folds_batch_norm_into_the_convolution():
    """The default pipeline folds each batch norm into the convolution before it, so conv, bias, ReLU and the
    residual add are one task; the program still computes what PyTorch does."""
    import numpy as np
    import tvm
    from tvm import relax

    from workbench.subgraphs import GRAPH_PIPELINE, graph_pipeline
    from workbench.subgraphs.torch_import import relax_from_torch, subgraphs_from_relax

    torch.manual_seed(0)
    block, x = ConvBNBlock().eval(), torch.randn(1, 8, 10, 10)
    names = {}
    for pipeline in ("zero", "fold"):
        mod = relax_from_torch(block, (x,), pipeline=pipeline)
        names[pipeline] = [s.meta["task_name"] for s in subgraphs_from_relax(mod, prefix="block")]
        vm = relax.VirtualMachine(relax.build(mod, target="llvm"), tvm.cpu())
        out = vm["main"](tvm.runtime.tensor(x.numpy()))
        got = (out if hasattr(out, "numpy") else out[0]).numpy()  # the exported program returns a tuple
        with torch.no_grad():
            np.testing.assert_allclose(got, block(x).numpy(), rtol=1e-4, atol=1e-4, err_msg=pipeline)
    assert GRAPH_PIPELINE == "fold"
    assert any("batch_norm" in n for n in names["zero"])  # unfolded: batch norm tasks of their own
    assert not any("batch_norm" in n for n in names["fold"]), names["fold"]
    assert len(names["fold"]) == 2 and len(names["zero"]) > 2, names  # two tasks: conv+bias+ReLU, +residual
    assert all(n.startswith("fused_conv2d") and n.endswith("relu") for n in names["fold"]), names["fold"]
    with pytest.raises(SubgraphError, match="unknown graph pipeline 'nchwc'"):
        graph_pipeline("nchwc")
    with pytest.raises(SubgraphError, match="unknown graph pipeline 'nchwc'"):
        relax_from_torch(block, (x,), pipeline="nchwc")


def test_fast_pipelines_compute_gelu_and_softmax_with_vectorizable_math():
    """Under a "_fast" pipeline, GELU and softmax use TVM's polynomial erf and exp (no call to the C library's
    scalar erff per element, which no schedule can vectorize), and the model still computes what PyTorch does."""
    import numpy as np
    import tvm
    from tvm import relax

    from workbench.hardware import make_target
    from workbench.subgraphs import GRAPH_PIPELINES
    from workbench.subgraphs.torch_import import relax_from_torch, subgraphs_from_relax

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.GELU(), torch.nn.Linear(64, 16),
                              torch.nn.Softmax(dim=-1)).eval()
    x = torch.randn(8, 32) * 4
    with torch.no_grad():
        want = net(x).numpy()
    assert {"fold_fast", "fold_pack_fast", "fold_nhwc_pack_fast"} <= set(GRAPH_PIPELINES)
    calls = {}
    for pipeline in ("fold", "fold_fast"):
        mod = relax_from_torch(net, (x,), pipeline=pipeline)
        vm = relax.VirtualMachine(relax.build(mod, target="llvm"), tvm.cpu())
        out = vm["main"](tvm.runtime.tensor(x.numpy()))
        got = (out if hasattr(out, "numpy") else out[0]).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=pipeline)
        gelu = next(s for s in subgraphs_from_relax(mod, prefix="net") if "gelu" in s.name)  # with the Linear
        asm = tvm.tirx.build(gelu.mod, target=make_target("cpu")).inspect_source("asm")
        calls[pipeline] = [line.split()[-1] for line in asm.splitlines() if "call" in line and "erf" in line]
        tasks = "".join(s.mod.script() for s in subgraphs_from_relax(mod, prefix="net"))
        assert ("T.erf(" in tasks and "T.exp(" in tasks) == (pipeline == "fold"), pipeline
    assert calls["fold"] and not calls["fold_fast"], calls  # e.g. ['erff@PLT'] for the exact erf


def test_torch_export_failure_names_the_module():
    class Bad(torch.nn.Module):
        def forward(self, x):
            return x.numpy()  # not traceable

    with pytest.raises(SubgraphError, match="torch.export failed for Bad"):
        from_torch(Bad(), (torch.randn(2),))

    class Det(torch.nn.Module):  # exports, but TVM's importer has no converter for the operator
        def forward(self, x):
            return torch.linalg.det(x)

    with pytest.raises(SubgraphError, match=r"importing Det into TVM Relax failed .*linalg_det"):
        from_torch(Det(), (torch.randn(3, 3),))


def test_tvmscript_string_and_file_roundtrip(tmp_path, matmul):
    text = matmul.script()
    from_string = from_tvmscript(text, name="mm")
    assert from_string.structural_hash() == matmul.structural_hash()
    path = tmp_path / "my_kernel.py"
    path.write_text(text)
    from_file = load_subgraph(path)
    assert from_file.name == "my_kernel" and from_file.source == f"tvmscript:{path}"
    assert from_file.flops == pytest.approx(matmul.flops)


def test_bad_tvmscript_names_the_file(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("@T.prim_func\ndef main(A: T.Buffer((4,), 'float32')):\n    A[9] = undefined_name\n")
    with pytest.raises(SubgraphError, match="broken.py:3: uses the name 'undefined_name'"):
        from_tvmscript(path)
    path.write_text("@T.prim_func\ndef main(A: T.Buffer((4,), 'float32')):\n    A[0] = T.no_such_thing(1)\n")
    with pytest.raises(SubgraphError, match="broken.py:3: uses T.no_such_thing"):
        from_tvmscript(path)
    path.write_text("@T.prim_func\ndef main(A: T.Buffer((4,), 'float32')):\n    for i in range(4):\n        A[i] = 1\n  x\n")
    with pytest.raises(SubgraphError, match="broken.py: not valid TVMScript"):
        from_tvmscript(path)
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(SubgraphError, match="broken.py: not a TVMScript text file"):
        from_tvmscript(path)
    with pytest.raises(SubgraphError, match="no such TVMScript file"):
        from_tvmscript(tmp_path / "missing.py")


def test_subgraph_rejects_non_modules():
    with pytest.raises(SubgraphError, match="expected a tvm IRModule"):
        Subgraph(name="x", mod="not a module")


def test_op_family_of_fused_task_names():
    assert op_family("fused_conv2d_add_relu") == "conv2d"
    assert op_family("fused_reshape10_gelu_reshape11") == "gelu"
    assert op_family("fused_matmul_add2") == "matmul"


def test_model_catalog_heaviest_conv(tmp_path, monkeypatch):
    """A real model built from its transformers config; the catalog answers "the heaviest conv"."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))  # extract for real, not from a warm cache
    assert {"resnet50", "mobilenet_v2", "bert_base", "gpt_neo_125m", "vit_b16"} <= set(MODELS)
    heaviest = load_subgraph("mobilenet_v2/heaviest:conv2d")
    from workbench.subgraphs import model_subgraphs

    convs = [s for s in model_subgraphs("mobilenet_v2") if s.op == "conv2d"]
    assert len(convs) > 10
    assert heaviest.flops == max(s.flops for s in convs)
    assert load_subgraph(heaviest.name).structural_hash() == heaviest.structural_hash()
    assert list((tmp_path / "models").glob("mobilenet_v2-*-fold.json"))  # cached for the next call
    assert heaviest.meta["pipeline"] == "fold" and "fused_conv2d" in heaviest.name  # batch norm folded in
    # A task named before batch norm was folded (the sample logs' records) is found in the "zero" pipeline.
    import json
    from pathlib import Path

    logged = json.loads((Path(__file__).parents[1] / "sample_logs/cpu/mobilenet_v2__conv2d9/"
                         "workbench_subgraphs.json").read_text().splitlines()[0])
    legacy = load_subgraph(logged["name"])
    assert legacy.meta["pipeline"] == "zero" and str(legacy.structural_hash()) == logged["shash"]
    assert str(load_subgraph("mobilenet_v2@zero/conv2d9").structural_hash()) == logged["shash"]  # named pipeline
    with pytest.raises(SubgraphError, match="unknown graph pipeline 'nchwc'"):
        load_subgraph("mobilenet_v2@nchwc/conv2d9")
    from workbench.subgraphs.models import model_key, split_model, task_prefix

    # A layout change keeps TVM's task names: another pipeline's tasks are told apart by name.
    assert task_prefix("resnet50", "fold_nhwc") == "resnet50@fold_nhwc" and task_prefix("resnet50", "zero") == "resnet50"
    # "model@pipeline" names a model's tasks under another pipeline wherever a model name is taken.
    assert split_model("resnet50@fold_pack") == ("resnet50", "fold_pack") and split_model("resnet50") == ("resnet50", "fold")
    assert model_key("resnet50@fold") == "resnet50" and model_key("resnet50", "zero") == "resnet50@zero"
    with pytest.raises(SubgraphError, match="names the graph pipeline 'fold_pack', but 'zero' was asked for"):
        model_subgraphs("resnet50@fold_pack", pipeline="zero")
    assert [s.name for s in model_subgraphs("mobilenet_v2@zero")] == [s.name for s in
                                                                     model_subgraphs("mobilenet_v2", pipeline="zero")]
    with pytest.raises(SubgraphError, match="no subgraph 'conv2d999' in the graph pipeline 'fold' or 'zero'"):
        load_subgraph("mobilenet_v2/conv2d999")


PAYLOADS = {
    "tvm module": "tvm.support.os.system('touch {marker}')",
    "builtin": "open('{marker}', 'w')",
    "import": "__import__('os').system('touch {marker}')",
    "private attribute": "T.__dict__",
    "module through T": "T.tile.functools.reduce(lambda a, b: a, [1])",
    "lambda": "(lambda: open('{marker}', 'w'))()",
    "string evaluated as a shape": "B = T.alloc_buffer((\"().__class__.__base__.__subclasses__()\",), 'float32')",
}


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_tvmscript_from_a_file_cannot_run_code(tmp_path, payload):
    """TVMScript is Python: a script that would run something else is refused before the parser sees it."""
    marker = tmp_path / "created_by_the_script"
    body = PAYLOADS[payload].format(marker=marker)
    path = tmp_path / "kernel.py"
    path.write_text(f"@T.prim_func\ndef main(A: T.Buffer((4,), 'float32')):\n    {body}\n    A[0] = 1.0\n")
    with pytest.raises(SubgraphError, match="kernel.py:3: .*pass trusted=True"):
        load_subgraph(path)
    assert not marker.exists()
    (tmp_path / "imports.py").write_text("import os\n" + path.read_text())
    with pytest.raises(SubgraphError, match="imports.py:1: imports os"):
        from_tvmscript(tmp_path / "imports.py")


def test_a_script_may_not_shadow_a_builtin(tmp_path):
    """The parser looks a name up as Python's builtin until the script binds it: binding ``eval`` is refused."""
    marker = tmp_path / "created_by_the_script"
    path = tmp_path / "kernel.py"
    path.write_text(f"@T.prim_func\ndef eval(A: T.Buffer((4,), 'float32')):\n"
                    f"    T.evaluate(eval(\"__import__('os').system('touch {marker}') or 0\"))\n")
    with pytest.raises(SubgraphError, match="kernel.py:2: binds the name 'eval'"):
        load_subgraph(path)
    assert not marker.exists()


def test_a_trusted_script_runs_as_python(tmp_path):
    marker = tmp_path / "created_by_the_script"
    path = tmp_path / "kernel.py"
    path.write_text(f"@T.prim_func\ndef main(A: T.Buffer((4,), 'float32')):\n    tvm.support.os.system('touch {marker}')\n"
                    "    A[0] = 1.0\n")
    try:
        from_tvmscript(path, trusted=True)
    except SubgraphError:
        pass  # the payload ran while parsing; whether the rest parses does not matter here
    assert marker.exists()  # which is exactly what an untrusted load must prevent


def test_every_printed_program_passes_the_check():
    from workbench.subgraphs import BUILTINS, check_tvmscript

    for spec in BUILTINS:
        check_tvmscript(load_subgraph(spec.name).script(), origin=spec.name)
