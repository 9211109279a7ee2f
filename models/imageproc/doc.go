// Package imageproc turns an image file into MAIRA-2's pixel input,
// bit-exact with the reference Python pipeline: Microsoft's
// processing_maira2.py (Maira2Processor._normalize_image) followed by
// transformers' BitImageProcessor as microsoft/maira-2's
// preprocessor_config.json configures it, which resizes with PIL.
//
// Data flows one way: Decode (PNG, JPEG; DICOM later, through the same
// Image) -> Image (luminance at native depth) -> Preprocess -> Pixels (CHW
// float32 plus the Geometry that maps model boxes back with ToOriginal).
//
// # Exactness
//
// For the same decoded pixels, Preprocess reproduces PIL + numpy exactly:
// the resized and cropped uint8 image pixel for pixel, and the float32
// tensor bit for bit. testdata/gen.py (our own code) computes the expected
// results with PIL and numpy for 22 generated cases (8-bit gray, RGB, RGBA,
// gray+alpha, palette with tRNS, 1-bit, 16-bit gray, odd sizes 600x517 and
// 517x600, 3x2, 10000x10 and 10x10000 strips, a 27x shrink from 2000x1500,
// an enlargement with a non-square crop, a crop larger than the resize,
// MAIRA-2's real 518 crop, per-channel ImageNet constants, blank images, and
// three JPEGs), and the tests hold this package to them on amd64 and, under
// qemu, arm64. The arithmetic reproduced:
//
//   - min-max in float64 ((v - min) / (max - min) * 255, truncated to uint8),
//     through a table over the sample range;
//   - transformers' resize size: the short edge becomes ShortestEdge, the
//     long edge int(ShortestEdge * long / short) (truncated);
//   - Pillow's bicubic resample (Resample.c: Keys kernel a = -0.5, support 2
//     scaled by the shrink factor so shrinking antialiases, coefficients in
//     double normalised to sum 1 then rounded to 22-bit fixed point, the
//     horizontal pass first, rounded and clipped to uint8, then the vertical
//     pass); identical in Pillow 9.4 (tested) and Pillow's current source
//     (read). Only the crop window of the resize is computed, so a 10000x10
//     strip costs about what its 518x518 crop costs;
//   - transformers' center_crop (floor offsets, zero padding when the crop
//     is larger than the image), rescale (float64 multiply, then float32) and
//     normalize (float32 subtract and divide).
//
// # Deviations from the reference, by decision
//
//   - 16-bit images are min-maxed on their raw values. PIL's convert("L")
//     clips 16-bit gray to 0..255 before MAIRA-2's min-max, which wipes out
//     a radiograph; ../shared/docs/MAIRA.md records this. 16-bit colour PNGs
//     (which PIL would cut to their high bytes) get Pillow's luminance weights
//     on the 16-bit samples and are min-maxed at 16 bits too, so one rule
//     holds for every 16-bit input.
//   - A blank image (all samples equal; a 1x1 image is always one) is an
//     error, ErrBlank. The reference divides 0 by 0 and feeds the model
//     whatever uint8(NaN) gives; a medical appliance should say so instead.
//   - CMYK/YCCK JPEGs are refused rather than converted.
//
// # JPEG
//
// Go's image/jpeg is not libjpeg (which PIL uses): its integer IDCT rounds
// differently, and it upsamples subsampled chroma by replication where
// libjpeg interpolates ("fancy upsampling"). Colour is converted here with
// libjpeg's own integer YCbCr->RGB tables (jdcolor.c), not Go's
// color.YCbCrToRGB, which rounds differently. Measured on a 2500x2048
// synthetic radiograph with noise: luminance differs by exactly 1 at 1.2%
// (quality 75), 1.9% (quality 90, progressive) and 2.2% (quality 95) of the
// pixels and never by more; gray content stored as a colour JPEG decodes
// exactly as the gray JPEG does; a tinted colour JPEG (4:2:0) differs at
// 1.9% of the pixels, by 1. After min-max and the resize to 518 the crop
// differs by 1 at 1.7-2.7% of its pixels, never by more. (With
// color.YCbCrToRGB the tinted image differed at 9% of the pixels, up to 2,
// and at 46% of the crop.) Strongly coloured JPEGs with subsampled chroma
// differ more, up to 3 levels, from the chroma upsampling. Fed the pixels
// libjpeg decoded, the pipeline is exact (tested). PNG decoding is lossless
// and identical in both.
//
// # Limits
//
// Decode refuses images over MaxSide pixels a side or MaxPixels in all from
// the header, before decoding the pixels, and zero sizes; errors are one
// line naming the file.
package imageproc
