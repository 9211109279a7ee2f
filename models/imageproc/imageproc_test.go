package imageproc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maira/quant/modelfile"
)

// manifest is testdata/manifest.json, written by testdata/gen.py from PIL
// and numpy running MAIRA-2's preprocessing.
type manifest struct {
	PILVersion string `json:"pil_version"`
	Cases      []struct {
		Name         string    `json:"name"`
		Input        string    `json:"input"`
		ShortestEdge int       `json:"shortest_edge"`
		CropHeight   int       `json:"crop_height"`
		CropWidth    int       `json:"crop_width"`
		Rescale      float64   `json:"rescale"`
		Mean         []float64 `json:"mean"`
		Std          []float64 `json:"std"`
		PILL         string    `json:"pil_l"`
		Error        string    `json:"error"`
		Resized      [2]int    `json:"resized"`
		CropLeft     int       `json:"crop_left"`
		CropTop      int       `json:"crop_top"`
		Crop         string    `json:"crop"`
		SHA256       string    `json:"sha256"`
		First        []float64 `json:"first"`
	} `json:"cases"`
	Tables map[string][3][256]uint32 `json:"tables"`
}

func readManifest(t testing.TB) *manifest {
	t.Helper()
	data, err := os.ReadFile("testdata/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func config(s, ch, cw int, rescale float64, mean, std []float64) *modelfile.Image {
	c := &modelfile.Image{Normalize: "minmax-gray", Resample: "bicubic", ShortestEdge: s, CropHeight: ch, CropWidth: cw, RescaleFactor: rescale}
	for i := range mean {
		c.Mean = append(c.Mean, float32(mean[i]))
		c.Std = append(c.Std, float32(std[i]))
	}
	return c
}

// maira2 is MAIRA-2's preprocessor_config.json at crop size n.
func maira2(n int) *modelfile.Image {
	return config(n, n, n, 1.0/255, []float64{0.5307, 0.5307, 0.5307}, []float64{0.2583, 0.2583, 0.2583})
}

// readGray reads an 8-bit gray PNG written by gen.py.
func readGray(t testing.TB, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	g, ok := m.(*image.Gray)
	if !ok {
		t.Fatalf("%s: %T, want 8-bit gray", path, m)
	}
	return g
}

func tensorSHA(d []float32) string {
	b := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestPILExact runs every generated case through Decode and Preprocess and
// compares with PIL + numpy: the resized and cropped uint8 image pixel for
// pixel, the geometry, and the float32 tensor bit for bit (its SHA-256).
// JPEG inputs are fed PIL's decode (saved as PNG) here; TestJPEGDecoder
// measures Go's JPEG decoder against it.
func TestPILExact(t *testing.T) {
	m := readManifest(t)
	if len(m.Cases) < 20 {
		t.Fatalf("manifest has %d cases", len(m.Cases))
	}
	for _, tc := range m.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			input := tc.Input
			if strings.HasSuffix(input, ".jpg") {
				input = tc.PILL
			}
			img, err := DecodeFile(filepath.Join("testdata", input))
			if err != nil {
				t.Fatal(err)
			}
			if tc.PILL != "" {
				want := readGray(t, filepath.Join("testdata", tc.PILL))
				for i, v := range img.Pix {
					if v != uint16(want.Pix[i]) {
						t.Fatalf("luminance at (%d,%d): %d, PIL's convert(\"L\") gives %d", i%img.Width, i/img.Width, v, want.Pix[i])
					}
				}
			}
			c := config(tc.ShortestEdge, tc.CropHeight, tc.CropWidth, tc.Rescale, tc.Mean, tc.Std)
			crop, g, err := resizeCrop(img, c)
			if tc.Error == "blank" {
				if !errors.Is(err, ErrBlank) || !strings.Contains(err.Error(), input) {
					t.Fatalf("got %v, want the blank-image error naming the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.ResizedWidth != tc.Resized[0] || g.ResizedHeight != tc.Resized[1] || g.CropLeft != tc.CropLeft || g.CropTop != tc.CropTop {
				t.Fatalf("geometry %+v, PIL resized to %v and cropped at (%d,%d)", g, tc.Resized, tc.CropLeft, tc.CropTop)
			}
			want := readGray(t, filepath.Join("testdata", tc.Crop))
			if want.Rect.Dx() != tc.CropWidth || want.Rect.Dy() != tc.CropHeight || len(crop) != len(want.Pix) {
				t.Fatalf("crop of %d pixels, PIL's is %v", len(crop), want.Rect)
			}
			bad := 0
			for i, v := range crop {
				if v != want.Pix[i] {
					if bad < 5 {
						t.Errorf("resized pixel (%d,%d): %d, PIL %d", i%tc.CropWidth, i/tc.CropWidth, v, want.Pix[i])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Fatalf("%d of %d resized pixels differ from PIL", bad, len(crop))
			}
			px, err := Preprocess(img, c)
			if err != nil {
				t.Fatal(err)
			}
			if px.Channels != 3 || px.Height != tc.CropHeight || px.Width != tc.CropWidth || px.Geometry != g {
				t.Fatalf("pixels %dx%dx%d %+v", px.Channels, px.Height, px.Width, px.Geometry)
			}
			for i, f := range tc.First {
				if px.Data[i] != float32(f) {
					t.Errorf("value %d: %v, numpy %v", i, px.Data[i], float32(f))
				}
			}
			if got := tensorSHA(px.Data); got != tc.SHA256 {
				t.Fatalf("float32 tensor SHA-256 %s, numpy's %s", got, tc.SHA256)
			}
		})
	}
}

// TestValueTables holds the rescale + normalize step to numpy's float32
// result for every uint8 value, per channel.
func TestValueTables(t *testing.T) {
	m := readManifest(t)
	consts := map[string][2][3]float32{
		"maira":    {{0.5307, 0.5307, 0.5307}, {0.2583, 0.2583, 0.2583}},
		"imagenet": {{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}},
	}
	for name, want := range m.Tables {
		c, ok := consts[name]
		if !ok {
			t.Fatalf("table %q unknown", name)
		}
		for k := range 3 {
			tab := valueTable(1.0/255, c[0][k], c[1][k])
			for v, bits := range want[k] {
				if got := math.Float32bits(tab[v]); got != bits {
					t.Errorf("%s channel %d value %d: %#08x (%v), numpy %#08x (%v)", name, k, v, got, tab[v], bits, math.Float32frombits(bits))
				}
			}
		}
	}
}

// TestJPEGDecoder measures Go's JPEG decode against libjpeg's (PIL's) on
// the generated JPEGs: the luminance before min-max, and the resized crop
// after the whole pipeline. They are not bit-identical (different IDCTs,
// chroma upsampling and colour conversion); the bounds here are the
// measured differences with a little room, so a regression shows.
func TestJPEGDecoder(t *testing.T) {
	m := readManifest(t)
	n := 0
	for _, tc := range m.Cases {
		if !strings.HasSuffix(tc.Input, ".jpg") {
			continue
		}
		n++
		img, err := DecodeFile(filepath.Join("testdata", tc.Input))
		if err != nil {
			t.Fatal(err)
		}
		pil := readGray(t, filepath.Join("testdata", tc.PILL))
		lMax, lDiff, lSum := 0, 0, 0
		for i, v := range img.Pix {
			d := absInt(int(v) - int(pil.Pix[i]))
			lMax = max(lMax, d)
			lSum += d
			if d != 0 {
				lDiff++
			}
		}
		c := config(tc.ShortestEdge, tc.CropHeight, tc.CropWidth, tc.Rescale, tc.Mean, tc.Std)
		crop, _, err := resizeCrop(img, c)
		if err != nil {
			t.Fatal(err)
		}
		want := readGray(t, filepath.Join("testdata", tc.Crop))
		cMax, cDiff := 0, 0
		for i, v := range crop {
			d := absInt(int(v) - int(want.Pix[i]))
			cMax = max(cMax, d)
			if d != 0 {
				cDiff++
			}
		}
		t.Logf("%s: luminance differs at %d of %d pixels (max %d, mean %.3f); resized crop at %d of %d (max %d)",
			tc.Name, lDiff, len(img.Pix), lMax, float64(lSum)/float64(len(img.Pix)), cDiff, len(crop), cMax)
		if lMax > jpegMaxDiff[tc.Name] {
			t.Errorf("%s: luminance differs from libjpeg's by up to %d (bound %d)", tc.Name, lMax, jpegMaxDiff[tc.Name])
		}
	}
	if n != 3 {
		t.Fatalf("%d JPEG cases", n)
	}
}

// jpegMaxDiff bounds |Go - libjpeg| of the luminance per generated JPEG.
var jpegMaxDiff = map[string]int{"jpeg-gray": 1, "jpeg-color": 3, "jpeg-progressive": 2}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDecode16BitColour covers the layouts PIL cannot write: 16-bit RGB,
// RGBA and gray+alpha keep 16 bits, with Pillow's L24 weights on the 16-bit
// samples, alpha ignored.
func TestDecode16BitColour(t *testing.T) {
	const w, h = 7, 5
	rgb := image.NewRGBA64(image.Rect(0, 0, w, h))    // encodes as 16-bit RGB
	nrgba := image.NewNRGBA64(image.Rect(0, 0, w, h)) // 16-bit RGBA
	gray := image.NewNRGBA64(image.Rect(0, 0, w, h))  // equal channels
	want := make([]uint16, w*h)
	wantGray := make([]uint16, w*h)
	for y := range h {
		for x := range w {
			r, g, b := uint16(x*9000+y), uint16(y*12000+x*7), uint16(65535-x*y*1000)
			rgb.SetRGBA64(x, y, color.RGBA64{R: r, G: g, B: b, A: 0xffff})
			nrgba.SetNRGBA64(x, y, color.NRGBA64{R: r, G: g, B: b, A: uint16(x * 5000)})
			v := uint16(x*5000 + y*3)
			gray.SetNRGBA64(x, y, color.NRGBA64{R: v, G: v, B: v, A: uint16(y * 9000)})
			want[y*w+x] = uint16((uint64(r)*19595 + uint64(g)*38470 + uint64(b)*7471 + 0x8000) >> 16)
			wantGray[y*w+x] = v
		}
	}
	for _, tc := range []struct {
		name string
		m    image.Image
		want []uint16
	}{{"rgb16", rgb, want}, {"rgba16", nrgba, want}, {"gray16-equal-channels", gray, wantGray}} {
		img, err := Decode(bytes.NewReader(encodePNG(t, tc.m)), tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if img.Depth != 16 || img.Width != w || img.Height != h {
			t.Fatalf("%s: depth %d size %dx%d", tc.name, img.Depth, img.Width, img.Height)
		}
		for i := range tc.want {
			if img.Pix[i] != tc.want[i] {
				t.Fatalf("%s: pixel %d is %d, want %d", tc.name, i, img.Pix[i], tc.want[i])
			}
		}
	}
}

// onlyReader hides Seek, so Decode takes its buffering path.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestDecodeReaderWithoutSeek(t *testing.T) {
	for _, name := range []string{"gray16-150x110.png", "jpeg-color-130x97.jpg"} {
		path := filepath.Join("testdata", name)
		a, err := DecodeFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		b, err := Decode(onlyReader{bytes.NewReader(data)}, name)
		if err != nil {
			t.Fatal(err)
		}
		if a.Width != b.Width || a.Height != b.Height || a.Depth != b.Depth || !equalU16(a.Pix, b.Pix) {
			t.Fatalf("%s: the stream decode differs from the file decode", name)
		}
	}
}

func equalU16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// pngHeader is a PNG signature and an IHDR chunk (valid CRC) for a w x h
// 8-bit gray image, and no image data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth; colour type 0 (gray), compression, filter, interlace 0
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestDecodeBadInput(t *testing.T) {
	good, err := os.ReadFile("testdata/gray8-97x131.png")
	if err != nil {
		t.Fatal(err)
	}
	jpg, err := os.ReadFile("testdata/jpeg-color-130x97.jpg")
	if err != nil {
		t.Fatal(err)
	}
	dicom := append(make([]byte, 128), "DICM\x02\x00\x00\x00"...)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"garbage", []byte("this is not an image at all"), "unknown image format (supported: PNG"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), "GIF is not supported"},
		{"bmp", []byte("BM\x00\x00\x00\x00"), "BMP is not supported"},
		{"tiff", []byte("II*\x00\x08\x00\x00\x00"), "TIFF is not supported"},
		{"dicom", dicom, "DICOM is not supported"},
		{"png-truncated", good[:len(good)/2], "truncated file"},
		{"png-header-only", good[:20], "PNG header"},
		{"png-zero-width", pngHeader(0, 10), "PNG header"},
		{"png-too-wide", pngHeader(40000, 10), "a side over the limit of 30000 px"},
		{"png-too-many-pixels", pngHeader(20000, 20000), "over the limit of 200000000"},
		{"png-no-data", pngHeader(10, 10), "truncated file"},
		{"jpeg-truncated", jpg[:len(jpg)/3], "JPEG: truncated file"},
		{"jpeg-soi-only", []byte{0xff, 0xd8}, "JPEG header"},
	} {
		img, err := Decode(bytes.NewReader(tc.data), tc.name+".img")
		if err == nil {
			t.Errorf("%s: decoded %dx%d, want an error", tc.name, img.Width, img.Height)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, tc.name+".img: ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line naming the file and saying %q", tc.name, msg, tc.want)
		}
	}
	if _, err := DecodeFile("testdata/no-such-file.png"); err == nil || strings.Count(err.Error(), "no-such-file") != 1 {
		t.Errorf("missing file: %v", err)
	}
}

