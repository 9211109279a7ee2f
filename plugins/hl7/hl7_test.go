package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"maira/firmware/plugin"
	"maira/firmware/plugin/plugintest"
)

func fixture(t *testing.T) (report, want []byte) {
	t.Helper()
	report, err := os.ReadFile("../testdata/report.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err = os.ReadFile("testdata/expected.hl7")
	if err != nil {
		t.Fatal(err)
	}
	return report, want
}

func diff(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("message differs from testdata/expected.hl7:\ngot:\n%s\nwant:\n%s",
			bytes.ReplaceAll(got, []byte("\r"), []byte("\n")), bytes.ReplaceAll(want, []byte("\r"), []byte("\n")))
	}
}

func TestRender(t *testing.T) {
	report, want := fixture(t)
	ext, got, err := render(report)
	if err != nil {
		t.Fatal(err)
	}
	if ext != "hl7" {
		t.Errorf("extension %q", ext)
	}
	diff(t, got, want)
}

// TestExpectedFields checks the expected message field by field, as the
// HL7 v2.5.1 segment definitions number them.
func TestExpectedFields(t *testing.T) {
	_, want := fixture(t)
	if !bytes.HasSuffix(want, []byte("\r")) || bytes.Contains(want, []byte("\n")) {
		t.Fatal("segments must end with a carriage return and only that")
	}
	segs := map[string][][]string{}
	var order []string
	for _, s := range strings.Split(strings.TrimSuffix(string(want), "\r"), "\r") {
		f := strings.Split(s, "|")
		if f[0] == "MSH" { // MSH-1 is the separator: shift so that f[n] is MSH-n
			f = append([]string{"MSH", "|"}, f[1:]...)
		}
		segs[f[0]] = append(segs[f[0]], f)
		order = append(order, f[0])
	}
	if got := strings.Join(order, " "); got != "MSH PID OBR OBX OBX OBX OBX OBX OBX NTE" {
		t.Errorf("segments %s", got)
	}
	field := func(seg string, i, n int) string {
		if len(segs[seg]) <= i || len(segs[seg][i]) <= n {
			return "<absent>"
		}
		return segs[seg][i][n]
	}
	for _, c := range []struct {
		seg     string
		i, n    int
		want    string
		meaning string
	}{
		{"MSH", 0, 2, `^~\&`, "encoding characters"},
		{"MSH", 0, 3, "MAIRA", "sending application"},
		{"MSH", 0, 7, "20260115103005+0000", "message time = created_at"},
		{"MSH", 0, 9, "ORU^R01^ORU_R01", "message type"},
		{"MSH", 0, 10, "771cfbb041680b5b", "control id = sha256(report)[:8]"},
		{"MSH", 0, 11, "P", "processing id"},
		{"MSH", 0, 12, "2.5.1", "version"},
		{"MSH", 0, 18, "UNICODE UTF-8", "character set"},
		{"PID", 0, 3, `MRN\F\4711\S\B\E\7`, "patient id MRN|4711^B\\7, escaped"},
		{"OBR", 0, 3, `ACC\T\2026\R\0042`, "filler order number = accession ACC&2026~0042, escaped"},
		{"OBR", 0, 4, "18748-4^Diagnostic imaging study^LN", "universal service id"},
		{"OBR", 0, 7, "20260114", "observation date = study date"},
		{"OBR", 0, 18, `ACC\T\2026\R\0042`, "placer field 1 = accession"},
		{"OBR", 0, 22, "20260115103005+0000", "results date = created_at"},
		{"OBR", 0, 25, "P", "result status preliminary"},
		{"OBX", 0, 2, "HD", "study instance uid value type"},
		{"OBX", 0, 5, "1.2.826.0.1.3680043.8.498.12345678901234567890", "study instance uid"},
		{"OBX", 1, 2, "TX", "value type"},
		{"OBX", 1, 3, "18782-3^Radiology Study observation (narrative)^LN", "observation id"},
		{"OBX", 1, 5, "DRAFT: machine-generated findings for review by a radiologist; not a diagnosis.", "the draft notice"},
		{"OBX", 2, 5, "Heart size is normal.", "finding 1"},
		{"OBX", 3, 5, `Small left pleural effusion \F\ blunting of the costophrenic angle.`, "finding 2"},
		{"OBX", 4, 5, `Right IJ catheter tip \S\ at the cavoatrial junction \T\ unchanged \R\ since prior.`, "finding 3"},
		{"OBX", 5, 5, `Density at T7\E\T8 ≥ 5 mm.`, "finding 4"},
		{"NTE", 0, 3, "Warning: lateral view missing: the draft used the frontal image only", "warning"},
	} {
		if got := field(c.seg, c.i, c.n); got != c.want {
			t.Errorf("%s[%d]-%d (%s) = %q, want %q", c.seg, c.i, c.n, c.meaning, got, c.want)
		}
	}
	for i, obx := range segs["OBX"] {
		if len(obx) != 12 || obx[11] != "P" || obx[1] != strconv.Itoa(i+1) {
			t.Errorf("OBX %d: %d fields, set id %q, status (OBX-11) %q", i+1, len(obx), obx[1], obx[len(obx)-1])
		}
	}
}

func TestEscape(t *testing.T) {
	if got, want := escape("a|b^c&d~e\\f\rg\x01é"), `a\F\b\S\c\T\d\R\e\E\f\X0D\g\X01\é`; got != want {
		t.Errorf("escape = %q, want %q", got, want)
	}
}

func TestRefusesReportWithoutStudy(t *testing.T) {
	report, _ := fixture(t)
	noStudy := bytes.Replace(report, []byte(`"study":`), []byte(`"no_study":`), 1)
	if _, _, err := render(noStudy); err == nil || !strings.Contains(err.Error(), "no DICOM study") {
		t.Errorf("a report without a study: %v", err)
	}
	if _, _, err := render([]byte(`{"schema":"maira.report/v2"}`)); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("another schema: %v", err)
	}
}

// TestPlugin builds the plugin with the standard toolchain and runs it in
// the sandboxed host: the same message, and a refusal that the host
// reports as such.
func TestPlugin(t *testing.T) {
	report, want := fixture(t)
	ctx := context.Background()
	p, err := plugin.Load(ctx, plugintest.Build(t, "."), plugin.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	out, err := p.Export(ctx, report)
	if err != nil {
		t.Fatal(err)
	}
	if out.Ext != "hl7" || p.Name() != "hl7.wasm" {
		t.Errorf("extension %q, name %q", out.Ext, p.Name())
	}
	diff(t, out.Data, want)

	_, err = p.Export(ctx, bytes.Replace(report, []byte(`"study":`), []byte(`"no_study":`), 1))
	if !errors.Is(err, plugin.ErrRefused) || !strings.HasPrefix(err.Error(), "hl7.wasm: refused the report: report has no DICOM study") {
		t.Errorf("a report without a study: %v", err)
	}
}
