package testmodel

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"maira/quant/convert"
	"maira/quant/hf"
	"maira/quant/safetensors"
	"maira/quant/vocab"
)

// AddedTokens returns MAIRA-2's 207 added tokens: <obj> </obj>, the
// coordinate bins <x0>..<x99> and <y0>..<y99>, <box> </box>, and the image
// placeholders. The image placeholders are marked special (they never appear
// in text); the grounding tokens are not, because grounded reports are
// decoded with them kept.
func AddedTokens() []vocab.Added {
	var a []vocab.Added
	id := int32(32000)
	add := func(s string, special bool) { a = append(a, vocab.Added{ID: id, Content: s, Special: special}); id++ }
	add("<obj>", false)
	add("</obj>", false)
	for i := 0; i < 100; i++ {
		add(fmt.Sprintf("<x%d>", i), false)
	}
	for i := 0; i < 100; i++ {
		add(fmt.Sprintf("<y%d>", i), false)
	}
	add("<box>", false)
	add("</box>", false)
	add("<image>", true)
	add("<prev_im>", true)
	add("<lat_image>", true)
	return a
}

// Options control a generation run.
type Options struct {
	Seed     uint64
	DType    DType
	Workers  int                     // 0: one per CPU
	Progress func(done, total int64) // bytes written so far; may be nil
}

// shardLimit is Hugging Face's default max_shard_size, lowered for small
// models so that every checkpoint has at least two shards and an index.
func shardLimit(total int64) int64 {
	return min(5_000_000_000, (total+1)/2)
}

// WriteHF writes the checkpoint into dir, which must not exist or be empty.
// It is built in a temporary directory beside dir and renamed into place
// when complete, so an interrupted run leaves no half-written checkpoint.
func WriteHF(dir string, p Preset, opt Options) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s: exists and is not empty", dir)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	if err := writeHF(tmp, p, opt); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private
		os.RemoveAll(tmp)
		return err
	}
	os.Remove(dir) // an empty directory may stand in the way of the rename
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

