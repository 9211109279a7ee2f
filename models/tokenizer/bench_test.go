package tokenizer

import (
	"strings"
	"testing"
)

// radiologyPrompt is a rendered three-image MAIRA-2 prompt with a long prior
// report, about 5,000 characters.
func radiologyPrompt(tb testing.TB) string {
	var b strings.Builder
	b.WriteString("You are an expert radiology assistant tasked with interpreting a chest X-ray study. USER: " +
		"Given the current frontal image<image> the current lateral image<image> and the prior frontal image<image>" +
		" Provide a structured description of the findings in the radiology study in comparison to the prior frontal image." +
		" INDICATION: ___-year-old with dyspnea and fever, evaluate for pneumonia. TECHNIQUE: PA and lateral views of the chest." +
		" COMPARISON: Chest radiograph from 2019-03-14. PRIOR_REPORT:")
	cases := loadExpected(tb, spmExpected)[:12] // the radiology sentences
	for i := 0; b.Len()+len(cases[i%12].Text) < 4990; i++ {
		b.WriteString(" " + cases[i%12].Text)
	}
	b.WriteString(" ASSISTANT: ")
	return b.String()
}

func BenchmarkEncode(b *testing.B) {
	tk := mairaTokenizer(b, false)
	text := radiologyPrompt(b)
	b.SetBytes(int64(len(text)))
	n := 0
	for b.Loop() {
		n = len(tk.EncodePrompt(text))
	}
	b.ReportMetric(float64(n), "tokens")
}

func BenchmarkDecode(b *testing.B) {
	tk := mairaTokenizer(b, false)
	ids := tk.Encode(radiologyPrompt(b))
	b.ReportMetric(float64(len(ids)), "tokens")
	for b.Loop() {
		tk.Decode(ids)
	}
}

func BenchmarkStream(b *testing.B) {
	tk := mairaTokenizer(b, false)
	ids := tk.Encode(radiologyPrompt(b))
	for b.Loop() {
		s := tk.NewStream()
		for _, id := range ids {
			s.Add(id)
		}
		s.Flush()
	}
}

func TestRadiologyPrompt(t *testing.T) {
	if n := len(radiologyPrompt(t)); n < 4900 || n > 5100 {
		t.Errorf("the benchmark prompt has %d bytes, want about 5,000", n)
	}
}
