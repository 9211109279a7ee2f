#!/bin/sh
# Regenerates the test corpus in this directory with dcmtk (dump2dcm,
# dcmcjpeg, dcmdjpeg; made with dcmtk 3.6.7, whose dcmdjpeg uses IJG
# libjpeg 6b in 8-, 12- and 16-bit builds).
#
# The case list and the tool invocations live in the Go tests
# (../cases_test.go corpusCases, ../dcmtk_test.go), so that this script and
# TestDcmtkFresh, which makes new random cases on every run, cannot drift
# apart. For each case, with a synthetic image (structure + noise, odd size)
# from a fixed seed:
#
#   dcmcjpeg cases ("how" column of cases.txt starts with dcmcjpeg):
#     dump2dcm native.dump native.dcm     # secondary capture, (7fe0,0010) OW =pixels.raw
#     dcmcjpeg OPTIONS native.dcm enc.dcm
#     dcmdjpeg +cn +px enc.dcm dec.dcm    # no colour conversion, pixel-interleaved
#   NAME.jpg is the pixel item of enc.dcm, NAME.K.pgm plane K of dec.dcm.
#
#   "own encoder" cases: dcmcjpeg cannot write restart intervals, other
#   precisions, several scans, 4:2:0 or the SSSS=16 difference, so the
#   stream comes from the test encoder in ../enc_test.go, is wrapped with
#     dump2dcm enc2.dump enc2.dcm         # (7fe0,0010) OB (PixelSequence, item =frame.jpg
#   under transfer syntax .57/.70 (lossless) or .50/.51 (DCT), and
#     dcmdjpeg +cn +px enc2.dcm dec.dcm
#   gives the expected planes (lossless ones are also checked against the
#   source image).
#
# Only planes that dcmdjpeg and Decode must agree on are stored: all planes
# of lossless images, Y only for subsampled colour (dcmdjpeg upsamples chroma
# with libjpeg's smoothing filter, Decode by replication).
# cases.txt lists name, size, process, precision, number of planes and how.
set -e
cd "$(dirname "$0")/.."
go test -run '^TestDcmtkFresh$' -count=1 . -args -update-corpus
