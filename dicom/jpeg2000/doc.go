// Package jpeg2000 decodes JPEG 2000 Part 1 (ITU-T T.800 | ISO/IEC 15444-1)
// codestreams as DICOM encapsulates them (transfer syntaxes
// 1.2.840.10008.1.2.4.90 and .91: one frame is one codestream starting
// with SOC, optionally wrapped in a JP2 file, in which case the jp2c box is
// used and the JP2 colour boxes are ignored, as DICOM's photometric
// interpretation governs).
//
// It decodes: image and tile grid offsets, any number of tiles and
// tile-parts, COD/COC and QCD/QCC in main and tile-part headers (no
// quantization, scalar derived, scalar expounded), the five progression
// orders and POC, default and user-defined precinct sizes, every Part 1
// code-block style (selective arithmetic bypass, context reset, termination
// on each pass, vertically causal contexts, predictable termination,
// segmentation symbols), implicit (max-shift) region of interest, SOP/EPH
// markers, PPM/PPT packed packet headers,
// the reversible 5/3 and irreversible 9/7 wavelets with 0 to 32
// decomposition levels, RCT/ICT, DC level shift, 1 to 4 components of 1 to
// 16 bits, signed or unsigned. All quality layers and resolutions are
// decoded; the result is the full image.
//
// It refuses, with a one-line error: Part 2 extensions (Rsiz bit 15,
// arbitrary wavelets, multiple component transform markers, extended COD
// styles, RGN styles other than max-shift), HTJ2K (Part 15) code-blocks,
// component subsampling, more than 4 components, more than 16 bits, and
// images over the caller's pixel limit or with a side over 65535.
//
// A codestream that ends before all of its tile data is an error
// (ErrTruncated), unlike OpenJPEG, which decodes what is there: a medical
// image must not silently lose detail. Only a missing EOC marker after
// complete tile data is tolerated.
//
// Lossless decoding is checked sample for sample against opj_decompress
// and gdcmconv; lossy decoding stays within one grey level of
// opj_decompress at 8 bits (see the tests and testdata/README).
package jpeg2000
