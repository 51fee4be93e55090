#!/usr/bin/env bash
# BUSI through the kit's own commands, each step timed (issue 31's must-show): prepare → run-folds (lite: phase 1 on all
# five folds with out-of-fold masks, phases 2 and 3 and the evaluation on fold 0) → evaluate every fold and the 5-fold
# ensemble with test-time flip, at each image's own size, and the refinement ablation (issue 32: each lever on fold 0 and
# the ensemble). The TinyViT feature cache lives in $ULTRAREFINER_CACHE (default
# here: $OUT/cache; empty on the first run = cold cache) and is reused by every phase, fold and later run.
# Usage: bash bench/busi_kit.sh [EPOCHS...]   (from the repository root, after `make test`; EPOCHS: phases 1 2 3, default the preset's)
# PRECISION (default bf16 where the CPU has native bf16, else fp32): the frozen encoder's precision for every step.
set -euo pipefail
OUT=${OUT:-bench_runs/busi_kit}
export ULTRAREFINER_CACHE=${ULTRAREFINER_CACHE:-$OUT/cache}
source "$(dirname "$0")/common.sh"
step() { local t=$(date +%s); "$@"; echo "STEP $(( $(date +%s) - t )) s: $*"; }
PRECISION=${PRECISION:-$($BIN/python -c "import ultrarefiner.runtime as r; print('bf16' if r.cpu_has_native_bf16() else 'fp32')")}
echo "encoder precision: $PRECISION"
EPOCHS=()
if [ $# -gt 0 ]; then EPOCHS=(--epochs "$@"); fi
step $BIN/ultrarefiner run-folds --preset lite --datasets BUSI --phase all --folds 0 --phase1_folds all --data_root "$OUT/data" \
  --runs "$OUT/runs" --ckpt_root "$OUT/checkpoints" --pred_root "$OUT/predictions" --encoder_precision "$PRECISION" "${EPOCHS[@]}"
step $BIN/ultrarefiner evaluate --datasets BUSI --folds all --tta flip --ablation --data_root "$OUT/data" --ckpt_root "$OUT/checkpoints" \
  --out "$OUT/eval_flip" --encoder_precision "$PRECISION"
step $BIN/ultrarefiner evaluate --datasets BUSI --folds all --data_root "$OUT/data" --ckpt_root "$OUT/checkpoints" --out "$OUT/eval" --encoder_precision "$PRECISION"
cat "$OUT/eval_flip/BUSI/summary.md" "$OUT/eval_flip/BUSI/ablation.md"
finish
