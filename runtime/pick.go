package runtime

import "math"

// Picker is a Backend that chooses greedy tokens where the logits are, so
// decoding reads back a few bytes a token instead of the vocabulary's
// logits, and the chosen token feeds the next step without leaving the
// device (maira/runtime/cuda; the CPU implements it too, so one decode
// path runs everywhere).
type Picker interface {
	// Pick queues choosing the greedy token of row 0 of logits, as
	// Argmax chooses it (the lowest index of the largest value, NaN never
	// wins, the margin over the second largest), and keeps it for
	// GatherPicked and Picked.
	Pick(logits Tensor)
	// GatherPicked sets row 0 of dst to table's row of the last Pick's
	// token (Gather with the id where Pick left it).
	GatherPicked(dst Tensor, table Weight)
	// Picked waits for the last Pick and returns its token and margin;
	// finite is false when a logit was NaN or infinite.
	Picked() (id int32, margin float32, finite bool, err error)
}

// StepRecorder is a Backend that can record the ops of a decode step and
// replay them as one unit (a CUDA graph: hundreds of kernels launched by
// one call, the GPU never waiting on the host between them), recording
// the next step ahead while the device computes this one.
type StepRecorder interface {
	// RunStep issues the ops step(pos) issues: directly, or replaying a
	// recording. When next is true it may also record step(pos+1), to
	// replay when called again with the same key (which names the
	// session; its buffers must stay allocated while it steps) and
	// pos+1. step must issue the same ops with the same shapes for every
	// position, and nothing else: a recording runs nothing, and a failed
	// one is run directly. The caller waits for each step's results
	// (Picker.Picked) before the next RunStep.
	RunStep(key any, pos int, next bool, step func(pos int)) error
}

// GreedyDecoder is a Decoder that picks its greedy tokens itself (on its
// backend, through Picker): Generate then never reads logits. Greedy
// reports whether it can (its backend is a Picker).
type GreedyDecoder interface {
	Decoder
	Greedy() bool
	// PrefillPick is Prefill, returning the greedy token of the last row
	// and its margin instead of its logits.
	PrefillPick(x Tensor) (id int32, margin float32, err error)
	// StepPicked appends the token picked last (by PrefillPick or
	// StepPicked) and picks the next.
	StepPicked() (id int32, margin float32, err error)
}

// Pick chooses row 0's greedy token from the tensor's host values.
func (c *CPU) Pick(logits Tensor) {
	x := c.t(logits)
	row := x.data[:x.cols]
	c.pickID, c.pickMargin = Argmax(row)
	c.pickFinite = true
	for _, v := range row {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			c.pickFinite = false
			break
		}
	}
}

// GatherPicked gathers the last Pick's token.
func (c *CPU) GatherPicked(dst Tensor, table Weight) {
	c.Gather(c.View(dst, 0, 1), table, []int32{c.pickID})
}

// Picked returns the last Pick.
func (c *CPU) Picked() (int32, float32, bool, error) {
	return c.pickID, c.pickMargin, c.pickFinite, nil
}
