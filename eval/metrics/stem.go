package metrics

import "strings"

// Stem is the Snowball English ("Porter2") stemmer, the stemmer METEOR 1.5's
// stem module applies to English. Written from the published Snowball
// algorithm description; input is one lowercase token.
func Stem(word string) string {
	if len(word) <= 2 || !isASCIILower(word) {
		return word
	}
	if s, ok := stemExceptions1[word]; ok {
		return s
	}
	w := []byte(strings.TrimPrefix(word, "'"))
	if len(w) > 0 && w[0] == 'y' {
		w[0] = 'Y'
	}
	for i := 1; i < len(w); i++ {
		if w[i] == 'y' && isVowel(w[i-1]) {
			w[i] = 'Y'
		}
	}
	r1, r2 := regions(w)
	s := &stemmer{w: w, r1: r1, r2: r2}
	s.step0()
	s.step1a()
	if stemExceptions2[string(s.w)] {
		return string(s.w)
	}
	s.step1b()
	s.step1c()
	s.step2()
	s.step3()
	s.step4()
	s.step5()
	return strings.ReplaceAll(string(s.w), "Y", "y")
}

var stemExceptions1 = map[string]string{
	"skis": "ski", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
	"idly": "idl", "gently": "gentl", "ugly": "ugli", "early": "earli", "only": "onli",
	"singly": "singl", "sky": "sky", "news": "news", "howe": "howe", "atlas": "atlas",
	"cosmos": "cosmos", "bias": "bias", "andes": "andes",
}

var stemExceptions2 = map[string]bool{
	"inning": true, "outing": true, "canning": true, "herring": true, "earring": true,
	"proceed": true, "exceed": true, "succeed": true,
}

func isASCIILower(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && s[i] != '\'' {
			return false
		}
	}
	return true
}

func isVowel(c byte) bool {
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'
}

// regions returns the starts of R1 and R2.
func regions(w []byte) (int, int) {
	r1 := len(w)
	for _, p := range []string{"gener", "commun", "arsen"} {
		if strings.HasPrefix(string(w), p) {
			r1 = len(p)
			break
		}
	}
	if r1 == len(w) {
		r1 = afterVC(w, 0)
	}
	return r1, afterVC(w, r1)
}

// afterVC is the position after the first non-vowel following a vowel at
// or after start.
func afterVC(w []byte, start int) int {
	for i := start + 1; i < len(w); i++ {
		if !isVowel(w[i]) && isVowel(w[i-1]) {
			return i + 1
		}
	}
	return len(w)
}

type stemmer struct {
	w      []byte
	r1, r2 int
}

func (s *stemmer) has(suf string) bool { return strings.HasSuffix(string(s.w), suf) }

func (s *stemmer) inR1(suf string) bool { return len(s.w)-len(suf) >= s.r1 }

func (s *stemmer) inR2(suf string) bool { return len(s.w)-len(suf) >= s.r2 }

func (s *stemmer) replace(suf, rep string) {
	s.w = append(s.w[:len(s.w)-len(suf)], rep...)
}

// longest returns the longest of sufs that w ends with.
func (s *stemmer) longest(sufs ...string) string {
	best := ""
	for _, x := range sufs {
		if len(x) > len(best) && s.has(x) {
			best = x
		}
	}
	return best
}

func containsVowel(b []byte) bool {
	for _, c := range b {
		if isVowel(c) {
			return true
		}
	}
	return false
}

// shortSyllableAtEnd reports whether w ends in a short syllable.
func shortSyllableAtEnd(w []byte) bool {
	n := len(w)
	if n == 2 {
		return isVowel(w[0]) && !isVowel(w[1])
	}
	if n >= 3 {
		c := w[n-1]
		return !isVowel(w[n-3]) && isVowel(w[n-2]) && !isVowel(c) && c != 'w' && c != 'x' && c != 'Y'
	}
	return false
}

func (s *stemmer) isShort() bool { return s.r1 >= len(s.w) && shortSyllableAtEnd(s.w) }

func (s *stemmer) step0() {
	if suf := s.longest("'", "'s", "'s'"); suf != "" {
		s.replace(suf, "")
	}
}

