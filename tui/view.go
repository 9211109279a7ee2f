package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"maira/models/report"
	"maira/watcher"
)

// barWidth is a stage's progress bar, in cells.
const barWidth = 20

// Styles. Colour only ever repeats what the text says (the active tab is in
// brackets, the selected row has a marker, states are words), so a
// terminal without colour, or NO_COLOR (the renderer drops the colours
// then), loses nothing.
var (
	titleStyle  = lipgloss.NewStyle().Bold(true)
	tabStyle    = lipgloss.NewStyle().Bold(true).Reverse(true)
	headStyle   = lipgloss.NewStyle().Bold(true)
	okStyle     = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	warnStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("3")).Bold(true)
	badStyle    = lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
	dimStyle    = lipgloss.NewStyle().Faint(true)
	selStyle    = lipgloss.NewStyle().Reverse(true)
	barStyle    = lipgloss.NewStyle().Foreground(lipgloss.Color("6"))
	noticeStyle = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
)

func helpStyles() help.Styles {
	s := help.DefaultDarkStyles()
	s.ShortKey = lipgloss.NewStyle().Bold(true)
	s.ShortDesc = lipgloss.NewStyle()
	s.ShortSeparator = dimStyle
	s.Ellipsis = dimStyle
	return s
}

// View draws the whole screen: header, tabs, the view, a message line and
// the help bar, cut to the terminal's size.
func (m Model) View() tea.View {
	w, h := max(m.width, 20), max(m.height, 6)
	lines := []string{m.header(w), m.tabs(w)}
	body := m.body(w, m.bodyHeight())
	lines = append(lines, fit(body, w, m.bodyHeight())...)
	lines = append(lines, m.messageLine(w))
	lines = append(lines, m.helpBar(w))
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…")
	}
	v := tea.NewView(strings.Join(lines[:min(len(lines), h)], "\n"))
	v.AltScreen = true // no window title: a serial console would print it
	return v
}

// helpBar shows the keys that apply, dropping the view's own from the
// end where the line is too short: the views, pause and quit always show.
func (m Model) helpBar(w int) string {
	views, own, always := m.bindings()
	for {
		line := m.help.ShortHelpView(append(append(append([]key.Binding{}, views...), own...), always...))
		if lipgloss.Width(line) <= w || len(own) == 0 {
			return line
		}
		own = own[:len(own)-1]
	}
}

// bodyHeight is the lines left for the view.
func (m Model) bodyHeight() int { return max(m.height, 6) - 4 }

