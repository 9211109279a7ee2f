package metrics

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// WordNet is the synonym data METEOR's synonym module asks of: two words
// are synonyms when their base forms share a WordNet synset. It is read
// from a WordNet 3.x "dict" directory (Debian's wordnet-base installs it in
// /usr/share/wordnet): the index.{noun,verb,adj,adv} files and the
// {noun,verb,adj,adv}.exc exception lists; base forms follow WordNet's
// morphy rules (exceptions, then the detachment suffixes).
type WordNet struct {
	synsets map[string][]string // lemma -> "pos:offset" synset ids
	exc     map[string][]string // inflected form -> base forms
}

// DefaultWordNetDir is where Debian's wordnet-base puts the database.
const DefaultWordNetDir = "/usr/share/wordnet"

// LoadWordNet reads the WordNet database in dir. It fails when the index
// files are absent.
func LoadWordNet(dir string) (*WordNet, error) {
	wn := &WordNet{synsets: map[string][]string{}, exc: map[string][]string{}}
	for _, pos := range []string{"noun", "verb", "adj", "adv"} {
		f, err := os.Open(filepath.Join(dir, "index."+pos))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, " ") {
				continue // license header
			}
			fs := strings.Fields(line)
			if len(fs) < 4 {
				continue
			}
			// lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offsets...
			var pcnt int
			for _, c := range fs[3] {
				pcnt = pcnt*10 + int(c-'0')
			}
			start := 4 + pcnt + 2
			for _, off := range fs[min(start, len(fs)):] {
				wn.synsets[fs[0]] = append(wn.synsets[fs[0]], pos+":"+off)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
		if e, err := os.Open(filepath.Join(dir, pos+".exc")); err == nil {
			sc := bufio.NewScanner(e)
			for sc.Scan() {
				fs := strings.Fields(sc.Text())
				if len(fs) >= 2 {
					wn.exc[fs[0]] = append(wn.exc[fs[0]], fs[1:]...)
				}
			}
			e.Close()
		}
	}
	return wn, nil
}

var morphySuffixes = [][2]string{
	{"s", ""}, {"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"},
	{"men", "man"}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""},
	{"ing", "e"}, {"ing", ""}, {"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"},
}

// synsetIDs returns the synsets of w's base forms.
func (wn *WordNet) synsetIDs(w string) map[string]bool {
	ids := map[string]bool{}
	add := func(l string) {
		for _, id := range wn.synsets[l] {
			ids[id] = true
		}
	}
	add(w)
	for _, b := range wn.exc[w] {
		add(b)
	}
	for _, r := range morphySuffixes {
		if strings.HasSuffix(w, r[0]) && len(w) > len(r[0]) {
			add(strings.TrimSuffix(w, r[0]) + r[1])
		}
	}
	return ids
}

// Synonyms reports whether a and b share a synset.
func (wn *WordNet) Synonyms(a, b string) bool {
	if wn == nil {
		return false
	}
	sa := wn.synsetIDs(a)
	for id := range wn.synsetIDs(b) {
		if sa[id] {
			return true
		}
	}
	return false
}
