#!/bin/sh
# Regenerates the test corpus from cases.txt: a synthetic image from gen/
# (seed = line number), encoded by opj_compress with the listed options,
# and the expected samples decoded by opj_decompress into NAME.rawl
# (planar; one byte per sample up to 8 bits, else two bytes little-endian;
# opj_decompress writes signed samples masked to the precision).
# Needs libopenjp2-tools (opj_compress, opj_decompress) and Go.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gen" ./gen
rm -f ./*.j2k ./*.jp2 ./*.rawl
set -f # options such as -c [16,16] must not glob
n=0
while read -r name ext w h nc bits sign tol opts; do
	n=$((n + 1))
	case "$name" in '' | '#'*) continue ;; esac
	"$tmp/gen" "$w" "$h" "$nc" "$bits" "$sign" "$n" >"$tmp/in.rawl"
	echo "$name: $w,$h,$nc,$bits,$sign [$opts]" >&2
	# shellcheck disable=SC2086
	opj_compress -i "$tmp/in.rawl" -F "$w,$h,$nc,$bits,$sign" -o "$name.$ext" $opts >"$tmp/log" 2>&1 ||
		{ cat "$tmp/log"; echo "make.sh: encoding $name failed" >&2; exit 1; }
	opj_decompress -i "$name.$ext" -o "$name.rawl" >"$tmp/log" 2>&1 ||
		{ cat "$tmp/log"; echo "make.sh: decoding $name failed" >&2; exit 1; }
done <cases.txt
set +f
du -ch ./*.j2k ./*.jp2 ./*.rawl | tail -1
