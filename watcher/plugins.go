package watcher

import (
	"context"
	"path/filepath"
	"strings"

	"maira/firmware/plugin"
)

// loadPlugins compiles the configured export plugins once. One that cannot
// be loaded is logged and left out: site code never stops the box.
func (s *Service) loadPlugins() {
	lim := plugin.Limits{Timeout: s.cfg.Outputs.PluginTimeout.Duration, MemoryPages: uint32(s.cfg.Outputs.PluginMemoryMB) * 16}
	for _, path := range s.cfg.Outputs.Plugins {
		p, err := plugin.Load(context.Background(), path, lim)
		if err != nil {
			s.log.Error("export plugin not loaded; reports go on without it", "plugin", path, "error", err.Error())
			continue
		}
		s.plugins = append(s.plugins, p)
		s.log.Info("export plugin loaded", "plugin", p.Name())
	}
}

// closePlugins releases the compiled plugins.
func (s *Service) closePlugins() {
	for _, p := range s.plugins {
		p.Close(context.Background())
	}
}

// runPlugins runs every plugin on a report document and adds each output
// to the report's files as STEM.EXT (the plugin file's stem). A plugin
// that fails, times out or runs out of memory is logged; the report is
// written without its output.
func (s *Service) runPlugins(key string, reportJSON []byte, files map[string][]byte) {
	for _, p := range s.plugins {
		out, err := p.Export(context.Background(), reportJSON)
		if err != nil {
			s.log.Warn("export plugin failed; the report is written without its output", "study", key, "plugin", p.Name(), "error", err.Error())
			s.emit(Event{Kind: "plugin-failed", Study: key, File: p.Name(), Message: err.Error()})
			continue
		}
		name := strings.TrimSuffix(filepath.Base(p.Name()), ".wasm") + "." + out.Ext
		if _, taken := files[name]; taken || strings.HasPrefix(name, "report.") {
			name = "plugin-" + name
		}
		files[name] = out.Data
	}
}
