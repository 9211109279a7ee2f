package sr

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"maira/dicom"
)

// The character set. maira's own text is nearly always ASCII, which every
// Specific Character Set contains, so the source's set and its patient
// names are kept as they are. Text outside ASCII (a degree sign, a name
// with an umlaut in a sentence) needs UTF-8, ISO_IR 192: the copied text
// attributes are converted to it where their set is one maira can convert
// (the default repertoire, Latin-1, UTF-8). From any other set (ISO 2022
// Japanese, GB18030, ...) the patient's name is kept exact and maira's
// text loses its non-ASCII characters instead, with a warning: a name
// mangled in the PACS is worse than a '?' in a draft.

// charsetText are the VRs whose values the Specific Character Set applies
// to (PS3.5 6.1.2.3); the others are always the default repertoire.
func charsetText(vr string) bool {
	switch vr {
	case "SH", "LO", "ST", "LT", "PN", "UC", "UT":
		return true
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// encodeCharset returns the study attributes to write and the Specific
// Character Set to write with them ("": the copied one, or none), given
// the text the SR adds. warn is set where that text must lose its
// non-ASCII characters. Attributes other than dicom.PatientStudyTags are
// refused: the SR sets the others itself.
func encodeCharset(study []dicom.Attribute, ours []string) (attrs []dicom.Attribute, charset, warn string, err error) {
	var set []string
	for _, a := range study {
		if !slices.Contains(dicom.PatientStudyTags, a.Tag) {
			return nil, "", "", fmt.Errorf("sr: study attribute %s is not one of dicom.PatientStudyTags", a.Tag)
		}
		if a.Tag == dicom.SpecificCharacterSet {
			for _, v := range strings.Split(string(a.Value), `\`) {
				set = append(set, strings.ToUpper(strings.Trim(v, " \x00")))
			}
		}
		attrs = append(attrs, a)
	}
	need := false
	for _, s := range ours {
		need = need || !isASCII(s)
	}
	if !need {
		return attrs, "", "", nil
	}
	var conv func([]byte) []byte
	switch {
	case len(set) == 0 || len(set) == 1 && (set[0] == "" || set[0] == "ISO_IR 6"):
		conv = func(b []byte) []byte { return []byte(asciiOrReplacement(b)) }
	case len(set) == 1 && set[0] == "ISO_IR 100":
		conv = func(b []byte) []byte {
			r := make([]rune, len(b))
			for i, c := range b {
				r[i] = rune(c)
			}
			return []byte(string(r))
		}
	case len(set) == 1 && set[0] == "ISO_IR 192":
		conv = func(b []byte) []byte { return []byte(strings.ToValidUTF8(string(b), "\uFFFD")) }
	default:
		return attrs, "", fmt.Sprintf("the study's character set %s cannot hold all of the text: characters outside ASCII were replaced by '?'",
			strings.Join(set, `\`)), nil
	}
	out := attrs[:0:0]
	for _, a := range attrs {
		if a.Tag == dicom.SpecificCharacterSet {
			continue
		}
		if charsetText(a.VR) {
			a.Value = conv(a.Value)
		}
		out = append(out, a)
	}
	return out, "ISO_IR 192", "", nil
}

// asciiOrReplacement reads text of the default repertoire: bytes outside
// it (a non-conforming source) become U+FFFD, as package dicom reads them.
func asciiOrReplacement(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c < 0x80 {
			s.WriteByte(c)
		} else {
			s.WriteRune(utf8.RuneError)
		}
	}
	return s.String()
}
