package metrics

import "testing"

// Pairs from the Snowball English stemmer's published sample vocabulary
// (the algorithm's description page), plus radiology words.
func TestStem(t *testing.T) {
	for in, want := range map[string]string{
		"consign": "consign", "consigned": "consign", "consigning": "consign",
		"consignment": "consign", "consist": "consist", "consisted": "consist",
		"consistency": "consist", "consistent": "consist", "consistently": "consist",
		"consisting": "consist", "consists": "consist", "consolation": "consol",
		"consolations": "consol", "consolatory": "consolatori", "console": "consol",
		"consoled": "consol", "consoles": "consol", "consolidate": "consolid",
		"consolidated": "consolid", "consolidating": "consolid", "consoling": "consol",
		"knack": "knack", "knackeries": "knackeri", "knaves": "knave", "knavish": "knavish",
		"kneaded": "knead", "kneel": "kneel", "knelt": "knelt", "knife": "knife",
		"generously": "generous", "running": "run", "hopping": "hop", "hoping": "hope",
		"effusions": "effus", "opacities": "opac", "atelectasis": "atelectasi",
		"enlarged": "enlarg", "skies": "sky", "cries": "cri", "ties": "tie",
		"succeeding": "succeed", "happily": "happili", "fluently": "fluentli",
		"caresses": "caress", "ponies": "poni", "agreed": "agre", "hopeful": "hope",
		"relational": "relat", "conditional": "condit", "sensibility": "sensibl",
		"a": "a", "is": "is", "this": "this", "test": "test", "tests": "test",
	} {
		if got := Stem(in); got != want {
			t.Errorf("Stem(%q) = %q, want %q", in, got, want)
		}
	}
}
