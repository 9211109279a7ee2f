package metrics

import "math"

// BLEU computes corpus BLEU-1..4 as pycocoevalcap's Bleu(4) does
// (bleu/bleu_scorer.py, option "closest"): clipped n-gram counts summed over
// the corpus, the reference length closest to each hypothesis (ties to the
// shorter), the brevity penalty on the corpus totals, and its epsilons
// (1e-15 added to matches, 1e-9 to guesses and the reference length).
// hyps[i] is scored against refs[i]; all are tokenized strings' words. It
// also returns the per-sentence BLEU-1..4 pycocoevalcap returns.
func BLEU(hyps [][]string, refs [][][]string) (corpus [4]float64, perSentence [][4]float64) {
	stats := make([]BLEUStats, len(hyps))
	for i, hyp := range hyps {
		stats[i] = NewBLEUStats(hyp, refs[i])
		perSentence = append(perSentence, stats[i].Sentence())
	}
	return CorpusBLEU(stats), perSentence
}

const bleuSmall, bleuTiny = 1e-9, 1e-15

// Sentence is one sentence's BLEU-1..4 as pycocoevalcap's per-image list.
func (c BLEUStats) Sentence() [4]float64 {
	var ps [4]float64
	bleu := 1.0
	for k := 0; k < 4; k++ {
		bleu *= (float64(c.correct[k]) + bleuTiny) / (float64(c.guess[k]) + bleuSmall)
		ps[k] = math.Pow(bleu, 1/float64(k+1))
	}
	ratio := (float64(c.testlen) + bleuTiny) / (float64(c.reflen) + bleuSmall)
	if ratio < 1 {
		for k := range ps {
			ps[k] *= math.Exp(1 - 1/ratio)
		}
	}
	return ps
}

// CorpusBLEU is corpus BLEU-1..4 from per-sentence statistics (so that a
// bootstrap resample need not recount n-grams).
func CorpusBLEU(stats []BLEUStats) (corpus [4]float64) {
	var totCorrect, totGuess [4]float64
	var totTest, totRef float64
	for _, c := range stats {
		totTest += float64(c.testlen)
		totRef += float64(c.reflen)
		for k := 0; k < 4; k++ {
			totCorrect[k] += float64(c.correct[k])
			totGuess[k] += float64(c.guess[k])
		}
	}
	bleu := 1.0
	for k := 0; k < 4; k++ {
		bleu *= (totCorrect[k] + bleuTiny) / (totGuess[k] + bleuSmall)
		corpus[k] = math.Pow(bleu, 1/float64(k+1))
	}
	ratio := (totTest + bleuTiny) / (totRef + bleuSmall)
	if ratio < 1 {
		for k := range corpus {
			corpus[k] *= math.Exp(1 - 1/ratio)
		}
	}
	return corpus
}

// BLEUStats is one sentence's cooked test (cook_test in bleu_scorer.py):
// its length, the closest reference length, and guessed and clipped
// correct n-gram counts.
type BLEUStats struct {
	testlen, reflen int
	guess, correct  [4]int
}

// NewBLEUStats cooks one hypothesis against its references.
func NewBLEUStats(hyp []string, refs [][]string) BLEUStats {
	maxcounts := map[string]int{}
	var reflens []int
	for _, r := range refs {
		g := precook(r, 4)
		reflens = append(reflens, len(r))
		for k, c := range g.counts {
			if c > maxcounts[k] {
				maxcounts[k] = c
			}
		}
	}
	var st BLEUStats
	st.testlen = len(hyp)
	// "closest": min over (|l - testlen|, l).
	best := -1
	for _, l := range reflens {
		d := l - st.testlen
		if d < 0 {
			d = -d
		}
		if best < 0 {
			best = l
			continue
		}
		bd := best - st.testlen
		if bd < 0 {
			bd = -bd
		}
		if d < bd || (d == bd && l < best) {
			best = l
		}
	}
	st.reflen = best
	for k := 1; k <= 4; k++ {
		st.guess[k-1] = max(0, st.testlen-k+1)
	}
	g := precook(hyp, 4)
	for i, key := range g.keys {
		st.correct[g.order[i]-1] += min(maxcounts[key], g.counts[key])
	}
	return st
}
