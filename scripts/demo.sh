#!/usr/bin/env bash
# The demo (`make demo`): a tiny MAIRA-2 checkpoint in the real layout (random
# weights, so the findings are gibberish) converted with the default recipe,
# then the appliance itself: maira watch on a drop folder, synthetic studies
# dropped in (DICOM frontal + lateral, DICOM frontal, PNG + sidecar, and a
# JPEG Lossless MONOCHROME1 file made by dcmtk), the reports shown as they
# appear with the HL7/FHIR export plugins' outputs, `maira status`, and a
# clean stop.
set -euo pipefail
BIN=${BIN:-bin/maira}
DEMO=${DEMO:-build/demo}

rm -rf "$DEMO" && mkdir -p "$DEMO/in" "$DEMO/out"
"$BIN" testmodel --preset tiny -o "$DEMO/maira-2-tiny"
"$BIN" quant "$DEMO/maira-2-tiny" -o "$DEMO/maira-2-tiny.gguf"
"$BIN" inspect "$DEMO/maira-2-tiny.gguf" | sed -n 1,8p

# The site's export plugins (make plugins): HL7 and FHIR beside each DICOM report.
PLUGINS=${PLUGINS:-bin/plugins}
printf '[outputs]\nplugins = ["%s/hl7.wasm", "%s/fhir.wasm"]\n' "$PLUGINS" "$PLUGINS" >"$DEMO/watch.toml"

echo
echo "== maira watch on $DEMO/in (log: $DEMO/watch.log)"
"$BIN" watch --model "$DEMO/maira-2-tiny.gguf" --in "$DEMO/in" --out "$DEMO/out" --config "$DEMO/watch.toml" \
  --settle 1s --study-quiet 2s --max-tokens 40 >"$DEMO/watch.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT

"$BIN" testmodel --studies "$DEMO/staging" --count 3 --size 640x560
cp dicom/testdata/u12-jpegll-sv1.dcm "$DEMO/staging/cr-jpegll.dcm"
"$BIN" inspect "$DEMO/staging/cr-jpegll.dcm"
echo "junk" >"$DEMO/staging/not-an-image.dcm"
# As a DICOM receiver does: each file complete in a staging folder, then moved in.
mv "$DEMO"/staging/* "$DEMO/in/"

want=4
shown=""
for _ in $(seq 1 120); do
  for d in "$DEMO"/out/reports/*/*/; do
    [ -f "$d/report.txt" ] || continue
    case " $shown " in *" $d "*) continue ;; esac
    shown="$shown $d"
    echo
    echo "== report: $d"
    cat "$d/report.txt"
    ls "$d"
  done
  [ "$(echo $shown | wc -w)" -ge $want ] && break
  sleep 0.5
done
hl7=$(ls "$DEMO"/out/reports/*/*/hl7.hl7 2>/dev/null | head -n 1)
if [ -n "$hl7" ]; then
  echo
  echo "== an export plugin's output: $hl7"
  tr '\r' '\n' <"$hl7"
fi
echo
"$BIN" status --out "$DEMO/out"
echo
echo "== refused: $(ls "$DEMO/out/failed")"
cat "$DEMO"/out/failed/*.reason.txt
kill -TERM $pid
wait $pid
trap - EXIT
echo
echo "== the service's log"
cat "$DEMO/watch.log"
n=$(echo $shown | wc -w)
if [ "$n" -lt $want ]; then
  echo "demo: only $n of $want reports appeared" >&2
  exit 1
fi
echo "demo: done; $n studies reported into $DEMO/out (schema: docs/report.md), the service stopped cleanly"
