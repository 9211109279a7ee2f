package imageproc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"strings"
)

// Image is a decoded input: grayscale samples at their native depth, before
// MAIRA-2's min-max step. Colour inputs are already reduced to luminance (see
// Decode). Other decoders (DICOM, later) produce an Image too; Preprocess
// needs nothing else.
type Image struct {
	// Name identifies the source in errors (a file path, or what the caller
	// passed to Decode).
	Name string
	// Width and Height are the size in pixels, both at least 1.
	Width, Height int
	// Pix holds Width*Height luminance samples, row-major, top row first.
	Pix []uint16
	// Depth is 8 (every sample <= 255) or 16.
	Depth int
}

// The input limits: Decode refuses a larger image from its header, before it
// allocates the pixels. A 30000 px side or 200 Mpx is far beyond any
// radiograph (a 43x43 cm detector at 100 um is 4300 px a side) and keeps the
// worst decode near 2 GB (a 16-bit RGBA PNG at 8 bytes a pixel plus our 2).
const (
	MaxSide   = 30000
	MaxPixels = 200_000_000
	// MaxFileBytes bounds what Decode buffers from a reader that cannot seek.
	MaxFileBytes = 1 << 30
)

// limits are the size limits one decode runs under (the fuzz target lowers them).
type limits struct {
	side, pixels int
	fileBytes    int64
}

var defaultLimits = limits{side: MaxSide, pixels: MaxPixels, fileBytes: MaxFileBytes}

// Formats names what Decode reads, for error messages and documentation.
const Formats = "PNG (1-16 bit gray, gray+alpha, RGB, RGBA, palette) and JPEG (baseline or progressive, gray or YCbCr)"

// DecodeFile opens path and decodes it with Decode; errors name the path.
func DecodeFile(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	return Decode(f, path)
}

// unwrapPath drops the path that os errors repeat, so the message names the
// file once.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Decode reads a PNG or JPEG image from r and reduces it to luminance exactly
// as PIL's Image.convert("L") does (Pillow's Convert.c):
//
//   - gray (any PNG bit depth 1-8) and JPEG gray: the samples as they are;
//     PNG 1, 2 and 4 bit gray is scaled to 0-255 as both PIL and Go unpack it;
//   - RGB, RGBA and palette: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
//     (Pillow's L24, ITU-R 601-2 weights in 16-bit fixed point);
//   - alpha (gray+alpha, RGBA, a tRNS chunk) is ignored, as convert("L")
//     ignores it: the colour samples are used unpremultiplied;
//   - 16-bit gray keeps its raw 16-bit values (Depth 16). PIL would clip them
//     to 0-255 in convert("L"); MAIRA-2's min-max is done on the raw values
//     instead (our documented deviation, ../shared/docs/MAIRA.md).
//   - 16-bit RGB(A) gets the same L24 weights applied to the 16-bit samples
//     and stays 16-bit (Depth 16), for the same reason. (PIL would keep only
//     the high byte of each sample.) Equal channels give the gray value
//     exactly, since the weights sum to 65536.
//   - JPEG YCbCr is converted to RGB by Go's image/jpeg and color packages,
//     then L24: see the package documentation for how far this is from
//     libjpeg's decode. CMYK/YCCK JPEGs are refused.
//
// name is used in errors. Sizes over MaxSide a side or MaxPixels in all, and
// zero sizes, are refused from the header before the pixels are decoded.
func Decode(r io.Reader, name string) (*Image, error) {
	return decode(r, name, defaultLimits)
}

func decode(r io.Reader, name string, lim limits) (*Image, error) {
	// The header is read first, to refuse absurd sizes before the decoder
	// allocates them, so the stream is read twice: a seekable one is
	// rewound, any other is buffered whole (up to lim.fileBytes).
	rs, seekable := r.(io.ReadSeeker)
	var start int64
	if seekable {
		var err error
		if start, err = rs.Seek(0, io.SeekCurrent); err != nil {
			seekable = false
		}
	}
	if !seekable {
		data, err := io.ReadAll(io.LimitReader(r, lim.fileBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if int64(len(data)) > lim.fileBytes {
			return nil, fmt.Errorf("%s: file larger than %d bytes", name, lim.fileBytes)
		}
		rs, start = bytes.NewReader(data), 0
	}
	rewind := func() (*bufio.Reader, error) {
		if _, err := rs.Seek(start, io.SeekStart); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		return bufio.NewReaderSize(rs, 64<<10), nil
	}

	br, err := rewind()
	if err != nil {
		return nil, err
	}
	magic, _ := br.Peek(132)
	format, err := sniff(magic)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	var cfg image.Config
	switch format {
	case "PNG":
		cfg, err = png.DecodeConfig(br)
	case "JPEG":
		cfg, err = jpeg.DecodeConfig(br)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s header: %v", name, format, decodeErr(err))
	}
	switch {
	case cfg.Width <= 0 || cfg.Height <= 0:
		return nil, fmt.Errorf("%s: %s image of size %dx%d", name, format, cfg.Width, cfg.Height)
	case cfg.Width > lim.side || cfg.Height > lim.side:
		return nil, fmt.Errorf("%s: %dx%d image: a side over the limit of %d px", name, cfg.Width, cfg.Height, lim.side)
	case cfg.Width*cfg.Height > lim.pixels:
		return nil, fmt.Errorf("%s: %dx%d image: %d pixels, over the limit of %d", name, cfg.Width, cfg.Height, cfg.Width*cfg.Height, lim.pixels)
	case cfg.ColorModel == color.CMYKModel:
		return nil, fmt.Errorf("%s: CMYK/YCCK JPEG is not supported (want gray or YCbCr)", name)
	}

	if br, err = rewind(); err != nil {
		return nil, err
	}
	var m image.Image
	switch format {
	case "PNG":
		m, err = png.Decode(br)
	case "JPEG":
		m, err = jpeg.Decode(br)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %v", name, format, decodeErr(err))
	}
	if b := m.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%s: %s decoded to %dx%d, header says %dx%d", name, format, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	img, err := luminance(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	img.Name = name
	return img, nil
}

// decodeErr words the decoders' errors for a one-line message.
func decodeErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("truncated file")
	}
	// The format is named already; drop the package prefix.
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "png: "), "jpeg: ")
	// image/png and image/jpeg report a short image stream as a format error.
	if strings.HasSuffix(msg, "not enough pixel data") || strings.HasSuffix(msg, "short Huffman data") {
		return errors.New("truncated file (" + msg + ")")
	}
	return errors.New(msg)
}

