// Package chexpert labels radiology report text with the 14 CheXpert
// observations, following the published description of the CheXpert
// labeler (Irvin et al., AAAI 2019): mention extraction from phrase lists,
// classification of each mention as negative, uncertain or positive, and
// aggregation over a report, with its No Finding rule. The phrase lists
// and cue rules are our own; where the original uses a dependency parse
// to scope negation and uncertainty, this labeler uses a clause window
// (docs/eval.md states the rule and the differences).
package chexpert

import (
	"regexp"
	"strings"
)

// Observations are the 14 CheXpert observations in the dataset's order.
var Observations = []string{
	"No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion",
	"Lung Opacity", "Edema", "Consolidation", "Pneumonia", "Atelectasis",
	"Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices",
}

// Competition5 are the five observations CheXpert's competition reports.
var Competition5 = []string{"Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"}

// Label is one observation's label in a report.
type Label int8

// CheXpert's label values; Blank means the observation is not mentioned.
const (
	Uncertain Label = -1
	Negative  Label = 0
	Positive  Label = 1
	Blank     Label = 2
)

func (l Label) String() string {
	switch l {
	case Uncertain:
		return "-1"
	case Negative:
		return "0"
	case Positive:
		return "1"
	}
	return ""
}

// Labels maps each of the 14 observations to its label.
type Labels map[string]Label

// rule is one observation's mention phrases.
type rule struct {
	obs       string
	mentions  *regexp.Regexp // phrases that mention the observation
	uncertain *regexp.Regexp // phrases that mention it with built-in uncertainty
	unmention *regexp.Regexp // phrases masked first: they contain a mention word but are not one
}

// anchor is an observation mentioned by a structure ("heart size is
// enlarged", "normal cardiomediastinal silhouette"): an anchor phrase with
// a state word within a few words on either side in the same clause.
type anchor struct {
	obs                   string
	anchor                *regexp.Regexp
	positive, normal, unc map[string]bool
}

func re(alts ...string) *regexp.Regexp {
	return regexp.MustCompile(`\b(?:` + strings.Join(alts, "|") + `)\b`)
}

