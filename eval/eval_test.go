package eval

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadBadInput(t *testing.T) {
	for _, c := range []struct {
		name, body, want string
	}{
		{"malformed", "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"b\", \"text\": \n", "f.jsonl:2: malformed JSON"},
		{"not object", "[1, 2]\n", "f.jsonl:1: not an {\"id\", \"text\"} object"},
		{"empty text", "{\"id\": \"a\", \"text\": \"  \"}\n", "f.jsonl:1: id \"a\": empty text"},
		{"no text", "{\"id\": \"a\"}\n", "f.jsonl:1: id \"a\": no \"text\""},
		{"no id", "{\"text\": \"clear\"}\n", "f.jsonl:1: no \"id\""},
		{"empty id", "{\"id\": \"\", \"text\": \"clear\"}\n", "f.jsonl:1: empty \"id\""},
		{"bad id", "{\"id\": [1], \"text\": \"clear\"}\n", "f.jsonl:1: \"id\" must be a string or a number"},
		{"two values", "{\"id\": \"a\", \"text\": \"x\"} {\"id\": \"b\"}\n", "f.jsonl:1: malformed JSON: more than one value"},
		{"empty file", "\n\n", "f.jsonl: no reports"},
		{"line 3", "{\"id\": 1, \"text\": \"a\"}\n\n{\"id\": 2, \"text\": \"\"}\n", "f.jsonl:3: id \"2\": empty text"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadJSONL(strings.NewReader(c.body), "f.jsonl")
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, c.want)
			}
		})
	}
}

func texts(t *testing.T, name, body string) []Text {
	ts, err := ReadJSONL(strings.NewReader(body), name)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestMatch(t *testing.T) {
	refs := texts(t, "refs", `{"id": "a", "text": "no effusion"}
{"id": "b", "text": "small effusion"}
{"id": "b", "text": "small left effusion"}
`)
	for _, c := range []struct{ name, hyps, want string }{
		{"ok", "{\"id\": \"b\", \"text\": \"x\"}\n{\"id\": \"a\", \"text\": \"y\"}\n", ""},
		{"unmatched hyp", "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"b\", \"text\": \"y\"}\n{\"id\": \"c\", \"text\": \"z\"}\n",
			"hyps:3: id \"c\" has no reference in refs (refs has 2 studies, hyps has 3)"},
		{"missing hyp", "{\"id\": \"a\", \"text\": \"x\"}\n", "refs:2: id \"b\" has no hypothesis in hyps (refs has 2 studies, hyps has 1)"},
		{"duplicate hyp", "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"a\", \"text\": \"y\"}\n", "hyps:2: id \"a\" appears twice in hyps (first at hyps:1)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := Match(refs, texts(t, "hyps", c.hyps), "refs", "hyps")
			if c.want == "" {
				if err != nil || len(st) != 2 || st[0].ID != "b" || len(st[0].Refs) != 2 {
					t.Errorf("%v %+v", err, st)
				}
				return
			}
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestWatchFolder(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "reports/2026-11-27/S1/report.json", `{"schema": "maira.report/v1", "study_id": "1.2.3", "findings": "The lungs are clear."}`)
	write(t, dir, "reports/2026-11-27/S2/report.json", `{"schema": "maira.report/v1", "study_id": "1.2.4", "findings": "Small left effusion."}`)
	ts, err := Load(dir)
	if err != nil || len(ts) != 2 || ts[0].ID != "1.2.3" || ts[1].Text != "Small left effusion." {
		t.Fatalf("%v %+v", err, ts)
	}
	write(t, dir, "reports/2026-11-27/S3/report.json", `{"study_id": "1.2.5", "findings": ""}`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "S3/report.json: study \"1.2.5\": empty findings") {
		t.Errorf("empty findings: %v", err)
	}
	write(t, dir, "reports/2026-11-27/S3/report.json", `{"study_id": `)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "malformed report.json") {
		t.Errorf("malformed: %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a maira watch output folder") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestEvaluate(t *testing.T) {
	studies := []Study{
		{ID: "1", Hyp: "Small left pleural effusion. No pneumothorax.", Refs: []string{"Small left pleural effusion, no pneumothorax."}},
		{ID: "2", Hyp: "The heart is enlarged.", Refs: []string{"Moderate cardiomegaly."}},
		{ID: "3", Hyp: "The lungs are clear.", Refs: []string{"The lungs are clear. No acute process."}},
		{ID: "4", Hyp: "Mild pulmonary edema.", Refs: []string{"No pulmonary edema."}},
	}
	r1 := Evaluate(studies, Options{Resamples: 200})
	r2 := Evaluate(studies, Options{Resamples: 200})
	if len(r1.Metrics) != 11 || len(r1.PerStudy) != 4 || len(r1.F1PerObs) != 14 {
		t.Fatalf("shape: %+v", r1)
	}
	for i, m := range r1.Metrics {
		if m != r2.Metrics[i] {
			t.Errorf("not reproducible: %+v vs %+v", m, r2.Metrics[i])
		}
		if math.IsNaN(m.Value) || m.Lo > m.Hi || m.Value < 0 {
			t.Errorf("%s: %+v", m.Name, m)
		}
	}
	// Study 1 is a perfect lexical match after tokenization.
	if s := r1.PerStudy[0].Scores; s["BLEU-1"] < 0.999 || s["ROUGE-L"] != 1 || s["METEOR"] < 0.99 {
		t.Errorf("identical study: %v", s)
	}
	// CheXpert: Cardiomegaly TP (study 2), Pleural Effusion TP (1), Edema FP (4).
	f := map[string]float64{}
	for _, s := range r1.F1PerObs {
		f[s.Name] = s.Value
	}
	if f["Cardiomegaly"] != 1 || f["Pleural Effusion"] != 1 || f["Edema"] != 0 {
		t.Errorf("per-observation F1: %v", f)
	}
	for _, m := range r1.Metrics {
		if m.Name == MicroF1_5 && math.Abs(m.Value-0.8) > 1e-12 { // TP2 FP1 FN0
			t.Errorf("micro-F1 (5) = %g", m.Value)
		}
	}
}
