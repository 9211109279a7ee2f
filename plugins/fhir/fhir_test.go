package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
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
	want, err = os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	return report, want
}

func TestRender(t *testing.T) {
	report, want := fixture(t)
	ext, got, err := render(report)
	if err != nil {
		t.Fatal(err)
	}
	if ext != "json" {
		t.Errorf("extension %q", ext)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("resource differs from testdata/expected.json:\ngot:\n%s", got)
	}
}

// TestExpectedResource checks the expected resource's elements one by one
// against the fixture report.
func TestExpectedResource(t *testing.T) {
	_, want := fixture(t)
	var dr map[string]any
	if err := json.Unmarshal(want, &dr); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var v any = dr
		for _, k := range strings.Split(path, ".") {
			switch x := v.(type) {
			case map[string]any:
				v = x[k]
			case []any:
				if len(x) == 0 {
					return nil
				}
				v = x[0] // the first element of a list
				if m, ok := v.(map[string]any); ok {
					v = m[k]
				}
			default:
				return nil
			}
		}
		return v
	}
	const findings = `Heart size is normal. Small left pleural effusion | blunting of the costophrenic angle. Right IJ catheter tip ^ at the cavoatrial junction & unchanged ~ since prior. Density at T7\T8 ≥ 5 mm.`
	for _, c := range []struct{ path, want string }{
		{"resourceType", "DiagnosticReport"},
		{"status", "preliminary"},
		{"code.coding.system", "http://loinc.org"},
		{"code.coding.code", "18748-4"},
		{"code.coding.display", "Diagnostic imaging study"},
		{"category.coding.code", "RAD"},
		{"identifier.type.coding.code", "ACSN"},
		{"identifier.value", "ACC&2026~0042"},
		{"subject.type", "Patient"},
		{"subject.identifier.value", `MRN|4711^B\7`},
		{"effectiveDateTime", "2026-01-14"},
		{"issued", "2026-01-15T10:30:05Z"},
		{"imagingStudy.identifier.system", "urn:dicom:uid"},
		{"imagingStudy.identifier.value", "urn:oid:1.2.826.0.1.3680043.8.498.12345678901234567890"},
		{"conclusion", findings},
		{"presentedForm.contentType", "text/plain; charset=utf-8"},
		{"text.status", "generated"},
	} {
		if got, _ := get(c.path).(string); got != c.want {
			t.Errorf("%s = %q, want %q", c.path, got, c.want)
		}
	}
	data, err := base64.StdEncoding.DecodeString(get("presentedForm.data").(string))
	if err != nil {
		t.Fatal(err)
	}
	wantText := "DRAFT: machine-generated findings for review by a radiologist; not a diagnosis.\n\n" +
		"Findings: " + findings + "\n" +
		"Warning: lateral view missing: the draft used the frontal image only\n"
	if string(data) != wantText {
		t.Errorf("presentedForm text %q, want %q", data, wantText)
	}
	if div := get("text.div").(string); !strings.Contains(div, "DRAFT: machine-generated") || !strings.Contains(div, "&amp; unchanged") {
		t.Errorf("narrative without the notice or unescaped: %q", div)
	}
}

func TestRefusesReportWithoutStudy(t *testing.T) {
	report, _ := fixture(t)
	noStudy := bytes.Replace(report, []byte(`"study":`), []byte(`"no_study":`), 1)
	if _, _, err := render(noStudy); err == nil || !strings.Contains(err.Error(), "no DICOM study") {
		t.Errorf("a report without a study: %v", err)
	}
}

// TestPlugin builds the plugin with the standard toolchain and runs it in
// the sandboxed host.
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
	if out.Ext != "json" || p.Name() != "fhir.wasm" {
		t.Errorf("extension %q, name %q", out.Ext, p.Name())
	}
	if !bytes.Equal(out.Data, want) {
		t.Errorf("resource differs from testdata/expected.json:\ngot:\n%s", out.Data)
	}
	_, err = p.Export(ctx, []byte("not json"))
	if !errors.Is(err, plugin.ErrRefused) || !strings.HasPrefix(err.Error(), "fhir.wasm: refused the report: report is not valid JSON") {
		t.Errorf("not JSON: %v", err)
	}
}
