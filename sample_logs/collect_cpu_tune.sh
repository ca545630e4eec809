#!/usr/bin/env bash
# Records from the search's own distribution: 64-trial tuning runs (MetaSchedule's default and the world model)
# on training subgraphs, measured on this machine, then imported into sample_logs/cpu_search (one work dir per
# subgraph, each record with its source and hardware id). Resumable: run it again and finished runs are skipped,
# an interrupted one resumes; importing again adds nothing twice. Measure with nothing else heavy running.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-work/tune_collect}
SUBGRAPHS="batch_matmul_nkkm_128 bert_base/fused_softmax_broadcast_to3 bert_base/layer_norm bert_base/matmul1
  capsule_conv2d_8x8x16 conv1d_256x64x128 conv2d_14x14x128_3x3 conv2d_56x56x64_1x1 conv2d_bias_bn_relu_nchw_14x14x128
  conv2d_bn_relu_28x28x128 conv2d_nchw_28x28x64_3x3 conv3d_4x14x14x32_3x3x3 dense_512x32x512 depthwise_112x112x32
  dilated_conv2d_28x28x64 gpt_neo_125m/matmul1 grouped_conv2d_56x56x64_g4 matmul_128 matmul_relu_128x768x768
  norm_1024x1024 resnet50/conv2d1 resnet50/conv2d4 resnet50/max_pool2d softmax_1024x1024 bert_base/matmul2
  gpt_neo_125m/matmul2"
for sub in $SUBGRAPHS; do
  for cost_model in xgb world; do
    dir="$RUNS/${sub//\//__}-$cost_model-s0"
    .venv/bin/workbench tune --subgraph "$sub" --trials 64 --cost-model "$cost_model" --seed 0 --work-dir "$dir" \
      --quiet || echo "tuning $sub with $cost_model failed; the records so far are in $dir" >&2
  done
done
exec .venv/bin/workbench import-runs "$RUNS" --out sample_logs/cpu_search
