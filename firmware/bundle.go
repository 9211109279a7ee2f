package firmware

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"

	"maira/internal/atomicfile"
)

const (
	magic = "MAIRAFW1"
	// sigContext is signed before the manifest, so a signature made with
	// the same key for any other purpose can never pass as a bundle's.
	sigContext = "maira firmware manifest v1\x00"
	// packWindow is the zstd window pack writes with: the zstd default's
	// maximum, a decoder memory any box has.
	packWindow = 8 << 20
)

// Errors that callers may want to tell apart (errors.Is).
var (
	ErrNotBundle = errors.New("not a maira firmware bundle")
	ErrUntrusted = errors.New("signature does not verify with any trusted key")
	ErrCorrupt   = errors.New("bundle is damaged or altered")
)

func signedMessage(raw []byte) []byte {
	return append([]byte(sigContext), raw...)
}

// PackFile is a file to put in a bundle.
type PackFile struct {
	Src  string // the file on this machine
	Role Role
	// Path inside the slot's files/ folder; "" puts it in the role's
	// folder under its own name: model/, config/, plugins/ or bin/.
	Path string
}

// PackOptions describes a bundle to write.
type PackOptions struct {
	Version        string
	StoreSchema    int // the study-store schema the firmware writes (>= 1)
	StoreSchemaMax int // the newest schema it can read; 0: StoreSchema
	Files          []PackFile
	Created        time.Time // zero: now
}

var roleFolder = map[Role]string{RoleModel: "model", RoleConfig: "config", RolePlugin: "plugins", RoleBinary: "bin"}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Pack writes a bundle signed with key to out (atomically). The streams are
// compressed to a temporary file beside out first, because their sizes and
// hashes go in the manifest, which comes before them.
func Pack(out string, key ed25519.PrivateKey, opts PackOptions) (*Manifest, error) {
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	m := &Manifest{
		Format: Format, Version: opts.Version, Created: created.UTC().Truncate(time.Second),
		StoreSchema: opts.StoreSchema, StoreSchemaMax: opts.StoreSchemaMax,
		KeyID: KeyID(key.Public().(ed25519.PublicKey)), ZstdWindow: packWindow,
	}
	if _, err := parseVersion(opts.Version); err != nil {
		return nil, err
	}
	if len(opts.Files) == 0 {
		return nil, errors.New("nothing to pack: give --model, --config, --plugin or --binary")
	}
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".streams.*.tmp")
	if err != nil {
		return nil, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	enc, err := zstd.NewWriter(nil, zstd.WithWindowSize(packWindow), zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithZeroFrames(true), zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	for _, pf := range opts.Files {
		p := pf.Path
		if p == "" {
			p = path.Join(roleFolder[pf.Role], filepath.Base(pf.Src))
		}
		fe, err := packFile(enc, tmp, pf.Src)
		if err != nil {
			return nil, err
		}
		fe.Path, fe.Role = p, pf.Role
		m.Files = append(m.Files, fe)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", out, err)
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	raw = append(raw, '\n')
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("%s: manifest of %d bytes, over the limit of %d", out, len(raw), MaxManifestSize)
	}
	sig := ed25519.Sign(key, signedMessage(raw))
	af, err := atomicfile.Create(out)
	if err != nil {
		return nil, err
	}
	defer af.Abort()
	var hdr [12]byte
	copy(hdr[:], magic)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(raw)))
	for _, b := range [][]byte{hdr[:], raw, sig} {
		if _, err := af.Write(b); err != nil {
			return nil, fmt.Errorf("%s: writing: %w", out, err)
		}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if _, err := io.Copy(af, tmp); err != nil {
		return nil, fmt.Errorf("%s: writing: %w", out, err)
	}
	return m, af.Commit()
}

