package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"maira/firmware"
	"maira/watcher"
)

func init() {
	commands["firmware"] = command{
		summary: "signed firmware bundles: keygen, trust, pack, verify, apply, status, rollback",
		run:     runFirmware,
	}
}

var firmwareSubcommands = []struct {
	name, summary string
	run           func(args []string, stdout io.Writer) error
}{
	{"keygen", "make a signing key pair (NAME and NAME.pub)", runFirmwareKeygen},
	{"trust", "add a public key to the keys a box accepts", runFirmwareTrust},
	{"pack", "write a signed bundle (.mfw)", runFirmwarePack},
	{"verify", "check a bundle against a box's trusted keys", runFirmwareVerify},
	{"apply", "install a bundle in the inactive slot and activate it", runFirmwareApply},
	{"status", "show the slots, their versions and the trusted keys", runFirmwareStatus},
	{"rollback", "make the previous slot active again", runFirmwareRollback},
}

func runFirmware(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, "Usage: maira firmware SUBCOMMAND [arguments]\n\nSubcommands:")
		for _, s := range firmwareSubcommands {
			fmt.Fprintf(stdout, "  %-9s %s\n", s.name, s.summary)
		}
		fmt.Fprintln(stdout, "\nRun 'maira firmware SUBCOMMAND -h' for its flags; docs/firmware.md has the whole story.")
		if len(args) == 0 {
			return usagef("a subcommand is required")
		}
		return nil
	}
	for _, s := range firmwareSubcommands {
		if s.name == args[0] {
			return s.run(args[1:], stdout)
		}
	}
	return usagef("unknown subcommand %q (run 'maira firmware help')", args[0])
}

// dataSchema resolves --data and --data-schema to the schema to check
// against: --data-schema wins (tests, and a box whose data folder cannot
// be read); 0 means unknown, and the check is skipped with a note.
func dataSchema(dataDir string, explicit int, stdout io.Writer) (int, error) {
	if explicit < 0 {
		return 0, usagef("--data-schema must be >= 0")
	}
	if explicit > 0 {
		return explicit, nil
	}
	if dataDir == "" {
		fmt.Fprintln(stdout, "note: the study store's schema was not checked (give --data DIR)")
		return 0, nil
	}
	n, err := watcher.ReadStoreSchema(dataDir)
	if err != nil {
		return 0, fmt.Errorf("%s: reading the study store's schema: %w", dataDir, err)
	}
	return n, nil
}

func requireRoot(root string) error {
	if root == "" {
		return usagef("--root DIR is required")
	}
	return nil
}

func runFirmwareKeygen(args []string, stdout io.Writer) error {
	c := newCLI("firmware keygen", "-o DIR [--name NAME]\n\n"+
		"Writes a new Ed25519 signing key to DIR/NAME (mode 0600; keep it off the boxes and\n"+
		"the sticks) and its public key to DIR/NAME.pub (give it to 'maira firmware trust').\n"+
		"Both are PEM text holding the raw 32-byte key. Existing files are never replaced.", stdout)
	out := c.String("o", "", "the folder to write the key pair in")
	name := c.String("name", "maira-firmware", "the key's file name")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %q", pos)
	}
	if *out == "" {
		return usagef("-o DIR is required")
	}
	id, err := firmware.GenerateKeyPair(*out, *name)
	if err != nil {
		return err
	}
	p := filepath.Join(*out, *name)
	fmt.Fprintf(stdout, "key %s: wrote %s (secret) and %s.pub\n", id, p, p)
	return nil
}

