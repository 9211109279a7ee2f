package chexpert

// F1Rule states how CheXpert F1 is computed here; it is printed with the
// scores.
const F1Rule = "CheXpert F1: labels from this labeler on reference and hypothesis; " +
	"positive = 1 or -1 (uncertain counted as positive), negative = 0 or blank; " +
	"micro = F1 of TP/FP/FN summed over the observations, macro = mean of per-observation F1; " +
	"F1 = 0 where an observation has no positive in either (zero_division=0)"

// Counts are one observation's confusion counts over a set.
type Counts struct{ TP, FP, FN, TN int }

// F1 is 2TP/(2TP+FP+FN), 0 when that is 0/0.
func (c Counts) F1() float64 {
	d := 2*c.TP + c.FP + c.FN
	if d == 0 {
		return 0
	}
	return 2 * float64(c.TP) / float64(d)
}

func isPos(l Label) bool { return l == Positive || l == Uncertain }

// Confusion counts, per observation, the hypothesis labels against the
// reference labels of the same studies.
func Confusion(refs, hyps []Labels) map[string]Counts {
	out := map[string]Counts{}
	for i := range refs {
		for _, obs := range Observations {
			c := out[obs]
			r, h := isPos(refs[i][obs]), isPos(hyps[i][obs])
			switch {
			case r && h:
				c.TP++
			case h:
				c.FP++
			case r:
				c.FN++
			default:
				c.TN++
			}
			out[obs] = c
		}
	}
	return out
}

// F1Scores are the CheXpert F1 summaries.
type F1Scores struct {
	Micro14, Macro14, Micro5, Macro5 float64
	PerObservation                   map[string]float64
}

// ComputeF1 computes micro and macro F1 over the 14 observations and
// over the 5 competition observations.
func ComputeF1(refs, hyps []Labels) F1Scores {
	conf := Confusion(refs, hyps)
	s := F1Scores{PerObservation: map[string]float64{}}
	for _, obs := range Observations {
		s.PerObservation[obs] = conf[obs].F1()
	}
	s.Micro14, s.Macro14 = summarize(conf, Observations)
	s.Micro5, s.Macro5 = summarize(conf, Competition5)
	return s
}

func summarize(conf map[string]Counts, obs []string) (micro, macro float64) {
	var tot Counts
	for _, o := range obs {
		c := conf[o]
		tot.TP += c.TP
		tot.FP += c.FP
		tot.FN += c.FN
		macro += c.F1()
	}
	return tot.F1(), macro / float64(len(obs))
}
