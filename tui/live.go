package tui

import (
	"time"

	"maira/watcher"
)

// stages are a study's steps, in order, as the events name them.
var stages = [...]string{"decode image", "encode", "prefill", "generate"}

func stageIndex(name string) int {
	for i, s := range stages {
		if s == name {
			return i
		}
	}
	return -1
}

// live is the study being reported (or the last one, once finished), put
// together from the events and, where they were missed, the status.
type live struct {
	study      string
	started    time.Time
	images     []string
	indication string

	stage   int                    // index in stages
	stageAt [len(stages)]time.Time // when each stage started (zero: not seen)
	prompt  int                    // prompt tokens (prefill's total)
	tokens  int                    // generated so far
	total   int                    // the cap on generated tokens
	text    string                 // the findings so far
	gap     bool                   // token events were lost: the status's text is better

	// The generation rate: tokens since the anchor over the time since.
	anchorAt     time.Time
	anchorTokens int
	lastAt       time.Time

	finished   string // "", "done" or "failed"
	finishedAt time.Time
	reason     string
	seenAt     time.Time // the newest event or status applied
}

// apply takes one event.
func (l live) apply(ev watcher.Event) live {
	if ev.Study == "" {
		return l
	}
	switch ev.Kind {
	case "started":
		l = live{study: ev.Study, started: ev.Time}
		l.stageAt[0] = ev.Time
	case "stage":
		if ev.Study != l.study || l.finished != "" {
			l = live{study: ev.Study}
		}
		i := stageIndex(ev.Message)
		if i < 0 {
			return l
		}
		l.stage, l.stageAt[i] = i, ev.Time
		switch stages[i] {
		case "prefill":
			l.prompt = ev.Total
		case "generate":
			l.total, l.anchorAt, l.anchorTokens = ev.Total, ev.Time, l.tokens
		}
	case "token":
		if ev.Study != l.study || l.finished != "" {
			l = live{study: ev.Study, gap: true}
		}
		if ev.Tokens <= l.tokens {
			return l // already in the text the status gave
		}
		if ev.Tokens != l.tokens+1 {
			l.gap = true
		}
		l.stage = stageIndex("generate")
		l.tokens, l.total, l.lastAt = ev.Tokens, ev.Total, ev.Time
		l.text += ev.Text
		if l.anchorAt.IsZero() {
			l.anchorAt, l.anchorTokens = ev.Time, ev.Tokens
		}
	case "done", "failed":
		if ev.Study != l.study {
			return l
		}
		l.finished, l.finishedAt = ev.Kind, ev.Time
		if ev.Kind == "failed" {
			l.reason = ev.Message
		}
	default:
		return l
	}
	l.seenAt = ev.Time
	return l
}

// merge takes a status: the running study's images and indication (which
// no event carries), and whatever the events missed.
func (l live) merge(st watcher.Status) live {
	r := st.Running
	if st.Time.Before(l.seenAt) {
		// Older than the events already applied: only what they lack.
		if r != nil && r.Study == l.study && l.finished == "" {
			l.images, l.indication = r.Images, r.Indication
		}
		return l
	}
	if r == nil {
		if l.study != "" && l.finished == "" {
			// It ended while the events were lost.
			l.finished, l.finishedAt = "done", st.Time
			for _, x := range st.Recent {
				if x.Study == l.study {
					l.finished = string(x.State)
					l.reason = x.Error
					if !x.Finished.IsZero() {
						l.finishedAt = x.Finished
					}
				}
			}
		}
		return l
	}
	if l.study == r.Study && l.finished != "" && !r.Started.After(l.finishedAt) {
		// Finished, as the events said: the service still names it running
		// while it archives the inputs.
		return l
	}
	if r.Study != l.study || l.finished != "" {
		// A study the events did not announce (the viewer attached or came
		// back in the middle of it, or it was retried).
		l = live{study: r.Study, started: r.Started, gap: true}
		l.stage = max(0, stageIndex(r.Stage))
		l.anchorAt, l.anchorTokens = st.Time, r.Tokens
	}
	l.images, l.indication, l.started = r.Images, r.Indication, r.Started
	if i := stageIndex(r.Stage); i > l.stage {
		l.stage = i
	}
	if r.Tokens > l.tokens || (l.gap && r.Tokens >= l.tokens) {
		l.tokens, l.total, l.text, l.lastAt = r.Tokens, r.Total, r.Text, st.Time
		l.gap = false
		if l.anchorAt.IsZero() {
			l.anchorAt, l.anchorTokens = st.Time, r.Tokens
		}
	}
	if l.total == 0 {
		l.total = r.Total
	}
	l.seenAt = st.Time
	return l
}

// rate is the generation speed in tokens per second (0: not known yet).
func (l live) rate() float64 {
	d := l.lastAt.Sub(l.anchorAt).Seconds()
	n := l.tokens - l.anchorTokens
	if d <= 0 || n <= 0 {
		return 0
	}
	return float64(n) / d
}

// prefillRate is the prompt's speed in tokens per second (0: not known).
func (l live) prefillRate() float64 {
	p, g := l.stageAt[stageIndex("prefill")], l.stageAt[stageIndex("generate")]
	if p.IsZero() || g.IsZero() || l.prompt == 0 || !g.After(p) {
		return 0
	}
	return float64(l.prompt) / g.Sub(p).Seconds()
}

// eta is the time left at the current rate if generation runs to the cap
// (it usually stops earlier, at the end of the findings).
func (l live) eta() (time.Duration, bool) {
	r := l.rate()
	if r <= 0 || l.total <= 0 {
		return 0, false
	}
	left := max(0, l.total-l.tokens)
	return time.Duration(float64(left) / r * float64(time.Second)), true
}
