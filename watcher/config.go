package watcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the service's configuration: docs/maira-watch.toml is the
// documented example. TOML rather than YAML because a technician editing
// it on a console cannot break it with indentation.
type Config struct {
	Model string `toml:"model"`
	In    string `toml:"in"`
	Out   string `toml:"out"`
	// Data holds the store and the control socket; "" is OUT/.maira.
	Data string `toml:"data"`

	// Poll scans the drop folder every PollInterval instead of listening
	// to inotify (network shares do not send events).
	Poll         bool     `toml:"poll"`
	PollInterval Duration `toml:"poll_interval"`
	// Settle is how long a file's size and modification time must hold
	// still before it counts, unless it was renamed into the folder.
	Settle Duration `toml:"settle"`
	// StudyQuiet is how long a DICOM study waits after its last image
	// arrived, so that frontal and lateral are reported together.
	StudyQuiet Duration `toml:"study_quiet"`
	// Rescan is the period of the full rescan that backs up inotify.
	Rescan Duration `toml:"rescan"`

	Generation Generation `toml:"generation"`
	Outputs    Outputs    `toml:"outputs"`
	Retention  Retention  `toml:"retention"`
	Priors     Priors     `toml:"priors"`
}

// Generation are the report settings.
type Generation struct {
	MaxTokens int    `toml:"max_tokens"` // 0: the model's (300; 450 grounded)
	Grounded  bool   `toml:"grounded"`
	Backend   string `toml:"backend"` // auto, cpu or cuda
	Threads   int    `toml:"threads"` // 0: one per core
	KVCache   string `toml:"kv_cache"`
}

// Outputs chooses the files written per study besides report.json, which
// is always written (the store and exports read it).
type Outputs struct {
	Text bool `toml:"text"` // report.txt
	SR   bool `toml:"sr"`   // report.dcm, a DICOM Basic Text SR (DICOM studies only)
	// Plugins are WebAssembly export plugins (docs/plugins.md) run on each
	// report document; each output is written beside the report.
	Plugins        []string `toml:"plugins"`
	PluginTimeout  Duration `toml:"plugin_timeout"`   // per report and plugin
	PluginMemoryMB int      `toml:"plugin_memory_mb"` // each plugin's memory cap
}

// Retention bounds what the archive keeps and protects the disk.
type Retention struct {
	// ArchiveDays purges archived inputs older than this many days (0:
	// keep by age).
	ArchiveDays int `toml:"archive_days"`
	// ArchiveMaxGB purges the oldest archived inputs beyond this size (0:
	// no budget).
	ArchiveMaxGB float64 `toml:"archive_max_gb"`
	// MinFreeMB pauses intake while the output disk has less free space.
	MinFreeMB int `toml:"min_free_mb"`
}

// Priors passes a patient's latest earlier study (its archived frontal
// image and its draft's findings) as MAIRA-2's prior. Off by default: a
// prior report that is itself an unreviewed draft must be a site's choice.
type Priors struct {
	Enabled bool `toml:"enabled"`
}

// Duration is a time.Duration written as "30s", "5m".
type Duration struct{ time.Duration }

// UnmarshalText reads a duration in Go's syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in Go's syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults is the configuration before the file and the flags.
func Defaults() Config {
	return Config{
		PollInterval: Duration{2 * time.Second},
		Settle:       Duration{5 * time.Second},
		StudyQuiet:   Duration{30 * time.Second},
		Rescan:       Duration{time.Minute},
		Generation:   Generation{Backend: "auto", KVCache: "auto"},
		Outputs:      Outputs{Text: true, SR: true, PluginTimeout: Duration{5 * time.Second}, PluginMemoryMB: 64},
		Retention:    Retention{ArchiveDays: 90, MinFreeMB: 1024},
	}
}

// LoadConfig reads a TOML file over the defaults. Unknown keys are errors:
// a misspelt setting must not be silently ignored.
func LoadConfig(path string) (Config, error) {
	c := Defaults()
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return c, fmt.Errorf("%s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return c, fmt.Errorf("%s: %v", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return c, fmt.Errorf("%s: unknown setting %q", path, und[0].String())
	}
	return c, nil
}

// Check validates the configuration and fills Data.
func (c *Config) Check() error {
	switch {
	case c.Model == "":
		return errors.New("no model file (--model or model =)")
	case c.In == "" || c.Out == "":
		return errors.New("no drop folder or output folder (--in, --out)")
	case c.Settle.Duration < 0 || c.StudyQuiet.Duration < 0 || c.PollInterval.Duration <= 0 || c.Rescan.Duration <= 0:
		return errors.New("settle and study_quiet must be >= 0, poll_interval and rescan > 0")
	case c.Retention.ArchiveDays < 0 || c.Retention.ArchiveMaxGB < 0 || c.Retention.MinFreeMB < 0:
		return errors.New("retention settings must be >= 0")
	case c.Generation.MaxTokens < 0:
		return errors.New("max_tokens must be >= 0")
	case c.Outputs.PluginTimeout.Duration <= 0 || c.Outputs.PluginMemoryMB <= 0 || c.Outputs.PluginMemoryMB > 4096:
		return errors.New("plugin_timeout must be > 0 and plugin_memory_mb 1 to 4096")
	}
	in, err1 := filepath.Abs(c.In)
	out, err2 := filepath.Abs(c.Out)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	c.In, c.Out = in, out
	if rel, err := filepath.Rel(out, in); err == nil && (rel == "." || filepath.IsLocal(rel)) {
		return fmt.Errorf("the drop folder %s is inside the output folder %s", in, out)
	}
	if rel, err := filepath.Rel(in, out); err == nil && filepath.IsLocal(rel) {
		return fmt.Errorf("the output folder %s is inside the drop folder %s", out, in)
	}
	if c.Data == "" {
		c.Data = filepath.Join(out, ".maira")
	}
	if st, err := os.Stat(in); err != nil || !st.IsDir() {
		return fmt.Errorf("drop folder %s: not a folder", in)
	}
	return nil
}
