package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestLlamaCppLoadsExport is the interoperability check: llama.cpp loads the
// language model that `maira export --llm-only` writes from a converted
// small model and generates from it. llama.cpp comes from node-llama-cpp's
// prebuilt library; MAIRA_LLAMACPP names a folder whose node_modules holds
// it (.ci/run installs one into build/llamacpp). Without it the test skips,
// saying so.
func TestLlamaCppLoadsExport(t *testing.T) {
	dir := os.Getenv("MAIRA_LLAMACPP")
	if dir == "" {
		t.Skip("MAIRA_LLAMACPP is not set: no llama.cpp to check against (see .ci/run)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-llama-cpp")); err != nil {
		t.Skipf("no node-llama-cpp under %s: %v", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	script, err := os.ReadFile("../../scripts/llamacpp-generate.mjs")
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "maira-llamacpp-generate.mjs")
	if err := os.WriteFile(run, script, 0o644); err != nil {
		t.Fatal(err)
	}

	tmp := t.TempDir()
	ck, full, llm := filepath.Join(tmp, "small"), filepath.Join(tmp, "small.gguf"), filepath.Join(tmp, "small-llm.gguf")
	for _, args := range [][]string{
		{"testmodel", "--preset", "small", "-o", ck},
		{"quant", ck, "-o", full},
		{"export", "--llm-only", full, "-o", llm},
	} {
		if code, _, stderr := mairaCLI(args...); code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
	}
	// BOS, then "▁Given", "▁the", "▁current" in LLaMA's vocabulary.
	prompt := []string{"1", "11221", "278", "1857"}
	const n = 8
	cmd := exec.Command(node, append([]string{run, llm, strconv.Itoa(n)}, prompt...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("llama.cpp: %v\n%s", err, out)
	}
	var res struct{ Tokens []int }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("llama.cpp printed %q: %v", out, err)
	}
	if len(res.Tokens) != n {
		t.Fatalf("llama.cpp generated %d tokens, want %d", len(res.Tokens), n)
	}
	for _, id := range res.Tokens {
		if id < 0 || id >= 32207 {
			t.Errorf("token id %d outside the vocabulary", id)
		}
	}
	t.Logf("llama.cpp generated %v", res.Tokens)
}
