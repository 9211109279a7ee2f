package eval

import (
	"bytes"
	"testing"
)

// FuzzReadJSONL: arbitrary JSONL gives texts or a one-line error, never a
// panic.
func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"id": "a", "text": "No pneumothorax."}` + "\n" + `{"id": 7, "text": "x"}`))
	f.Add([]byte("{not json\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		texts, err := ReadJSONL(bytes.NewReader(data), "f.jsonl")
		if err != nil {
			if bytes.ContainsRune([]byte(err.Error()), '\n') {
				t.Fatalf("a multi-line error: %q", err)
			}
			return
		}
		for _, x := range texts {
			if x.ID == "" {
				t.Fatal("an accepted text without an id")
			}
		}
	})
}