func TestPreprocessBadInput(t *testing.T) {
	img := &Image{Name: "x.png", Width: 2, Height: 2, Pix: []uint16{0, 1, 2, 3}, Depth: 8}
	bad := func(f func(c *modelfile.Image)) *modelfile.Image {
		c := maira2(56)
		f(c)
		return c
	}
	for _, tc := range []struct {
		name string
		img  *Image
		c    *modelfile.Image
		want string
	}{
		{"nil config", img, nil, "no image preprocessing constants"},
		{"nil image", nil, maira2(56), "no image"},
		{"normalize", img, bad(func(c *modelfile.Image) { c.Normalize = "zscore" }), "only minmax-gray"},
		{"resample", img, bad(func(c *modelfile.Image) { c.Resample = "bilinear" }), "only bicubic"},
		{"zero crop", img, bad(func(c *modelfile.Image) { c.CropWidth = 0 }), "must be positive"},
		{"huge crop", img, bad(func(c *modelfile.Image) { c.CropWidth = 100000 }), "over 8192"},
		{"rescale", img, bad(func(c *modelfile.Image) { c.RescaleFactor = math.NaN() }), "rescale factor"},
		{"std", img, bad(func(c *modelfile.Image) { c.Std[1] = 0 }), "std must be positive"},
		{"channels", img, bad(func(c *modelfile.Image) { c.Std = c.Std[:2] }), "mean/std of 3/2"},
		{"samples", &Image{Name: "x.png", Width: 3, Height: 2, Pix: []uint16{1, 2}, Depth: 8}, maira2(56), "2 samples for a 3x2 image"},
		{"zero size", &Image{Name: "x.png", Depth: 8}, maira2(56), "image size 0x0"},
		{"depth", &Image{Name: "x.png", Width: 2, Height: 1, Pix: []uint16{1, 2}, Depth: 12}, maira2(56), "sample depth 12"},
		{"blank 1x1", &Image{Name: "x.png", Width: 1, Height: 1, Pix: []uint16{9}, Depth: 8}, maira2(56), "image is blank (all pixels equal)"},
		{"blank 16-bit", &Image{Name: "x.png", Width: 3, Height: 1, Pix: []uint16{4000, 4000, 4000}, Depth: 16}, maira2(56), "image is blank"},
	} {
		_, err := Preprocess(tc.img, tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestResizeSameSize: when the short edge already has the requested length
// PIL copies the image; the crop is then the plain centre of the min-maxed
// image.
func TestResizeSameSize(t *testing.T) {
	const w, h = 9, 6
	img := &Image{Width: w, Height: h, Depth: 16, Pix: make([]uint16, w*h)}
	for i := range img.Pix {
		img.Pix[i] = uint16(i * 1000)
	}
	crop, g, err := resizeCrop(img, config(6, 4, 5, 1.0/255, []float64{0.5}, []float64{0.5}))
	if err != nil {
		t.Fatal(err)
	}
	if g.ResizedWidth != w || g.ResizedHeight != h || g.CropLeft != 2 || g.CropTop != 1 {
		t.Fatalf("geometry %+v", g)
	}
	for r := range 4 {
		for c := range 5 {
			v := img.Pix[(r+1)*w+c+2]
			want := uint8(float64(v) / float64(img.Pix[w*h-1]) * 255)
			if crop[r*5+c] != want {
				t.Fatalf("(%d,%d): %d, want %d", c, r, crop[r*5+c], want)
			}
		}
	}
}

// TestToOriginal checks the box mapping against the geometry and against
// Microsoft's adjust_box_for_original_image_size.
func TestToOriginal(t *testing.T) {
	for _, tc := range []struct{ w, h, n int }{{2500, 2048, 518}, {2048, 2500, 518}, {3000, 3000, 518}, {600, 517, 518}, {4000, 1000, 518}, {97, 131, 56}} {
		img := &Image{Width: tc.w, Height: tc.h, Depth: 8, Pix: make([]uint16, tc.w*tc.h)}
		img.Pix[0] = 1
		_, g, err := resizeCrop(img, maira2(tc.n))
		if err != nil {
			t.Fatal(err)
		}
		// The whole crop covers the short side entirely and the centre of
		// the long side.
		X0, Y0, X1, Y1 := g.ToOriginal(0, 0, 1, 1)
		if tc.w <= tc.h && (X0 != 0 || X1 != float64(tc.w)) || tc.h <= tc.w && (Y0 != 0 || Y1 != float64(tc.h)) {
			t.Errorf("%dx%d: full box maps to (%v,%v)-(%v,%v)", tc.w, tc.h, X0, Y0, X1, Y1)
		}
		// ... and is square to within one resized pixel (the truncated long
		// edge of the resize).
		resizedPx := math.Max(float64(tc.w)/float64(g.ResizedWidth), float64(tc.h)/float64(g.ResizedHeight))
		if d := (X1 - X0) - (Y1 - Y0); math.Abs(d) > resizedPx {
			t.Errorf("%dx%d: full box not square: %v x %v", tc.w, tc.h, X1-X0, Y1-Y0)
		}
		// Microsoft's mapping, in pixels before its normalisation: within
		// one original pixel plus one resized pixel's worth.
		tol := 1 + resizedPx
		worst := 0.0
		for bin := range 100 {
			f := (float64(bin) + 0.5) / 100
			X, Y, _, _ := g.ToOriginal(f, f, f, f)
			cw := min(tc.w, tc.h)
			msX := float64(int(f*float64(cw) + float64((tc.w-cw)/2)))
			msY := float64(int(f*float64(cw) + float64((tc.h-cw)/2)))
			if math.Abs(X-msX) > tol || math.Abs(Y-msY) > tol {
				t.Fatalf("%dx%d bin %d: (%v,%v), Microsoft's (%v,%v), tolerance %v", tc.w, tc.h, bin, X, Y, msX, msY, tol)
			}
			worst = math.Max(worst, math.Max(math.Abs(X-msX), math.Abs(Y-msY)))
		}
		t.Logf("%dx%d: at most %.2f px from Microsoft's adjust_box_for_original_image_size", tc.w, tc.h, worst)
	}
}

func TestFloorDiv(t *testing.T) {
	for _, tc := range []struct{ a, want int }{{7, 3}, {6, 3}, {0, 0}, {-1, -1}, {-2, -1}, {-3, -2}} {
		if got := floorDiv(tc.a, 2); got != tc.want {
			t.Errorf("floorDiv(%d, 2) = %d, want %d", tc.a, got, tc.want)
		}
	}
}

// FuzzDecodePreprocess: arbitrary bytes through Decode and Preprocess at a
// small crop, under small size limits so memory stays bounded. No panic;
// errors are one line and name the input.
func FuzzDecodePreprocess(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input, which is slow on
	// big ones.
	for _, name := range []string{"tiny-3x2.png", "palette-64x50.png", "bilevel-50x40.png", "jpeg-progressive-160x120.jpg", "tiny-1x1.png"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(pngHeader(3, 3))
	g16 := image.NewGray16(image.Rect(0, 0, 5, 4))
	rgba := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	for i := range g16.Pix {
		g16.Pix[i] = uint8(i * 37)
	}
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 53)
	}
	f.Add(encodePNG(f, g16))
	f.Add(encodePNG(f, rgba))
	for _, m := range []image.Image{g16, rgba, image.NewYCbCr(image.Rect(0, 0, 17, 9), image.YCbCrSubsampleRatio420)} {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, m, nil); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	c := maira2(14)
	lim := limits{side: 4096, pixels: 1 << 20, fileBytes: 8 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decode(bytes.NewReader(data), "fuzz.img", lim)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.img: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if img.Width*img.Height != len(img.Pix) || img.Width > lim.side || img.Height > lim.side {
			t.Fatalf("decoded %dx%d with %d samples", img.Width, img.Height, len(img.Pix))
		}
		px, err := Preprocess(img, c)
		if err != nil {
			if !errors.Is(err, ErrBlank) {
				t.Fatalf("preprocess: %v", err)
			}
			return
		}
		if len(px.Data) != 3*14*14 {
			t.Fatalf("%d values", len(px.Data))
		}
		for _, v := range px.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("value %v", v)
			}
		}
	})
}

// benchImage is a 2500x2048 8-bit synthetic radiograph: a typical chest
// X-ray size.
func benchImage(b *testing.B) *Image {
	const w, h = 2500, 2048
	img := &Image{Name: "bench", Width: w, Height: h, Depth: 8, Pix: make([]uint16, w*h)}
	x := uint32(1)
	for i := range img.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		img.Pix[i] = uint16((i%w)*200/w + (i/w)*40/h + int(x%16))
	}
	return img
}

// BenchmarkPreprocess518 preprocesses a decoded 2500x2048 8-bit image to
// MAIRA-2's 518x518 input (min-max, resize, crop, normalize).
func BenchmarkPreprocess518(b *testing.B) {
	img := benchImage(b)
	c := maira2(518)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Preprocess(img, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePNG2500x2048 decodes the same image from an 8-bit gray PNG.
func BenchmarkDecodePNG2500x2048(b *testing.B) {
	img := benchImage(b)
	g := image.NewGray(image.Rect(0, 0, img.Width, img.Height))
	for i, v := range img.Pix {
		g.Pix[i] = uint8(v)
	}
	data := encodePNG(b, g)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(data), "bench.png"); err != nil {
			b.Fatal(err)
		}
	}
}
