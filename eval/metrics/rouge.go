package metrics

// ROUGEL is pycocoevalcap's ROUGE-L for one hypothesis (rouge/rouge.py): the
// LCS of tokens with each reference, precision and recall maximised
// separately over the references, then the F-measure with beta 1.2.
// Tokens are the string split on single spaces, so an empty text counts as
// one empty token, as in Python's "".split(" ").
func ROUGEL(hyp []string, refs [][]string) float64 {
	const beta = 1.2
	c := spaceSplit(hyp)
	var precMax, recMax float64
	for i, r := range refs {
		r = spaceSplit(r)
		l := float64(lcs(r, c))
		p, q := l/float64(len(c)), l/float64(len(r))
		if i == 0 || p > precMax {
			precMax = p
		}
		if i == 0 || q > recMax {
			recMax = q
		}
	}
	if precMax != 0 && recMax != 0 {
		return ((1 + beta*beta) * precMax * recMax) / (recMax + beta*beta*precMax)
	}
	return 0
}

func spaceSplit(t []string) []string {
	if len(t) == 0 {
		return []string{""}
	}
	return t
}

// lcs is the length of the longest common subsequence of a and b.
func lcs(a, b []string) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
