package chexpert

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

type labelled struct {
	Text   string         `json:"text"`
	Labels map[string]int `json:"labels"`
}

func loadSentences(t *testing.T) []labelled {
	f, err := os.Open("testdata/sentences.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var l labelled
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("sentences.jsonl:%d: %v", n, err)
		}
		for obs := range l.Labels {
			if !isObservation(obs) {
				t.Fatalf("sentences.jsonl:%d: unknown observation %q", n, obs)
			}
		}
		out = append(out, l)
	}
	return out
}

func isObservation(s string) bool {
	for _, o := range Observations {
		if o == s {
			return true
		}
	}
	return false
}

func want(l labelled, obs string) Label {
	if v, ok := l.Labels[obs]; ok {
		return Label(v)
	}
	return Blank
}

// minSentenceAgreement is the share of hand-labelled sentences whose 14
// labels must all be right. The set is written to exercise every rule,
// so anything short of near-perfect is a regression; the margin leaves
// room for a couple of deliberately hard sentences the window rule
// cannot scope as a parser would.
const minSentenceAgreement = 0.95

// minObservationAgreement: per observation, the share of sentences whose
// label for it is right.
const minObservationAgreement = 0.95

func TestHandLabelled(t *testing.T) {
	set := loadSentences(t)
	if len(set) < 100 {
		t.Fatalf("only %d sentences", len(set))
	}
	right := map[string]int{}
	mentioned := map[string]int{}
	rightMentioned := map[string]int{}
	full := 0
	for _, l := range set {
		got := LabelReport(l.Text)
		ok := true
		for _, obs := range Observations {
			if want(l, obs) != Blank {
				mentioned[obs]++
			}
			if got[obs] == want(l, obs) {
				right[obs]++
				if want(l, obs) != Blank {
					rightMentioned[obs]++
				}
			} else {
				ok = false
				t.Logf("MISS %-26s got %2s want %2s: %s", obs, got[obs], want(l, obs), l.Text)
			}
		}
		if ok {
			full++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "per-observation agreement on %d hand-labelled sentences:\n", len(set))
	for _, obs := range Observations {
		fmt.Fprintf(&b, "  %-26s all sentences %3d/%d = %.3f; sentences that label it %2d/%2d\n", obs, right[obs], len(set),
			float64(right[obs])/float64(len(set)), rightMentioned[obs], mentioned[obs])
		if float64(right[obs])/float64(len(set)) < minObservationAgreement {
			t.Errorf("%s: agreement %.3f below %.2f", obs, float64(right[obs])/float64(len(set)), minObservationAgreement)
		}
		if obs != "No Finding" && mentioned[obs] == 0 {
			t.Errorf("%s: no sentence labels it", obs)
		}
	}
	fmt.Fprintf(&b, "  all 14 right: %d/%d = %.3f", full, len(set), float64(full)/float64(len(set)))
	t.Log(b.String())
	if float64(full)/float64(len(set)) < minSentenceAgreement {
		t.Errorf("fully right %.3f below %.2f", float64(full)/float64(len(set)), minSentenceAgreement)
	}
}

func TestAggregation(t *testing.T) {
	// Positive beats uncertain beats negative across sentences.
	l := LabelReport("No pleural effusion on the right. Possible small left pleural effusion. Small left pleural effusion.")
	if l["Pleural Effusion"] != Positive {
		t.Errorf("aggregate: %v", l["Pleural Effusion"])
	}
	l = LabelReport("No pneumothorax. Pneumothorax cannot be excluded.")
	if l["Pneumothorax"] != Uncertain || l["No Finding"] != Blank {
		t.Errorf("aggregate: %v %v", l["Pneumothorax"], l["No Finding"])
	}
	// Support devices do not block No Finding; an empty report is No Finding.
	l = LabelReport("Endotracheal tube in standard position.")
	if l["No Finding"] != Positive || l["Support Devices"] != Positive {
		t.Errorf("no finding: %v", l)
	}
	if l := LabelReport(""); l["No Finding"] != Positive {
		t.Errorf("empty: %v", l)
	}
}

func TestF1(t *testing.T) {
	mk := func(m map[string]Label) Labels {
		l := Labels{}
		for _, o := range Observations {
			l[o] = Blank
		}
		for k, v := range m {
			l[k] = v
		}
		return l
	}
	refs := []Labels{
		mk(map[string]Label{"Edema": Positive, "Cardiomegaly": Positive}),
		mk(map[string]Label{"Edema": Uncertain}),
		mk(map[string]Label{"No Finding": Positive}),
	}
	hyps := []Labels{
		mk(map[string]Label{"Edema": Positive}),                          // Edema TP, Cardiomegaly FN
		mk(map[string]Label{"Edema": Negative, "Atelectasis": Positive}), // Edema FN, Atelectasis FP
		mk(map[string]Label{"No Finding": Positive}),                     // No Finding TP
	}
	s := ComputeF1(refs, hyps)
	// Edema: TP1 FN1 -> 2/3. Cardiomegaly: FN1 -> 0. Atelectasis: FP1 -> 0.
	// No Finding: TP1 -> 1. The 5: TP1 FP1 FN2 -> micro 2/5; macro (2/3)/5.
	// The 14: TP2 FP1 FN2 -> micro 4/7; macro (2/3+1)/14.
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"edema", s.PerObservation["Edema"], 2.0 / 3},
		{"micro5", s.Micro5, 2.0 / 5},
		{"macro5", s.Macro5, (2.0 / 3) / 5},
		{"micro14", s.Micro14, 4.0 / 7},
		{"macro14", s.Macro14, (2.0/3 + 1) / 14},
	} {
		if d := c.got - c.want; d > 1e-12 || d < -1e-12 {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}
}
