package metrics

// Names of the metrics, in report order.
var Names = []string{"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D"}

// Scores holds every lexical metric for a set (corpus) or one study.
type Scores map[string]float64

// Set is a tokenized evaluation set: Hyps[i] is scored against Refs[i].
type Set struct {
	Hyps [][]string
	Refs [][][]string
}

// NewSet tokenizes raw texts.
func NewSet(hyps []string, refs [][]string) Set {
	var s Set
	for i, h := range hyps {
		s.Hyps = append(s.Hyps, Tokenize(h))
		var rs [][]string
		for _, r := range refs[i] {
			rs = append(rs, Tokenize(r))
		}
		s.Refs = append(s.Refs, rs)
	}
	return s
}

// Evaluate scores the set as pycocoevalcap would: BLEU at corpus level,
// METEOR from summed statistics, ROUGE-L and CIDEr-D as means of the
// per-study scores. It returns the corpus scores, each study's, and each
// study's METEOR statistics (for resampling).
func Evaluate(s Set, m Meteor) (Scores, []Scores, []MeteorStats) {
	corpus := Scores{}
	per := make([]Scores, len(s.Hyps))
	for i := range per {
		per[i] = Scores{}
	}
	bleu, bleuPer := BLEU(s.Hyps, s.Refs)
	for k := 0; k < 4; k++ {
		corpus[Names[k]] = bleu[k]
		for i := range per {
			per[i][Names[k]] = bleuPer[i][k]
		}
	}
	met, metPer, metStats := m.Corpus(s.Hyps, s.Refs)
	corpus["METEOR"] = met
	var rsum float64
	for i := range per {
		per[i]["METEOR"] = metPer[i]
		r := ROUGEL(s.Hyps[i], s.Refs[i])
		per[i]["ROUGE-L"] = r
		rsum += r
	}
	if len(per) > 0 {
		corpus["ROUGE-L"] = rsum / float64(len(per))
	}
	cid, cidPer := CIDErD(s.Hyps, s.Refs)
	corpus["CIDEr-D"] = cid
	for i := range per {
		per[i]["CIDEr-D"] = cidPer[i]
	}
	return corpus, per, metStats
}
