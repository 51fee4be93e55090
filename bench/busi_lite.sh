#!/usr/bin/env bash
# Real-data benchmark: the `lite-transunet` preset (small random-init TransUNet + bundled LiteMedSAM; the ablation of `lite`) on BUSI (../shared/data/BUSI), CPU.
# Phase 1 on every fold (fold 0: P1 epochs; folds 1-4: P1_OTHER epochs, they only supply out-of-fold masks for phase 2),
# then bench/busi_lite.py: zero-shot LiteMedSAM per prompt subset on fold 0's test-split coarse masks, phase 2 and
# phase 3 on fold 0, each evaluated on the test split.
# Usage: bash bench/busi_lite.sh [P1] [P1_OTHER] [P2] [P3]   (from the repository root, after make test)
set -euo pipefail
P1=${1:-8}; P1_OTHER=${2:-5}; P2=${3:-4}; P3=${4:-2}
OUT=bench_runs/busi_lite
source "$(dirname "$0")/common.sh"
for k in 0 1 2 3 4; do
  E=$P1_OTHER; [ "$k" = 0 ] && E=$P1
  $BIN/ultrarefiner train-transunet --data_root "$OUT/data" --datasets BUSI --preset lite-transunet --vit_name small --max_epochs "$E" \
      --fold "$k" --output_dir "$OUT/checkpoints" --pred_root "$OUT/predictions" --no-amp
done
$BIN/python bench/busi_lite.py "$OUT" "$P2" "$P3"
finish
