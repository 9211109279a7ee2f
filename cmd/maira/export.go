package main

import (
	"fmt"
	"io"
	"strings"

	"maira/quant/gguf"
	"maira/quant/modelfile"
)

func init() {
	commands["export"] = command{
		summary: "write the language model of a maira file as a plain llama GGUF (for llama.cpp)",
		run:     runExport,
	}
}

func runExport(args []string, stdout, stderr io.Writer) error {
	c := newCLI("export", "--llm-only IN.gguf -o OUT.gguf\n\n"+
		"Writes the language model alone as a llama GGUF that llama.cpp loads: the same tensors,\n"+
		"byte for byte, with llama.cpp's metadata and tokenizer.", stdout)
	llmOnly := c.Bool("llm-only", false, "export the language model (the only export there is)")
	out := c.String("o", "", "output GGUF file")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one IN.gguf, got %d arguments", len(pos))
	}
	if !*llmOnly {
		return usagef("say --llm-only (the language model is the only part llama.cpp runs)")
	}
	if *out == "" {
		return usagef("-o OUT.gguf is required")
	}
	n, size, err := exportLLM(pos[0], *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: llama, %d tensors, %s\n", *out, n, humanBytes(size))
	return nil
}

// exportLLM copies the language model of in to a llama GGUF at out.
func exportLLM(in, out string) (tensors int, size int64, err error) {
	f, err := gguf.Open(in)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h, err := modelfile.Read(f)
	if err != nil {
		return 0, 0, err
	}
	if err := modelfile.Check(f, h); err != nil {
		return 0, 0, err
	}
	w, err := gguf.Create(out)
	if err != nil {
		return 0, 0, err
	}
	defer w.Abort() // a no-op once Close has succeeded
	for _, kv := range f.KVs {
		k := kv.Key
		switch {
		case k == modelfile.KeyArchitecture:
			err = w.AddKV(k, "llama")
		case k == modelfile.KeyAlignment:
			continue // the writer records its own alignment
		case strings.HasPrefix(k, "general."), strings.HasPrefix(k, "llama."), strings.HasPrefix(k, "tokenizer."):
			err = w.AddKV(k, kv.Value)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	var keep []*gguf.TensorInfo
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if strings.HasPrefix(t.Name, "v.") || strings.HasPrefix(t.Name, "mm.") {
			continue
		}
		if err := w.AddTensor(t.Name, t.Type, t.Dims); err != nil {
			return 0, 0, err
		}
		keep = append(keep, t)
	}
	for _, t := range keep {
		if _, err := w.Write(f.Data(t)); err != nil {
			return 0, 0, err
		}
	}
	if size, err = w.TotalSize(); err != nil {
		return 0, 0, err
	}
	if err := w.Close(); err != nil {
		return 0, 0, err
	}
	return len(keep), size, nil
}
