package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalCLI scores JSONL references and hypotheses through the command,
// as text and JSON, and refuses bad input in one line.
func TestEvalCLI(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	refs := write("refs.jsonl", `{"id": "a", "text": "No pneumothorax. Small left pleural effusion."}
{"id": "b", "text": "The heart is enlarged. No focal consolidation."}
{"id": "c", "text": "Lungs are clear. No acute cardiopulmonary process."}
`)
	hyps := write("hyps.jsonl", `{"id": "a", "text": "Small left pleural effusion. No pneumothorax."}
{"id": "b", "text": "Cardiomegaly. No consolidation."}
{"id": "c", "text": "Lungs are clear."}
`)
	code, stdout, stderr := mairaCLI("eval", "--refs", refs, "--hyps", hyps)
	if code != 0 || !strings.Contains(stdout, "BLEU-4") || !strings.Contains(stdout, "CheXpert") || !strings.Contains(stdout, "3 studies") {
		t.Fatalf("eval: %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = mairaCLI("eval", "--refs", refs, "--hyps", hyps, "--json", "--per-study")
	var res struct {
		Studies  int              `json:"studies"`
		PerStudy []map[string]any `json:"per_study"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || res.Studies != 3 || len(res.PerStudy) != 3 {
		t.Errorf("eval --json: %d %s", code, stdout)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--refs", refs, "--hyps", write("short.jsonl", `{"id": "a", "text": "x"}`+"\n")}, 1, "has no hypothesis"},
		{[]string{"--refs", refs, "--hyps", write("bad.jsonl", "{not json\n")}, 1, "bad.jsonl:1"},
		{[]string{"--refs", refs, "--hyps", write("empty.jsonl", "")}, 1, "empty.jsonl"},
		{[]string{"--refs", refs}, 2, "--hyps"},
	} {
		code, _, stderr := mairaCLI(append([]string{"eval"}, tc.args...)...)
		if code != tc.code || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d (want %d), %q (want %q)", tc.args, code, tc.code, stderr, tc.want)
		}
	}
}

// TestQuantCheck converts a tiny checkpoint and checks the result against
// the bf16 baseline it writes from the source, on two images.
func TestQuantCheck(t *testing.T) {
	dir := t.TempDir()
	ck, imgs := filepath.Join(dir, "ck"), filepath.Join(dir, "imgs")
	os.MkdirAll(imgs, 0o755)
	for _, args := range [][]string{
		{"testmodel", "--preset", "tiny", "-o", ck},
		{"testmodel", "--image", filepath.Join(imgs, "a.png"), "--size", "96x80"},
		{"testmodel", "--image", filepath.Join(imgs, "b.png"), "--size", "80x96", "--seed", "2"},
	} {
		if code, stdout, stderr := mairaCLI(args...); code != 0 {
			t.Fatalf("%v: %s%s", args, stdout, stderr)
		}
	}
	out := filepath.Join(dir, "q.gguf")
	code, stdout, stderr := mairaCLI("quant", ck, "-o", out, "--type", "q8_0", "--check", imgs, "--check-tokens", "6")
	if code != 0 {
		t.Fatalf("quant --check: %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"check: writing the bf16 baseline", "the model's drafts scored against the baseline's, 2 images", "Token agreement", "CheXpert label agreement"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %q in:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "q.check-baseline.gguf")); err == nil {
		t.Error("the baseline was left behind")
	}
}
