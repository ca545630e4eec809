#!/usr/bin/env bash
# The CUDA benchmarks, on a machine with an NVIDIA GPU, in steps that each resume where they stopped:
#   1. tests/test_measure.py's CUDA test (real builds and runs on the GPU);
#   2. CUDA training logs: random candidates of 12 built-in subgraphs (`workbench collect --target cuda`);
#   3. a CUDA world model trained on them (tfidf encoder; `workbench train`), none of the search subgraphs in it;
#   4. the search benchmark on CUDA (`benchmarks/tune_search.py --target cuda`), world model vs MetaSchedule default.
# Usage: benchmarks/cuda.sh [SECONDS]  -- stops (resumably) after SECONDS (default: no limit); run it again to go on.
# PYTHON (default python3) must have the project's dependencies. Everything is written under work/cuda/, the
# reports to benchmarks/results/*_cuda.{md,json}, and with OUT set, logs and reports are copied there too.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LIMIT=${1:-0}
T0=$(date +%s)
W=work/cuda
OUT=${OUT:-}
mkdir -p $W
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

TRAIN="matmul_128 matmul_relu_128x768x768 dense_512x32x512 batch_matmul_nkkm_128 conv1d_256x64x128 \
conv2d_56x56x64_1x1 conv2d_14x14x128_3x3 conv2d_nchw_28x28x64_3x3 depthwise_112x112x32 conv2d_bn_relu_28x28x128 \
norm_1024x1024 softmax_1024x1024"
SEARCH="conv2d_7x7x512_3x3 depthwise_14x14x512_s2 matmul_256"  # 3 of the CPU benchmark's 8: a 30-min device budget

left() {  # seconds left of the limit (a large number without one)
  if [ "$LIMIT" -gt 0 ]; then echo $((LIMIT - ($(date +%s) - T0))); else echo 999999; fi
}
step() {  # step NAME DONE_FILE COMMAND...: run COMMAND unless DONE_FILE exists, within the time left
  local name=$1 done=$2; shift 2
  [ -e "$done" ] && { echo "== $name: done before"; return 0; }
  local t; t=$(left)
  [ "$t" -le 30 ] && { echo "== $name: no time left"; exit 3; }
  echo "== $name ($(date +%T), ${t}s left)"
  timeout --signal=INT --kill-after=20 "$t" "$@" 2>&1 | tee -a "$W/$name.log"
  local rc=${PIPESTATUS[0]}
  [ -n "$OUT" ] && cp "$W/$name.log" "$OUT/" 2>/dev/null
  if [ "$rc" -ne 0 ]; then echo "== $name: exit $rc (run again to resume)"; exit "$rc"; fi
  touch "$done"
}

step cuda_test $W/cuda_test.ok $PY -m pytest -q -p no:cacheprovider tests/test_measure.py -k cuda -rs
# shellcheck disable=SC2086
step collect $W/collect.ok $PY -c 'import sys; from workbench.cli import main; sys.exit(main(sys.argv[1:]))' \
  collect --target cuda --subgraph $TRAIN --trials 48 --batch 32 --out $W/logs --split --quiet
step train $W/model/config.json $PY -c 'import sys; from workbench.cli import main; sys.exit(main(sys.argv[1:]))' \
  train --logs $W/logs --out $W/model --encoder tfidf --seed 0 --quiet
# shellcheck disable=SC2086
step search $W/search.ok $PY benchmarks/tune_search.py --target cuda --world-model $W/model --subgraphs $SEARCH \
  --seeds 0 --trials 64 --work-root $W/search
if [ -n "$OUT" ]; then
  cp benchmarks/results/*_cuda.* "$OUT/" 2>/dev/null
  tar -czf "$OUT/cuda_work.tgz" --exclude='*.ok' -C work cuda
fi
echo "== all steps done"
