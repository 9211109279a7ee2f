package firmware

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"maira/internal/atomicfile"
)

// Key files are PEM text (RFC 7468 style, as encoding/pem writes it), so
// they survive e-mail and copy-paste and say what they are:
//
//	-----BEGIN MAIRA FIRMWARE SIGNING KEY-----
//	Key-Id: 3f1c0a9e5b7d2468
//
//	<base64 of the 32-byte Ed25519 seed (RFC 8032 private key)>
//	-----END MAIRA FIRMWARE SIGNING KEY-----
//
// and the same with "MAIRA FIRMWARE PUBLIC KEY" and the 32-byte public key.
// The Key-Id header is informative: it is recomputed on reading and a
// mismatch is an error.
const (
	privatePEMType = "MAIRA FIRMWARE SIGNING KEY"
	publicPEMType  = "MAIRA FIRMWARE PUBLIC KEY"
)

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex. It is
// what ROOT/keys calls the key and what the manifest records as signer.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKeyPair writes a new signing key to DIR/NAME (mode 0600) and its
// public key to DIR/NAME.pub. It refuses to replace an existing key: a lost
// signing key cannot be recovered, so overwriting one is never what was
// meant.
func GenerateKeyPair(dir, name string) (keyID string, err error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("%q: a key name is a plain file name", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	privPath, pubPath := filepath.Join(dir, name), filepath.Join(dir, name+".pub")
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", fmt.Errorf("%s: already exists; not replacing a key", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	id := KeyID(pub)
	hdr := map[string]string{"Key-Id": id}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: privatePEMType, Headers: hdr, Bytes: priv.Seed()})
	pubPEM := pemPublic(pub)
	// The signing key is created private from the start (O_EXCL, 0600)
	// rather than through atomicfile, which makes files world-readable.
	f, err := os.OpenFile(privPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(privPEM)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(privPath)
		return "", fmt.Errorf("%s: %w", privPath, err)
	}
	if err := atomicfile.WriteFile(pubPath, pubPEM); err != nil {
		return "", err
	}
	return id, atomicfile.SyncDir(dir)
}

func pemPublic(pub ed25519.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: publicPEMType, Headers: map[string]string{"Key-Id": KeyID(pub)}, Bytes: pub})
}

func readPEM(path, typ string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s: not a PEM key file", path)
	}
	if b.Type != typ {
		return nil, fmt.Errorf("%s: a %q block, want %q", path, b.Type, typ)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("%s: data after the key", path)
	}
	return b, nil
}

// ReadPrivateKey reads a signing key written by GenerateKeyPair.
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := readPEM(path, privatePEMType)
	if err != nil {
		return nil, err
	}
	if len(b.Bytes) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: %d key bytes, want %d", path, len(b.Bytes), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(b.Bytes)
	if id, ok := b.Headers["Key-Id"]; ok && id != KeyID(priv.Public().(ed25519.PublicKey)) {
		return nil, fmt.Errorf("%s: Key-Id %s does not match the key", path, id)
	}
	return priv, nil
}

// ReadPublicKey reads a public key written by GenerateKeyPair or Trust.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := readPEM(path, publicPEMType)
	if err != nil {
		return nil, err
	}
	if len(b.Bytes) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s: %d key bytes, want %d", path, len(b.Bytes), ed25519.PublicKeySize)
	}
	pub := ed25519.PublicKey(b.Bytes)
	if id, ok := b.Headers["Key-Id"]; ok && id != KeyID(pub) {
		return nil, fmt.Errorf("%s: Key-Id %s does not match the key", path, id)
	}
	return pub, nil
}

// Trust adds the public key at pubPath to ROOT/keys, as ROOT/keys/ID.pub.
// It is done once when a box is provisioned; trusting a key twice is not
// an error.
func Trust(root, pubPath string) (keyID string, err error) {
	pub, err := ReadPublicKey(pubPath)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "keys")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	id := KeyID(pub)
	if err := atomicfile.WriteFile(filepath.Join(dir, id+".pub"), pemPublic(pub)); err != nil {
		return "", err
	}
	return id, atomicfile.SyncDir(root)
}

// TrustedKey is a key from ROOT/keys.
type TrustedKey struct {
	ID  string
	Key ed25519.PublicKey
}

// TrustedKeys reads ROOT/keys/*.pub, sorted by id. A damaged key file is an
// error rather than skipped, so a box does not quietly stop trusting a key.
func TrustedKeys(root string) ([]TrustedKey, error) {
	dir := filepath.Join(root, "keys")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []TrustedKey
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pub") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		pub, err := ReadPublicKey(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		keys = append(keys, TrustedKey{ID: KeyID(pub), Key: pub})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	return keys, nil
}
