package hf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"maira/quant/safetensors"
	"maira/quant/vocab"
)

// Checkpoint is an opened Hugging Face model directory.
type Checkpoint struct {
	Dir          string
	Config       *Config
	Weights      *safetensors.Set
	Vocab        *vocab.Vocab  // nil for a checkpoint without a language model
	Preprocessor *Preprocessor // nil for a checkpoint without an image encoder
}

// Open reads a checkpoint directory: config.json, the safetensors weights
// (memory-mapped), the tokenizer when there is a language model and the
// image preprocessor settings when there is an image encoder.
func Open(dir string) (*Checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory (give the checkpoint's folder, with config.json)", dir)
	}
	cfgPath := filepath.Join(dir, "config.json")
	cfg, err := ReadConfig(cfgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no config.json: not a Hugging Face checkpoint directory", dir)
	}
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Dir: dir, Config: cfg}
	if cfg.Text != nil {
		if c.Vocab, err = vocab.ReadDir(dir); err != nil {
			return nil, err
		}
	}
	if cfg.Vision != nil {
		if c.Preprocessor, err = ReadPreprocessor(filepath.Join(dir, "preprocessor_config.json"), cfg.Vision.ImageSize); err != nil {
			return nil, err
		}
	}
	if c.Weights, err = safetensors.Open(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// Close unmaps the weights.
func (c *Checkpoint) Close() error {
	if c.Weights == nil {
		return nil
	}
	return c.Weights.Close()
}
