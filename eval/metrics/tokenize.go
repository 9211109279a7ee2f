// Package metrics computes the report-quality metrics papers quote for
// radiology report generation, with the arithmetic of pycocoevalcap (the
// COCO caption evaluation code): BLEU-1..4, ROUGE-L, CIDEr-D and METEOR 1.5's
// scoring. Texts are first tokenized by Tokenize, the rules pycocoevalcap's
// Stanford PTB tokenizer applies (docs/eval.md lists where they can differ).
package metrics

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// punctuation is pycocoevalcap's PUNCTUATIONS list (tokenizer/ptbtokenizer.py):
// tokens dropped after PTB tokenization. The list also names "-LRB-",
// "-RRB-", "-LCB-" and "-RCB-", but pycocoevalcap runs the tokenizer with
// -lowerCase, which (as we read PTBLexer) lowercases the bracket escapes
// too, so the uppercase entries never match and "-lrb-" and its kind stay
// in the tokens. We do the same; docs/eval.md says so.
var punctuation = map[string]bool{
	"''": true, "'": true, "``": true, "`": true, ".": true, "?": true, "!": true,
	",": true, ":": true, "-": true, "--": true, "...": true, ";": true,
}

// abbreviations keep their final period, as the PTB lexer's abbreviation
// list does for these (the ones that occur in radiology prose).
var abbreviations = map[string]bool{
	"dr.": true, "mr.": true, "mrs.": true, "ms.": true, "vs.": true, "approx.": true, "st.": true, "jr.": true, "etc.": true, "fig.": true,
}

// Tokenize lowercases s, splits it with PTB-style rules and drops
// pycocoevalcap's punctuation tokens. Newlines count as spaces.
func Tokenize(s string) []string {
	var out []string
	for _, w := range strings.Fields(strings.ToLower(s)) {
		for _, t := range splitWord(w) {
			if t != "" && !punctuation[t] {
				out = append(out, t)
			}
		}
	}
	return out
}

// TokenizeString is Tokenize joined by single spaces: the form the scorers
// take.
func TokenizeString(s string) string { return strings.Join(Tokenize(s), " ") }

// splitWord splits one whitespace-delimited chunk into PTB tokens.
func splitWord(w string) []string {
	var pre, post []string
	// Leading brackets and quotes.
	for w != "" {
		switch {
		case strings.HasPrefix(w, "``"):
			pre, w = append(pre, "``"), w[2:]
		case strings.HasPrefix(w, "\"") || strings.HasPrefix(w, "“"):
			_, n := firstRune(w)
			pre, w = append(pre, "``"), w[n:]
		case strings.HasPrefix(w, "'") && !isClitic(w):
			pre, w = append(pre, "`"), w[1:]
		case strings.HasPrefix(w, "("):
			pre, w = append(pre, "-lrb-"), w[1:]
		case strings.HasPrefix(w, "["):
			pre, w = append(pre, "-lsb-"), w[1:]
		case strings.HasPrefix(w, "{"):
			pre, w = append(pre, "-lcb-"), w[1:]
		case strings.HasPrefix(w, "$") || strings.HasPrefix(w, "#"):
			pre, w = append(pre, w[:1]), w[1:]
		case strings.HasPrefix(w, "--"):
			pre, w = append(pre, "--"), w[2:]
		case strings.HasPrefix(w, "-") && len(w) > 1 && !isDigit(w[1]):
			pre, w = append(pre, "-"), w[1:]
		default:
			goto trailing
		}
	}
trailing:
	// Trailing punctuation, brackets, quotes, clitics.
	for w != "" {
		switch {
		case strings.HasSuffix(w, "..."):
			post, w = append(post, "..."), w[:len(w)-3]
		case strings.HasSuffix(w, "''"):
			post, w = append(post, "''"), w[:len(w)-2]
		case strings.HasSuffix(w, "\""):
			post, w = append(post, "''"), w[:len(w)-1]
		case strings.HasSuffix(w, "”"):
			post, w = append(post, "''"), w[:len(w)-len("”")]
		case strings.HasSuffix(w, ")"):
			post, w = append(post, "-rrb-"), w[:len(w)-1]
		case strings.HasSuffix(w, "]"):
			post, w = append(post, "-rsb-"), w[:len(w)-1]
		case strings.HasSuffix(w, "}"):
			post, w = append(post, "-rcb-"), w[:len(w)-1]
		case strings.HasSuffix(w, "--"):
			post, w = append(post, "--"), w[:len(w)-2]
		case len(w) > 1 && strings.ContainsAny(w[len(w)-1:], ",;:?!%-"):
			post, w = append(post, w[len(w)-1:]), w[:len(w)-1]
		case w == "," || w == ";" || w == ":" || w == "?" || w == "!" || w == "-":
			post, w = append(post, w), ""
		case strings.HasSuffix(w, "."):
			if w == "." || abbreviations[w] || isAcronym(w) {
				goto done
			}
			post, w = append(post, "."), w[:len(w)-1]
		case strings.HasSuffix(w, "'") && len(w) > 1:
			post, w = append(post, "'"), w[:len(w)-1]
		default:
			goto done
		}
	}
done:
	// Inner commas and semicolons between letters split the word ("a,b");
	// commas inside numbers ("1,000") and periods inside words stay.
	var mid []string
	if w != "" {
		mid = splitInner(w)
	}
	if n := len(mid); n > 0 {
		last := mid[n-1]
		mid = append(mid[:n-1], splitClitic(last)...)
	}
	out := append(pre, mid...)
	for i := len(post) - 1; i >= 0; i-- {
		out = append(out, post[i])
	}
	return out
}

func splitInner(w string) []string {
	var out []string
	start := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == ',' || c == ';' || c == '!' || c == '?' || (c == ':' && !(i > 0 && i+1 < len(w) && isDigit(w[i-1]) && isDigit(w[i+1]))) {
			if c == ',' && i > 0 && i+1 < len(w) && isDigit(w[i-1]) && isDigit(w[i+1]) {
				continue
			}
			if i > start {
				out = append(out, w[start:i])
			}
			out = append(out, w[i:i+1])
			start = i + 1
		}
	}
	if start < len(w) {
		out = append(out, w[start:])
	}
	return out
}

// splitClitic splits English clitics as PTB does: "patient's" -> "patient"
// "'s", "doesn't" -> "does" "n't".
func splitClitic(w string) []string {
	if strings.HasSuffix(w, "n't") && len(w) > 3 {
		return []string{w[:len(w)-3], "n't"}
	}
	for _, c := range []string{"'s", "'re", "'ve", "'ll", "'d", "'m"} {
		if strings.HasSuffix(w, c) && len(w) > len(c) {
			return []string{w[:len(w)-len(c)], c}
		}
	}
	return []string{w}
}

func isClitic(w string) bool {
	for _, c := range []string{"'s", "'re", "'ve", "'ll", "'d", "'m"} {
		if w == c {
			return true
		}
	}
	return false
}

// isAcronym: letters separated by periods ("e.g.", "i.e.", "u.s.").
func isAcronym(w string) bool {
	parts := strings.Split(strings.TrimSuffix(w, "."), ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if len(p) != 1 || !unicode.IsLetter(rune(p[0])) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func firstRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }
