package firmware

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"maira/internal/atomicfile"
)

const (
	activeLink   = "active"
	slotsDir     = "slots"
	filesDir     = "files"
	manifestName = "manifest.json"
	sigName      = "manifest.sig"
	completeName = "COMPLETE"
	markerHeader = "maira firmware slot complete"
)

var slotNames = [2]string{"a", "b"}

// More errors for errors.Is.
var (
	ErrNoFirmware = errors.New("no firmware installed")
	ErrDowngrade  = errors.New("refusing to downgrade")
	ErrSchema     = errors.New("the firmware cannot read the study store")
	ErrIncomplete = errors.New("slot is not complete")
)

// SchemaError is a rollback or downgrade refused because the firmware
// cannot read the study store as it is now; errors.Is(err, ErrSchema).
type SchemaError struct {
	DataSchema int    // the store's current schema
	Version    string // the firmware refused
	Reads      int    // the newest schema it reads
	Writes     int    // the schema it writes
}

func (e *SchemaError) Error() string {
	reads := fmt.Sprintf("schema %d only", e.Reads)
	if e.Reads != e.Writes {
		reads = fmt.Sprintf("schemas up to %d only", e.Reads)
	}
	return fmt.Sprintf("the study store is at schema %d; firmware %s reads %s", e.DataSchema, e.Version, reads)
}

// Unwrap makes errors.Is(err, ErrSchema) hold.
func (e *SchemaError) Unwrap() error { return ErrSchema }

func checkSchema(m *Manifest, dataSchema int) error {
	if dataSchema > m.ReadsSchema() {
		return &SchemaError{DataSchema: dataSchema, Version: m.Version, Reads: m.ReadsSchema(), Writes: m.StoreSchema}
	}
	return nil
}

// Slot is a complete, signed slot.
type Slot struct {
	Name     string // "a" or "b"
	Dir      string // ROOT/slots/NAME
	Version  string
	Manifest *Manifest
	Signer   string // the id of the trusted key that signed it
	// Paths of the files by role; "" or nil where the bundle had none.
	Model, Config, Binary string
	Plugins               []string
}

// File returns the path of a manifest file in the slot.
func (s *Slot) File(fe FileEntry) string {
	return filepath.Join(s.Dir, filesDir, filepath.FromSlash(fe.Path))
}

// Verify hashes every file of the slot against its manifest: what apply
// does before activating a slot and rollback before returning to one.
// Active checks only sizes, because hashing a model of several GB at
// every start would delay the service by a minute on a Jetson.
func (s *Slot) Verify() error {
	for _, fe := range s.Manifest.Files {
		if err := hashFile(s.File(fe), fe); err != nil {
			return err
		}
	}
	return nil
}

func hashFile(p string, fe FileEntry) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("%s: %v", p, err)
	}
	if n != fe.Size || hex.EncodeToString(h.Sum(nil)) != fe.SHA256 {
		return fmt.Errorf("%s: %d bytes with a SHA-256 other than the manifest's (damaged on disk)", p, n)
	}
	return nil
}

// readPointer returns the slot ROOT/active names.
func readPointer(root string) (string, error) {
	p := filepath.Join(root, activeLink)
	target, err := os.Readlink(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w (%s is missing)", root, ErrNoFirmware, p)
	}
	if err != nil {
		return "", err
	}
	for _, n := range slotNames {
		if target == slotsDir+"/"+n {
			return n, nil
		}
	}
	return "", fmt.Errorf("%s: points to %q, not %s/a or %s/b", p, target, slotsDir, slotsDir)
}

func other(name string) string {
	if name == "a" {
		return "b"
	}
	return "a"
}

// openSlot returns the slot if it is complete: its COMPLETE marker names
// the SHA-256 of its manifest.json, the manifest's signature verifies with
// a trusted key, and every file is there with its size.
func openSlot(root, name string, keys []TrustedKey) (*Slot, error) {
	dir := filepath.Join(root, slotsDir, name)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (empty)", dir, ErrIncomplete)
	}
	marker, err := os.ReadFile(filepath.Join(dir, completeName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (no %s marker: empty, or an interrupted install)", dir, ErrIncomplete, completeName)
	}
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", dir, ErrIncomplete, err)
	}
	sig, err := os.ReadFile(filepath.Join(dir, sigName))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", dir, ErrIncomplete, err)
	}
	if string(marker) != markerText(raw) {
		return nil, fmt.Errorf("%s: %w: the %s marker does not match %s", dir, ErrIncomplete, completeName, manifestName)
	}
	m, err := verifyManifest(raw, sig, keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, manifestName), err)
	}
	s := &Slot{Name: name, Dir: dir, Version: m.Version, Manifest: m, Signer: m.KeyID}
	for _, fe := range m.Files {
		p := s.File(fe)
		st, err := os.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", dir, ErrIncomplete, err)
		}
		if !st.Mode().IsRegular() || st.Size() != fe.Size {
			return nil, fmt.Errorf("%s: %w: %s is %d bytes, the manifest says %d", dir, ErrIncomplete, p, st.Size(), fe.Size)
		}
		switch fe.Role {
		case RoleModel:
			s.Model = p
		case RoleConfig:
			s.Config = p
		case RoleBinary:
			s.Binary = p
		case RolePlugin:
			s.Plugins = append(s.Plugins, p)
		}
	}
	return s, nil
}

