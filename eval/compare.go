package eval

import "maira/eval/chexpert"

// Generation is one model's draft of one study, as `maira eval --model
// --baseline` collects it.
type Generation struct {
	ID                string
	Findings          string
	TokenIDs          []int32
	EncodeMS          float64
	PrefillTokensPerS float64
	DecodeTokensPerS  float64
	TotalMS           float64
	GeneratedTokens   int
}

// Speed summarizes one model's timings over the studies.
type Speed struct {
	Studies             int     `json:"studies"`
	GeneratedTokens     int     `json:"generated_tokens"`
	MeanEncodeMS        float64 `json:"mean_encode_ms"`
	MeanPrefillTokensPS float64 `json:"mean_prefill_tokens_per_s"`
	MeanDecodeTokensPS  float64 `json:"mean_decode_tokens_per_s"`
	MeanTotalMS         float64 `json:"mean_total_ms"`
	OverallTokensPerS   float64 `json:"overall_tokens_per_s"` // generated tokens / summed total time
}

// TokenAgreement compares the generated token sequences.
type TokenAgreement struct {
	// Identical is the share of studies whose token sequences are equal.
	Identical float64 `json:"identical_share"`
	// Positional is the share of positions, over the longer sequence of
	// each study and summed over studies, where both models wrote the
	// same token.
	Positional float64 `json:"positional_share"`
	// MeanPrefix is the mean share of the longer sequence that both
	// models wrote identically before their first difference.
	MeanPrefix float64 `json:"mean_common_prefix_share"`
}

// Comparison is how far a model's drafts stray from a baseline's.
type Comparison struct {
	// Label agreement per observation: the share of studies where the
	// two drafts get the same CheXpert label (1, 0, -1 or blank).
	LabelAgreement []Score          `json:"label_agreement"`
	Tokens         TokenAgreement   `json:"token_agreement"`
	Speed          map[string]Speed `json:"speed"`
}

// Compare compares generations of the same studies, in the same order.
func Compare(base, model []Generation) Comparison {
	var c Comparison
	agree := map[string]int{}
	var same, posEq, posAll int
	var prefix float64
	for i := range base {
		lb, lm := chexpert.LabelReport(base[i].Findings), chexpert.LabelReport(model[i].Findings)
		for _, obs := range chexpert.Observations {
			if lb[obs] == lm[obs] {
				agree[obs]++
			}
		}
		a, b := base[i].TokenIDs, model[i].TokenIDs
		n := max(len(a), len(b))
		eq, pre, diverged := 0, 0, false
		for k := 0; k < min(len(a), len(b)); k++ {
			if a[k] == b[k] {
				eq++
				if !diverged {
					pre++
				}
			} else {
				diverged = true
			}
		}
		if len(a) == len(b) && eq == n {
			same++
		}
		posEq += eq
		posAll += n
		if n == 0 {
			prefix++
		} else {
			prefix += float64(pre) / float64(n)
		}
	}
	n := len(base)
	for _, obs := range chexpert.Observations {
		v := 0.0
		if n > 0 {
			v = float64(agree[obs]) / float64(n)
		}
		c.LabelAgreement = append(c.LabelAgreement, Score{Name: obs, Value: v, Lo: v, Hi: v})
	}
	if n > 0 {
		c.Tokens.Identical = float64(same) / float64(n)
		c.Tokens.MeanPrefix = prefix / float64(n)
		c.Tokens.Positional = 1
		if posAll > 0 {
			c.Tokens.Positional = float64(posEq) / float64(posAll)
		}
	}
	c.Speed = map[string]Speed{"baseline": speed(base), "model": speed(model)}
	return c
}

func speed(gs []Generation) Speed {
	s := Speed{Studies: len(gs)}
	if len(gs) == 0 {
		return s
	}
	var total float64
	for _, g := range gs {
		s.GeneratedTokens += g.GeneratedTokens
		s.MeanEncodeMS += g.EncodeMS
		s.MeanPrefillTokensPS += g.PrefillTokensPerS
		s.MeanDecodeTokensPS += g.DecodeTokensPerS
		total += g.TotalMS
	}
	n := float64(len(gs))
	s.MeanEncodeMS /= n
	s.MeanPrefillTokensPS /= n
	s.MeanDecodeTokensPS /= n
	s.MeanTotalMS = total / n
	if total > 0 {
		s.OverallTokensPerS = float64(s.GeneratedTokens) / (total / 1000)
	}
	return s
}
