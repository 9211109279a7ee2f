package main

import (
	"path/filepath"
	"strings"
	"testing"

	"maira/quant/convert"
	"maira/quant/testmodel"
	"maira/runtime/cuda"
)

func TestDoctor(t *testing.T) {
	p, err := testmodel.Lookup("tiny")
	if err != nil {
		t.Fatal(err)
	}
	r, err := convert.ParseRecipe("q8_0", "", "")
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := testmodel.WriteGGUF(model, p, r, testmodel.Options{Seed: 1, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	_, gpuErr := cuda.Probe(0)
	gpu := gpuErr == nil
	// Why auto chose the CPU: the build has no CUDA, or (-tags cuda) the
	// fallback's one line.
	autoWhy := "(auto: this maira was built without CUDA support"
	if cuda.Built {
		autoWhy = "(backend auto: using the CPU, not CUDA: "
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string // in stdout (or stderr for usage errors)
		// with a GPU instead
		gpuCode int
		gpuWant []string
	}{
		{"auto", []string{"doctor"}, 0,
			[]string{"backend: cpu: ", autoWhy, "gpu: none: ", "cpu: ", " kernels "},
			0, []string{"backend: cuda: ", "gpu: ", "compute capability", "driver: CUDA "}},
		{"cpu asked", []string{"doctor", "--backend", "cpu"}, 0,
			[]string{"backend: cpu: ", "(asked for)", "gpu: "},
			0, []string{"backend: cpu: ", "(asked for)", "gpu memory: "}},
		{"cuda asked", []string{"doctor", "--backend", "cuda"}, 1,
			[]string{"backend: none: ", "cuda", "gpu: none: "},
			0, []string{"backend: cuda: "}},
		{"model", []string{"doctor", "--model", model}, 0,
			[]string{"model: " + model + ": no GPU, it runs on the CPU"},
			0, []string{"model: " + model + ": fits: weights "}},
		{"bad backend", []string{"doctor", "--backend", "tpu"}, 2, []string{`--backend "tpu"`}, 2, []string{`--backend "tpu"`}},
		{"argument", []string{"doctor", "x"}, 2, []string{"no arguments"}, 2, []string{"no arguments"}},
	} {
		code, stdout, stderr := mairaCLI(c.args...)
		want, wantCode := c.want, c.code
		if gpu {
			want, wantCode = c.gpuWant, c.gpuCode
		}
		if code != wantCode {
			t.Errorf("%s: exit %d, want %d\n%s%s", c.name, code, wantCode, stdout, stderr)
		}
		for _, w := range want {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%s: output lacks %q:\n%s%s", c.name, w, stdout, stderr)
			}
		}
	}
}
