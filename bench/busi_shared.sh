#!/usr/bin/env bash
# The whole BUSI benchmark of the shared-encoder `lite` pipeline in one command (CPU): prepare BUSI, encode every image
# once with LiteMedSAM's TinyViT (cached in $ULTRAREFINER_CACHE, default ~/.cache/ultrarefiner, reused across runs),
# phase 1 on all 5 folds with out-of-fold masks, phases 2 and 3 on fold 0, the test-split table.
# Usage: bash bench/busi_shared.sh [P1] [P2] [P3]   (from the repository root, after make test; P1_OTHER=… for folds 1-4)
set -euo pipefail
P1=${1:-16}; P2=${2:-8}; P3=${3:-2}
OUT=bench_runs/busi_shared
source "$(dirname "$0")/common.sh"
$BIN/python bench/busi_shared.py "$OUT" "$P1" "$P2" "$P3"
finish
