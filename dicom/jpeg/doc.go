// Package jpeg decodes the JPEG (ITU-T T.81) bitstreams that DICOM
// encapsulates, one frame per stream (SOI..EOI).
//
// It decodes:
//   - lossless, Huffman coded (SOF3; DICOM 1.2.840.10008.1.2.4.57 and .70):
//     predictors 1-7, precision 2..16, point transform, restart intervals,
//     1 to 4 components, interleaved or one scan per component;
//   - sequential DCT, Huffman coded: baseline (SOF0, 8-bit) and extended
//     (SOF1, 8- or 12-bit), 1 to 4 components, any sampling factors,
//     restart intervals. The inverse DCT reproduces IJG libjpeg 6b's
//     integer "slow" IDCT (jidctint.c), including its range limiting, so
//     that the samples equal those of dcmtk's dcmdjpeg.
//
// Colour components are returned as coded (no YCbCr to RGB conversion);
// subsampled components are upsampled by replication.
//
// It refuses, with an UnsupportedError naming the process, progressive DCT,
// arithmetic coding, hierarchical mode, JPEG-LS, JPEG 2000, lossless with
// more than 4 components, and a frame height defined by DNL. Malformed or
// truncated data yields a FormatError (a scan that runs out of data is an
// error, never zero-filled); no input makes it panic, and memory use is
// bounded by the frame size declared in the SOF header, which Decode checks
// against the caller's limit, and against the length of the data, before
// allocating the planes.
//
// Lossless restart intervals must be whole lines, as libjpeg (and so
// dcmdjpeg) requires; lossless interleaved scans of subsampled components
// are refused, as no DICOM encoder writes them.
package jpeg
