"""The catalog of built-in operator workloads, with named shapes (sizes chosen to measure in milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench._tvm import import_tvm
from workbench.subgraphs.base import Subgraph


@dataclass(frozen=True)
class BuiltinSpec:
    """How to build one built-in workload from MetaSchedule's TE workload library."""

    name: str  # catalog name
    op: str  # operator family
    func: str  # function in tvm.s_tir.meta_schedule.testing.te_workload
    args: tuple  # its positional arguments (the shape)
    note: str  # what the shape represents


# Shapes follow the layers they are named after (ResNet, MobileNet, BERT, DCGAN) at batch 1.
BUILTINS: tuple[BuiltinSpec, ...] = (
    BuiltinSpec("matmul_128", "matmul", "matmul", (128, 128, 128), "square GEMM"),
    BuiltinSpec("matmul_256", "matmul", "matmul", (256, 256, 256), "square GEMM"),
    BuiltinSpec("matmul_relu_128x768x768", "matmul", "matmul_relu", (128, 768, 768), "BERT-base dense + ReLU, seq 128"),
    BuiltinSpec("dense_512x32x512", "matmul", "batch_matmul_nkkm", (1, 512, 32, 512), "thin GEMM (low-rank)"),
    BuiltinSpec("batch_matmul_12x128x64", "batch_matmul", "transpose_batch_matmul", (1, 128, 12, 64),
                "BERT attention scores, 12 heads"),
    BuiltinSpec("batch_matmul_nkkm_128", "batch_matmul", "batch_matmul_nkkm", (1, 128, 128, 128), "batched GEMM"),
    BuiltinSpec("conv1d_256x64x128", "conv1d", "conv1d_nlc", (1, 256, 64, 128, 3, 2, 1), "1-D conv, stride 2"),
    BuiltinSpec("conv1d_64x256x256_k5", "conv1d", "conv1d_nlc", (1, 64, 256, 256, 5, 1, 2), "1-D conv, kernel 5"),
    BuiltinSpec("conv2d_56x56x64_1x1", "conv2d", "conv2d_nhwc", (1, 56, 56, 64, 64, 1, 1, 0), "ResNet 1x1 conv"),
    BuiltinSpec("conv2d_14x14x128_3x3", "conv2d", "conv2d_nhwc", (1, 14, 14, 128, 128, 3, 1, 1), "ResNet 3x3 conv"),
    BuiltinSpec("conv2d_7x7x512_3x3", "conv2d", "conv2d_nhwc", (1, 7, 7, 512, 128, 3, 1, 1), "ResNet late 3x3 conv"),
    BuiltinSpec("conv2d_nchw_28x28x64_3x3", "conv2d", "conv2d_nchw", (1, 28, 28, 64, 64, 3, 3, 1, 1), "NCHW 3x3 conv"),
    BuiltinSpec("conv3d_4x14x14x32_3x3x3", "conv3d", "conv3d_ndhwc", (1, 4, 14, 14, 32, 64, 3, 1, 1), "3-D conv"),
    BuiltinSpec("depthwise_112x112x32", "depthwise_conv2d", "depthwise_conv2d_nhwc", (1, 112, 112, 32, 3, 1, 1),
                "MobileNet depthwise 3x3"),
    BuiltinSpec("depthwise_14x14x512_s2", "depthwise_conv2d", "depthwise_conv2d_nhwc", (1, 14, 14, 512, 3, 2, 1),
                "MobileNet depthwise 3x3, stride 2"),
    BuiltinSpec("dilated_conv2d_28x28x64", "conv2d", "conv2d_nhwc", (1, 28, 28, 64, 64, 3, 1, 2, 2),
                "3x3 conv, dilation 2"),
    BuiltinSpec("grouped_conv2d_56x56x64_g4", "conv2d", "conv2d_nhwc", (1, 56, 56, 64, 128, 3, 2, 1, 1, 4),
                "3x3 conv, 4 groups, stride 2"),
    BuiltinSpec("conv2d_transpose_4x4x512", "conv2d_transpose", "conv2d_transpose_nhwc", (1, 4, 4, 512, 256, 4, 2, 1),
                "DCGAN transposed conv"),
    BuiltinSpec("capsule_conv2d_8x8x16", "conv2d", "conv2d_capsule_nhwijc", (1, 8, 8, 16, 16, 3, 1, 1),
                "matrix-capsule conv"),
    BuiltinSpec("conv2d_bn_relu_28x28x128", "conv2d", "conv2d_nhwc_bn_relu", (1, 28, 28, 128, 256, 1, 2, 0),
                "conv + batch norm + ReLU"),
    BuiltinSpec("conv2d_bias_bn_relu_nchw_14x14x128", "conv2d", "conv2d_nchw_bias_bn_relu",
                (1, 14, 14, 128, 128, 3, 3, 1, 1), "NCHW conv + bias + batch norm + ReLU"),
    BuiltinSpec("norm_256x256", "norm", "norm_bmn", (1, 256, 256), "L2 norm reduction"),
    BuiltinSpec("norm_1024x1024", "norm", "norm_bmn", (1, 1024, 1024), "L2 norm reduction"),
    BuiltinSpec("softmax_256x256", "softmax", "softmax_mn", (256, 256), "row softmax"),
    BuiltinSpec("softmax_1024x1024", "softmax", "softmax_mn", (1024, 1024), "row softmax"),
    BuiltinSpec("max_pool2d_56x56x64", "pool", "max_pool2d_nchw", (1, 56, 56, 64, 1), "2x2 max pool"),
    # More shapes of every family, for training breadth: the layers of ResNet-18/50, MobileNet, ConvNeXt,
    # BERT and Llama-style decoders at batch 1, and TenSet/Ansor's test shapes.
    BuiltinSpec("matmul_512", "matmul", "matmul", (512, 512, 512), "square GEMM"),
    BuiltinSpec("matmul_64x3072x768", "matmul", "matmul", (64, 3072, 768), "BERT FFN up-projection, seq 64"),
    BuiltinSpec("matmul_64x768x3072", "matmul", "matmul", (64, 768, 3072), "BERT FFN down-projection, seq 64"),
    BuiltinSpec("matmul_relu_64x512x2048", "matmul", "matmul_relu", (64, 512, 2048), "dense + ReLU"),
    BuiltinSpec("gemv_1x4096x1024", "matmul", "matmul", (1, 4096, 1024), "batch-1 dense (decoder token step)"),
    BuiltinSpec("dense_1x1000x2048", "matmul", "matmul", (1, 1000, 2048), "ResNet-50 classifier"),
    BuiltinSpec("batch_matmul_nkkm_4x128x64x128", "batch_matmul", "batch_matmul_nkkm", (4, 128, 64, 128),
                "batched GEMM, 4 batches"),
    BuiltinSpec("batch_matmul_nkkm_512x32", "batch_matmul", "batch_matmul_nkkm", (1, 512, 512, 32),
                "batched GEMM, short K"),
    BuiltinSpec("batch_matmul_8x64x64", "batch_matmul", "transpose_batch_matmul", (1, 64, 8, 64),
                "attention scores, 8 heads, seq 64"),
    BuiltinSpec("batch_matmul_12x256x64", "batch_matmul", "transpose_batch_matmul", (1, 256, 12, 64),
                "attention scores, 12 heads, seq 256"),
    BuiltinSpec("conv1d_128x128x256_1x1", "conv1d", "conv1d_nlc", (1, 128, 128, 256, 1, 2, 0), "1-D conv, 1x1, stride 2"),
    BuiltinSpec("conv1d_32x512x512", "conv1d", "conv1d_nlc", (1, 32, 512, 512, 3, 1, 1), "1-D conv, wide channels"),
    BuiltinSpec("conv1d_512x64x64_k7", "conv1d", "conv1d_nlc", (1, 512, 64, 64, 7, 1, 3), "1-D conv, long sequence"),
    BuiltinSpec("conv2d_224x224x3_7x7", "conv2d", "conv2d_nhwc", (1, 224, 224, 3, 64, 7, 2, 3), "ResNet stem 7x7/2"),
    BuiltinSpec("conv2d_56x56x64_3x3", "conv2d", "conv2d_nhwc", (1, 56, 56, 64, 64, 3, 1, 1), "ResNet-18 3x3 conv"),
    BuiltinSpec("conv2d_28x28x128_3x3", "conv2d", "conv2d_nhwc", (1, 28, 28, 128, 128, 3, 1, 1), "ResNet-18 3x3 conv"),
    BuiltinSpec("conv2d_28x28x128_1x1_s2", "conv2d", "conv2d_nhwc", (1, 28, 28, 128, 256, 1, 2, 0),
                "ResNet downsample 1x1/2"),
    BuiltinSpec("conv2d_14x14x256_1x1_s2", "conv2d", "conv2d_nhwc", (1, 14, 14, 256, 512, 1, 2, 0),
                "ResNet downsample 1x1/2"),
    BuiltinSpec("conv2d_14x14x256_3x3", "conv2d", "conv2d_nhwc", (1, 14, 14, 256, 256, 3, 1, 1), "ResNet 3x3 conv"),
    BuiltinSpec("conv2d_nchw_14x14x256_3x3", "conv2d", "conv2d_nchw", (1, 14, 14, 256, 256, 3, 3, 1, 1),
                "NCHW 3x3 conv"),
    BuiltinSpec("conv2d_nchw_56x56x64_1x1", "conv2d", "conv2d_nchw", (1, 56, 56, 64, 256, 1, 1, 1, 0),
                "NCHW 1x1 expansion"),
    BuiltinSpec("conv2d_bn_relu_56x56x64_3x3", "conv2d", "conv2d_nhwc_bn_relu", (1, 56, 56, 64, 64, 3, 1, 1),
                "conv + batch norm + ReLU, 3x3"),
    BuiltinSpec("conv2d_bias_bn_relu_nchw_28x28x64_1x1", "conv2d", "conv2d_nchw_bias_bn_relu",
                (1, 28, 28, 64, 128, 1, 1, 1, 0), "NCHW 1x1 conv + bias + batch norm + ReLU"),
    BuiltinSpec("dilated_conv2d_14x14x128_d2", "conv2d", "conv2d_nhwc", (1, 14, 14, 128, 128, 3, 1, 2, 2),
                "3x3 conv, dilation 2"),
    BuiltinSpec("grouped_conv2d_56x56x64_1x1_g4", "conv2d", "conv2d_nhwc", (1, 56, 56, 64, 64, 1, 1, 0, 1, 4),
                "1x1 conv, 4 groups"),
    BuiltinSpec("grouped_conv2d_28x28x128_g32", "conv2d", "conv2d_nhwc", (1, 28, 28, 128, 128, 3, 1, 1, 1, 32),
                "ResNeXt 3x3 conv, 32 groups"),
    BuiltinSpec("grouped_conv2d_14x14x256_g4", "conv2d", "conv2d_nhwc", (1, 14, 14, 256, 256, 3, 1, 1, 1, 4),
                "3x3 conv, 4 groups"),
    BuiltinSpec("capsule_conv2d_16x16x8_s2", "conv2d", "conv2d_capsule_nhwijc", (1, 16, 16, 8, 16, 3, 2, 1),
                "matrix-capsule conv, stride 2"),
    BuiltinSpec("conv3d_8x14x14x64_1x1x1", "conv3d", "conv3d_ndhwc", (1, 8, 14, 14, 64, 64, 1, 1, 0), "3-D 1x1x1 conv"),
    BuiltinSpec("conv3d_4x28x28x16_3x3x3", "conv3d", "conv3d_ndhwc", (1, 4, 28, 28, 16, 32, 3, 1, 1), "3-D conv"),
    BuiltinSpec("depthwise_56x56x128", "depthwise_conv2d", "depthwise_conv2d_nhwc", (1, 56, 56, 128, 3, 1, 1),
                "MobileNet depthwise 3x3"),
    BuiltinSpec("depthwise_28x28x256_s2", "depthwise_conv2d", "depthwise_conv2d_nhwc", (1, 28, 28, 256, 3, 2, 1),
                "MobileNet depthwise 3x3, stride 2"),
    BuiltinSpec("depthwise_7x7x1024", "depthwise_conv2d", "depthwise_conv2d_nhwc", (1, 7, 7, 1024, 3, 1, 1),
                "MobileNet late depthwise 3x3"),
    BuiltinSpec("depthwise_56x56x96_7x7", "depthwise_conv2d", "depthwise_conv2d_nhwc", (1, 56, 56, 96, 7, 1, 3),
                "ConvNeXt depthwise 7x7"),
    BuiltinSpec("conv2d_transpose_8x8x128", "conv2d_transpose", "conv2d_transpose_nhwc", (1, 8, 8, 128, 64, 4, 2, 1),
                "DCGAN transposed conv"),
    BuiltinSpec("conv2d_transpose_16x16x64", "conv2d_transpose", "conv2d_transpose_nhwc",
                (1, 16, 16, 64, 32, 4, 2, 1), "DCGAN transposed conv"),
    BuiltinSpec("norm_4x256x512", "norm", "norm_bmn", (4, 256, 512), "L2 norm reduction, batched"),
    BuiltinSpec("norm_1x512x512", "norm", "norm_bmn", (1, 512, 512), "L2 norm reduction"),
    BuiltinSpec("softmax_128x4096", "softmax", "softmax_mn", (128, 4096), "row softmax, long rows"),
    BuiltinSpec("softmax_512x512", "softmax", "softmax_mn", (512, 512), "row softmax"),
    BuiltinSpec("softmax_2048x128", "softmax", "softmax_mn", (2048, 128), "row softmax, short rows"),
    BuiltinSpec("max_pool2d_112x112x64", "pool", "max_pool2d_nchw", (1, 112, 112, 64, 1), "ResNet stem max pool"),
    BuiltinSpec("max_pool2d_28x28x128", "pool", "max_pool2d_nchw", (1, 28, 28, 128, 0), "2x2 max pool"),
)
BUILTIN_NAMES = {spec.name: spec for spec in BUILTINS}


def load_builtin(name: str) -> Subgraph:
    """Build the named built-in workload as a Subgraph."""
    tvm = import_tvm()
    from tvm.s_tir.meta_schedule.testing import te_workload

    spec = BUILTIN_NAMES[name]
    tensors: Any = getattr(te_workload, spec.func)(*spec.args)
    func = tvm.te.create_prim_func(list(tensors))
    return Subgraph(
        name=spec.name, mod=tvm.IRModule({"main": func}), source=f"builtin:{spec.func}", op=spec.op,
        meta={"shape": list(spec.args), "note": spec.note},
    )
