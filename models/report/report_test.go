package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseGrounded(t *testing.T) {
	scale := func(x0, y0, x1, y1 float64) (float64, float64, float64, float64) {
		return x0 * 1000, y0 * 800, x1 * 1000, y1 * 800
	}
	tests := []struct {
		name, text string
		want       []Sentence
		warnings   int
	}{
		{"processor example", "<obj>grounded phrase <box><x55><y45><x70><y56></box></obj><obj>ungrounded phrase</obj>",
			[]Sentence{{"grounded phrase", [][4]float64{{555, 364, 705, 452}}}, {"ungrounded phrase", [][4]float64{}}}, 0},
		{"two boxes", "<obj>Bilateral effusions.<box><x10><y60><x30><y90></box><box><x70><y60><x90><y90></box></obj>",
			[]Sentence{{"Bilateral effusions.", [][4]float64{{105, 484, 305, 724}, {705, 484, 905, 724}}}}, 0},
		{"plain text", "No acute cardiopulmonary process. Heart size is normal.",
			[]Sentence{{"No acute cardiopulmonary process.", [][4]float64{}}, {"Heart size is normal.", [][4]float64{}}}, 0},
		{"cut off", "<obj>Cardiomegaly.<box><x40><y50>",
			[]Sentence{{"Cardiomegaly.", [][4]float64{}}}, 2},
		{"bad bin", "<obj>Effusion.<box><x10><y60><x300><y90></box></obj>",
			[]Sentence{{"Effusion.", [][4]float64{}}}, 1},
		{"inverted", "<obj>Effusion.<box><x50><y60><x10><y90></box></obj>",
			[]Sentence{{"Effusion.", [][4]float64{}}}, 1},
		{"stray text", "Lungs are clear. <obj>Small nodule.</obj>",
			[]Sentence{{"Lungs are clear.", [][4]float64{}}, {"Small nodule.", [][4]float64{}}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings := ParseGrounded(tt.text, scale)
			for i := range got {
				for j := range got[i].Boxes {
					for k := range got[i].Boxes[j] {
						got[i].Boxes[j][k] = float64(int(got[i].Boxes[j][k] + 0.5)) // round for comparison
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", warnings, tt.warnings)
			}
		})
	}
}

func TestSentences(t *testing.T) {
	got := Sentences("Heart size is normal, e.g. 12.5 cm. No effusion! Stable vs. prior? Yes")
	var texts []string
	for _, s := range got {
		texts = append(texts, s.Text)
	}
	want := []string{"Heart size is normal, e.g. 12.5 cm.", "No effusion!", "Stable vs. prior?", "Yes"}
	if !reflect.DeepEqual(texts, want) {
		t.Errorf("got %q", texts)
	}
	if len(Sentences("")) != 0 {
		t.Error("empty text has sentences")
	}
}

func TestDocumentJSON(t *testing.T) {
	d := New("study-1", "maira test")
	d.Findings = "Lungs are clear."
	d.Sentences = Sentences(d.Findings)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, key := range []string{"schema", "study_id", "findings", "sentences", "token_ids", "model", "timings", "inputs", "sections", "draft_for_review", "notice"} {
		if _, ok := m[key]; !ok {
			t.Errorf("no %q in %s", key, b)
		}
	}
	if m["draft_for_review"] != true || m["schema"] != Schema || !strings.Contains(m["notice"].(string), "radiologist") {
		t.Errorf("%s", b)
	}
	if !strings.Contains(string(b), `"boxes":[]`) {
		t.Errorf("boxes should be an empty list, not null: %s", b)
	}
}

func TestDecode(t *testing.T) {
	good, _ := json.Marshal(New("s1", "maira test"))
	for _, tc := range []struct {
		in   string
		want string
	}{
		{string(good), ""},
		{`{"schema": "maira.report/v2"}`, `report schema "maira.report/v2"`},
		{`{`, "not valid JSON"},
	} {
		d, err := Decode([]byte(tc.in))
		switch {
		case tc.want == "" && (err != nil || d.StudyID != "s1"):
			t.Errorf("%s: %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
}
