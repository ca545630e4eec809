#!/usr/bin/env bash
# Records from the search's own distribution: tuning runs (MetaSchedule's default and the world model) on training
# subgraphs, 64 trials for the first 26 subgraphs, then 128 without the end-of-run confirmation. Measured on this
# machine, then imported into sample_logs/cpu (one work dir per subgraph, each record with its source and hardware
# id). SUBGRAPHS default: the 26 listed below first, then every other
# training subgraph of sample_logs/cpu (never one of the held-out test split, DEFAULT_HOLDOUT). Resumable: run it
# again and finished runs (a .done marker) are skipped, an interrupted one resumes; importing again adds nothing
# twice. Measure with nothing else heavy running; stop it any time (kill) and start it again later, or pause it
# between runs: touch $RUNS/PAUSE (the run under way finishes, the next waits until the file is gone).
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-work/tune_collect}
TRIALS=${TRIALS:-64}  # runs of the first 26 subgraphs
MORE_TRIALS=${MORE_TRIALS:-128}  # runs of the others: one process start and TVM import per 128 records
FIRST="batch_matmul_nkkm_128 bert_base/fused_softmax_broadcast_to3 bert_base/layer_norm bert_base/matmul1
  capsule_conv2d_8x8x16 conv1d_256x64x128 conv2d_14x14x128_3x3 conv2d_56x56x64_1x1 conv2d_bias_bn_relu_nchw_14x14x128
  conv2d_bn_relu_28x28x128 conv2d_nchw_28x28x64_3x3 conv3d_4x14x14x32_3x3x3 dense_512x32x512 depthwise_112x112x32
  dilated_conv2d_28x28x64 gpt_neo_125m/matmul1 grouped_conv2d_56x56x64_g4 matmul_128 matmul_relu_128x768x768
  norm_1024x1024 resnet50/conv2d1 resnet50/conv2d4 resnet50/max_pool2d softmax_1024x1024 bert_base/matmul2
  gpt_neo_125m/matmul2"
SUBGRAPHS=${SUBGRAPHS:-$FIRST $(.venv/bin/python -c "
import sys
from pathlib import Path
from workbench.worldmodel.evaluate import DEFAULT_HOLDOUT, holdout_names
first = set(sys.argv[1:])
names = sorted(p.name.replace('__', '/') for p in Path('sample_logs/cpu').iterdir() if p.is_dir())
held = holdout_names(DEFAULT_HOLDOUT, names)
print(' '.join(n for n in names if n not in held and n not in first))" $FIRST)}
mkdir -p "$RUNS"
for sub in $SUBGRAPHS; do
  for cost_model in xgb world; do
    dir="$RUNS/${sub//\//__}-$cost_model-s0"
    [ -f "$dir.done" ] && continue
    while [ -f "$RUNS/PAUSE" ]; do sleep 5; done
    trials=$MORE_TRIALS confirm=0
    case " $(echo $FIRST) " in *" $sub "*) trials=$TRIALS confirm=3;; esac
    if .venv/bin/workbench tune --subgraph "$sub" --trials "$trials" --confirm "$confirm" --cost-model "$cost_model" \
        --seed 0 --work-dir "$dir" --quiet > "$dir.log" 2>&1; then
      touch "$dir.done"
    else
      echo "tuning $sub with $cost_model failed (see $dir.log); the records so far are in $dir" >&2
    fi
  done
done
exec .venv/bin/workbench import-runs "$RUNS" --out sample_logs/cpu
