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
	run, node := llamaCppScript(t)

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
	cmd.Dir = filepath.Dir(run)
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

// TestLlamaCppSameGreedyTokens: the same export --llm-only file gives the
// same greedy tokens in llama.cpp and in `maira generate`, F32 and Q8_0, up
// to the first step where maira's top-two logit margin is below 0.05
// (llama.cpp keeps an F16 KV cache and quantizes activations to 8 bits for
// Q8_0 weights, so near-ties may break differently).
func TestLlamaCppSameGreedyTokens(t *testing.T) {
	run, node := llamaCppScript(t)
	const n = 16
	for _, typ := range []string{"f32", "q8_0"} {
		t.Run(typ, func(t *testing.T) {
			tmp := t.TempDir()
			full, llm := filepath.Join(tmp, "small.gguf"), filepath.Join(tmp, "small-llm.gguf")
			for _, args := range [][]string{
				{"testmodel", "--preset", "small", "--gguf", typ, "-o", full},
				{"export", "--llm-only", full, "-o", llm},
			} {
				if code, _, stderr := mairaCLI(args...); code != 0 {
					t.Fatalf("%v: %s", args, stderr)
				}
			}
			code, stdout, stderr := mairaCLI("generate", "--model", llm, "--prompt", "The cardiomediastinal silhouette is",
				"--max-tokens", strconv.Itoa(n), "--repeat-guard", "0", "--json")
			if code != 0 {
				t.Fatalf("generate: %s", stderr)
			}
			var g generation
			if err := json.Unmarshal([]byte(stdout), &g); err != nil {
				t.Fatal(err)
			}
			args := []string{run, llm, strconv.Itoa(n)}
			for _, id := range g.PromptIDs {
				args = append(args, strconv.Itoa(int(id)))
			}
			cmd := exec.Command(node, args...)
			cmd.Dir = filepath.Dir(run)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("llama.cpp: %v", err)
			}
			var ref struct{ Tokens []int32 }
			if err := json.Unmarshal(out, &ref); err != nil {
				t.Fatalf("llama.cpp printed %q: %v", out, err)
			}
			same := 0
			for i := 0; i < len(g.Tokens) && i < len(ref.Tokens); i++ {
				if g.Tokens[i] != ref.Tokens[i] {
					if g.Margins[i] >= 0.05 {
						t.Fatalf("step %d: maira %d, llama.cpp %d, with maira's margin %.3g >= 0.05\nmaira %v\nllama.cpp %v",
							i, g.Tokens[i], ref.Tokens[i], g.Margins[i], g.Tokens, ref.Tokens)
					}
					break
				}
				same++
				if g.Margins[i] < 0.05 {
					break // the next steps may follow another near-tie
				}
			}
			all := 0
			for all < len(g.Tokens) && all < len(ref.Tokens) && g.Tokens[all] == ref.Tokens[all] {
				all++
			}
			t.Logf("%s: %d steps compared (to the first margin < 0.05), %d of %d tokens identical; maira %v, llama.cpp %v",
				typ, same, all, len(g.Tokens), g.Tokens, ref.Tokens)
			if same == 0 && g.Margins[0] >= 0.05 {
				t.Error("no step compared")
			}
		})
	}
}

// llamaCppScript installs the generation script next to node-llama-cpp and
// returns it with the node binary, or skips the test, saying why.
func llamaCppScript(t *testing.T) (script, node string) {
	t.Helper()
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
	src, err := os.ReadFile("../../scripts/llamacpp-generate.mjs")
	if err != nil {
		t.Fatal(err)
	}
	script = filepath.Join(dir, "maira-llamacpp-generate.mjs")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return script, node
}
