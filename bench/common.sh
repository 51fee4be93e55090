# Sourced by the BUSI benchmark scripts (set OUT first): tool paths, the timer, and BUSI prepared into $OUT/data.
BIN=.venv/bin
SHARED=${ULTRAREFINER_SHARED:-../shared}
mkdir -p "$OUT"
start=$(date +%s)
$BIN/ultrarefiner prepare --data_root "$SHARED/data" --datasets BUSI --out "$OUT/data"
finish() { echo "wall time: $(( $(date +%s) - start )) s on $(nproc) cores"; }