func packFile(enc *zstd.Encoder, dst io.Writer, src string) (FileEntry, error) {
	f, err := os.Open(src)
	if err != nil {
		return FileEntry{}, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return FileEntry{}, err
	} else if !st.Mode().IsRegular() {
		return FileEntry{}, fmt.Errorf("%s: not a regular file", src)
	}
	hIn, hOut := sha256.New(), sha256.New()
	cw := &countWriter{w: io.MultiWriter(dst, hOut)}
	enc.Reset(cw)
	n, err := io.Copy(enc, io.TeeReader(f, hIn))
	if err != nil {
		return FileEntry{}, fmt.Errorf("%s: %v", src, err)
	}
	if err := enc.Close(); err != nil {
		return FileEntry{}, fmt.Errorf("%s: compressing: %v", src, err)
	}
	return FileEntry{Size: n, SHA256: hex.EncodeToString(hIn.Sum(nil)),
		ZstdSize: cw.n, ZstdSHA256: hex.EncodeToString(hOut.Sum(nil))}, nil
}

// Bundle is an opened bundle whose signature and manifest have been
// checked; its files have not been read yet.
type Bundle struct {
	Path     string
	Manifest *Manifest
	Raw      []byte // the manifest's signed bytes
	Sig      []byte
	f        *os.File
	dataOff  int64
}

// Close closes the bundle file.
func (b *Bundle) Close() error { return b.f.Close() }

// verifyManifest checks raw against the trusted keys and only then parses
// it: no byte an attacker could have chosen is interpreted before the
// signature holds.
func verifyManifest(raw, sig []byte, keys []TrustedKey) (*Manifest, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no trusted keys (run maira firmware trust KEY.pub --root DIR)", ErrUntrusted)
	}
	msg := signedMessage(raw)
	var signer string
	for _, k := range keys {
		if ed25519.Verify(k.Key, msg, sig) {
			signer = k.ID
			break
		}
	}
	if signer == "" {
		return nil, fmt.Errorf("%w (%d trusted; signed with another key, or the bundle was altered)", ErrUntrusted, len(keys))
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, err
	}
	if m.KeyID != signer {
		return nil, fmt.Errorf("manifest: key_id %s, but signed by %s", m.KeyID, signer)
	}
	return m, nil
}

// OpenBundle opens a bundle and checks its signature against keys, its
// manifest, and that its length is what the manifest accounts for. Nothing
// is decompressed.
func OpenBundle(p string, keys []TrustedKey) (*Bundle, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	b, err := openBundle(f, p, keys)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return b, nil
}

func openBundle(f *os.File, p string, keys []TrustedKey) (*Bundle, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	size := st.Size()
	var hdr [12]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[:8]) != magic {
		if err == nil && string(hdr[:7]) == magic[:7] {
			return nil, fmt.Errorf("%w: container version %q, this build reads %q", ErrNotBundle, hdr[7:8], magic[7:])
		}
		return nil, fmt.Errorf("%w (no %q header)", ErrNotBundle, magic)
	}
	n := int64(binary.BigEndian.Uint32(hdr[8:]))
	if n == 0 || n > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest length %d outside 1..%d", ErrCorrupt, n, MaxManifestSize)
	}
	dataOff := 12 + n + ed25519.SignatureSize
	if size < dataOff {
		return nil, fmt.Errorf("%w: truncated: %d bytes, the manifest and signature alone take %d", ErrCorrupt, size, dataOff)
	}
	buf := make([]byte, n+ed25519.SignatureSize)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, err
	}
	raw, sig := buf[:n], buf[n:]
	m, err := verifyManifest(raw, sig, keys)
	if err != nil {
		return nil, err
	}
	switch want := dataOff + m.streamsSize(); {
	case size < want:
		return nil, fmt.Errorf("%w: truncated: %d bytes, the manifest accounts for %d", ErrCorrupt, size, want)
	case size > want:
		return nil, fmt.Errorf("%w: %d bytes after the last file", ErrCorrupt, size-want)
	}
	return &Bundle{Path: p, Manifest: m, Raw: raw, Sig: sig, f: f, dataOff: dataOff}, nil
}

