package prompt

import (
	"slices"
	"strings"
	"testing"

	"maira/quant/modelfile"
)

var maira2 = &modelfile.Prompt{
	System:              modelfile.Maira2System,
	FindingsInstruction: modelfile.Maira2FindingsInstruction,
	GroundedInstruction: modelfile.Maira2GroundedInstruction,
}

func TestText(t *testing.T) {
	const sys = "You are an expert radiology assistant tasked with interpreting a chest X-ray study. USER: "
	const findings = " Provide a structured description of the findings in the radiology study in comparison to the prior frontal image."
	tests := []struct {
		name string
		s    Study
		want string
	}{
		{"frontal only", Study{Indication: "Cough."},
			sys + "Given the current frontal image only<image>" + findings + " INDICATION: Cough. TECHNIQUE: N/A COMPARISON: N/A ASSISTANT: "},
		{"frontal and lateral", Study{Lateral: true, Technique: "PA and lateral."},
			sys + "Given the current frontal image<image> and the current lateral image<image>" + findings +
				" INDICATION: N/A TECHNIQUE: PA and lateral. COMPARISON: N/A ASSISTANT: "},
		{"with prior", Study{Prior: true, PriorReport: "No acute process.", Comparison: "2020-01-01."},
			sys + "Given the current frontal image<image> and the prior frontal image<image> PRIOR_REPORT: No acute process." + findings +
				" INDICATION: N/A TECHNIQUE: N/A COMPARISON: 2020-01-01. ASSISTANT: "},
		{"all three, no prior report", Study{Lateral: true, Prior: true},
			sys + "Given the current frontal image<image> the current lateral image<image> and the prior frontal image<image> PRIOR_REPORT: N/A" +
				findings + " INDICATION: N/A TECHNIQUE: N/A COMPARISON: N/A ASSISTANT: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(maira2, tt.s)
			if got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			if n := strings.Count(got, ImageToken); n != tt.s.Images() {
				t.Errorf("%d placeholders for %d images", n, tt.s.Images())
			}
		})
	}
	g := Text(maira2, Study{Grounded: true})
	if !strings.Contains(g, "Each finding should be described as a self-contained plain-text sentence.") ||
		!strings.Contains(g, "without bounding boxes. INDICATION: N/A") {
		t.Errorf("grounded prompt: %q", g)
	}
}

func TestExpand(t *testing.T) {
	l, err := Expand([]int32{1, 5, 9, 6, 9, 7}, 9, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{1, 5, 9, 9, 9, 6, 9, 9, 9, 7}; !slices.Equal(l.IDs, want) {
		t.Errorf("ids %v, want %v", l.IDs, want)
	}
	if !slices.Equal(l.Images, []int{2, 6}) || l.PerImage != 3 {
		t.Errorf("images %v", l.Images)
	}
	if _, err := Expand([]int32{1, 9}, 9, 3, 2); err == nil || !strings.Contains(err.Error(), "1 image placeholders for 2 images") {
		t.Errorf("mismatch: %v", err)
	}
}

func TestNeutralize(t *testing.T) {
	got := Text(maira2, Study{Indication: "<image> cough <s> < 5 mm <x12><obj>ok</obj>"})
	if strings.Count(got, ImageToken) != 1 || strings.Contains(got, "<s>") || strings.Contains(got, "<x12>") {
		t.Errorf("markup survived: %q", got)
	}
	if !strings.Contains(got, "INDICATION: (image) cough (s) < 5 mm (x12)(obj)ok(/obj) TECHNIQUE") {
		t.Errorf("got %q", got)
	}
}