func markerText(raw []byte) string {
	return markerHeader + "\nmanifest-sha256 " + manifestSum(raw) + "\n"
}

// Active returns the active slot, which is always complete: an error
// (errors.Is ErrNoFirmware where nothing was ever installed) otherwise.
// It reads the trusted keys from ROOT/keys and checks the slot's signature,
// marker and file sizes, not the file hashes (see Slot.Verify).
func Active(root string) (*Slot, error) {
	keys, err := TrustedKeys(root)
	if err != nil {
		return nil, err
	}
	name, err := readPointer(root)
	if err != nil {
		return nil, err
	}
	return openSlot(root, name, keys)
}

// SlotStatus is one slot as `maira firmware status` shows it.
type SlotStatus struct {
	Name           string      `json:"name"`
	Active         bool        `json:"active"`
	Complete       bool        `json:"complete"`
	Verified       *bool       `json:"verified,omitempty"` // hashes checked (status --verify)
	Version        string      `json:"version,omitempty"`
	Created        *time.Time  `json:"created,omitempty"`
	StoreSchema    int         `json:"store_schema,omitempty"`
	StoreSchemaMax int         `json:"store_schema_max,omitempty"`
	KeyID          string      `json:"key_id,omitempty"`
	Files          []FileEntry `json:"files,omitempty"`
	Problem        string      `json:"problem,omitempty"` // why it is not complete, or failed --verify
}

// Status is the firmware state of a root.
type Status struct {
	Root        string       `json:"root"`
	Active      string       `json:"active"` // the slot ROOT/active names; "" if none
	Slots       []SlotStatus `json:"slots"`
	TrustedKeys []string     `json:"trusted_keys"`
	Problem     string       `json:"problem,omitempty"` // about ROOT/active or the keys
}

// ReadStatus describes both slots; verify also hashes the complete ones.
func ReadStatus(root string, verify bool) (*Status, error) {
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	st := &Status{Root: root, TrustedKeys: []string{}}
	keys, err := TrustedKeys(root)
	if err != nil {
		st.Problem = err.Error()
	}
	for _, k := range keys {
		st.TrustedKeys = append(st.TrustedKeys, k.ID)
	}
	if name, err := readPointer(root); err == nil {
		st.Active = name
	} else if !errors.Is(err, ErrNoFirmware) {
		st.Problem = err.Error()
	}
	for _, n := range slotNames {
		ss := SlotStatus{Name: n, Active: n == st.Active}
		s, err := openSlot(root, n, keys)
		if err != nil {
			ss.Problem = err.Error()
			if _, serr := os.Stat(filepath.Join(root, slotsDir, n)); errors.Is(serr, fs.ErrNotExist) {
				ss.Problem = "empty"
			}
		} else {
			m := s.Manifest
			ss.Complete, ss.Version, ss.Created, ss.KeyID = true, m.Version, &m.Created, m.KeyID
			ss.StoreSchema, ss.StoreSchemaMax, ss.Files = m.StoreSchema, m.StoreSchemaMax, m.Files
			if verify {
				ok := true
				if err := s.Verify(); err != nil {
					ok, ss.Problem = false, err.Error()
				}
				ss.Verified = &ok
			}
		}
		st.Slots = append(st.Slots, ss)
	}
	return st, nil
}

// ops performs the file-system steps of Apply and Rollback. Each step first
// asks fault, which is nil outside tests; a test fails the Nth step and
// every later one, which is what a power cut at that step looks like to the
// disk.
type ops struct {
	fault func(step string) error
	root  string
}

func (o ops) step(what, p string) error {
	if o.fault == nil {
		return nil
	}
	if rel, err := filepath.Rel(o.root, p); err == nil {
		p = rel
	}
	return o.fault(what + " " + p)
}