// extract streams each file, in manifest order, to fn as a reader that
// yields exactly the declared bytes and returns io.EOF only once the file's
// SHA-256, its compressed stream's SHA-256 and its length have all checked
// out (any other error otherwise). fn must read body to the end.
func (b *Bundle) extract(fn func(fe *FileEntry, body io.Reader) error) error {
	w := uint64(b.Manifest.ZstdWindow)
	// One stream at a time, no read-ahead beyond the window: memory is
	// bounded by the manifest's window whatever a frame header claims.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(w), zstd.WithDecoderMaxMemory(w))
	if err != nil {
		return err
	}
	defer dec.Close()
	off := b.dataOff
	for i := range b.Manifest.Files {
		fe := &b.Manifest.Files[i]
		zh := sha256.New()
		src := io.TeeReader(io.NewSectionReader(b.f, off, fe.ZstdSize), zh)
		off += fe.ZstdSize
		if err := dec.Reset(src); err != nil {
			return fmt.Errorf("%s: %s: %w: %v", b.Path, fe.Path, ErrCorrupt, err)
		}
		r := &entryReader{bundle: b.Path, fe: fe, dec: dec, src: src, zh: zh, fh: sha256.New(), left: fe.Size}
		if err := fn(fe, r); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
	return nil
}

type entryReader struct {
	bundle string
	fe     *FileEntry
	dec    *zstd.Decoder
	src    io.Reader // the compressed stream, hashed into zh as it is read
	zh, fh hash.Hash
	left   int64
	err    error
}

func (r *entryReader) fail(format string, a ...any) error {
	return fmt.Errorf("%s: %s: %w: %s", r.bundle, r.fe.Path, ErrCorrupt, fmt.Sprintf(format, a...))
}

func (r *entryReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.left == 0 {
		r.err = r.finish()
		if r.err == nil {
			r.err = io.EOF
		}
		return 0, r.err
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.dec.Read(p)
	r.fh.Write(p[:n])
	r.left -= int64(n)
	switch {
	case errors.Is(err, io.EOF) && r.left > 0:
		r.err = r.fail("the stream ends after %d of %d bytes", r.fe.Size-r.left, r.fe.Size)
	case err != nil && !errors.Is(err, io.EOF):
		r.err = r.fail("%v", err)
	}
	return n, r.err
}

// finish runs once the declared bytes are out: one more byte is a stream
// that inflates beyond its declared size, which is refused rather than
// written (a decompression bomb, or a manifest that lies); then the rest of
// the compressed stream is hashed and both hashes compared.
func (r *entryReader) finish() error {
	var one [1]byte
	n, err := io.ReadFull(r.dec, one[:])
	if n > 0 {
		return r.fail("inflates beyond its declared %d bytes (a decompression bomb?)", r.fe.Size)
	}
	if !errors.Is(err, io.EOF) {
		return r.fail("%v", err)
	}
	if _, err := io.Copy(io.Discard, r.src); err != nil {
		return r.fail("%v", err)
	}
	if hex.EncodeToString(r.zh.Sum(nil)) != r.fe.ZstdSHA256 {
		return r.fail("the compressed stream does not match its SHA-256")
	}
	if hex.EncodeToString(r.fh.Sum(nil)) != r.fe.SHA256 {
		return r.fail("the content does not match its SHA-256")
	}
	return nil
}

// VerifyBundle checks a bundle completely without installing it: the
// signature against keys, the manifest, and every file decompressed and
// hashed.
func VerifyBundle(p string, keys []TrustedKey) (*Manifest, error) {
	b, err := OpenBundle(p, keys)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	err = b.extract(func(_ *FileEntry, body io.Reader) error {
		_, err := io.Copy(io.Discard, body)
		return err
	})
	if err != nil {
		return nil, err
	}
	return b.Manifest, nil
}

// manifestSum names a manifest in a slot's COMPLETE marker.
func manifestSum(raw []byte) string {
	s := sha256.Sum256(raw)
	return hex.EncodeToString(s[:])
}