func (s *stemmer) step1a() {
	switch suf := s.longest("sses", "ied", "ies", "s", "us", "ss"); suf {
	case "sses":
		s.replace(suf, "ss")
	case "ied", "ies":
		if len(s.w) > 4 {
			s.replace(suf, "i")
		} else {
			s.replace(suf, "ie")
		}
	case "s":
		if containsVowel(s.w[:len(s.w)-2]) {
			s.replace(suf, "")
		}
	}
}

func (s *stemmer) step1b() {
	switch suf := s.longest("eed", "eedly", "ed", "edly", "ing", "ingly"); suf {
	case "eed", "eedly":
		if s.inR1(suf) {
			s.replace(suf, "ee")
		}
	case "ed", "edly", "ing", "ingly":
		if !containsVowel(s.w[:len(s.w)-len(suf)]) {
			return
		}
		s.replace(suf, "")
		switch {
		case s.has("at") || s.has("bl") || s.has("iz"):
			s.w = append(s.w, 'e')
		case s.longest("bb", "dd", "ff", "gg", "mm", "nn", "pp", "rr", "tt") != "":
			s.w = s.w[:len(s.w)-1]
		case s.isShort():
			s.w = append(s.w, 'e')
		}
	}
}

func (s *stemmer) step1c() {
	n := len(s.w)
	if n > 2 && (s.w[n-1] == 'y' || s.w[n-1] == 'Y') && !isVowel(s.w[n-2]) {
		s.w[n-1] = 'i'
	}
}

var step2Rules = map[string]string{
	"tional": "tion", "enci": "ence", "anci": "ance", "abli": "able", "entli": "ent",
	"izer": "ize", "ization": "ize", "ational": "ate", "ation": "ate", "ator": "ate",
	"alism": "al", "aliti": "al", "alli": "al", "fulness": "ful", "ousli": "ous",
	"ousness": "ous", "iveness": "ive", "iviti": "ive", "biliti": "ble", "bli": "ble",
	"ogi": "og", "fulli": "ful", "lessli": "less", "li": "",
}

func (s *stemmer) step2() {
	suf := ""
	for k := range step2Rules {
		if len(k) > len(suf) && s.has(k) {
			suf = k
		}
	}
	if suf == "" || !s.inR1(suf) {
		return
	}
	switch suf {
	case "ogi":
		if len(s.w) >= 4 && s.w[len(s.w)-4] == 'l' {
			s.replace(suf, "og")
		}
	case "li":
		if len(s.w) >= 3 && strings.IndexByte("cdeghkmnrt", s.w[len(s.w)-3]) >= 0 {
			s.replace(suf, "")
		}
	default:
		s.replace(suf, step2Rules[suf])
	}
}

var step3Rules = map[string]string{
	"tional": "tion", "ational": "ate", "alize": "al", "icate": "ic", "iciti": "ic",
	"ical": "ic", "ful": "", "ness": "", "ative": "",
}

func (s *stemmer) step3() {
	suf := ""
	for k := range step3Rules {
		if len(k) > len(suf) && s.has(k) {
			suf = k
		}
	}
	if suf == "" || !s.inR1(suf) {
		return
	}
	if suf == "ative" {
		if s.inR2(suf) {
			s.replace(suf, "")
		}
		return
	}
	s.replace(suf, step3Rules[suf])
}

func (s *stemmer) step4() {
	suf := s.longest("al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement",
		"ment", "ent", "ism", "ate", "iti", "ous", "ive", "ize", "ion")
	if suf == "" || !s.inR2(suf) {
		return
	}
	if suf == "ion" {
		n := len(s.w)
		if n >= 4 && (s.w[n-4] == 's' || s.w[n-4] == 't') {
			s.replace(suf, "")
		}
		return
	}
	s.replace(suf, "")
}

func (s *stemmer) step5() {
	n := len(s.w)
	if n == 0 {
		return
	}
	switch s.w[n-1] {
	case 'e':
		if s.inR2("e") || (s.inR1("e") && !shortSyllableAtEnd(s.w[:n-1])) {
			s.w = s.w[:n-1]
		}
	case 'l':
		if s.inR2("l") && n >= 2 && s.w[n-2] == 'l' {
			s.w = s.w[:n-1]
		}
	}
}
