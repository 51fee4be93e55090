#!/usr/bin/env bash
# Balance vs pooling for joint training on BUSI + BUS-BRA (issue 33): the joint tag BUSI+BUSBRA, fold 0, trained twice
# with the same seed and epochs — `--balance 0.5` (the default: BUSI's 414 training images repeated
# round((1200/414) ** 0.5) = 2 times an epoch beside BUS-BRA's 1200) and `--balance 0` (pooled as they are) — then each
# scored on both test splits by `cross-dataset` (coarse and zero-shot refined, test-time flip, Dice at image size).
# The TinyViT feature cache ($ULTRAREFINER_CACHE) is shared by both runs: the first encodes, the second reuses.
# Usage: bash bench/joint_balance.sh [EPOCHS]   (default 6: what fitted a 3-hour CPU session)
set -euo pipefail
OUT=${OUT:-bench_runs/joint_balance}
export ULTRAREFINER_CACHE=${ULTRAREFINER_CACHE:-$OUT/cache}
BIN=.venv/bin; SHARED=${ULTRAREFINER_SHARED:-../shared}; EPOCHS=${1:-6}
mkdir -p "$OUT"; start=$(date +%s)
step() { local t=$(date +%s); "$@"; echo "STEP $(( $(date +%s) - t )) s: $*"; }
step $BIN/ultrarefiner prepare --data_root "$SHARED/data" --datasets BUSI BUSBRA --out "$OUT/data"
for b in 0.5 0; do
  R=(--data_root "$OUT/data" --runs "$OUT/balance_$b/runs" --ckpt_root "$OUT/balance_$b/checkpoints" --pred_root "$OUT/balance_$b/predictions")
  step $BIN/ultrarefiner run-folds --preset lite --datasets BUSI BUSBRA --joint --phase 1 --folds 0 --epochs "$EPOCHS" --balance "$b" "${R[@]}"
done
for b in 0.5 0; do
  step $BIN/ultrarefiner cross-dataset --trained_on BUSI+BUSBRA --tested_on BUSI BUSBRA --folds 0 --tta flip \
    --data_root "$OUT/data" --ckpt_root "$OUT/balance_$b/checkpoints" --out "$OUT/balance_$b/eval"
  echo "balance $b:"; cat "$OUT/balance_$b/eval/cross_dataset.md"
done
echo "wall time: $(( $(date +%s) - start )) s on $(nproc) cores"