var rules = []rule{
	{obs: "Enlarged Cardiomediastinum",
		mentions: re(`widened mediastinum`, `mediastinal widening`, `widening of the (?:superior )?mediastinum`,
			`mediastinal enlargement`, `enlarged (?:cardio)?mediastinum`, `cardiomediastinal enlargement`,
			`enlarged cardiomediastinal (?:silhouette|contours?)`)},
	{obs: "Cardiomegaly",
		mentions: re(`cardiomegaly`, `cardiac enlargement`, `enlarged heart`, `enlargement of the (?:cardiac silhouette|heart)`,
			`enlarged cardiac (?:silhouette|contours?|size|shadow)`, `cardiac silhouette enlargement`)},
	{obs: "Lung Lesion",
		mentions: re(`nodules?`, `nodular`, `micronodules?`, `mass(?:es)?`, `tumou?rs?`, `neoplasms?`, `neoplastic`,
			`malignancy`, `malignancies`, `carcinomas?`, `cancer`, `metastas[ie]s`, `metastatic`, `lesions?`,
			`granulomas?`, `cavitary`, `cavitation`, `cavity`, `cavities`),
		unmention: re(`mass effect`, `(?:lytic|sclerotic|blastic|osseous|bone|bony|skin|cutaneous) lesions?`,
			`breast mass(?:es)?`, `soft tissue mass(?:es)?`, `calcified (?:lymph )?nodes?`)},
	{obs: "Lung Opacity",
		mentions: re(`opacity`, `opacities`, `opacification`, `opacifications`, `opacified`, `infiltrates?`,
			`infiltration`, `air ?space (?:disease|process|opacity)`, `ground glass`, `densit(?:y|ies)`,
			`haziness`, `hazy`, `reticular`, `reticulonodular`, `interstitial (?:markings|abnormality|prominence|disease)`)},
	{obs: "Edema",
		mentions: re(`edema`, `oedema`, `(?:pulmonary |vascular |venous |pulmonary vascular |pulmonary venous |interstitial )?congestion`,
			`fluid overload`, `volume overload`, `cephali[sz]ation`, `kerley b? ?lines`),
		unmention: re(`(?:soft tissue|subcutaneous|chest wall|body wall|scalp|facial|laryngeal|airway) edema`)},
	{obs: "Consolidation",
		mentions: re(`consolidations?`, `consolidative`, `consolidated`)},
	{obs: "Pneumonia",
		mentions:  re(`pneumonias?`, `bronchopneumonia`, `infections?`, `infectious`, `infective`),
		uncertain: re(`aspiration`)},
	{obs: "Atelectasis",
		mentions:  re(`atelectas[ie]s`, `atelectatic`, `collapsed?`, `lobar collapse`),
		unmention: re(`(?:vertebral|vertebra|vertebral body) collapse`, `collapse of (?:the |a )?vertebra(?:l body)?`)},
	{obs: "Pneumothorax",
		mentions: re(`pneumothorax`, `pneumothoraces`, `pneumothoraxes`, `hydropneumothorax`, `ptx`)},
	{obs: "Pleural Effusion",
		mentions:  re(`effusions?`, `pleural fluid`, `hydrothorax`, `hydropneumothorax`, `fluid (?:in|within) the (?:\w+ )?fissure`, `layering fluid`),
		uncertain: re(`blunt(?:ing|ed) (?:of )?(?:the )?(?:\w+ )?costophrenic angles?`, `costophrenic (?:angle )?blunting`),
		unmention: re(`pericardial effusions?`, `(?:joint|knee|shoulder|subacromial) effusions?`, `effusions? (?:in|of) the (?:\w+ )?joint`)},
	{obs: "Pleural Other",
		mentions: re(`pleural thickening`, `thickening of the pleura`, `pleural plaques?`, `pleural calcifications?`,
			`calcified pleural plaques?`, `calcified pleura`, `fibrothorax`, `pleural scarring`, `pleural fibrosis`,
			`apical (?:pleural )?caps?`, `apical capping`, `pleural parenchymal scarring`, `pleural based (?:thickening|plaques?)`)},
	{obs: "Fracture",
		mentions: re(`fractures?`, `fractured`, `fx`, `fractures`)},
	{obs: "Support Devices",
		mentions: re(`(?:endotracheal|et|ett|tracheostomy|trach|nasogastric|ng|orogastric|og|enteric|feeding|dobhoff|chest|gastrostomy|thoracostomy|nasoenteric) tubes?`,
			`(?:central venous|central|picc|midline|ij|internal jugular|subclavian|swan ganz|arterial|venous|dialysis|hemodialysis) (?:lines?|catheters?)`,
			`catheters?`, `picc`, `port a cath`, `portacath`, `(?:chest|port) port`, `power port`, `pacemakers?`, `pacer`, `icd`, `aicd`,
			`defibrillators?`, `(?:pacer|pacemaker|pacing|icd|defibrillator) leads?`, `leads`, `drains?`, `pigtail`,
			`stents?`, `(?:valve replacement|prosthetic valves?|valve prosthesis|mechanical valves?|tavr|tavi|avr)`,
			`lvad`, `impella`, `balloon pump`, `iabp`, `ecmo cannulae?`, `cannulae?`, `tubes`, `lines and tubes`,
			`tubes and lines`, `endotracheal tube`, `tracheostomy`, `swan ganz`, `sheath`)},
}

var anchors = []anchor{
	{obs: "Cardiomegaly",
		anchor:   re(`heart size`, `size of the heart`, `cardiac size`, `heart`, `cardiac silhouette`, `cardiac contours?`, `cardiac shadow`),
		positive: set("enlarged", "enlargement", "large", "increased", "prominent"),
		normal:   set("normal", "unremarkable", "wnl", "small", "top-normal"),
		unc:      set("borderline")},
	{obs: "Enlarged Cardiomediastinum",
		anchor: re(`cardiomediastinal silhouette`, `cardiomediastinal contours?`, `mediastinal contours?`, `mediastinal silhouette`,
			`cardiomediastinum`, `mediastinum`, `mediastinal width`, `superior mediastinum`),
		positive: set("enlarged", "enlargement", "widened", "widening", "wide", "prominent", "prominence", "increased"),
		normal:   set("normal", "unremarkable", "wnl"),
		unc:      set("borderline")},
}

