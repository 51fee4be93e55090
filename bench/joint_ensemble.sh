#!/usr/bin/env bash
# The joint BUSI+BUSBRA fold ensemble (issue 33): more folds of bench/joint_balance.sh's balanced run (same seed, epochs
# and --balance 0.5), then `cross-dataset` over fold 0 and them — each fold, and their ensemble (mean coarse
# probability, test-time flip), on both test splits, Dice at image size. Run bench/joint_balance.sh first: it prepares
# the data, fills the feature cache and trains fold 0. The ensemble is every fold trained so far (a best.pth), so
# `bash bench/joint_ensemble.sh 6 1 2` then `bash bench/joint_ensemble.sh 6 3 4` ends with the 5-fold ensemble.
# Usage: bash bench/joint_ensemble.sh [EPOCHS] [FOLD ...]   (default: 6 epochs, folds 1 2 — what fitted a 3-hour CPU session)
set -euo pipefail
OUT=${OUT:-bench_runs/joint_balance}
export ULTRAREFINER_CACHE=${ULTRAREFINER_CACHE:-$OUT/cache}
BIN=.venv/bin; EPOCHS=${1:-6}; shift || true
if [ $# -gt 0 ]; then FOLDS=("$@"); else FOLDS=(1 2); fi
start=$(date +%s)
step() { local t=$(date +%s); "$@"; echo "STEP $(( $(date +%s) - t )) s: $*"; }
R=(--data_root "$OUT/data" --runs "$OUT/balance_0.5/runs" --ckpt_root "$OUT/balance_0.5/checkpoints" --pred_root "$OUT/balance_0.5/predictions")
for k in "${FOLDS[@]}"; do
  step $BIN/ultrarefiner run-folds --preset lite --datasets BUSI BUSBRA --joint --phase 1 --folds "$k" --epochs "$EPOCHS" --balance 0.5 "${R[@]}"
done
TRAINED=($(for f in "$OUT"/balance_0.5/checkpoints/transunet/BUSI+BUSBRA/fold_*/best.pth; do basename "$(dirname "$f")" | cut -d_ -f2; done | sort -n))
step $BIN/ultrarefiner cross-dataset --trained_on BUSI+BUSBRA --tested_on BUSI BUSBRA --folds "${TRAINED[@]}" --tta flip \
  --data_root "$OUT/data" --ckpt_root "$OUT/balance_0.5/checkpoints" --out "$OUT/balance_0.5/eval_ensemble"
cat "$OUT/balance_0.5/eval_ensemble/cross_dataset.md"
echo "wall time: $(( $(date +%s) - start )) s on $(nproc) cores"