// sniff names the format from the first bytes, and names the common formats
// it does not read so the error says what the file is.
func sniff(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "PNG", nil
	case bytes.HasPrefix(b, []byte("\xff\xd8")):
		return "JPEG", nil
	}
	other := ""
	switch {
	case len(b) == 0:
		return "", errors.New("empty file")
	case len(b) >= 132 && string(b[128:132]) == "DICM":
		other = "DICOM"
	case bytes.HasPrefix(b, []byte("GIF8")):
		other = "GIF"
	case bytes.HasPrefix(b, []byte("BM")):
		other = "BMP"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		other = "TIFF"
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		other = "WebP"
	case bytes.HasPrefix(b, []byte("\xff\x4f\xff\x51")), bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cjP  ")):
		other = "JPEG 2000"
	}
	if other != "" {
		return "", fmt.Errorf("%s is not supported here (supported: %s)", other, Formats)
	}
	return "", fmt.Errorf("unknown image format (supported: %s)", Formats)
}

// l24 is Pillow's rgb2l for 8-bit samples: ITU-R 601-2 luma in 16-bit fixed
// point, rounded (Convert.c, L24(rgb) >> 16).
func l24(r, g, b uint32) uint16 {
	return uint16((r*19595 + g*38470 + b*7471 + 0x8000) >> 16)
}

// l24wide applies the same weights to 16-bit samples (our choice for 16-bit
// colour, see Decode); the sum stays below 2^32.
func l24wide(r, g, b uint32) uint16 {
	return uint16((uint64(r)*19595 + uint64(g)*38470 + uint64(b)*7471 + 0x8000) >> 16)
}

// luminance reduces a decoded image to an Image, reading the samples of each
// concrete type Go's PNG and JPEG decoders return (row by row: a JPEG's
// stride includes its block padding).
func luminance(m image.Image) (*Image, error) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	out := &Image{Width: w, Height: h, Pix: make([]uint16, w*h), Depth: 8}
	p := out.Pix
	switch m := m.(type) {
	case *image.Gray:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range row {
				p[y*w+x] = uint16(v)
			}
		}
	case *image.Gray16:
		out.Depth = 16
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:2*w]
			for x := range w {
				p[y*w+x] = uint16(row[2*x])<<8 | uint16(row[2*x+1])
			}
		}
	case *image.RGBA:
		// Go's PNG decoder returns RGBA only for opaque RGB (alpha 255), so
		// the samples are the unpremultiplied ones.
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := range w {
				p[y*w+x] = l24(uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2]))
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := range w {
				p[y*w+x] = l24(uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2]))
			}
		}
	case *image.RGBA64:
		out.Depth = 16
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:8*w]
			for x := range w {
				s := row[8*x : 8*x+6]
				p[y*w+x] = l24wide(uint32(s[0])<<8|uint32(s[1]), uint32(s[2])<<8|uint32(s[3]), uint32(s[4])<<8|uint32(s[5]))
			}
		}
	case *image.NRGBA64:
		out.Depth = 16
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:8*w]
			for x := range w {
				s := row[8*x : 8*x+6]
				p[y*w+x] = l24wide(uint32(s[0])<<8|uint32(s[1]), uint32(s[2])<<8|uint32(s[3]), uint32(s[4])<<8|uint32(s[5]))
			}
		}
	case *image.Paletted:
		// PIL's palette images hold 256 entries, unused ones black; Go's PNG
		// decoder extends the palette with opaque black for out-of-range
		// indices, so both read black there.
		var lut [256]uint16
		for i, c := range m.Palette {
			if i == len(lut) {
				break
			}
			// Opaque entries convert exactly; tRNS entries are NRGBA already.
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i] = l24(uint32(n.R), uint32(n.G), uint32(n.B))
		}
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range row {
				p[y*w+x] = lut[v]
			}
		}
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi, ci := m.YOffset(x+b.Min.X, y+b.Min.Y), m.COffset(x+b.Min.X, y+b.Min.Y)
				p[y*w+x] = yccL(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	default:
		return nil, fmt.Errorf("unsupported pixel layout %s", strings.TrimPrefix(fmt.Sprintf("%T", m), "*image."))
	}
	return out, nil
}

// yccL converts a YCbCr sample to RGB with libjpeg's integer tables
// (jdcolor.c, build_ycc_rgb_table and ycc_rgb_convert: 16-bit fixed point,
// rounded, clamped), then to luminance with L24.
func yccL(y, cb, cr uint8) uint16 {
	const half = 1 << 15
	yy, cb1, cr1 := int32(y), int32(cb)-128, int32(cr)-128
	r := yy + (91881*cr1+half)>>16
	g := yy + (-22554*cb1-46802*cr1+half)>>16
	b := yy + (116130*cb1+half)>>16
	return l24(uint32(clamp255(r)), uint32(clamp255(g)), uint32(clamp255(b)))
}

func clamp255(v int32) int32 {
	return min(max(v, 0), 255)
}