func runFirmwareTrust(args []string, stdout io.Writer) error {
	c := newCLI("firmware trust", "KEY.pub --root DIR\n\n"+
		"Adds a public key to DIR/keys, the keys this box accepts bundles from. Done once when\n"+
		"the box is provisioned: the keys live on the box, never on the stick.", stdout)
	root := c.String("root", "", "the firmware root (e.g. /var/lib/maira/firmware)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one public key file, got %d arguments", len(pos))
	}
	if err := requireRoot(*root); err != nil {
		return err
	}
	if err := os.MkdirAll(*root, 0o755); err != nil {
		return err
	}
	id, err := firmware.Trust(*root, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trusted key %s (%s)\n", id, filepath.Join(*root, "keys", id+".pub"))
	return nil
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func runFirmwarePack(args []string, stdout io.Writer) error {
	c := newCLI("firmware pack", "--key KEY --version V [--model M.gguf] [--plugin P.wasm]... [--config C.toml] [--binary B] -o BUNDLE.mfw\n\n"+
		"Writes a bundle signed with KEY: a manifest (version, time, each file's role, size and\n"+
		"SHA-256) and the files compressed with zstd. Files go to model/, plugins/, config/ and\n"+
		"bin/ in the slot, under their own names.", stdout)
	key := c.String("key", "", "the signing key (from keygen)")
	version := c.String("version", "", "the firmware version, MAJOR.MINOR.PATCH")
	model := c.String("model", "", "the model file (.gguf)")
	config := c.String("config", "", "the watch configuration (TOML)")
	binary := c.String("binary", "", "the maira binary")
	var plugins listFlag
	c.Var(&plugins, "plugin", "a WebAssembly plugin (.wasm); repeat for several")
	schema := c.Int("store-schema", 1, "the study-store schema this firmware writes")
	schemaMax := c.Int("store-schema-max", 0, "the newest study-store schema it can read (default: --store-schema)")
	out := c.String("o", "", "the bundle to write")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %q", pos)
	}
	switch {
	case *key == "":
		return usagef("--key KEY is required")
	case *version == "":
		return usagef("--version V is required")
	case *out == "":
		return usagef("-o BUNDLE.mfw is required")
	case *schema < 1:
		return usagef("--store-schema must be >= 1")
	case *schemaMax != 0 && *schemaMax < *schema:
		return usagef("--store-schema-max must be >= --store-schema")
	}
	var files []firmware.PackFile
	add := func(src string, role firmware.Role) {
		if src != "" {
			files = append(files, firmware.PackFile{Src: src, Role: role})
		}
	}
	add(*model, firmware.RoleModel)
	add(*config, firmware.RoleConfig)
	for _, p := range plugins {
		add(p, firmware.RolePlugin)
	}
	add(*binary, firmware.RoleBinary)
	if len(files) == 0 {
		return usagef("nothing to pack: give --model, --config, --plugin or --binary")
	}
	priv, err := firmware.ReadPrivateKey(*key)
	if err != nil {
		return err
	}
	m, err := firmware.Pack(*out, priv, firmware.PackOptions{
		Version: *version, StoreSchema: *schema, StoreSchemaMax: *schemaMax, Files: files,
	})
	if err != nil {
		return err
	}
	st, _ := os.Stat(*out)
	var size int64
	if st != nil {
		size = st.Size()
	}
	fmt.Fprintf(stdout, "wrote %s: firmware %s, %d files, %d bytes (%d uncompressed), signed by key %s\n",
		*out, m.Version, len(m.Files), size, m.TotalSize(), m.KeyID)
	return nil
}

func printManifest(w io.Writer, m *firmware.Manifest) {
	fmt.Fprintf(w, "firmware %s, created %s, store schema %d", m.Version, m.Created.Format("2006-01-02 15:04 UTC"), m.StoreSchema)
	if m.ReadsSchema() != m.StoreSchema {
		fmt.Fprintf(w, " (reads up to %d)", m.ReadsSchema())
	}
	fmt.Fprintf(w, ", signed by key %s\n", m.KeyID)
	for _, f := range m.Files {
		fmt.Fprintf(w, "  %-7s %s  %d bytes  sha256 %s\n", f.Role, f.Path, f.Size, f.SHA256)
	}
}

func runFirmwareVerify(args []string, stdout io.Writer) error {
	c := newCLI("firmware verify", "BUNDLE.mfw (--root DIR | --pub KEY.pub)\n\n"+
		"Checks a bundle without installing it: the signature against the box's trusted keys\n"+
		"(or one public key), the manifest, and every file decompressed and hashed.", stdout)
	root := c.String("root", "", "the firmware root whose keys/ to trust")
	pub := c.String("pub", "", "a public key to trust instead of --root's (on a packing machine)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one bundle, got %d arguments", len(pos))
	}
	var keys []firmware.TrustedKey
	switch {
	case *pub != "" && *root != "":
		return usagef("give --root or --pub, not both")
	case *pub != "":
		k, err := firmware.ReadPublicKey(*pub)
		if err != nil {
			return err
		}
		keys = []firmware.TrustedKey{{ID: firmware.KeyID(k), Key: k}}
	case *root != "":
		if keys, err = firmware.TrustedKeys(*root); err != nil {
			return err
		}
		if len(keys) == 0 {
			return fmt.Errorf("%s: no trusted keys in %s (run maira firmware trust KEY.pub --root %s)", pos[0], filepath.Join(*root, "keys"), *root)
		}
	default:
		return usagef("--root DIR (or --pub KEY.pub) is required")
	}
	m, err := firmware.VerifyBundle(pos[0], keys)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: good\n", pos[0])
	printManifest(stdout, m)
	return nil
}

