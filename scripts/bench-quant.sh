#!/usr/bin/env bash
# Whole-checkpoint conversion benchmark: a vicuna7b-shape bf16 checkpoint
# (about 14 GB, the real MAIRA-2 dimensions) converted with each --type, on
# every core. For each run it prints the input throughput that
# `maira quant` reports and the peak anonymous memory (RssAnon, sampled from
# /proc every 0.2 s: the memory-mapped checkpoint's pages are file-backed
# and not counted). Needs about 40 GB of free disk.
#
#   scripts/bench-quant.sh [TYPES...]       (default: q8_0 q4_0 q4_k q6_k mixed)
#   BENCH_DIR=/big/disk scripts/bench-quant.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/maira}
DIR=${BENCH_DIR:-build/bench}
SRC=$DIR/vicuna7b-shape-bf16
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(q8_0 q4_0 q4_k q6_k mixed)

[ -x "$BIN" ] || { echo "build $BIN first (make build)" >&2; exit 1; }
mkdir -p "$DIR"
if [ ! -f "$SRC/config.json" ]; then
  echo "generating $SRC (about 14 GB)..." >&2
  "$BIN" testmodel --preset vicuna7b-shape --dtype bf16 -o "$SRC" >&2
fi

peak_anon() { # PID -> prints the peak RssAnon in kB while PID lives
  local pid=$1 peak=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.2
  done
  echo "$peak"
}

echo "| type | input | output | time | input throughput | peak RssAnon |"
echo "|---|---|---|---|---|---|"
for t in "${types[@]}"; do
  out=$DIR/out-$t.gguf
  rm -f "$out"
  flag=(--type "$t"); [ "$t" = mixed ] && flag=()
  log=$DIR/quant-$t.log
  start=$(date +%s.%N)
  "$BIN" quant "$SRC" -o "$out" "${flag[@]}" >"$log" 2>&1 &
  pid=$!
  peak=$(peak_anon $pid)
  wait $pid || { cat "$log" >&2; exit 1; }
  end=$(date +%s.%N)
  rate=$(grep -o '[0-9.]* [kMG]B/s of input' "$log" | tail -1)
  in=$(grep -o '^input: [0-9.]* [kMG]B' "$log" | sed 's/input: //')
  size=$(stat -c %s "$out")
  awk -v t="$t" -v in_="$in" -v size="$size" -v s="$start" -v e="$end" -v rate="$rate" -v peak="$peak" \
    'BEGIN { printf "| %s | %s | %.2f GB | %.1f s | %s | %.0f MB |\n", t, in_, size/1e9, e-s, rate, peak/1024 }'
  rm -f "$out"
done
