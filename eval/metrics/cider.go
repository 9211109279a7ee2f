package metrics

import "math"

// CIDErD computes pycocoevalcap's CIDEr (cider/cider_scorer.py, the CIDEr-D
// variant: n-grams 1..4, a Gaussian length penalty with sigma 6, clipping
// of the hypothesis weights by the reference's, and x10). Document
// frequencies come from the references of the evaluated set itself, so a
// score depends on the whole set. It returns the mean and the per-study
// scores.
func CIDErD(hyps [][]string, refs [][][]string) (mean float64, per []float64) {
	const n, sigma = 4, 6.0
	crefs := make([][]ngrams, len(refs))
	df := map[string]float64{}
	for i, rs := range refs {
		seen := map[string]bool{}
		for _, r := range rs {
			g := precook(r, n)
			crefs[i] = append(crefs[i], g)
			for _, k := range g.keys {
				if !seen[k] {
					seen[k] = true
					df[k]++
				}
			}
		}
	}
	refLen := math.Log(float64(len(crefs)))
	type vec struct {
		w      [n]map[string]float64
		norm   [n]float64
		length int
	}
	toVec := func(g ngrams) vec {
		var v vec
		var sq [n]float64
		for i := range v.w {
			v.w[i] = map[string]float64{}
		}
		for i, k := range g.keys {
			d := math.Log(math.Max(1, df[k]))
			o := g.order[i] - 1
			w := float64(g.counts[k]) * (refLen - d)
			v.w[o][k] = w
			sq[o] += math.Pow(w, 2)
			if o == 1 { // pycocoevalcap counts bigrams as the length
				v.length += g.counts[k]
			}
		}
		for i := range sq {
			v.norm[i] = math.Sqrt(sq[i])
		}
		return v
	}
	var total float64
	for i, h := range hyps {
		hg := precook(h, n)
		hv := toVec(hg)
		var score [n]float64
		for _, rg := range crefs[i] {
			rv := toVec(rg)
			delta := float64(hv.length - rv.length)
			for o := 0; o < n; o++ {
				var val float64
				for j, k := range hg.keys {
					if hg.order[j]-1 != o {
						continue
					}
					val += math.Min(hv.w[o][k], rv.w[o][k]) * rv.w[o][k]
				}
				if hv.norm[o] != 0 && rv.norm[o] != 0 {
					val /= hv.norm[o] * rv.norm[o]
				}
				val *= math.Pow(math.E, -(delta*delta)/(2*sigma*sigma))
				score[o] += val
			}
		}
		avg := (score[0] + score[1] + score[2] + score[3]) / n
		avg /= float64(len(crefs[i]))
		avg *= 10
		per = append(per, avg)
		total += avg
	}
	if len(per) > 0 {
		mean = total / float64(len(per))
	}
	return mean, per
}