func (o ops) mkdir(p string) error {
	if err := o.step("mkdir", p); err != nil {
		return err
	}
	return os.Mkdir(p, 0o755)
}

func (o ops) syncDir(p string) error {
	if err := o.step("fsync", p); err != nil {
		return err
	}
	return atomicfile.SyncDir(p)
}

func (o ops) remove(p string) error {
	if err := o.step("remove", p); err != nil {
		return err
	}
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (o ops) removeAll(p string) error {
	if err := o.step("remove-all", p); err != nil {
		return err
	}
	return os.RemoveAll(p)
}

func (o ops) rename(from, to string) error {
	if err := o.step("rename", to); err != nil {
		return err
	}
	return os.Rename(from, to)
}

// writeFile writes r to a new file p and fsyncs it.
func (o ops) writeFile(p string, perm os.FileMode, r io.Reader) error {
	if err := o.step("create", p); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	err = o.copyTo(f, p, r)
	if err == nil {
		err = o.step("fsync", p)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (o ops) copyTo(f *os.File, p string, r io.Reader) error {
	buf := make([]byte, 1<<20)
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if err := o.step("write", p); err != nil {
				return err
			}
			if _, err := f.Write(buf[:n]); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// switchTo points ROOT/active at slot name: a new link under a temporary
// name, renamed over the old one (rename is atomic), then ROOT fsynced so
// the rename survives a power cut.
func (o ops) switchTo(name string) error {
	tmp := filepath.Join(o.root, "."+activeLink+".tmp")
	if err := o.remove(tmp); err != nil {
		return err
	}
	if err := o.step("symlink", tmp); err != nil {
		return err
	}
	if err := os.Symlink(slotsDir+"/"+name, tmp); err != nil {
		return err
	}
	if err := o.rename(tmp, filepath.Join(o.root, activeLink)); err != nil {
		return err
	}
	return o.syncDir(o.root)
}

// ApplyOptions are Apply's options.
type ApplyOptions struct {
	// AllowDowngrade installs a version older than the active one, or the
	// same one again.
	AllowDowngrade bool
	// DataSchema is the study store's current schema (0: unknown or no
	// store); firmware that cannot read it is refused.
	DataSchema int

	fault func(step string) error // tests only
}

// Apply installs a bundle into the inactive slot and makes it active. It
// checks the whole bundle first, so a damaged or altered bundle is refused
// before the inactive slot (the rollback target) is touched; then writes
// and fsyncs the files, hashes them again from disk, marks the slot
// COMPLETE and switches ROOT/active. A power cut at any step leaves
// either the old slot or the new one active, and complete.
func Apply(root, bundle string, opts ApplyOptions) (*Slot, error) {
	keys, err := TrustedKeys(root)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: %w: no trusted keys in %s (run maira firmware trust KEY.pub --root %s)",
			bundle, ErrUntrusted, filepath.Join(root, "keys"), root)
	}
	unlock, err := lockRoot(root)
	if err != nil {
		return nil, err
	}
	defer unlock()
	b, err := OpenBundle(bundle, keys)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	m := b.Manifest

	target := "a"
	cur, err := readPointer(root)
	switch {
	case err == nil:
		target = other(cur)
		// An unusable active slot is no reason to refuse an install: a
		// new bundle is how such a box is repaired.
		if s, err := openSlot(root, cur, keys); err == nil && !opts.AllowDowngrade {
			c, err := CompareVersions(m.Version, s.Version)
			if err != nil {
				return nil, err
			}
			if c < 0 {
				return nil, fmt.Errorf("%s: %w: firmware %s is older than the active %s (give --allow-downgrade to install it)", bundle, ErrDowngrade, m.Version, s.Version)
			}
			if c == 0 {
				return nil, fmt.Errorf("%s: %w: firmware %s is already active (give --allow-downgrade to install it again)", bundle, ErrDowngrade, m.Version)
			}
		}
	case !errors.Is(err, ErrNoFirmware):
		return nil, err
	}
	if err := checkSchema(m, opts.DataSchema); err != nil {
		return nil, fmt.Errorf("%s: %w", bundle, err)
	}
	if err := b.extract(func(_ *FileEntry, body io.Reader) error {
		_, err := io.Copy(io.Discard, body)
		return err
	}); err != nil {
		return nil, err
	}

	o := ops{fault: opts.fault, root: root}
	dir := filepath.Join(root, slotsDir, target)
	if err := o.install(dir, b); err != nil {
		// Best effort: an incomplete slot is harmless (nothing uses it
		// and the next apply wipes it), so a failure here is not reported.
		o.removeAll(dir)
		return nil, err
	}
	if err := o.switchTo(target); err != nil {
		return nil, fmt.Errorf("%s: activating slot %s: %w", root, target, err)
	}
	return openSlot(root, target, keys)
}

// install writes the bundle into the slot folder dir and marks it complete.
func (o ops) install(dir string, b *Bundle) error {
	slots := filepath.Dir(dir)
	if _, err := os.Stat(slots); errors.Is(err, fs.ErrNotExist) {
		if err := o.mkdir(slots); err != nil {
			return err
		}
		if err := o.syncDir(o.root); err != nil {
			return err
		}
	}
	// The old contents stop being a complete slot first, and durably, so
	// that no state of a half-removed folder can pass for complete.
	if _, err := os.Lstat(filepath.Join(dir, completeName)); err == nil {
		if err := o.remove(filepath.Join(dir, completeName)); err != nil {
			return err
		}
		if err := o.syncDir(dir); err != nil {
			return err
		}
	}
	if err := o.removeAll(dir); err != nil {
		return err
	}
	if err := o.mkdir(dir); err != nil {
		return err
	}
	if err := o.syncDir(slots); err != nil {
		return err
	}
	files := filepath.Join(dir, filesDir)
	if err := o.mkdir(files); err != nil {
		return err
	}
	dirs := map[string]bool{files: true}
	err := b.extract(func(fe *FileEntry, body io.Reader) error {
		p := filepath.Join(files, filepath.FromSlash(fe.Path))
		for d := filepath.Dir(p); !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
		if err := o.mkdirAll(files, filepath.Dir(p)); err != nil {
			return err
		}
		perm := os.FileMode(0o644)
		if fe.Role == RoleBinary {
			perm = 0o755
		}
		return o.writeFile(p, perm, body)
	})
	if err != nil {
		return err
	}
	// Deepest first, so each folder's entry is durable in its parent.
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool {
		return strings.Count(ds[i], string(filepath.Separator)) > strings.Count(ds[j], string(filepath.Separator))
	})
	for _, d := range ds {
		if err := o.syncDir(d); err != nil {
			return err
		}
	}
	if err := o.writeFile(filepath.Join(dir, manifestName), 0o644, strings.NewReader(string(b.Raw))); err != nil {
		return err
	}
	if err := o.writeFile(filepath.Join(dir, sigName), 0o644, strings.NewReader(string(b.Sig))); err != nil {
		return err
	}
	if err := o.syncDir(dir); err != nil {
		return err
	}
	// Verified again on disk: what was fsynced is read back and hashed.
	for _, fe := range b.Manifest.Files {
		if err := hashFile(filepath.Join(files, filepath.FromSlash(fe.Path)), fe); err != nil {
			return err
		}
	}
	tmp := filepath.Join(dir, "."+completeName+".tmp")
	if err := o.writeFile(tmp, 0o644, strings.NewReader(markerText(b.Raw))); err != nil {
		return err
	}
	if err := o.rename(tmp, filepath.Join(dir, completeName)); err != nil {
		return err
	}
	return o.syncDir(dir)
}

// mkdirAll makes the folders from base (which exists) down to p.
func (o ops) mkdirAll(base, p string) error {
	if p == base {
		return nil
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := o.mkdirAll(base, filepath.Dir(p)); err != nil {
		return err
	}
	return o.mkdir(p)
}

// Rollback makes the other slot active again, the one the last Apply
// replaced. That slot must be complete and is hashed in full first.
// dataSchema is the study store's current schema (0: unknown or no store):
// a rollback to firmware that cannot read it is refused with a SchemaError.
// Rolling back twice returns to the newer firmware.
func Rollback(root string, dataSchema int) error {
	_, err := rollback(root, dataSchema, ops{root: root})
	return err
}

func rollback(root string, dataSchema int, o ops) (*Slot, error) {
	o.root = root
	keys, err := TrustedKeys(root)
	if err != nil {
		return nil, err
	}
	unlock, err := lockRoot(root)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cur, err := readPointer(root)
	if err != nil {
		return nil, err
	}
	s, err := openSlot(root, other(cur), keys)
	if err != nil {
		return nil, fmt.Errorf("nothing to roll back to: %w", err)
	}
	if err := checkSchema(s.Manifest, dataSchema); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Dir, err)
	}
	if err := s.Verify(); err != nil {
		return nil, err
	}
	if err := o.switchTo(s.Name); err != nil {
		return nil, fmt.Errorf("%s: activating slot %s: %w", root, s.Name, err)
	}
	return s, nil
}
