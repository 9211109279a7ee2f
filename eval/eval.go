package eval

import (
	"math"
	"math/rand/v2"
	"sort"

	"maira/eval/chexpert"
	"maira/eval/metrics"
)

// Options control an evaluation.
type Options struct {
	Resamples int              // bootstrap resamples (0: DefaultResamples)
	Seed      uint64           // bootstrap seed (0: DefaultSeed)
	WordNet   *metrics.WordNet // METEOR synonym module; nil: off
}

// The bootstrap's defaults: fixed, so that a run is reproducible.
const (
	DefaultResamples = 1000
	DefaultSeed      = 20190101
)

// Score is one metric with its 95% bootstrap interval.
type Score struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Lo    float64 `json:"ci95_lo"`
	Hi    float64 `json:"ci95_hi"`
}

// StudyResult is one study's scores and labels.
type StudyResult struct {
	ID        string             `json:"id"`
	Scores    map[string]float64 `json:"scores"`
	RefLabels map[string]string  `json:"ref_labels"`
	HypLabels map[string]string  `json:"hyp_labels"`
}

// Result is a whole evaluation.
type Result struct {
	Studies   int           `json:"studies"`
	Metrics   []Score       `json:"metrics"`
	F1PerObs  []Score       `json:"chexpert_f1_per_observation"`
	Bootstrap Bootstrap     `json:"bootstrap"`
	Notes     []string      `json:"notes"`
	PerStudy  []StudyResult `json:"per_study,omitempty"`
}

// Bootstrap describes the confidence intervals.
type Bootstrap struct {
	Resamples int    `json:"resamples"`
	Seed      uint64 `json:"seed"`
	Method    string `json:"method"`
}

// F1 metric names.
const (
	MicroF1_14 = "CheXpert micro-F1 (14)"
	MacroF1_14 = "CheXpert macro-F1 (14)"
	MicroF1_5  = "CheXpert micro-F1 (5)"
	MacroF1_5  = "CheXpert macro-F1 (5)"
)

// Evaluate scores the studies. Lexical metrics compare the hypothesis
// with all of a study's references; CheXpert labels of the reference side
// come from the first reference.
func Evaluate(studies []Study, opt Options) Result {
	if opt.Resamples <= 0 {
		opt.Resamples = DefaultResamples
	}
	if opt.Seed == 0 {
		opt.Seed = DefaultSeed
	}
	n := len(studies)
	hyps := make([]string, n)
	refs := make([][]string, n)
	for i, s := range studies {
		hyps[i], refs[i] = s.Hyp, s.Refs
	}
	set := metrics.NewSet(hyps, refs)
	met := metrics.Meteor{WordNet: opt.WordNet}
	corpus, per, meteor := metrics.Evaluate(set, met)

	bleu := make([]metrics.BLEUStats, n)
	refL := make([]chexpert.Labels, n)
	hypL := make([]chexpert.Labels, n)
	for i := range studies {
		bleu[i] = metrics.NewBLEUStats(set.Hyps[i], set.Refs[i])
		refL[i] = chexpert.LabelReport(studies[i].Refs[0])
		hypL[i] = chexpert.LabelReport(studies[i].Hyp)
	}
	f1 := chexpert.ComputeF1(refL, hypL)

	// stat computes every summary on the studies idx.
	names := append(append([]string{}, metrics.Names...), MicroF1_14, MacroF1_14, MicroF1_5, MacroF1_5)
	stat := func(idx []int) (map[string]float64, map[string]float64) {
		out := map[string]float64{}
		bs := make([]metrics.BLEUStats, len(idx))
		var ms metrics.MeteorStats
		var rsum, csum float64
		rl := make([]chexpert.Labels, len(idx))
		hl := make([]chexpert.Labels, len(idx))
		for k, i := range idx {
			bs[k] = bleu[i]
			ms.Add(meteor[i])
			rsum += per[i]["ROUGE-L"]
			csum += per[i]["CIDEr-D"]
			rl[k], hl[k] = refL[i], hypL[i]
		}
		b := metrics.CorpusBLEU(bs)
		for k := 0; k < 4; k++ {
			out[metrics.Names[k]] = b[k]
		}
		out["METEOR"] = ms.Score()
		out["ROUGE-L"] = rsum / float64(len(idx))
		out["CIDEr-D"] = csum / float64(len(idx))
		f := chexpert.ComputeF1(rl, hl)
		out[MicroF1_14], out[MacroF1_14], out[MicroF1_5], out[MacroF1_5] = f.Micro14, f.Macro14, f.Micro5, f.Macro5
		return out, f.PerObservation
	}
	samples := map[string][]float64{}
	obsSamples := map[string][]float64{}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	idx := make([]int, n)
	for b := 0; b < opt.Resamples && n > 0; b++ {
		for k := range idx {
			idx[k] = rng.IntN(n)
		}
		s, po := stat(idx)
		for k, v := range s {
			samples[k] = append(samples[k], v)
		}
		for k, v := range po {
			obsSamples[k] = append(obsSamples[k], v)
		}
	}
	value := map[string]float64{}
	for k, v := range corpus {
		value[k] = v
	}
	value[MicroF1_14], value[MacroF1_14], value[MicroF1_5], value[MacroF1_5] = f1.Micro14, f1.Macro14, f1.Micro5, f1.Macro5

	res := Result{Studies: n, Bootstrap: Bootstrap{Resamples: opt.Resamples, Seed: opt.Seed,
		Method: "percentile: 2.5th and 97.5th of the statistic over resamples of the studies with replacement"}}
	for _, name := range names {
		lo, hi := percentiles(samples[name])
		res.Metrics = append(res.Metrics, Score{Name: name, Value: value[name], Lo: lo, Hi: hi})
	}
	for _, obs := range chexpert.Observations {
		lo, hi := percentiles(obsSamples[obs])
		res.F1PerObs = append(res.F1PerObs, Score{Name: obs, Value: f1.PerObservation[obs], Lo: lo, Hi: hi})
	}
	syn := "METEOR modules: exact, stem (Snowball English); synonym off (no WordNet files); no paraphrase module"
	if opt.WordNet != nil {
		syn = "METEOR modules: exact, stem (Snowball English), synonym (WordNet); no paraphrase module"
	}
	res.Notes = []string{
		"texts tokenized with PTB rules as pycocoevalcap (lowercase, its punctuation dropped)",
		"BLEU: corpus level, closest reference length; METEOR: corpus from summed statistics; ROUGE-L and CIDEr-D: means of per-study scores",
		"CIDEr-D: document frequencies from this set's references; its interval resamples per-study scores with those frequencies fixed",
		syn,
		chexpert.F1Rule + "; reference labels from each study's first reference",
	}
	for i, s := range studies {
		sr := StudyResult{ID: s.ID, Scores: per[i], RefLabels: map[string]string{}, HypLabels: map[string]string{}}
		for _, obs := range chexpert.Observations {
			if l := refL[i][obs]; l != chexpert.Blank {
				sr.RefLabels[obs] = l.String()
			}
			if l := hypL[i][obs]; l != chexpert.Blank {
				sr.HypLabels[obs] = l.String()
			}
		}
		res.PerStudy = append(res.PerStudy, sr)
	}
	return res
}

// percentiles returns the 2.5th and 97.5th percentiles with linear
// interpolation between order statistics (numpy's default).
func percentiles(v []float64) (float64, float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		x := p * float64(len(s)-1)
		i := int(math.Floor(x))
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (x-float64(i))*(s[i+1]-s[i])
	}
	return q(0.025), q(0.975)
}