func writeHF(dir string, p Preset, opt Options) error {
	files := map[string][]byte{
		"config.json":              p.ConfigJSON(opt.DType.torch()),
		"preprocessor_config.json": p.PreprocessorJSON(),
		"generation_config.json":   p.GenerationConfigJSON(),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	if err := writeTokenizer(dir, p); err != nil {
		return err
	}

	tensors := p.Tensors()
	var total int64
	for _, t := range tensors {
		total += t.Elements() * opt.DType.size()
	}
	limit := shardLimit(total)
	var shards [][]Tensor
	var size int64
	for _, t := range tensors {
		b := t.Elements() * opt.DType.size()
		if len(shards) == 0 || size+b > limit && size > 0 {
			shards = append(shards, nil)
			size = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], t)
		size += b
	}
	weightMap := map[string]string{}
	var done int64
	for i, shard := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		specs := make([]safetensors.Spec, len(shard))
		for k, t := range shard {
			specs[k] = safetensors.Spec{Name: t.Name, DType: safetensors.DType(opt.DType.safetensors()), Shape: t.Shape}
			weightMap[t.Name] = name
		}
		w, err := safetensors.Create(filepath.Join(dir, name), specs, map[string]string{"format": "pt"})
		if err != nil {
			return err
		}
		for _, t := range shard {
			if err := writeTensor(w, t, opt, func(n int64) {
				done += n
				if opt.Progress != nil {
					opt.Progress(done, total)
				}
			}); err != nil {
				w.Abort()
				return err
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return safetensors.WriteIndex(dir, weightMap, total)
}

// writeTensor generates a tensor in parallel chunks and writes them in order.
func writeTensor(w *safetensors.Writer, t Tensor, opt Options, progress func(int64)) error {
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	g := newGenerator(opt.Seed, t, opt.DType)
	const chunk = 1 << 20
	es := opt.DType.size()
	n := t.Elements()
	bufs := make([][]byte, workers)
	scratch := make([][]float32, workers)
	for off := int64(0); off < n; off += chunk * int64(workers) {
		var wg sync.WaitGroup
		for k := 0; k < workers; k++ {
			start := off + int64(k)*chunk
			if start >= n {
				bufs[k] = bufs[k][:0]
				continue
			}
			m := min(chunk, n-start)
			if int64(cap(bufs[k])) < m*es {
				bufs[k] = make([]byte, chunk*es)
				scratch[k] = make([]float32, chunk)
			}
			bufs[k] = bufs[k][:m*es]
			wg.Add(1)
			go func(k int, start, m int64) {
				defer wg.Done()
				g.encode(bufs[k], start, scratch[k][:m])
			}(k, start, m)
		}
		wg.Wait()
		for k := 0; k < workers; k++ {
			if len(bufs[k]) == 0 {
				continue
			}
			if _, err := w.Write(bufs[k]); err != nil {
				return err
			}
			progress(int64(len(bufs[k])))
		}
	}
	return nil
}

func writeTokenizer(dir string, p Preset) error {
	base, err := vocab.LLaMA()
	if err != nil {
		return err
	}
	return vocab.WriteHFDir(dir, base, AddedTokens(), vocab.TokenizerConfig{
		ChatTemplate: ChatTemplate, Legacy: false, ModelMaxLength: p.MaxPositions, PadToken: "<unk>",
	})
}

// tokenizer returns the vocabulary a converter reads from the checkpoint's
// tokenizer files. It writes them to a scratch folder and reads them back,
// so the direct GGUF path cannot drift from what WriteHF writes.
func tokenizer(p Preset) (*vocab.Vocab, error) {
	dir, err := os.MkdirTemp("", "maira-testmodel-tokenizer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := writeTokenizer(dir, p); err != nil {
		return nil, err
	}
	return vocab.ReadDir(dir)
}

// Source returns the checkpoint as a converter source without writing it:
// the same configuration, tokenizer and values that WriteHF writes.
func Source(p Preset, opt Options) (*convert.Source, error) {
	name := "testmodel-" + p.Name
	cfg, err := hf.ParseConfig(p.ConfigJSON(opt.DType.torch()), name+"/config.json")
	if err != nil {
		return nil, err
	}
	pp, err := hf.ParsePreprocessor(p.PreprocessorJSON(), name+"/preprocessor_config.json", p.ImageSize)
	if err != nil {
		return nil, err
	}
	v, err := tokenizer(p)
	if err != nil {
		return nil, err
	}
	src := &convert.Source{Dir: name, Format: "random (maira testmodel, seed " + fmt.Sprint(opt.Seed) + ")", Config: cfg, Vocab: v, Preprocessor: pp}
	for _, t := range p.Tensors() {
		g := newGenerator(opt.Seed, t, opt.DType)
		n := t.Elements()
		src.Tensors = append(src.Tensors, &convert.SourceTensor{
			Name: t.Name, File: name, DType: opt.DType.safetensors(), Shape: t.Shape,
			Bytes: n * opt.DType.size(),
			Read: func(dst []float32, off int64) error {
				if off < 0 || off+int64(len(dst)) > n {
					return fmt.Errorf("%s: tensor %s: range [%d, %d) outside %d elements", name, t.Name, off, off+int64(len(dst)), n)
				}
				g.fill(dst, off)
				return nil
			},
		})
	}
	return src, nil
}

// WriteGGUF writes the checkpoint straight into a GGUF file with recipe r,
// without the Hugging Face intermediate: the values are those WriteHF writes,
// so converting the WriteHF checkpoint with the same recipe gives the same
// tensors and tokenizer (only general.name and the recorded source differ).
func WriteGGUF(path string, p Preset, r convert.Recipe, opt Options) error {
	src, err := Source(p, opt)
	if err != nil {
		return err
	}
	plan, err := convert.NewPlan(src, r)
	if err != nil {
		return err
	}
	copt := convert.Options{Workers: opt.Workers}
	if opt.Progress != nil {
		copt.Progress = func(pr convert.Progress) { opt.Progress(pr.DoneBytes, pr.TotalBytes) }
	}
	return plan.Write(path, copt)
}
