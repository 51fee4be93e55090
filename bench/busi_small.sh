#!/usr/bin/env bash
# Real-data benchmark: the `small` preset on BUSI (../shared/data/BUSI) under a fixed CPU budget.
# Usage: bash bench/busi_small.sh [P1_EPOCHS] [P2_EPOCHS] [P3_EPOCHS]   (run from the repository root, after make test/demo)
set -euo pipefail
P1=${1:-6}; P2=${2:-6}; P3=${3:-2}
OUT=bench_runs/busi_small
source "$(dirname "$0")/common.sh"
$BIN/ultrarefiner train-transunet --data_root "$OUT/data" --datasets BUSI --vit_name small --max_epochs "$P1" \
    --output_dir "$OUT/checkpoints" --pred_root "$OUT/predictions"
$BIN/ultrarefiner finetune-sam --data_root "$OUT/data" --datasets BUSI --preset small --fold 0 --max_epochs "$P2" \
    --output_dir "$OUT/checkpoints" --pred_root "$OUT/predictions"
$BIN/ultrarefiner train-e2e --data_root "$OUT/data" --datasets BUSI --preset small --fold 0 --max_epochs "$P3" \
    --output_dir "$OUT/checkpoints"
$BIN/python -c "
from ultrarefiner.phases import evaluate
evaluate('BUSI', folds=[0], data_root='$OUT/data', preset='small', ckpt_root='$OUT/checkpoints', out='$OUT/eval')"
cat "$OUT/eval/BUSI/summary.md"
finish
