package dicom

// Codec names how a transfer syntax stores its pixels.
type Codec int

const (
	Native       Codec = iota // uncompressed samples in the Pixel Data value
	Encapsulated              // uncompressed samples in fragments (1.2.840.10008.1.2.1.98)
	RLE                       // RLE Lossless (PS3.5 annex G)
	JPEGBaseline              // JPEG process 1
	JPEGExtended              // JPEG processes 2 and 4 (8 and 12 bit)
	JPEGLossless              // JPEG process 14, any selection value
	JPEG2000                  // JPEG 2000 Part 1, lossless or lossy
	Unsupported               // named, known, and refused
)

// Syntax is one transfer syntax.
type Syntax struct {
	UID       string
	Name      string
	Implicit  bool // implicit VR (only 1.2.840.10008.1.2)
	BigEndian bool
	Deflated  bool
	Codec     Codec
}

// syntaxes lists the transfer syntaxes maira knows by name; the ones it
// cannot decode carry Codec Unsupported so that a refusal names them.
var syntaxes = []Syntax{
	{UID: "1.2.840.10008.1.2", Name: "Implicit VR Little Endian", Implicit: true},
	{UID: "1.2.840.10008.1.2.1", Name: "Explicit VR Little Endian"},
	{UID: "1.2.840.10008.1.2.1.99", Name: "Deflated Explicit VR Little Endian", Deflated: true},
	{UID: "1.2.840.10008.1.2.2", Name: "Explicit VR Big Endian", BigEndian: true},
	{UID: "1.2.840.10008.1.2.1.98", Name: "Encapsulated Uncompressed Explicit VR Little Endian", Codec: Encapsulated},
	{UID: "1.2.840.10008.1.2.5", Name: "RLE Lossless", Codec: RLE},
	{UID: "1.2.840.10008.1.2.4.50", Name: "JPEG Baseline (Process 1)", Codec: JPEGBaseline},
	{UID: "1.2.840.10008.1.2.4.51", Name: "JPEG Extended (Process 2 & 4)", Codec: JPEGExtended},
	{UID: "1.2.840.10008.1.2.4.57", Name: "JPEG Lossless, Non-Hierarchical (Process 14)", Codec: JPEGLossless},
	{UID: "1.2.840.10008.1.2.4.70", Name: "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", Codec: JPEGLossless},
	{UID: "1.2.840.10008.1.2.4.90", Name: "JPEG 2000 Image Compression (Lossless Only)", Codec: JPEG2000},
	{UID: "1.2.840.10008.1.2.4.91", Name: "JPEG 2000 Image Compression", Codec: JPEG2000},

	{UID: "1.2.840.10008.1.2.4.52", Name: "JPEG Extended (Process 3 & 5) (retired)", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.53", Name: "JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8) (retired)", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.55", Name: "JPEG Full Progression, Non-Hierarchical (Process 10 & 12) (retired)", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.58", Name: "JPEG Lossless, Non-Hierarchical (Process 15) (retired)", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.80", Name: "JPEG-LS Lossless Image Compression", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.81", Name: "JPEG-LS Lossy (Near-Lossless) Image Compression", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.92", Name: "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.93", Name: "JPEG 2000 Part 2 Multi-component Image Compression", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.94", Name: "JPIP Referenced", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.95", Name: "JPIP Referenced Deflate", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.100", Name: "MPEG2 Main Profile / Main Level", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.101", Name: "MPEG2 Main Profile / High Level", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.102", Name: "MPEG-4 AVC/H.264 High Profile / Level 4.1", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.103", Name: "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.104", Name: "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.107", Name: "HEVC/H.265 Main Profile / Level 5.1", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.201", Name: "High-Throughput JPEG 2000 Image Compression (Lossless Only)", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.202", Name: "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)", Codec: Unsupported},
	{UID: "1.2.840.10008.1.2.4.203", Name: "High-Throughput JPEG 2000 Image Compression", Codec: Unsupported},
}

// LookupSyntax finds a transfer syntax by UID.
func LookupSyntax(uid string) (Syntax, bool) {
	for _, s := range syntaxes {
		if s.UID == uid {
			return s, true
		}
	}
	return Syntax{}, false
}

// SupportedSyntaxes lists the transfer syntaxes whose pixels maira decodes,
// for documentation and `maira inspect`.
func SupportedSyntaxes() []Syntax {
	var out []Syntax
	for _, s := range syntaxes {
		if s.Codec != Unsupported {
			out = append(out, s)
		}
	}
	return out
}
