package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether w is a terminal (for progress bars).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// progress shows how far a long job is: a redrawn bar on a terminal, a
// plain line every tenth otherwise (logs, serial consoles that do not
// handle carriage returns).
type progress struct {
	w        io.Writer
	tty      bool
	label    string
	lastDraw time.Time
	lastStep int64
}

func newProgress(w io.Writer, label string) *progress {
	return &progress{w: w, tty: isTerminal(w), label: label, lastStep: -1}
}

func (p *progress) update(done, total int64, elapsed time.Duration, detail string) {
	if total <= 0 {
		return
	}
	frac := float64(done) / float64(total)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	eta := "--"
	if rate > 0 && done < total {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	if p.tty {
		now := time.Now()
		if done < total && now.Sub(p.lastDraw) < 100*time.Millisecond {
			return
		}
		p.lastDraw = now
		const width = 28
		n := int(frac * width)
		bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
		line := fmt.Sprintf("\r%s [%s] %3.0f%% %s/%s %s/s ETA %s %s", p.label, bar, 100*frac,
			humanBytes(done), humanBytes(total), humanBytes(int64(rate)), eta, detail)
		fmt.Fprintf(p.w, "%-*s", 100, line)
		return
	}
	step := int64(frac * 10)
	if step == p.lastStep {
		return
	}
	p.lastStep = step
	fmt.Fprintf(p.w, "%s: %3.0f%% %s of %s, %s/s, ETA %s\n", p.label, 100*frac, humanBytes(done), humanBytes(total), humanBytes(int64(rate)), eta)
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.tty && !p.lastDraw.IsZero() {
		fmt.Fprintln(p.w)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
