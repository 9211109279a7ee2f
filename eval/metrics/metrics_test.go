package metrics

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

func words(s string) []string { return strings.Fields(s) }

func near(got, want, rel float64) bool {
	if want == 0 {
		return math.Abs(got) <= rel
	}
	return math.Abs(got-want) <= rel*math.Abs(want)
}

// The values pycocoevalcap's documentation and test suite publish for
// hypothesis "this is a good test" against two references.
func TestPublishedExample(t *testing.T) {
	hyp := [][]string{words("this is a good test")}
	refs := [][][]string{{words("this is a test"), words("this is also a test")}}
	bleu, _ := BLEU(hyp, refs)
	for k, want := range []float64{0.8, 0.632455, 0.5108729, 0.0000903602} {
		if !near(bleu[k], want, 1e-5) {
			t.Errorf("BLEU-%d = %.10g, want %g", k+1, bleu[k], want)
		}
	}
	if r := ROUGEL(hyp[0], refs[0]); !near(r, 0.9070631, 1e-6) {
		t.Errorf("ROUGE-L = %.10g, want 0.9070631", r)
	}
	met, _, _ := Meteor{}.Corpus(hyp, refs)
	if !near(met, 0.44434387, 1e-7) {
		t.Errorf("METEOR = %.10g, want 0.44434387", met)
	}
}

type pair struct {
	ID   string   `json:"id"`
	Hyp  string   `json:"hyp"`
	Refs []string `json:"refs"`
}

type expected struct {
	Corpus struct {
		BLEU   []float64 `json:"bleu"`
		RougeL float64   `json:"rouge_l"`
		CIDEr  float64   `json:"cider"`
	} `json:"corpus"`
	PerStudy map[string]struct {
		BLEU   []float64 `json:"bleu"`
		RougeL float64   `json:"rouge_l"`
		CIDEr  float64   `json:"cider"`
	} `json:"per_study"`
}

// TestPycocoevalcapValues holds BLEU, ROUGE-L and CIDEr-D to the values
// pycocoevalcap's Python scorers give on testdata/pairs.jsonl
// (testdata/README.md says how they were produced).
func TestPycocoevalcapValues(t *testing.T) {
	f, err := os.Open("testdata/pairs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pairs []pair
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p pair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, p)
	}
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp expected
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	var hyps [][]string
	var refs [][][]string
	for _, p := range pairs {
		hyps = append(hyps, words(p.Hyp))
		var rs [][]string
		for _, r := range p.Refs {
			rs = append(rs, words(r))
		}
		refs = append(refs, rs)
	}
	const rel = 1e-9
	bleu, bleuPer := BLEU(hyps, refs)
	for k := range bleu {
		if !near(bleu[k], exp.Corpus.BLEU[k], rel) {
			t.Errorf("corpus BLEU-%d = %.17g, want %.17g", k+1, bleu[k], exp.Corpus.BLEU[k])
		}
	}
	cider, ciderPer := CIDErD(hyps, refs)
	if !near(cider, exp.Corpus.CIDEr, rel) {
		t.Errorf("corpus CIDEr = %.17g, want %.17g", cider, exp.Corpus.CIDEr)
	}
	var rsum float64
	for i, p := range pairs {
		e := exp.PerStudy[p.ID]
		for k := 0; k < 4; k++ {
			if !near(bleuPer[i][k], e.BLEU[k], rel) {
				t.Errorf("%s BLEU-%d = %.17g, want %.17g", p.ID, k+1, bleuPer[i][k], e.BLEU[k])
			}
		}
		r := ROUGEL(hyps[i], refs[i])
		rsum += r
		if !near(r, e.RougeL, rel) {
			t.Errorf("%s ROUGE-L = %.17g, want %.17g", p.ID, r, e.RougeL)
		}
		if !near(ciderPer[i], e.CIDEr, rel) {
			t.Errorf("%s CIDEr = %.17g, want %.17g", p.ID, ciderPer[i], e.CIDEr)
		}
	}
	if r := rsum / float64(len(pairs)); !near(r, exp.Corpus.RougeL, rel) {
		t.Errorf("corpus ROUGE-L = %.17g, want %.17g", r, exp.Corpus.RougeL)
	}
	if len(pairs) < 30 {
		t.Errorf("only %d pairs", len(pairs))
	}
}

