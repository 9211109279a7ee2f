package metrics

import "strings"

// ngrams holds the n-gram counts of one sentence in first-seen order, the
// order pycocoevalcap's dicts iterate in (so that sums add up in the same
// order).
type ngrams struct {
	keys   []string // n-grams joined by "\x00"
	order  []int    // n of each key
	counts map[string]int
}

// precook counts the 1..n-grams of the whitespace-split words, as
// precook() in bleu_scorer.py and cider_scorer.py.
func precook(words []string, n int) ngrams {
	g := ngrams{counts: map[string]int{}}
	for k := 1; k <= n; k++ {
		for i := 0; i+k <= len(words); i++ {
			key := strings.Join(words[i:i+k], "\x00")
			if _, ok := g.counts[key]; !ok {
				g.keys = append(g.keys, key)
				g.order = append(g.order, k)
			}
			g.counts[key]++
		}
	}
	return g
}
