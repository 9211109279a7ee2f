#!/usr/bin/env bash
# DICOM decoding speed: maira's readers beside dcmtk, GDCM and OpenJPEG on
# the same detector-sized radiograph (3000x2500, 12 bits stored), in one run.
# Each figure is the best of 5 wall-clock times of the whole command (file
# read, parse, decode; maira inspect also applies the grayscale pipeline).
# Needs dcmtk, libgdcm-tools and libopenjp2-tools.
set -euo pipefail
BIN=${BIN:-bin/maira}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$BIN" testmodel --studies "$dir/s" --count 2 --size 3000x2500 >/dev/null
src="$dir/s/demo001-PA.dcm"
dcmcjpeg +e1 "$src" "$dir/jpegll.dcm"
dcmcrle "$src" "$dir/rle.dcm"
gdcmconv --j2k "$src" "$dir/j2k.dcm"

best() { # best of 5 wall-clock seconds of a command
  local b=999
  for _ in 1 2 3 4 5; do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    b=$(echo "$e - $s < $b" | bc -l | grep -q 1 && echo "$e - $s" | bc -l || echo $b)
  done
  printf "%.3f" "$b"
}

echo "| file | maira inspect | reference tool | reference s |"
echo "|---|---|---|---|"
echo "| native explicit LE | $(best "$BIN" inspect "$src") | dcmdump (parse only) | $(best dcmdump "$src") |"
echo "| RLE Lossless | $(best "$BIN" inspect "$dir/rle.dcm") | dcmdrle | $(best dcmdrle "$dir/rle.dcm" "$dir/o1.dcm") |"
echo "| JPEG Lossless SV1 | $(best "$BIN" inspect "$dir/jpegll.dcm") | dcmdjpeg | $(best dcmdjpeg "$dir/jpegll.dcm" "$dir/o2.dcm") |"
echo "| JPEG 2000 lossless | $(best "$BIN" inspect "$dir/j2k.dcm") | gdcmconv --raw (OpenJPEG) | $(best gdcmconv --raw "$dir/j2k.dcm" "$dir/o3.dcm") |"
