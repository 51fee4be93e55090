#!/usr/bin/env bash
# Two real datasets through the kit's own commands (issue 33 and the bundled weights of issue 34): BUSI and BUS-BRA
# prepared into one data root, phase 1 of `lite` on BUS-BRA alone and on both at once (joint tag BUSI+BUSBRA), BUSI's own
# run from bench/busi_kit.sh, the cross-dataset table (each run on each test split: coarse, zero-shot refined, phases 2
# and 3 where a run has them; fold 0 and the ensemble of its finished folds), then the joint run's folds bundled as the
# shipped weights, scored by `segment` on both test splits. The TinyViT feature cache ($ULTRAREFINER_CACHE) is shared.
# Usage: bash bench/two_datasets.sh [BUSBRA_FOLDS] [JOINT_FOLDS]   (defaults "0 1" and "0": what fitted the 3-hour CPU session)
set -euo pipefail
OUT=${OUT:-bench_runs/two_datasets}
export ULTRAREFINER_CACHE=${ULTRAREFINER_CACHE:-$OUT/cache}
BIN=.venv/bin; SHARED=${ULTRAREFINER_SHARED:-../shared}
BB_FOLDS=(${1:-0 1}); JOINT_FOLDS=(${2:-0})
mkdir -p "$OUT"; start=$(date +%s)
step() { local t=$(date +%s); "$@"; echo "STEP $(( $(date +%s) - t )) s: $*"; }
step $BIN/ultrarefiner prepare --data_root "$SHARED/data" --datasets BUSI BUSBRA --out "$OUT/data"
R=(--data_root "$OUT/data" --runs "$OUT/runs" --ckpt_root "$OUT/checkpoints" --pred_root "$OUT/predictions")
step $BIN/ultrarefiner run-folds --preset lite --datasets BUSI --phase all --folds 0 --phase1_folds all "${R[@]}"
step $BIN/ultrarefiner run-folds --preset lite --datasets BUSBRA --phase 1 --folds "${BB_FOLDS[@]}" "${R[@]}"
step $BIN/ultrarefiner run-folds --preset lite --datasets BUSI BUSBRA --joint --phase 1 --folds "${JOINT_FOLDS[@]}" "${R[@]}"
step $BIN/ultrarefiner cross-dataset --trained_on BUSI BUSBRA BUSI+BUSBRA --tested_on BUSI BUSBRA --tta flip \
  --data_root "$OUT/data" --ckpt_root "$OUT/checkpoints" --out "$OUT/eval"
step $BIN/ultrarefiner bundle --trained_on BUSI+BUSBRA --folds "${JOINT_FOLDS[@]}" --data_root "$OUT/data" \
  --ckpt_root "$OUT/checkpoints" --out "$OUT/weights"
cat "$OUT/eval/cross_dataset.md" "$OUT/weights/MODEL_CARD.md"
echo "wall time: $(( $(date +%s) - start )) s on $(nproc) cores"
