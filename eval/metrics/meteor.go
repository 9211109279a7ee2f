package metrics

import (
	"math"
	"sort"
	"strings"
)

// METEOR parameters of METEOR 1.5 for English ("-l en", the task pycocoevalcap
// runs) and the weights of its modules.
const (
	meteorAlpha = 0.85
	meteorBeta  = 0.2
	meteorGamma = 0.6
	meteorDelta = 0.75
	beamSize    = 64
)

// Matching modules, in METEOR's order, with their weights.
const (
	modExact = iota
	modStem
	modSynonym
	nModules
)

var moduleWeight = [nModules]float64{1.0, 0.6, 0.8}

// functionWords is our list of English closed-class words (articles,
// pronouns, prepositions, conjunctions, auxiliaries, common adverbs and
// determiners). METEOR 1.5 ships its own corpus-derived list; see
// docs/eval.md.
var functionWords = toSet(`a about above after again against all also am an and any are as at be because
been before being below between both but by can could did do does doing down during each either
else ever few for from further had has have having he her here hers herself him himself his how
i if in into is it its itself just may me might more most must my myself neither no nor not now of
off on once only or other our ours ourselves out over own same shall she should so some such than
that the their theirs them themselves then there these they this those through to too under until
up very was we were what when where which while who whom whose why will with within without would
you your yours yourself yourselves 's n't us upon per via whether yet`)

func toSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// MeteorStats are the sufficient statistics of one alignment (or, summed,
// of a corpus), as METEOR's stats lines carry them.
type MeteorStats struct {
	TestLen, RefLen           int
	TestFunc, RefFunc         int
	TestContent, TestFunction [nModules]int // matched hypothesis words per module
	RefContent, RefFunction   [nModules]int // matched reference words per module
	TestMatches, RefMatches   int
	Chunks                    int
}

// Add sums other into s (METEOR's corpus aggregation).
func (s *MeteorStats) Add(o MeteorStats) {
	s.TestLen += o.TestLen
	s.RefLen += o.RefLen
	s.TestFunc += o.TestFunc
	s.RefFunc += o.RefFunc
	for i := 0; i < nModules; i++ {
		s.TestContent[i] += o.TestContent[i]
		s.TestFunction[i] += o.TestFunction[i]
		s.RefContent[i] += o.RefContent[i]
		s.RefFunction[i] += o.RefFunction[i]
	}
	s.TestMatches += o.TestMatches
	s.RefMatches += o.RefMatches
	s.Chunks += o.Chunks
}

// Score is METEOR 1.5's score of the statistics: weighted precision and
// recall (content words weighted delta, function words 1-delta, matches by
// module weight), their parameterised harmonic mean, and the fragmentation
// penalty gamma*(chunks/mean matches)^beta.
func (s MeteorStats) Score() float64 {
	var pNum, rNum float64
	for i := 0; i < nModules; i++ {
		pNum += moduleWeight[i] * (meteorDelta*float64(s.TestContent[i]) + (1-meteorDelta)*float64(s.TestFunction[i]))
		rNum += moduleWeight[i] * (meteorDelta*float64(s.RefContent[i]) + (1-meteorDelta)*float64(s.RefFunction[i]))
	}
	pDen := meteorDelta*float64(s.TestLen-s.TestFunc) + (1-meteorDelta)*float64(s.TestFunc)
	rDen := meteorDelta*float64(s.RefLen-s.RefFunc) + (1-meteorDelta)*float64(s.RefFunc)
	if pDen == 0 || rDen == 0 {
		return 0
	}
	p, r := pNum/pDen, rNum/rDen
	if p == 0 || r == 0 {
		return 0
	}
	fmean := p * r / (meteorAlpha*p + (1-meteorAlpha)*r)
	var frag float64
	if !(s.TestMatches == s.TestLen && s.RefMatches == s.RefLen && s.Chunks == 1) {
		frag = float64(s.Chunks) / (float64(s.TestMatches+s.RefMatches) / 2)
	}
	pen := meteorGamma * math.Pow(frag, meteorBeta)
	return fmean * (1 - pen)
}

// Meteor scores tokenized hypotheses against references with METEOR 1.5's
// scoring and the exact, stem and (when wn is not nil) synonym modules.
type Meteor struct {
	WordNet *WordNet // nil: no synonym module
}

// Segment returns the statistics of hyp against the best-scoring
// reference (ties: the first), as METEOR's SCORE command does.
func (m Meteor) Segment(hyp []string, refs [][]string) MeteorStats {
	var best MeteorStats
	bestScore := -1.0
	for _, r := range refs {
		st := m.align(hyp, r)
		if sc := st.Score(); sc > bestScore {
			best, bestScore = st, sc
		}
	}
	return best
}

