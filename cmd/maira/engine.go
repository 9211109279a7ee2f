package main

import (
	"fmt"
	"os"
	"strings"

	"maira/internal/filehash"
	"maira/models/draft"
	"maira/models/llama"
	"maira/quant/dtype"
	"maira/quant/modelfile"
	"maira/runtime"
	_ "maira/runtime/cuda" // registers --backend cuda
)

// version is the build's version, set with -ldflags "-X main.version=...".
var version = "dev"

// engineFlags are the flags of every command that runs the model.
type engineFlags struct {
	model   *string
	backend *string
	threads *int
	kvCache *string
}

func addEngineFlags(c *cli) engineFlags {
	return engineFlags{
		model:   c.String("model", "", "model file (a GGUF from maira quant)"),
		backend: c.String("backend", "auto", "compute backend: auto, cpu or cuda"),
		threads: c.Int("threads", 0, "CPU threads (default: one per core)"),
		kvCache: c.String("kv-cache", "auto", "key/value cache type: q8_0, f16, f32 (larger, closer to exact), or auto (q8_0 where the model's heads split into blocks of 32, else f16)"),
	}
}

// backend opens the backend the flags ask for.
func (f engineFlags) open() (runtime.Backend, error) {
	switch *f.backend {
	case "auto", "cpu", "cuda":
	default:
		return nil, usagef("--backend %q: want auto, cpu or cuda", *f.backend)
	}
	if *f.model == "" {
		return nil, usagef("--model M.gguf is required")
	}
	if _, err := f.cache(nil); err != nil {
		return nil, err
	}
	b, note, err := runtime.OpenWith(runtime.OpenOptions{Name: *f.backend, Threads: *f.threads, Model: *f.model})
	if note != "" {
		// auto fell back to the CPU: one line saying why.
		fmt.Fprintln(os.Stderr, "maira: "+note)
	}
	return b, err
}

// cache returns the --kv-cache type for a model of text config c (nil:
// only check the flag).
func (f engineFlags) cache(c *modelfile.Text) (dtype.Type, error) {
	if *f.kvCache == "auto" {
		if c == nil {
			return dtype.F16, nil
		}
		return llama.DefaultCache(c), nil
	}
	for _, t := range llama.CacheTypes {
		if t.String() == *f.kvCache {
			return t, nil
		}
	}
	return 0, usagef("--kv-cache %q: want auto, q8_0, f16 or f32", *f.kvCache)
}

// engine loads the model for drafting reports.
func (f engineFlags) engine() (*draft.Engine, runtime.Backend, error) {
	b, err := f.open()
	if err != nil {
		return nil, nil, err
	}
	e, err := draft.Open(*f.model, b, filehash.DefaultCache(), "maira "+version)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	e.Cache, _ = f.cache(e.Model.Header.Text) // checked by open
	return e, b, nil
}

// peakRSS returns the process's peak resident memory in bytes (VmHWM).
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}
