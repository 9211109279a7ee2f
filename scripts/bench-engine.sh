#!/usr/bin/env bash
# Engine benchmark, maira beside its anchors in one run: llama.cpp (prefill
# and decode, short and after a 1400-token prompt, on the `export --llm-only`
# file) and PyTorch + OpenBLAS (ViT-B/14 at 518) where installed, on random-
# weight vicuna7b-shape files. Prints a markdown table for BENCHMARKS.md.
#
#   scripts/bench-engine.sh [TYPES...]     (default: q4_0 q4_k)
#   THREADS=2 BENCH_DIR=build/bench MAIRA_LLAMACPP=build/llamacpp scripts/bench-engine.sh
# Needs about 10 GB of disk, python3 (to read JSON), and for the anchors node
# with node-llama-cpp (.ci/run installs it) and /usr/bin/python3 with torch.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/maira}
DIR=${BENCH_DIR:-build/bench}
THREADS=${THREADS:-2}
LLAMACPP=${MAIRA_LLAMACPP:-build/llamacpp}
LONG=${LONG:-1400}
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(q4_0 q4_k)
[ -x "$BIN" ] || { echo "build $BIN first (make build)" >&2; exit 1; }
mkdir -p "$DIR"

field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
have_llamacpp=false
if command -v node >/dev/null && [ -d "$LLAMACPP/node_modules/node-llama-cpp" ]; then
  cp scripts/llamacpp-bench.mjs "$LLAMACPP/maira-llamacpp-bench.mjs"
  have_llamacpp=true
fi
llamacpp() { # FILE PROMPT GEN -> JSON line
  local file
  file=$(realpath "$1") # before the cd
  (cd "$LLAMACPP" && node maira-llamacpp-bench.mjs "$file" "$2" "$3" "$THREADS")
}

echo "| type | measure | maira | llama.cpp | ratio |"
echo "|---|---|---|---|---|"
for t in "${types[@]}"; do
  f=$DIR/v7-$t.gguf
  [ -f "$f" ] || "$BIN" testmodel --preset vicuna7b-shape --gguf "$t" -o "$f" >/dev/null 2>&1
  # Each engine reads a file written just before its runs: a file evicted
  # from the page cache and read back sits in small pages, which costs
  # decode 10-25% here (BENCHMARKS.md), so both start from the state a
  # fresh write leaves. The export for llama.cpp is written after maira's
  # runs, so that it does not push maira's file out.
  cp "$f" "$DIR/v7-$t-run.gguf"
  short=$("$BIN" bench --model "$DIR/v7-$t-run.gguf" --threads "$THREADS" --prompt-tokens 128 --gen-tokens 32 --json)
  long=$("$BIN" bench --model "$DIR/v7-$t-run.gguf" --threads "$THREADS" --prompt-tokens "$LONG" --gen-tokens 32 --no-image --json --bandwidth-mb 0)
  long16=$("$BIN" bench --model "$DIR/v7-$t-run.gguf" --threads "$THREADS" --prompt-tokens "$LONG" --gen-tokens 32 --no-image --json --bandwidth-mb 0 --kv-cache f16)
  rm -f "$DIR/v7-$t-run.gguf"
  "$BIN" export --llm-only "$f" -o "$DIR/v7-$t-llm.gguf" >/dev/null
  ls=- ld=- ll=- lp=-
  if $have_llamacpp; then
    a=$(llamacpp "$DIR/v7-$t-llm.gguf" 128 32); b=$(llamacpp "$DIR/v7-$t-llm.gguf" "$LONG" 32)
    lp=$(echo "$a" | field prefill_tok_s); ls=$(echo "$a" | field decode_tok_s)
    ll=$(echo "$b" | field prefill_tok_s); ld=$(echo "$b" | field decode_tok_s)
  fi
  row() { awk -v t="$t" -v m="$1" -v a="$2" -v b="$3" 'BEGIN { r = (b == "-" ? "-" : sprintf("%.2f", a / b)); printf "| %s | %s | %.2f | %s | %s |\n", t, m, a, (b == "-" ? "-" : sprintf("%.2f", b)), r }'; }
  row "prefill tokens/s, 128" "$(echo "$short" | field prefill_tokens_per_s)" "$lp"
  row "decode tokens/s, short context" "$(echo "$short" | field decode_tokens_per_s)" "$ls"
  row "prefill tokens/s, $LONG" "$(echo "$long" | field prefill_tokens_per_s)" "$ll"
  row "decode tokens/s after $LONG (q8_0 cache)" "$(echo "$long" | field decode_tokens_per_s)" "$ld"
  row "decode tokens/s after $LONG (f16 cache)" "$(echo "$long16" | field decode_tokens_per_s)" "$ld"
  awk -v t="$t" -v bw="$(echo "$short" | field read_bandwidth_gb_s)" -v r="$(echo "$short" | field decode_roofline_tokens_per_s)" \
    -v d="$(echo "$short" | field decode_tokens_per_s)" \
    'BEGIN { printf "| %s | decode vs roofline (read %.1f GB/s) | %.2f | roofline %.2f | %.2f |\n", t, bw, d, r, d / r }'
  awk -v t="$t" -v bw="$(echo "$short" | field mapped_read_bandwidth_gb_s)" -v r="$(echo "$short" | field mapped_decode_roofline_tokens_per_s)" \
    -v d="$(echo "$short" | field decode_tokens_per_s)" \
    'BEGIN { printf "| %s | decode vs roofline of the mapped file (read %.1f GB/s) | %.2f | roofline %.2f | %.2f |\n", t, bw, d, r, d / r }'
  echo "| $t | image encode ms (518x518, with projector) | $(echo "$short" | field image_encode_ms) | - | - |"
  echo "| $t | peak RSS, $LONG-token prompt (q8_0 cache) | $(echo "$long" | field peak_rss_bytes) B | - | - |"
  rm -f "$DIR/v7-$t-llm.gguf"
done
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo
  echo "PyTorch anchor: $(/usr/bin/python3 scripts/torch-vit-time.py "$THREADS")"
fi
