// Package eval scores draft reports against references: the lexical
// metrics of package metrics and CheXpert F1 from package chexpert, with
// bootstrap confidence intervals, for `maira eval`.
package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Text is one report text with where it came from ("FILE:LINE" or a
// report.json path), for messages.
type Text struct {
	ID, Text, Where string
}

// Load reads texts from a JSONL file ({"id": ..., "text": ...} per line;
// blank lines skipped) or from a `maira watch` output folder
// (OUT/reports/DATE/STUDY/report.json: id = study_id, text = findings).
func Load(path string) ([]Text, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return loadWatchDir(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadJSONL(f, path)
}

// ReadJSONL reads {"id", "text"} lines; name is used in messages. The id
// may be a JSON string or number. Every error names the file and line.
func ReadJSONL(r io.Reader, name string) ([]Text, error) {
	var out []Text
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			t, perr := parseLine(line)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %v", name, n, perr)
			}
			t.Where = fmt.Sprintf("%s:%d", name, n)
			out = append(out, t)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no reports (expected one {\"id\": ..., \"text\": ...} object per line)", name)
	}
	return out, nil
}

func parseLine(line []byte) (Text, error) {
	var raw struct {
		ID   json.RawMessage `json:"id"`
		Text *string         `json:"text"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Text{}, fmt.Errorf("malformed JSON: %v", err)
		}
		return Text{}, fmt.Errorf("not an {\"id\", \"text\"} object: %v", err)
	}
	if dec.More() {
		return Text{}, errors.New("malformed JSON: more than one value on the line")
	}
	id, err := parseID(raw.ID)
	if err != nil {
		return Text{}, err
	}
	if raw.Text == nil {
		return Text{}, fmt.Errorf("id %q: no \"text\"", id)
	}
	if strings.TrimSpace(*raw.Text) == "" {
		return Text{}, fmt.Errorf("id %q: empty text", id)
	}
	return Text{ID: id, Text: *raw.Text}, nil
}

func parseID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New("no \"id\"")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return "", errors.New("empty \"id\"")
		}
		return s, nil
	}
	var f json.Number
	if json.Unmarshal(raw, &f) == nil {
		if _, err := strconv.ParseFloat(string(f), 64); err == nil {
			return string(f), nil
		}
	}
	return "", fmt.Errorf("\"id\" must be a string or a number, not %s", raw)
}

func loadWatchDir(dir string) ([]Text, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "reports", "*", "*", "report.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no reports/*/*/report.json (not a maira watch output folder?)", dir)
	}
	sort.Strings(paths)
	var out []Text
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var doc struct {
			StudyID  string  `json:"study_id"`
			Findings *string `json:"findings"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: malformed report.json: %v", p, err)
		}
		if doc.StudyID == "" {
			return nil, fmt.Errorf("%s: no study_id", p)
		}
		if doc.Findings == nil || strings.TrimSpace(*doc.Findings) == "" {
			return nil, fmt.Errorf("%s: study %q: empty findings", p, doc.StudyID)
		}
		out = append(out, Text{ID: doc.StudyID, Text: *doc.Findings, Where: p})
	}
	return out, nil
}

// Study is one hypothesis with its references.
type Study struct {
	ID   string
	Hyp  string
	Refs []string
}

// Match pairs hypotheses with references by id. A reference id may repeat
// (several references for one study); a hypothesis id may not. Every
// hypothesis needs a reference and every reference a hypothesis. Studies
// come out in the hypotheses' order.
func Match(refs, hyps []Text, refName, hypName string) ([]Study, error) {
	byID := map[string][]string{}
	firstRef := map[string]string{}
	var refOrder []string
	for _, r := range refs {
		if _, ok := byID[r.ID]; !ok {
			refOrder = append(refOrder, r.ID)
			firstRef[r.ID] = r.Where
		}
		byID[r.ID] = append(byID[r.ID], r.Text)
	}
	seen := map[string]string{}
	var out []Study
	for _, h := range hyps {
		if w, dup := seen[h.ID]; dup {
			return nil, fmt.Errorf("%s: id %q appears twice in %s (first at %s)", h.Where, h.ID, hypName, w)
		}
		seen[h.ID] = h.Where
		rs, ok := byID[h.ID]
		if !ok {
			return nil, fmt.Errorf("%s: id %q has no reference in %s (%s has %d studies, %s has %d)",
				h.Where, h.ID, refName, refName, len(byID), hypName, len(hyps))
		}
		out = append(out, Study{ID: h.ID, Hyp: h.Text, Refs: rs})
	}
	for _, id := range refOrder {
		if _, ok := seen[id]; !ok {
			return nil, fmt.Errorf("%s: id %q has no hypothesis in %s (%s has %d studies, %s has %d)",
				firstRef[id], id, hypName, refName, len(byID), hypName, len(hyps))
		}
	}
	return out, nil
}