// Corpus scores a set as pycocoevalcap's EVAL line: the statistics of each
// segment's best reference are summed and scored once. It also returns the
// per-segment scores.
func (m Meteor) Corpus(hyps [][]string, refs [][][]string) (float64, []float64, []MeteorStats) {
	var tot MeteorStats
	var per []float64
	var stats []MeteorStats
	for i, h := range hyps {
		st := m.Segment(h, refs[i])
		stats = append(stats, st)
		per = append(per, st.Score())
		tot.Add(st)
	}
	return tot.Score(), per, stats
}

// edge is one candidate word match.
type edge struct{ t, r, mod int }

// state is a partial alignment in the beam search over hypothesis words.
type state struct {
	used    []bool // reference words taken
	prevRef int    // reference index matched by the previous hypothesis word, -2 if none
	matches int
	chunks  int
	dist    int
	weight  float64
	pairs   []edge
}

func better(a, b *state) bool {
	if a.matches != b.matches {
		return a.matches > b.matches
	}
	if a.chunks != b.chunks {
		return a.chunks < b.chunks
	}
	if a.dist != b.dist {
		return a.dist < b.dist
	}
	return a.weight > b.weight
}

// align finds METEOR's alignment of hyp to ref: each word in at most one
// match; the most words matched, then the fewest chunks, then the smallest
// sum of |hyp position - ref position|, then the highest module weight. A
// word pair matches by the first module in METEOR's order (exact, stem,
// synonym) that accepts it. The search is a beam search over hypothesis
// positions, as METEOR's aligner is.
func (m Meteor) align(hyp, ref []string) MeteorStats {
	st := MeteorStats{TestLen: len(hyp), RefLen: len(ref)}
	for _, w := range hyp {
		if functionWords[w] {
			st.TestFunc++
		}
	}
	for _, w := range ref {
		if functionWords[w] {
			st.RefFunc++
		}
	}
	cands := make([][]edge, len(hyp))
	hs := make([]string, len(hyp))
	rs := make([]string, len(ref))
	for i, w := range hyp {
		hs[i] = Stem(w)
	}
	for j, w := range ref {
		rs[j] = Stem(w)
	}
	for i, h := range hyp {
		for j, r := range ref {
			switch {
			case h == r:
				cands[i] = append(cands[i], edge{i, j, modExact})
			case hs[i] == rs[j]:
				cands[i] = append(cands[i], edge{i, j, modStem})
			case m.WordNet != nil && m.WordNet.Synonyms(h, r):
				cands[i] = append(cands[i], edge{i, j, modSynonym})
			}
		}
	}
	beam := []*state{{used: make([]bool, len(ref)), prevRef: -2}}
	for i := range hyp {
		var next []*state
		for _, s := range beam {
			// Leave hyp word i unmatched.
			next = append(next, &state{used: s.used, prevRef: -2, matches: s.matches,
				chunks: s.chunks, dist: s.dist, weight: s.weight, pairs: s.pairs})
			for _, e := range cands[i] {
				if s.used[e.r] {
					continue
				}
				u := append([]bool(nil), s.used...)
				u[e.r] = true
				ns := &state{used: u, prevRef: e.r, matches: s.matches + 1, chunks: s.chunks,
					dist: s.dist + abs(e.t-e.r), weight: s.weight + moduleWeight[e.mod],
					pairs: append(append([]edge(nil), s.pairs...), e)}
				if s.prevRef < 0 || s.prevRef+1 != e.r {
					ns.chunks++
				}
				next = append(next, ns)
			}
		}
		sort.SliceStable(next, func(a, b int) bool { return better(next[a], next[b]) })
		// Drop duplicates (same words used, same continuation point).
		seen := map[string]bool{}
		beam = beam[:0]
		for _, s := range next {
			k := stateKey(s)
			if seen[k] {
				continue
			}
			seen[k] = true
			beam = append(beam, s)
			if len(beam) == beamSize {
				break
			}
		}
	}
	best := beam[0]
	for _, s := range beam[1:] {
		if better(s, best) {
			best = s
		}
	}
	for _, e := range best.pairs {
		if functionWords[hyp[e.t]] {
			st.TestFunction[e.mod]++
		} else {
			st.TestContent[e.mod]++
		}
		if functionWords[ref[e.r]] {
			st.RefFunction[e.mod]++
		} else {
			st.RefContent[e.mod]++
		}
	}
	st.TestMatches = best.matches
	st.RefMatches = best.matches
	st.Chunks = best.chunks
	return st
}

func stateKey(s *state) string {
	b := make([]byte, len(s.used)+8)
	for i, u := range s.used {
		if u {
			b[i] = 1
		}
	}
	p := s.prevRef + 2
	for k := 0; k < 8; k++ {
		b[len(s.used)+k] = byte(p >> (8 * k))
	}
	return string(b)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
