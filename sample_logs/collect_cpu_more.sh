#!/usr/bin/env bash
# The second wave of sample_logs/cpu: the built-ins added for breadth (every family, more shapes), two more model
# families (a Llama-style decoder, ConvNeXt-T) and more tasks of the five first models, random candidates measured
# on this machine. TRIALS (default 150) per subgraph; run it first with TRIALS=64 to cover every subgraph sooner,
# then again to top each up. Resumable: records already there count and are never measured again.
# Measure with nothing else heavy running.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-sample_logs/cpu}
NEW_BUILTINS=$(.venv/bin/python -c "
from workbench.subgraphs import BUILTINS
names = [s.name for s in BUILTINS]
print(' '.join(names[names.index('max_pool2d_56x56x64') + 1:]))")
exec .venv/bin/workbench collect --target cpu --trials "${TRIALS:-150}" --batch 32 --seed 0 --split --out "$OUT" \
  --subgraph $NEW_BUILTINS \
  llama_block/matmul1 llama_block/matmul2 llama_block/matmul3 llama_block/matmul5 llama_block/matmul6 \
  llama_block/fused_softmax_broadcast_to6 llama_block/fused_mean_add1_tir_rsqrt_multiply1_multiply2 \
  llama_block/fused_reshape19_tir_sigmoid_multiply6_reshape19_multiply6_reshape20 llama_block/matmul4 \
  convnext_tiny/fused_conv2d_add convnext_tiny/fused_conv2d1_add convnext_tiny/fused_conv2d2_add4 \
  convnext_tiny/fused_conv2d3_add4 convnext_tiny/fused_conv2d5_add8 convnext_tiny/fused_conv2d7_add12 \
  convnext_tiny/fused_matmul_add1 convnext_tiny/fused_matmul1_add2 convnext_tiny/fused_matmul4_add9 \
  convnext_tiny/fused_matmul5_add10 convnext_tiny/fused_reshape2_gelu_reshape3 convnext_tiny/layer_norm \
  convnext_tiny/layer_norm2 \
  resnet50/conv2d resnet50/conv2d2 resnet50/conv2d13 resnet50/conv2d16 \
  mobilenet_v2/conv2d3 mobilenet_v2/conv2d22 mobilenet_v2/conv2d25
