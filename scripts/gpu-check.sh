#!/usr/bin/env bash
# The GPU check, for the lent GPU machine (CUDA and Python there; no Go, no
# network): everything it runs was built here by `make gpu-bundle` into
# build/gpu-bundle (carry that folder). Inside one 10-minute run it
#   1. says what maira sees (maira doctor),
#   2. runs the GPU tests: each op and the tiny model's logits and greedy
#      tokens against the CPU backend (runtime/cuda's tests),
#   3. times the decode GEMVs with CUDA events against a device-to-device
#      copy's bandwidth measured in the same run, and the prefill's GEMM
#      (tensor cores) and blocked attention on a 1400-row prompt,
#   4. makes vicuna7b-shape Q4_0 and Q4_K files and runs maira bench
#      --backend cuda on each: image encode ms, prefill tokens/s for a
#      1400-token prompt, decode tokens/s (and how many steps ran as CUDA
#      graphs), decode's share of the copy bandwidth, and one full report
#      (a frontal image, 150 tokens),
# and prints a summary table last. Logs go to $OUT (the device tool's
# folder) when set, else build/gpu-check.
#
#   scripts/gpu-check.sh                      (on the GPU machine)
#   PRESET=tiny BACKEND=cpu TYPES=q8_0 scripts/gpu-check.sh   (a dry run of the plumbing, anywhere)
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUNDLE:-build/gpu-bundle}
LOG=${OUT:-build/gpu-check}
PRESET=${PRESET:-vicuna7b-shape}
BACKEND=${BACKEND:-cuda}
PROMPT=${PROMPT:-1400}
GEN=${GEN:-64}
REPORT=${REPORT:-150}
TYPES=${TYPES:-q4_0 q4_k}
WORK=${WORK:-/tmp/maira-gpu-check}
mkdir -p "$LOG" "$WORK"
[ -x "$B/maira" ] && [ -x "$B/cuda.test" ] || { echo "no bundle at $B: run make gpu-bundle here and carry it" >&2; exit 1; }
# The driver's library, wherever this image keeps it.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/local/cuda/compat; do
	[ -e "$d/libcuda.so.1" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
summary=()
step() { echo; echo "=== $*"; }
start=$(date +%s)

step "device"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
timeout 60 "$B/maira" doctor 2>&1 | tee "$LOG/doctor.txt"
grep -q '^backend: cuda' "$LOG/doctor.txt" || [ "$BACKEND" != cuda ] || summary+=("doctor: maira did not choose cuda (see doctor.txt)")

step "GPU tests (ops and tiny model against the CPU)"
if timeout 240 "$B/cuda.test" -test.v -test.count=1 -test.timeout=230s >"$LOG/gpu-tests.txt" 2>&1; then
	summary+=("gpu tests: PASS ($(grep -c '^--- PASS' "$LOG/gpu-tests.txt") passed, $(grep -c '^--- SKIP' "$LOG/gpu-tests.txt") skipped)")
else
	summary+=("gpu tests: FAIL (see gpu-tests.txt)")
fi
if [ "$BACKEND" = cuda ] && grep -q 'no CUDA device' "$LOG/gpu-tests.txt"; then
	summary+=("gpu tests: the GPU tests SKIPPED, the bundle found no device: $(grep -m1 -o 'no CUDA device.*' "$LOG/gpu-tests.txt" | cut -c1-200)")
fi
grep -E '^(--- |=== RUN|    .*(cosine|no CUDA|JIT|difference|FAIL))|^(ok|FAIL|PASS)' "$LOG/gpu-tests.txt" | grep -v '=== RUN' | tail -40

step "kernel bandwidth (CUDA events)"
MAIRA_GPU_BENCH=1 timeout 150 "$B/cuda.test" -test.run '^(TestKernelBandwidth|TestPrefillKernels)$' -test.v -test.count=1 >"$LOG/kernels.txt" 2>&1
grep '^BENCH' "$LOG/kernels.txt" || tail -5 "$LOG/kernels.txt"
copy=$(sed -n 's/.*device-to-device copy \([0-9.]*\) GB\/s.*/\1/p' "$LOG/kernels.txt" | head -1)
summary+=("device-to-device copy: ${copy:-?} GB/s")
while read -r l; do summary+=("$l"); done < <(grep -E '^BENCH (gemv|gemm|attention)' "$LOG/kernels.txt" | sed 's/^BENCH //')

for t in $TYPES; do
	f="$WORK/$PRESET-$t.gguf"
	step "$PRESET $t: make the file"
	t0=$(date +%s)
	[ -s "$f" ] || timeout 240 "$B/maira" testmodel --preset "$PRESET" --gguf "$t" -o "$f" 2>&1 | tail -2
	echo "($(( $(date +%s) - t0 )) s)"
	[ -s "$f" ] || { summary+=("$t: could not make $f"); continue; }
	step "$PRESET $t: maira bench --backend $BACKEND"
	if timeout 240 "$B/maira" bench --backend "$BACKEND" --model "$f" --prompt-tokens "$PROMPT" --gen-tokens "$GEN" --report "$REPORT" --bandwidth-mb 0 --json >"$LOG/bench-$t.json" 2>"$LOG/bench-$t.err"; then
		cat "$LOG/bench-$t.err"
		summary+=("$(python3 - "$LOG/bench-$t.json" "${copy:-0}" "$t" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); copy = float(sys.argv[2]) * 1e9; t = sys.argv[3]
dec = r["decode_tokens_per_s"]; gbs = dec * r["llm_weight_bytes"]
share = f"{100 * gbs / copy:.0f}% of copy" if copy > 0 else "copy not measured"
print(f"{t}: {r['backend'].split(',')[0]} | image encode {r.get('image_encode_ms', 0):.1f} ms | "
      f"prefill {r['prompt_tokens']} tokens {r['prefill_tokens_per_s']:.0f} tok/s | "
      f"decode {dec:.1f} tok/s = {gbs / 1e9:.0f} GB/s of weights ({share}), "
      f"{r.get('decode_graph_steps', 0)} steps as CUDA graphs"
      f"{' (NO graphs)' if r['backend'].startswith('cuda') and not r.get('decode_graph_steps') else ''} | "
      f"report ({r.get('report_tokens', 0)} tokens) {r.get('report_ms', 0) / 1000:.2f} s")
PY
)")
	else
		summary+=("$t: bench FAILED: $(tr '\n' ' ' <"$LOG/bench-$t.err" | cut -c1-300)")
	fi
	rm -f "$f" # 4 GB each: leave the disk as found
	[ $(( $(date +%s) - start )) -lt 500 ] || { summary+=("stopped after $t: near the 10-minute limit"); break; }
done

step "summary ($(( $(date +%s) - start )) s)"
printf '%s\n' "${summary[@]}" | tee "$LOG/summary.txt"
# Exit status: 1 when any step failed or the GPU went unused.
! grep -qE 'FAIL|SKIPPED|did not choose|could not|stopped after|NO graphs' "$LOG/summary.txt"