func set(ws ...string) map[string]bool {
	m := map[string]bool{}
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// Multi-word cues are rewritten to one marker token before scoping. The
// order matters: uncertainty phrases that contain a negation word come
// first.
var cuePhrases = []struct {
	re     *regexp.Regexp
	marker string
}{
	{re(`cannot be (?:entirely |completely |definitely )?(?:excluded|ruled out|exclude)`, `can not be (?:entirely |completely )?(?:excluded|ruled out)`,
		`could not be (?:excluded|ruled out)`, `not be (?:excluded|ruled out)`, `not (?:entirely |completely |definitely )?(?:excluded|ruled out)`,
		`cannot (?:entirely |completely )?(?:exclude|rule out)`, `can not (?:exclude|rule out)`, `can't (?:exclude|rule out)`,
		`difficult to (?:exclude|rule out)`, `unable to (?:exclude|rule out)`, `would be difficult to exclude`,
		`may not be excluded`, `no definite evidence against`), "_unc_"},
	{re(`no (?:significant |appreciable |substantial |definite |interval |)?(?:change|changes|increase|decrease|worsening|improvement|progression) (?:in|of)`,
		`not (?:significantly )?changed`, `without (?:significant |interval )?change (?:in|of)`), "_stable_"},
	{re(`to suggest`, `to indicate`, `to represent`, `to account for`, `suggestive of`), "_link_"},
	{re(`no (?:radiographic |definite |convincing |new |acute |focal |other |further |obvious |visible |)*(?:evidence|signs?|findings?) (?:of|for|to suggest)`,
		`without (?:radiographic |definite |)?(?:evidence|signs?) of`, `negative for`, `free of`, `clear of`, `rules? out`, `ruled out`,
		`no longer (?:seen|visualized|present|evident|identified|apparent|demonstrated|visible)`, `no longer`,
		`has (?:since )?(?:resolved|cleared)`, `have (?:since )?(?:resolved|cleared)`, `(?:has|have) been removed`,
		`interval removal of`, `removal of`, `resolution of`, `resolved`, `absence of`),
		"_neg_"},
}

var (
	negWords = set("_neg_", "no", "not", "without", "absent", "negative", "nor", "removed", "resolved", "never")
	uncWords = set("_unc_", "possible", "possibly", "probable", "probably", "likely", "may", "might", "could",
		"suspicious", "suspected", "suspect", "suspicion", "suggest", "suggests", "suggesting", "suggestive", "concerning", "concern",
		"questionable", "question", "questioned", "versus", "vs", "differential", "equivocal", "indeterminate",
		"presumed", "presumably", "presumptive", "worrisome", "perhaps", "cannot", "consider", "considered", "?",
		"uncertain", "unclear", "unlikely", "borderline")
	// Post-mention cues (after the mention, in its clause).
	postNeg    = regexp.MustCompile(`^(?:(?:\S+ ){0,6}?)(?:_neg_|(?:is |are |was |were |has been |have been )?(?:not|no longer) (?:be |been )?(?:seen|identified|visualized|present|evident|appreciated|demonstrated|detected|noted|apparent|visible|confirmed)|(?:is |are )?absent|(?:is |are )?resolved|(?:is |are )?removed|(?:is |are )?unlikely)(?: |$)`)
	postUnc    = regexp.MustCompile(`^(?:(?:\S+ ){0,6}?)(?:_unc_|versus|vs|\?|(?:is|are) (?:possible|suspected|questioned|questionable|not excluded|likely|probable|also possible|a possibility|considered))(?: |$)`)
	verbTokens = set("is", "are", "was", "were", "seen", "noted", "identified", "present", "demonstrated", "visualized", "has", "have")
	breakWords = set("but", "however", "although", "though", "except", "aside", "apart", "whereas", "while", "which", "who", "otherwise", "yet")
	newClause  = set("the", "there", "a", "an", "this", "these", "it", "lungs", "heart")
)

// LabelReport labels one report text: each mention of an observation is
// classified, then a report's label is positive if any mention is
// positive, else uncertain if any is uncertain, else negative if any is
// negative, else blank. No Finding is positive when none of the 12
// pathologies (the 14 less No Finding and Support Devices) is positive or
// uncertain, and blank otherwise.
func LabelReport(text string) Labels {
	found := map[string][]Label{}
	for _, s := range sentences(text) {
		for obs, ls := range labelSentence(s) {
			found[obs] = append(found[obs], ls...)
		}
	}
	out := Labels{}
	for _, obs := range Observations[1:] {
		out[obs] = aggregate(found[obs])
	}
	out["No Finding"] = Positive
	for _, obs := range Observations[1:] {
		if obs == "Support Devices" {
			continue
		}
		if l := out[obs]; l == Positive || l == Uncertain {
			out["No Finding"] = Blank
		}
	}
	return out
}

func aggregate(ls []Label) Label {
	res := Blank
	for _, l := range ls {
		switch {
		case l == Positive:
			return Positive
		case l == Uncertain:
			res = Uncertain
		case l == Negative && res == Blank:
			res = Negative
		}
	}
	return res
}

var (
	decimal   = regexp.MustCompile(`(\d)\.(\d)`)
	splitter  = regexp.MustCompile(`[.;!\n]+`)
	nonWord   = regexp.MustCompile(`[^a-z0-9_?,' ]+`)
	spaces    = regexp.MustCompile(`\s+`)
	commaSpan = regexp.MustCompile(`\s*,\s*`)
)

// sentences splits a report into normalised sentences: lowercase, words
// and commas separated by single spaces, "?" kept as a token, hyphens and
// other punctuation turned into spaces.
func sentences(text string) []string {
	t := strings.ToLower(text)
	t = decimal.ReplaceAllString(t, "${1}_${2}")
	var out []string
	for _, s := range splitter.Split(t, -1) {
		s = strings.ReplaceAll(s, "?", " ? ")
		s = strings.ReplaceAll(s, "n't", " not")
		s = strings.ReplaceAll(s, "'s", "")
		s = nonWord.ReplaceAllString(s, " ")
		s = strings.ReplaceAll(s, "'", " ")
		s = commaSpan.ReplaceAllString(s, " , ")
		s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
		s = strings.Trim(s, " ,")
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// mention is one found mention: token span [start, end), and a built-in
// class (Blank: classify by cues).
type mention struct {
	start, end int
	fixed      Label
}

// labelSentence finds and classifies every mention in one normalised
// sentence.
func labelSentence(s string) map[string][]Label {
	for _, c := range cuePhrases {
		s = c.re.ReplaceAllString(s, c.marker)
	}
	toks := strings.Fields(s)
	out := map[string][]Label{}
	for _, r := range rules {
		text := s
		if r.unmention != nil {
			text = r.unmention.ReplaceAllStringFunc(text, mask)
		}
		var ms []mention
		covered := map[int]bool{}
		if r.uncertain != nil {
			for _, sp := range r.uncertain.FindAllStringIndex(text, -1) {
				m := spanTokens(text, sp)
				m.fixed = Uncertain
				ms = append(ms, m)
				covered[m.start] = true
			}
		}
		for _, sp := range r.mentions.FindAllStringIndex(text, -1) {
			m := spanTokens(text, sp)
			if !covered[m.start] {
				ms = append(ms, m)
			}
		}
		for _, m := range ms {
			out[r.obs] = append(out[r.obs], classify(toks, m))
		}
	}
	for _, a := range anchors {
		for _, sp := range a.anchor.FindAllStringIndex(s, -1) {
			m := spanTokens(s, sp)
			if l, ok := anchorMention(toks, m, a); ok {
				out[a.obs] = append(out[a.obs], l)
			}
		}
	}
	return out
}

func mask(s string) string { return strings.Repeat("#", len(s)) }

func spanTokens(s string, sp []int) mention {
	start := strings.Count(s[:sp[0]], " ")
	return mention{start: start, end: start + strings.Count(s[sp[0]:sp[1]], " ") + 1, fixed: Blank}
}

// clauseStart is the first token of the clause containing token i,
// scanning back: a break word, or "and" / "," that follows a verb and
// starts a new clause, ends the scope.
func clauseStart(toks []string, i int) int {
	sawVerb := false
	for j := i - 1; j >= 0; j-- {
		t := toks[j]
		if breakWords[t] {
			return j + 1
		}
		if (t == "," || t == "and") && j+1 < len(toks) && (sawVerb || newClause[toks[j+1]]) && j+1 != i {
			return j + 1
		}
		if verbTokens[t] {
			sawVerb = true
		}
		if (t == "," || t == "and") && sawVerb {
			return j + 1
		}
	}
	return 0
}

// clauseEnd is one past the last token of the clause that starts after
// token i-1, up to a break word or a "," / "and" that starts a new
// clause.
func clauseEnd(toks []string, i int) int {
	for j := i; j < len(toks); j++ {
		t := toks[j]
		if breakWords[t] {
			return j
		}
		if (t == "," || t == "and") && j+1 < len(toks) && newClause[toks[j+1]] {
			return j
		}
	}
	return len(toks)
}

// classify applies the scope rule to one mention: the nearest negation or
// uncertainty cue before the mention in its clause decides; failing one,
// a negation or uncertainty phrase after it in the clause; failing that,
// the mention's built-in class, else positive.
func classify(toks []string, m mention) Label {
	start := clauseStart(toks, m.start)
	for j := m.start - 1; j >= start; j-- {
		t := toks[j]
		if uncWords[t] {
			// "unlikely", and a hedge under a negation ("no suspicious
			// nodules", "no definite possible ...") negate.
			if t == "unlikely" || (j > start && negWords[toks[j-1]]) {
				return Negative
			}
			return Uncertain
		}
		if negWords[t] {
			return Negative
		}
	}
	end := clauseEnd(toks, m.end)
	// The post-mention scope also stops at a comma: in "opacity,
	// atelectasis versus consolidation" the hedge is about what follows.
	for j := m.end; j < end; j++ {
		if toks[j] == "," {
			end = j
			break
		}
	}
	if m.end < end {
		post := strings.Join(toks[m.end:end], " ")
		if postUnc.MatchString(post) {
			return Uncertain
		}
		if postNeg.MatchString(post) {
			return Negative
		}
	}
	if m.fixed != Blank {
		return m.fixed
	}
	return Positive
}

// anchorMention looks for a state word within 3 tokens before or 7 after
// the anchor, in its clause.
func anchorMention(toks []string, m mention, a anchor) (Label, bool) {
	lo := max(clauseStart(toks, m.start), m.start-3)
	hi := min(clauseEnd(toks, m.end), m.end+7)
	state, si := Blank, -1
	for j := lo; j < hi; j++ {
		if j >= m.start && j < m.end {
			continue
		}
		t := toks[j]
		var l Label
		switch {
		case a.positive[t]:
			l = Positive
		case a.normal[t] || (t == "within" && j+2 < len(toks) && toks[j+1] == "normal" && toks[j+2] == "limits"):
			l = Negative
		case a.unc[t]:
			l = Uncertain
		case t == "top" && j+1 < len(toks) && toks[j+1] == "normal":
			l = Negative
		default:
			continue
		}
		state, si = l, j
		break
	}
	if si < 0 {
		return Blank, false
	}
	// "upper limits of normal", "top normal": normal wins over an
	// adjacent "upper"/"top".
	span := mention{start: min(m.start, si), end: max(m.end, si+1), fixed: Blank}
	// Cues between the anchor and its state ("heart is not enlarged",
	// "heart size may be enlarged").
	for j := span.start; j < span.end; j++ {
		if j >= m.start && j < m.end || j == si {
			continue
		}
		if negWords[toks[j]] {
			if state == Negative {
				return Positive, true // "not normal"
			}
			return Negative, true
		}
		if uncWords[toks[j]] {
			return Uncertain, true
		}
	}
	if state != Positive {
		l := classify(toks, span)
		if l == Negative && state == Negative {
			return Negative, true
		}
		if l == Uncertain {
			return Uncertain, true
		}
		return state, true
	}
	return classify(toks, span), true
}