func TestTokenize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"The lungs are clear.", "the lungs are clear"},
		{"No pleural effusion, pneumothorax, or consolidation.", "no pleural effusion pneumothorax or consolidation"},
		{"A 1.5 cm nodule (left upper lobe); CT advised!", "a 1.5 cm nodule -lrb- left upper lobe -rrb- ct advised"},
		{"[see image 4]", "-lsb- see image 4 -rsb-"},
		{"Heart size: normal -- stable.", "heart size normal stable"},
		{"The patient's ET tube doesn't move.", "the patient 's et tube does n't move"},
		{"\"Clear\" lungs...", "clear lungs"},
		{"Left-sided effusion, e.g. small.", "left-sided effusion e.g. small"},
		{"1,000 ml drained?", "1,000 ml drained"},
		{"50% collapse", "50 % collapse"},
		{"Lines:\nnone", "lines none"},
		{"", ""},
		{" . , ", ""},
	} {
		if got := TokenizeString(c.in); got != c.want {
			t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// METEOR's alignment: identical texts score near 1 (one chunk, no penalty),
// stem matches count 0.6, reordering costs chunks.
func TestMeteorAlignment(t *testing.T) {
	m := Meteor{}
	same := m.Segment(words("small left pleural effusion"), [][]string{words("small left pleural effusion")})
	if s := same.Score(); !near(s, 1, 1e-12) || same.Chunks != 1 {
		t.Errorf("identical: score %g chunks %d", s, same.Chunks)
	}
	st := m.Segment(words("effusions"), [][]string{words("effusion")})
	if st.TestContent[modStem] != 1 || st.TestContent[modExact] != 0 {
		t.Errorf("stem match not found: %+v", st)
	}
	sw := m.Segment(words("effusion pleural"), [][]string{words("pleural effusion")})
	if sw.Chunks != 2 || sw.TestMatches != 2 {
		t.Errorf("swap: %+v", sw)
	}
	if s := m.Segment(words("no"), [][]string{words("pneumothorax")}).Score(); s != 0 {
		t.Errorf("no match: %g", s)
	}
	// Repeated words: the alignment takes the order that gives fewer chunks.
	rep := m.Segment(words("the lung the heart"), [][]string{words("the heart the lung")})
	if rep.TestMatches != 4 || rep.Chunks != 2 {
		t.Errorf("repeat: %+v", rep)
	}
}

func TestWordNetSynonyms(t *testing.T) {
	dir := t.TempDir()
	// A two-synset toy database in WordNet's index format.
	idx := map[string]string{
		"noun": "  1 license header line\nheart n 1 1 @ 1 0 05385534\nbosom n 1 0 1 0 05385534\nlung n 1 0 1 0 05399847\n",
		"verb": "", "adj": "enlarged a 1 0 1 0 01384212\nlarge a 1 0 1 0 01384212\n", "adv": "",
	}
	for pos, s := range idx {
		if err := os.WriteFile(dir+"/index."+pos, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wn, err := LoadWordNet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !wn.Synonyms("heart", "bosom") || !wn.Synonyms("hearts", "bosom") || wn.Synonyms("heart", "lung") {
		t.Error("synonym lookup wrong")
	}
	st := Meteor{WordNet: wn}.Segment(words("large heart"), [][]string{words("enlarged heart")})
	if st.TestContent[modSynonym] != 1 || st.TestContent[modExact] != 1 {
		t.Errorf("synonym module: %+v", st)
	}
	if _, err := LoadWordNet(t.TempDir()); err == nil {
		t.Error("empty dir loaded")
	}
}
