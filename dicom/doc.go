// Package dicom reads chest radiographs from DICOM Part 10 files and turns
// them into the gray image that MAIRA-2's preprocessing starts from; it
// also writes Part 10 files (write.go: the draft report's SR in dicom/sr,
// the demo and test radiographs).
//
// The parser is our own: github.com/suyashkumar/dicom, the well-kept Go
// library, is not served by the module proxy this project builds from, and
// the part of DICOM a radiograph needs is small. It reads files with or without
// the 128-byte preamble, with or without file meta information (a bare data
// set is read as implicit VR little endian), in implicit and explicit VR
// little endian, explicit VR big endian and deflated explicit VR little
// endian. It stops after Pixel Data. Element values alias the input, which
// ReadFile maps rather than reads; only a deflated data set is copied
// (inflated, at most MaxInflated bytes).
//
// Pixel data: native (8 or 16 bits allocated, any Bits Stored and High
// Bit, unsigned or two's complement), RLE Lossless, the JPEG processes of
// package dicom/jpeg (baseline, extended 8/12-bit, lossless process 14 with
// any predictor) and JPEG 2000 (package dicom/jpeg2000, lossless and
// lossy); other transfer syntaxes (JPEG-LS, HTJ2K, JPEG 2000 Part 2, video)
// are refused by name. A compressed frame too short for its size is refused
// before its planes are allocated (JPEG, RLE). A
// multi-frame image gives its first frame, with a warning. Only MONOCHROME1
// and MONOCHROME2 images with one sample per pixel are read: CR and DX
// images are grayscale by definition.
//
// The grayscale pipeline, PS3.3's order (C.11), as a table over every
// stored value:
//
//  1. the modality transform: Rescale Slope and Intercept (1 and 0 when
//     absent), or the Modality LUT Sequence's first LUT where there is one;
//  2. VOI: the first Window Center/Width pair with the VOI LUT Function
//     (LINEAR as C.11.2.1.2 defines it when absent; LINEAR_EXACT and
//     SIGMOID as C.11.2.1.3 does), else the VOI LUT Sequence's first LUT,
//     else nothing: the full stored range. An unusable window (a width
//     below 1, an unknown function) is skipped with a warning, not an
//     error: the full range still shows everything;
//  3. MONOCHROME1 inverted, so that bone is bright as in MONOCHROME2;
//  4. scaled to 0..65535 (VOI output), or, with no VOI, the stored values
//     offset to start at 0 and left unscaled: MAIRA-2's min-max step comes
//     next and is blind to a linear map, so the unscaled values keep it
//     exact. Presentation LUT Shape is not applied: for DX it only restates
//     the photometric interpretation.
//
// Metadata (Study) refuses what is not a chest radiograph before any pixel
// is decoded: a modality other than CR or DX, a Body Part Examined other
// than CHEST (absent is accepted), a DX image "for processing". View
// Position PA or AP is frontal, LL, RL or LATERAL lateral; anything else is
// unknown and left to the caller (a lone image is taken as frontal, with a
// warning in the report). Patient ID and Accession Number are carried to
// the report document and shown elsewhere only through Mask.
package dicom