func runFirmwareApply(args []string, stdout io.Writer) error {
	c := newCLI("firmware apply", "BUNDLE.mfw --root DIR [--allow-downgrade] [--data DIR]\n\n"+
		"Installs a bundle: checks it whole, writes it to the inactive slot, fsyncs and hashes it\n"+
		"again from disk, then switches DIR/active to it atomically. The previous slot stays for\n"+
		"'maira firmware rollback'. Restart maira watch to run the new firmware.", stdout)
	root := c.String("root", "", "the firmware root")
	allow := c.Bool("allow-downgrade", false, "install a version older than the active one, or the same again")
	data := c.String("data", "", "the watch data folder, whose study-store schema the firmware must read")
	schema := c.Int("data-schema", 0, "the study store's schema, instead of reading it from --data")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one bundle, got %d arguments", len(pos))
	}
	if err := requireRoot(*root); err != nil {
		return err
	}
	ds, err := dataSchema(*data, *schema, stdout)
	if err != nil {
		return err
	}
	prev, _ := firmware.Active(*root)
	s, err := firmware.Apply(*root, pos[0], firmware.ApplyOptions{AllowDowngrade: *allow, DataSchema: ds})
	if err != nil {
		return err
	}
	was := "nothing before"
	if prev != nil {
		was = fmt.Sprintf("was %s in slot %s, kept for rollback", prev.Version, prev.Name)
	}
	fmt.Fprintf(stdout, "installed firmware %s in slot %s and made it active (%s); restart maira watch to use it\n", s.Version, s.Name, was)
	return nil
}

func runFirmwareStatus(args []string, stdout io.Writer) error {
	c := newCLI("firmware status", "--root DIR [--json] [--verify]", stdout)
	root := c.String("root", "", "the firmware root")
	asJSON := c.Bool("json", false, "print JSON")
	verify := c.Bool("verify", false, "also hash every file of the complete slots")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %q", pos)
	}
	if err := requireRoot(*root); err != nil {
		return err
	}
	st, err := firmware.ReadStatus(*root, *verify)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "root    %s\n", st.Root)
	keys := strings.Join(st.TrustedKeys, ", ")
	if keys == "" {
		keys = "(none: run maira firmware trust)"
	}
	fmt.Fprintf(stdout, "keys    %s\n", keys)
	if st.Problem != "" {
		fmt.Fprintf(stdout, "problem %s\n", st.Problem)
	}
	for _, s := range st.Slots {
		mark := "        "
		if s.Active {
			mark = "active  "
		}
		if !s.Complete {
			fmt.Fprintf(stdout, "slot %s  %s%s\n", s.Name, mark, s.Problem)
			continue
		}
		fmt.Fprintf(stdout, "slot %s  %sfirmware %s, created %s, store schema %d, key %s, %d files",
			s.Name, mark, s.Version, s.Created.Format("2006-01-02 15:04 UTC"), s.StoreSchema, s.KeyID, len(s.Files))
		if s.Verified != nil {
			if *s.Verified {
				fmt.Fprint(stdout, ", hashes good")
			} else {
				fmt.Fprintf(stdout, ", DAMAGED: %s", s.Problem)
			}
		}
		fmt.Fprintln(stdout)
	}
	if st.Active == "" {
		fmt.Fprintln(stdout, "no firmware is active")
	}
	if *verify {
		var bad []string
		for _, s := range st.Slots {
			if s.Verified != nil && !*s.Verified {
				bad = append(bad, s.Name)
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return fmt.Errorf("%s: slot %s failed verification", *root, strings.Join(bad, ", "))
		}
	}
	return nil
}

func runFirmwareRollback(args []string, stdout io.Writer) error {
	c := newCLI("firmware rollback", "--root DIR [--data DIR | --data-schema N]\n\n"+
		"Makes the other slot (the firmware the last apply replaced) active again, after hashing\n"+
		"its files. Refused if that firmware cannot read the study store's current schema.\n"+
		"Rolling back twice returns to the newer firmware.", stdout)
	root := c.String("root", "", "the firmware root")
	data := c.String("data", "", "the watch data folder, whose study-store schema is checked")
	schema := c.Int("data-schema", 0, "the study store's schema, instead of reading it from --data")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %q", pos)
	}
	if err := requireRoot(*root); err != nil {
		return err
	}
	ds, err := dataSchema(*data, *schema, stdout)
	if err != nil {
		return err
	}
	prev, err := firmware.Active(*root)
	if err != nil && errors.Is(err, firmware.ErrNoFirmware) {
		return err
	}
	if err := firmware.Rollback(*root, ds); err != nil {
		return err
	}
	s, err := firmware.Active(*root)
	if err != nil {
		return err
	}
	from := ""
	if prev != nil {
		from = fmt.Sprintf(" (from %s in slot %s)", prev.Version, prev.Name)
	}
	fmt.Fprintf(stdout, "rolled back to firmware %s in slot %s%s; restart maira watch to use it\n", s.Version, s.Name, from)
	return nil
}