// fit pads or cuts lines to exactly h.
func fit(lines []string, w, h int) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Split(l, "\n")...)
	}
	if len(out) > h {
		out = out[:h]
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

func (m Model) header(w int) string {
	left := titleStyle.Render(m.opt.Title)
	var state string
	switch {
	case !m.connected && !m.everConnected:
		state = warnStyle.Render("CONNECTING")
	case !m.connected:
		state = badStyle.Render("NOT CONNECTED")
	case m.status.Paused != "":
		state = warnStyle.Render("PAUSED")
	case m.status.Running != nil:
		state = okStyle.Render("WORKING")
	default:
		state = okStyle.Render("IDLE")
	}
	left += "  " + state
	var right string
	if m.haveStatus {
		c := m.status.Counts
		right = fmt.Sprintf("waiting %d  done %d  failed %d  %s", c[watcher.Collecting]+c[watcher.Queued],
			c[watcher.Done], c[watcher.Failed], m.status.Time.Local().Format("15:04:05"))
	}
	gap := w - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return left + " " + right
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m Model) tabs(w int) string {
	var parts []string
	for i, name := range screenNames {
		label := fmt.Sprintf("%d %s", i+1, name)
		if screen(i) == m.screen {
			parts = append(parts, tabStyle.Render("["+label+"]"))
		} else {
			parts = append(parts, " "+label+" ")
		}
	}
	return strings.Join(parts, " ")
}

// messageLine is the connection's trouble, else the last action's outcome,
// else the intake's pause.
func (m Model) messageLine(w int) string {
	switch {
	case !m.connected && m.connErr != "":
		return badStyle.Render(fmt.Sprintf("service not answering (%s); retrying every %s", m.connErr, m.opt.Retry))
	case !m.connected:
		return dimStyle.Render("connecting to " + m.opt.Socket + "…")
	case m.flash != "" && m.opt.Now().Sub(m.flashAt) < flashFor:
		return m.flash
	case m.status.Paused != "":
		return warnStyle.Render("intake paused: " + m.status.Paused)
	}
	return ""
}

func (m Model) body(w, h int) []string {
	if !m.haveStatus {
		msg := "Waiting for the service"
		if m.opt.Socket != "" {
			msg += " at " + m.opt.Socket
		}
		return []string{"", msg + "…", "", "It is retried every " + m.opt.Retry.String() + "; q quits."}
	}
	switch m.screen {
	case screenQueue:
		return m.queueView(w, h)
	case screenHistory:
		if m.reportKey != "" {
			return m.reportView(w, h)
		}
		return m.historyView(w, h)
	case screenDevice:
		return m.deviceView(w)
	case screenLog:
		return m.logView(w, h)
	}
	return m.nowView(w, h)
}

// nowView: the running study, its stages and its findings as they stream.
func (m Model) nowView(w, h int) []string {
	l := m.live
	if l.study == "" {
		out := []string{"", "No study is being reported."}
		if n := len(m.status.Queue); n > 0 {
			out = append(out, fmt.Sprintf("%d waiting (see Queue).", n))
		} else {
			out = append(out, "Waiting for files in "+m.status.In)
		}
		return out
	}
	now := m.opt.Now()
	var out []string
	state := "running"
	switch l.finished {
	case "done":
		state = okStyle.Render("done") + " " + ago(now, l.finishedAt)
	case "failed":
		state = badStyle.Render("FAILED") + " " + ago(now, l.finishedAt)
	default:
		if !l.started.IsZero() {
			state += " for " + dur(now.Sub(l.started))
		}
	}
	out = append(out, headStyle.Render("Study ")+l.study+"  "+state)
	images := "-"
	if len(l.images) > 0 {
		images = strings.Join(l.images, ", ")
	}
	out = append(out, wrap("Images     "+images, w, "           ")...)
	ind := l.indication
	if ind == "" {
		ind = "-"
	}
	out = append(out, wrap("Indication "+ind, w, "           ")...)
	out = append(out, "")
	for i := range stages {
		out = append(out, m.stageLine(i, now))
	}
	if l.finished == "failed" {
		out = append(out, wrap(badStyle.Render("Reason: ")+l.reason, w, "        ")...)
	}
	out = append(out, "")
	head := "Findings"
	if l.finished == "" {
		head += " (as they are written)"
	}
	out = append(out, headStyle.Render(head))
	// The findings take the rest, their newest lines, and the notice the
	// last line.
	room := h - len(out) - 1
	text := wrap(strings.TrimSpace(l.text), w, "")
	if strings.TrimSpace(l.text) == "" {
		text = []string{dimStyle.Render("(none yet)")}
		if l.finished != "" {
			text = []string{dimStyle.Render("(none)")}
		}
	}
	if room > 0 && len(text) > room {
		text = text[len(text)-room:]
	}
	if room <= 0 {
		text = nil
	}
	out = append(out, text...)
	out = fit(out, w, h-1)
	return append(out, noticeStyle.Render(report.Notice))
}

func (m Model) stageLine(i int, now time.Time) string {
	l := m.live
	name := fmt.Sprintf("%-12s ", stages[i])
	var pct float64
	var info string
	switch {
	case l.finished == "done" || i < l.stage:
		pct = 1
		info = "done"
		if i+1 < len(stages) && !l.stageAt[i].IsZero() && !l.stageAt[i+1].IsZero() {
			info += " in " + dur(l.stageAt[i+1].Sub(l.stageAt[i]))
		}
		if stages[i] == "prefill" {
			if r := l.prefillRate(); r > 0 {
				info += fmt.Sprintf("  %d tok  %.0f tok/s", l.prompt, r)
			}
		}
		if stages[i] == "generate" {
			info = fmt.Sprintf("done  %d tok", l.tokens)
			if r := l.rate(); r > 0 {
				info += fmt.Sprintf("  %.1f tok/s", r)
			}
		}
	case i == l.stage && l.finished == "failed":
		info = badStyle.Render("failed")
	case i == l.stage:
		if stages[i] == "generate" {
			if l.total > 0 {
				pct = float64(l.tokens) / float64(l.total)
			}
			info = fmt.Sprintf("%d/%d tok", l.tokens, l.total)
			if r := l.rate(); r > 0 {
				info += fmt.Sprintf("  %.1f tok/s", r)
			}
			if eta, ok := l.eta(); ok {
				info += "  ETA ≤" + dur(eta)
			}
		} else {
			info = "running"
			if at := l.stageAt[i]; !at.IsZero() {
				info += " " + dur(now.Sub(at))
			}
			if stages[i] == "prefill" && l.prompt > 0 {
				info += fmt.Sprintf("  %d tok", l.prompt)
			}
		}
	default:
		info = dimStyle.Render("waiting")
	}
	return name + bar(pct) + " " + info
}

func (m Model) queueView(w, h int) []string {
	now := m.opt.Now()
	st := m.status
	var out []string
	switch {
	case m.operatorPaused():
		out = append(out, "Intake: "+warnStyle.Render("PAUSED")+" by the operator (p resumes)")
	case st.Paused != "":
		out = append(out, "Intake: "+warnStyle.Render("PAUSED")+": "+st.Paused)
	default:
		out = append(out, "Intake: "+okStyle.Render("open")+" (p pauses)")
	}
	if st.Settling > 0 {
		out[0] += fmt.Sprintf("; %d file(s) still arriving", st.Settling)
	}
	if r := st.Running; r != nil {
		out = append(out, fmt.Sprintf("Running: %s  %s  %s", r.Study, r.Stage, dur(now.Sub(r.Started))))
	}
	out = append(out, "", headStyle.Render(fmt.Sprintf("Waiting: %d", len(st.Queue))))
	if len(st.Queue) > 0 {
		out = append(out, dimStyle.Render(fmt.Sprintf("  %3s  %-16s  %-10s  %6s  %s", "#", "STUDY", "STATE", "IMAGES", "WAITING")))
	}
	failed := m.failedRecent()
	maxQ := max(1, h-len(out)-4-min(len(failed), 5))
	for i, q := range st.Queue {
		if i == maxQ-1 && len(st.Queue) > maxQ {
			out = append(out, fmt.Sprintf("  … and %d more", len(st.Queue)-i))
			break
		}
		out = append(out, fmt.Sprintf("  %3d  %-16s  %-10s  %6d  %s", i+1, q.Study, q.State, q.Images, dur(now.Sub(q.Arrived))))
	}
	out = append(out, "", headStyle.Render(fmt.Sprintf("Failed recently: %d", len(failed))))
	for i, f := range failed {
		line := fmt.Sprintf("%s  %s  %s", f.Study, f.Finished.Local().Format("15:04:05"), oneLine(f.Error))
		out = append(out, selectLine(line, i == m.queueSel, w))
	}
	return out
}

func (m Model) historyView(w, h int) []string {
	now := m.opt.Now()
	var out []string
	switch {
	case m.searching:
		out = append(out, "search: "+m.input+selStyle.Render(" ")+dimStyle.Render("  (key, state, error or file name; enter applies)"))
	case m.query != "":
		out = append(out, fmt.Sprintf("search: %q  (%d found; / changes it, esc clears it)", m.query, len(m.history)))
	default:
		out = append(out, dimStyle.Render("newest first; / searches"))
	}
	out = append(out, dimStyle.Render(fmt.Sprintf("  %-16s  %-6s  %-8s  %6s  %s", "STUDY", "STATE", "FINISHED", "TIME", "")))
	if len(m.history) == 0 {
		if m.historyFor != m.query || m.history == nil {
			return append(out, "  …")
		}
		return append(out, "  (no finished study"+map[bool]string{true: " matches", false: " yet"}[m.query != ""]+")")
	}
	rows := h - len(out)
	first := 0
	if m.histSel >= rows {
		first = m.histSel - rows + 1
	}
	for i := first; i < len(m.history) && i < first+rows; i++ {
		x := m.history[i]
		state := string(x.State)
		if x.State == watcher.Failed {
			state = badStyle.Render("FAILED")
		}
		what := fmt.Sprintf("%d image(s)", x.Images)
		if x.State == watcher.Failed {
			what = oneLine(x.Error)
		}
		secs := ""
		if x.Seconds > 0 {
			secs = fmt.Sprintf("%.1f s", x.Seconds)
		}
		line := fmt.Sprintf("%-16s  %-6s  %-8s  %6s  %s", x.Study, state, when(now, x.Finished), secs, what)
		out = append(out, selectLine(line, i == m.histSel, w))
	}
	return out
}

// reportView: one study's details, its timings, its reason or report, and
// the notice pinned to the last line.
func (m Model) reportView(w, h int) []string {
	if m.reportErr != "" {
		return []string{"Study " + m.reportKey, "", badStyle.Render(m.reportErr), "", "esc goes back"}
	}
	r := m.report
	if r == nil {
		return []string{"Study " + m.reportKey, "", "reading…"}
	}
	var out []string
	state := string(r.State)
	if r.State == watcher.Failed {
		state = badStyle.Render("FAILED")
	}
	out = append(out, headStyle.Render("Study ")+r.Study+"  "+state+"  finished "+r.Finished.Local().Format("2006-01-02 15:04:05"))
	out = append(out, fmt.Sprintf("Arrived %s  attempts %d  images %d", r.Arrived.Local().Format("15:04:05"), r.Attempts, r.Images))
	out = append(out, wrap("Files   "+strings.Join(r.Files, ", "), w, "        ")...)
	if r.ReportDir != "" {
		out = append(out, wrap("Folder  "+r.ReportDir, w, "        ")...)
	}
	if r.State == watcher.Failed {
		out = append(out, wrap(badStyle.Render("Reason  ")+r.Error, w, "        ")...)
	}
	if t := r.Timings; t != nil {
		out = append(out, fmt.Sprintf("Timings decode %s  encode %s  prefill %s  generate %s  total %s",
			ms(t.PreprocessMS), ms(t.EncodeMS), ms(t.PrefillMS), ms(t.DecodeMS), ms(t.TotalMS)))
		out = append(out, fmt.Sprintf("Tokens  prompt %d (%.0f tok/s)  generated %d (%.1f tok/s)",
			t.PromptTokens, t.PrefillTokensPerS, t.GeneratedTokens, t.DecodeTokensPerS))
	}
	for _, n := range r.Notes {
		out = append(out, wrap("Note    "+n, w, "        ")...)
	}
	if r.ReportText != "" {
		out = append(out, "")
		out = append(out, wrap(strings.TrimRight(r.ReportText, "\n"), w, "")...)
	}
	room := h - 1
	scroll := clamp(m.scroll, 0, max(0, len(out)-room))
	out = out[scroll:]
	out = fit(out, w, room)
	return append(out, noticeStyle.Render(report.Notice))
}

func (m Model) deviceView(w int) []string {
	if !m.haveDevice {
		return []string{"reading…"}
	}
	d := m.device
	out := []string{
		"Backend        " + d.Backend,
		fmt.Sprintf("Model          %s (%s)", orDash(d.ModelName), orDash(d.Model)),
		"Quantization   " + orDash(d.Quantization),
		fmt.Sprintf("Memory         %s resident, peak %s", bytes(d.RSSBytes), bytes(d.PeakRSSBytes)),
		fmt.Sprintf("Uptime         %s (since %s)", dur(time.Duration(d.UptimeS*float64(time.Second))), d.Started.Local().Format("2006-01-02 15:04")),
		fmt.Sprintf("Studies        %.0f in the last hour; %d done, %d failed in all", d.StudiesPerHour, d.Done, d.Failed),
		fmt.Sprintf("Version        maira %s, %s", orDash(d.Version), d.GoVersion),
		"",
		headStyle.Render("Disks"),
	}
	for _, k := range d.Disks {
		free := ""
		if k.SizeBytes > 0 {
			free = fmt.Sprintf(" (%d%% free)", 100*k.FreeBytes/k.SizeBytes)
			if k.FreeBytes*10 < k.SizeBytes {
				free = warnStyle.Render(free)
			}
		}
		out = append(out, fmt.Sprintf("  %-12s %s free of %s%s", k.Folder, bytes(k.FreeBytes), bytes(k.SizeBytes), free))
		out = append(out, wrap("               "+k.Path, w, "               ")...)
	}
	return out
}

func (m Model) logView(w, h int) []string {
	if len(m.logs) == 0 {
		return []string{dimStyle.Render("(no log lines yet)")}
	}
	end := len(m.logs) - clamp(m.logScroll, 0, len(m.logs)-1)
	// The newest lines that fit, each wrapped.
	var out []string
	for i := end - 1; i >= 0 && len(out) < h; i-- {
		out = append(wrap(m.logs[i], w, "    "), out...)
	}
	if len(out) > h {
		out = out[len(out)-h:]
	}
	if m.logScroll > 0 && len(out) > 0 {
		out[len(out)-1] = dimStyle.Render(fmt.Sprintf("-- %d newer line(s) below; end shows them --", m.logScroll))
	}
	return out
}

// bar is a progress bar of barWidth cells.
func bar(pct float64) string {
	n := clamp(int(pct*barWidth+0.5), 0, barWidth)
	return barStyle.Render(strings.Repeat("█", n)) + dimStyle.Render(strings.Repeat("░", barWidth-n))
}

// selectLine marks the selected row with ">" (and reverse video).
func selectLine(line string, sel bool, w int) string {
	if sel {
		return selStyle.Render(ansi.Truncate("> "+line, w, "…"))
	}
	return "  " + line
}

// wrap word-wraps s to w cells, indenting the lines after the first.
func wrap(s string, w int, indent string) []string {
	width := max(10, w-ansi.StringWidth(indent))
	var out []string
	for _, para := range strings.Split(s, "\n") {
		for _, l := range strings.Split(ansi.Wrap(para, width, ""), "\n") {
			if len(out) > 0 {
				l = indent + l
			}
			out = append(out, l)
		}
	}
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dur is a short duration: 850ms, 4.2s, 3m12s, 2h05m.
func dur(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func ms(v float64) string { return dur(time.Duration(v * float64(time.Millisecond))) }

func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return dur(now.Sub(t)) + " ago"
}

// when is a time of day today, else a date.
func when(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	t, now = t.Local(), now.Local()
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 02")
}

func bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), "KMGTPE"
	i := -1
	for v >= unit && i < len(u)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, u[i])
}
