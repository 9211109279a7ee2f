package cuda

import (
	"fmt"

	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
)

// Plan is the device memory a model needs, against what the device has.
type Plan struct {
	Weights     int64 // the model file's tensors
	KVCache     int64 // keys and values for Positions positions
	Activations int64 // scratch tensors (an estimate, see Activations)
	Positions   int

	Free, Total uint64 // the device's memory
	// Shared is a GPU that shares the CPU's memory (Jetson): the weights
	// stay in the mapped file, registered with the driver, and count once
	// — in the memory the file's pages take — not as a device copy.
	Shared bool
}

// Reserve is memory a plan leaves free: the driver's and the kernels'
// own (module images, the stream's work queue), and the rest of the
// appliance (the watcher, the OS): 5% of the total, at least 512 MiB.
func (p Plan) Reserve() int64 { return max(512<<20, int64(p.Total)/20) }

// Need is the bytes the model takes on the device.
func (p Plan) Need() int64 { return p.Weights + p.KVCache + p.Activations }

// Fits reports whether Need and Reserve fit in the free memory.
func (p Plan) Fits() bool { return p.Need()+p.Reserve() <= int64(p.Free) }

// Err is nil when the model fits, else an error saying by how much it
// does not.
func (p Plan) Err() error {
	if p.Fits() {
		return nil
	}
	return fmt.Errorf("too little GPU memory for the model: it needs %s (weights %s, key/value cache %s for %d positions, activations %s) plus %s reserve, %s of %s is free",
		gib(p.Need()), gib(p.Weights), gib(p.KVCache), p.Positions, gib(p.Activations), gib(p.Reserve()), gib(int64(p.Free)), gib(int64(p.Total)))
}

// String is a one-line summary.
func (p Plan) String() string {
	verdict := "fits"
	if !p.Fits() {
		verdict = "does NOT fit"
	}
	where := "device copy"
	if p.Shared {
		where = "mapped once, shared with the CPU"
	}
	return fmt.Sprintf("%s: weights %s (%s) + key/value cache %s (%d positions) + activations %s = %s; %s free of %s, %s reserved",
		verdict, gib(p.Weights), where, gib(p.KVCache), p.Positions, gib(p.Activations), gib(p.Need()), gib(int64(p.Free)), gib(int64(p.Total)), gib(p.Reserve()))
}

func gib(n int64) string { return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30)) }

// KVType is the key/value cache type the plan assumes: the commands'
// (models/llama's DefaultCache, which a test holds this to): Q8_0 where
// the heads split into blocks of 32, else F16.
func KVType(t *modelfile.Text) dtype.Type {
	if t.HeadDim()%32 == 0 {
		return dtype.Q8_0
	}
	return dtype.F16
}

// PrefillRows is the most rows a prefill runs at once (a longer prompt
// goes in chunks), which bounds the activations.
const PrefillRows = 2048

// NewPlan sizes a model of weights bytes (its file's tensors) with text
// and vision configs t and v (v nil: no image encoder), a cache of
// positions (0: the model's maximum) in KVType, and Activations. free,
// total and shared describe the device.
func NewPlan(weights int64, t *modelfile.Text, v *modelfile.Vision, positions int, free, total uint64, shared bool) Plan {
	if positions <= 0 {
		positions = t.MaxPositions()
	}
	return Plan{
		Weights: weights, KVCache: KVBytes(t, positions), Activations: Activations(t, v, min(positions, PrefillRows)),
		Positions: positions, Free: free, Total: total, Shared: shared,
	}
}

// WeightBytes is the bytes of f's tensors.
func WeightBytes(f *gguf.File) int64 {
	var n int64
	for i := range f.Tensors {
		n += int64(len(f.Data(&f.Tensors[i])))
	}
	return n
}

// KVBytes is the key and value cache of a decoder for positions, in
// KVType as the GPU stores it (kvCache.rowBytes: Q8_0 with a float32
// scale per 32 values, F16).
func KVBytes(t *modelfile.Text, positions int) int64 {
	k := kvCache{t: KVType(t), hd: t.HeadDim()}
	return 2 * int64(t.BlockCount) * int64(positions) * int64(t.HeadCountKV*k.rowBytes())
}

// Activations estimates the scratch a forward pass of rows prompt rows
// holds at once, in float32: the residual stream, the normed input, q, k,
// v and the attention output (6 rows of the width), the FFN's gate, up and
// product (3 of its width), the last row's logits, and the image
// encoder's own (its patches through the same pieces).
func Activations(t *modelfile.Text, v *modelfile.Vision, rows int) int64 {
	n := int64(rows) * int64(6*t.EmbeddingLength+3*t.FeedForwardLength)
	n += int64(t.VocabSize)
	if v != nil {
		n += int64(v.Patches()+1) * int64(6*v.EmbeddingLength+3*v.FeedForwardLength)
	}
	return 4 * n
}
