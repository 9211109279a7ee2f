package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"maira/watcher"
)

// screen is one of the views.
type screen int

const (
	screenNow screen = iota
	screenQueue
	screenHistory
	screenDevice
	screenLog
	screens
)

var screenNames = [screens]string{"Now", "Queue", "History", "Device", "Log"}

// flashFor is how long an action's outcome stays on the message line.
const flashFor = 10 * time.Second

// logLines is how many log lines the log view asks for.
const logLines = 200

// Model is the UI's whole state.
type Model struct {
	ctx context.Context
	src Source
	opt Options

	width, height int
	screen        screen

	// The connection: the last poll's outcome and the event stream's.
	connected     bool
	everConnected bool
	connErr       string
	eventsOn      bool
	seq, applied  int // poll sequence numbers: a late answer never overwrites a newer one

	status     watcher.Status
	haveStatus bool
	live       live

	history    []watcher.StudyLine
	historyFor string // the query history holds
	histSel    int
	input      string // the search being typed
	searching  bool
	query      string
	report     *watcher.StudyReport // the opened study (History)
	reportKey  string
	reportErr  string
	scroll     int // lines scrolled in the opened study

	queueSel int // the selected failed study in the queue view

	device     watcher.Device
	haveDevice bool

	logs      []string
	logScroll int // lines up from the newest

	flash   string    // the last action's outcome, or a failure
	flashAt time.Time // shown for flashFor after this

	keys keyMap
	help help.Model
}

// New returns the model for src.
func New(ctx context.Context, src Source, opt Options) Model {
	if opt.Title == "" {
		opt.Title = "maira"
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Retry <= 0 {
		opt.Retry = 2 * time.Second
	}
	h := help.New()
	h.Styles = helpStyles()
	return Model{
		ctx: ctx, src: src, opt: opt, width: 80, height: 24,
		keys: newKeyMap(), help: h,
		eventsOn: true, // Init connects
	}
}

// Messages.
type (
	// dataMsg is a poll's answer.
	dataMsg struct {
		seq     int
		next    bool // this poll schedules the next one
		status  watcher.Status
		history []watcher.StudyLine
		query   string
		gotHist bool
		device  *watcher.Device
		logs    []string
		err     error
	}
	pollMsg   struct{}
	eventsMsg struct{ ch <-chan watcher.Event }
	eventMsg  struct {
		ev watcher.Event
		ch <-chan watcher.Event
	}
	eventsEndMsg struct{ err error }
	reconnectMsg struct{}
	// finishedMsg is the report of a study that finished before a status
	// showed its images.
	finishedMsg struct {
		key string
		r   *watcher.StudyReport
	}
	reportMsg struct {
		key string
		r   *watcher.StudyReport
		err error
	}
	actionMsg struct {
		done, failed string // what to say
		err          error
	}
)

// Init starts the first poll and the event stream.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.poll(0, true), m.connectEvents())
}

// poll reads the status and what the current view needs.
func (m Model) poll(seq int, next bool) tea.Cmd {
	src, sc, query := m.src, m.screen, m.query
	detail := m.report != nil
	return func() tea.Msg {
		d := dataMsg{seq: seq, next: next, query: query}
		d.status, d.err = src.Status()
		if d.err != nil {
			return d
		}
		switch sc {
		case screenHistory:
			if !detail {
				if h, err := src.History(query); err == nil {
					d.history, d.gotHist = h, true
				}
			}
		case screenDevice:
			if dv, err := src.Device(); err == nil {
				d.device = &dv
			}
		case screenLog:
			if l, err := src.Log(logLines); err == nil {
				d.logs = l
			}
		}
		return d
	}
}

// refresh polls now, outside the once-a-second chain.
func (m *Model) refresh() tea.Cmd {
	m.seq++
	return m.poll(m.seq, false)
}

func (m Model) connectEvents() tea.Cmd {
	ctx, src := m.ctx, m.src
	return func() tea.Msg {
		ch, err := src.Events(ctx)
		if err != nil {
			return eventsEndMsg{err}
		}
		return eventsMsg{ch}
	}
}

func waitEvent(ch <-chan watcher.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsEndMsg{}
		}
		return eventMsg{ev, ch}
	}
}

func (m Model) openReport(key string) tea.Cmd {
	src := m.src
	return func() tea.Msg {
		r, err := src.Report(key)
		return reportMsg{key, r, err}
	}
}

func (m Model) act(done, failed string, fn func() error) tea.Cmd {
	return func() tea.Msg { return actionMsg{done, failed, fn()} }
}

// Update applies one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil

	case tea.KeyPressMsg:
		return m.key(msg)

	case pollMsg:
		m.seq++
		return m, m.poll(m.seq, true)

	case dataMsg:
		var next tea.Cmd
		if msg.next {
			wait := m.opt.Poll
			if msg.err != nil {
				wait = m.opt.Retry
			}
			next = tea.Tick(wait, func(time.Time) tea.Msg { return pollMsg{} })
		}
		if msg.err != nil {
			m.connected, m.connErr = false, msg.err.Error()
			return m, next
		}
		var cmds []tea.Cmd
		if !m.connected && !m.eventsOn {
			// Back after a gap: the status (below) fills in what the
			// events missed.
			cmds = append(cmds, m.connectEvents())
			m.eventsOn = true
		}
		m.connected, m.everConnected, m.connErr = true, true, ""
		if msg.seq < m.applied {
			return m, tea.Batch(append(cmds, next)...)
		}
		m.applied = msg.seq
		m.status, m.haveStatus = msg.status, true
		m.live = m.live.merge(msg.status)
		if msg.gotHist && msg.query == m.query {
			m.history, m.historyFor = byFinished(msg.history), msg.query
			m.histSel = clamp(m.histSel, 0, len(m.history)-1)
		}
		if msg.device != nil {
			m.device, m.haveDevice = *msg.device, true
		}
		if msg.logs != nil {
			m.logs = msg.logs
		}
		m.queueSel = clamp(m.queueSel, 0, len(m.failedRecent())-1)
		return m, tea.Batch(append(cmds, next)...)

	case eventsMsg:
		m.eventsOn = true
		return m, waitEvent(msg.ch)

	case eventMsg:
		var cmd tea.Cmd
		m.live = m.live.apply(msg.ev)
		switch msg.ev.Kind {
		case "started", "done", "failed", "paused", "resumed", "queued":
			cmd = m.refresh()
		}
		if k := msg.ev.Kind; (k == "done" || k == "failed") && msg.ev.Study == m.live.study && len(m.live.images) == 0 {
			src, key := m.src, msg.ev.Study
			cmd = tea.Batch(cmd, func() tea.Msg {
				r, _ := src.Report(key)
				return finishedMsg{key, r}
			})
		}
		switch msg.ev.Kind {
		case "failed":
			m.flash, m.flashAt = fmt.Sprintf("study %s failed: %s", msg.ev.Study, msg.ev.Message), m.opt.Now()
		case "refused":
			m.flash, m.flashAt = fmt.Sprintf("refused %s: %s", msg.ev.File, msg.ev.Message), m.opt.Now()
		}
		return m, tea.Batch(waitEvent(msg.ch), cmd)

	case eventsEndMsg:
		// The service went away (or never answered): say so and connect
		// again in a while.
		m.eventsOn = false
		if msg.err != nil {
			m.connected, m.connErr = false, msg.err.Error()
		} else {
			m.connected, m.connErr = false, "the service closed the connection"
		}
		return m, tea.Tick(m.opt.Retry, func(time.Time) tea.Msg { return reconnectMsg{} })

	case reconnectMsg:
		if m.eventsOn {
			return m, nil
		}
		m.eventsOn = true
		return m, m.connectEvents()

	case finishedMsg:
		if msg.r != nil && msg.key == m.live.study && len(m.live.images) == 0 {
			m.live.images = msg.r.Files
			for _, l := range strings.Split(msg.r.ReportText, "\n") {
				if v, ok := strings.CutPrefix(l, "INDICATION:"); ok && m.live.indication == "" {
					m.live.indication = strings.TrimSpace(v)
				}
			}
		}
		return m, nil

	case reportMsg:
		if msg.key != m.reportKey {
			return m, nil
		}
		if msg.err != nil {
			m.reportErr = msg.err.Error()
			return m, nil
		}
		m.report, m.reportErr = msg.r, ""
		return m, nil

	case actionMsg:
		m.flash, m.flashAt = msg.done, m.opt.Now()
		if msg.err != nil {
			m.flash = msg.failed + ": " + msg.err.Error()
		}
		return m, m.refresh()
	}
	return m, nil
}

// key handles a key press.
func (m Model) key(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if key.Matches(k, m.keys.forceQuit) {
		return m, tea.Quit
	}
	if m.searching {
		switch {
		case key.Matches(k, m.keys.apply):
			m.searching = false
			m.query = strings.TrimSpace(m.input)
			m.histSel = 0
			return m, m.refresh()
		case key.Matches(k, m.keys.back):
			m.searching = false
			m.input = m.query
			return m, nil
		case k.Code == tea.KeyBackspace:
			if r := []rune(m.input); len(r) > 0 {
				m.input = string(r[:len(r)-1])
			}
		case k.Text != "" && len(m.input) < 64:
			m.input += k.Text
		}
		return m, nil
	}
	switch {
	case key.Matches(k, m.keys.quit):
		return m, tea.Quit
	case key.Matches(k, m.keys.next):
		return m.show((m.screen + 1) % screens)
	case key.Matches(k, m.keys.prev):
		return m.show((m.screen + screens - 1) % screens)
	case key.Matches(k, m.keys.pause):
		if m.operatorPaused() {
			return m, m.act("intake resumed", "cannot resume intake", m.src.Resume)
		}
		return m, m.act("intake paused", "cannot pause intake", m.src.Pause)
	}
	if s := k.String(); len(s) == 1 && s[0] >= '1' && s[0] < '1'+byte(screens) {
		return m.show(screen(s[0] - '1'))
	}
	switch m.screen {
	case screenQueue:
		failed := m.failedRecent()
		switch {
		case key.Matches(k, m.keys.up):
			m.queueSel = clamp(m.queueSel-1, 0, len(failed)-1)
		case key.Matches(k, m.keys.down):
			m.queueSel = clamp(m.queueSel+1, 0, len(failed)-1)
		case key.Matches(k, m.keys.retry):
			if len(failed) > 0 {
				return m, m.retry(failed[m.queueSel].Study)
			}
		}
	case screenHistory:
		if m.reportKey != "" {
			switch {
			case key.Matches(k, m.keys.back):
				m.report, m.reportKey, m.reportErr, m.scroll = nil, "", "", 0
				return m, m.refresh()
			case key.Matches(k, m.keys.up):
				m.scroll = max(0, m.scroll-1)
			case key.Matches(k, m.keys.down):
				m.scroll++
			case key.Matches(k, m.keys.pgUp):
				m.scroll = max(0, m.scroll-m.bodyHeight()/2)
			case key.Matches(k, m.keys.pgDown):
				m.scroll += m.bodyHeight() / 2
			case key.Matches(k, m.keys.retry):
				if m.report != nil && m.report.State == watcher.Failed {
					return m, m.retry(m.report.Study)
				}
			}
			return m, nil
		}
		switch {
		case key.Matches(k, m.keys.search):
			m.searching, m.input = true, m.query
			return m, nil
		case key.Matches(k, m.keys.back):
			if m.query != "" {
				m.query, m.input = "", ""
				m.histSel = 0
				return m, m.refresh()
			}
		case key.Matches(k, m.keys.up):
			m.histSel = clamp(m.histSel-1, 0, len(m.history)-1)
		case key.Matches(k, m.keys.down):
			m.histSel = clamp(m.histSel+1, 0, len(m.history)-1)
		case key.Matches(k, m.keys.pgUp):
			m.histSel = clamp(m.histSel-m.bodyHeight()/2, 0, len(m.history)-1)
		case key.Matches(k, m.keys.pgDown):
			m.histSel = clamp(m.histSel+m.bodyHeight()/2, 0, len(m.history)-1)
		case key.Matches(k, m.keys.open):
			if len(m.history) > 0 {
				m.reportKey, m.report, m.reportErr, m.scroll = m.history[m.histSel].Study, nil, "", 0
				return m, m.openReport(m.reportKey)
			}
		case key.Matches(k, m.keys.retry):
			if len(m.history) > 0 && m.history[m.histSel].State == watcher.Failed {
				return m, m.retry(m.history[m.histSel].Study)
			}
		}
	case screenLog:
		switch {
		case key.Matches(k, m.keys.up):
			m.logScroll = clamp(m.logScroll+1, 0, len(m.logs)-1)
		case key.Matches(k, m.keys.down):
			m.logScroll = clamp(m.logScroll-1, 0, len(m.logs)-1)
		case key.Matches(k, m.keys.pgUp):
			m.logScroll = clamp(m.logScroll+m.bodyHeight()/2, 0, len(m.logs)-1)
		case key.Matches(k, m.keys.pgDown):
			m.logScroll = clamp(m.logScroll-m.bodyHeight()/2, 0, len(m.logs)-1)
		case key.Matches(k, m.keys.end):
			m.logScroll = 0
		}
	}
	return m, nil
}

func (m Model) retry(key string) tea.Cmd {
	src := m.src
	return m.act("study "+key+" sent back for another try", "cannot retry "+key, func() error { return src.Retry(key) })
}

// show switches to a view and reads what it needs at once.
func (m Model) show(s screen) (tea.Model, tea.Cmd) {
	m.screen = s
	return m, m.refresh()
}

// operatorPaused tells whether the operator holds intake (then p resumes).
func (m Model) operatorPaused() bool {
	return m.status.Held
}

// failedRecent is the failed studies among the recent ones, newest first.
func (m Model) failedRecent() []watcher.StudyLine {
	var out []watcher.StudyLine
	for _, s := range m.status.Recent {
		if s.State == watcher.Failed {
			out = append(out, s)
		}
	}
	return out
}

// byFinished orders studies the last finished first (the service lists
// them by arrival; a retried study arrived long before it finished).
func byFinished(h []watcher.StudyLine) []watcher.StudyLine {
	h = slices.Clone(h)
	slices.SortStableFunc(h, func(a, b watcher.StudyLine) int { return b.Finished.Compare(a.Finished) })
	return h
}

func clamp(v, lo, hi int) int {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}

// keyMap is every key binding; the help bar shows those that apply.
type keyMap struct {
	quit, forceQuit, next, prev, views, pause, retry key.Binding
	up, down, pgUp, pgDown, end, open, back, search  key.Binding
	apply                                            key.Binding
}

func newKeyMap() keyMap {
	b := func(help string, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return keyMap{
		quit:      b("q", "quit", "q"),
		forceQuit: b("ctrl+c", "quit", "ctrl+c"),
		next:      b("tab", "next", "tab", "right", "l"),
		prev:      b("shift+tab", "prev", "shift+tab", "left", "h"),
		views:     b("1-5", "views", "1", "2", "3", "4", "5"),
		pause:     b("p", "pause", "p"),
		retry:     b("r", "retry", "r"),
		up:        b("↑/k", "up", "up", "k"),
		down:      b("↓/j", "down", "down", "j"),
		pgUp:      b("pgup", "page up", "pgup"),
		pgDown:    b("pgdn", "page down", "pgdown", "space"),
		end:       b("end", "newest", "end", "G"),
		open:      b("enter", "open", "enter"),
		back:      b("esc", "back", "esc"),
		search:    b("/", "search", "/"),
		apply:     b("enter", "search", "enter"),
	}
}

// bindings are the keys the help bar shows for the current state: the
// views', the view's own, and pause and quit.
func (m Model) bindings() (views, own, always []key.Binding) {
	k := m.keys
	if m.searching {
		return nil, nil, []key.Binding{k.apply, withHelp(k.back, "esc", "cancel"), k.forceQuit}
	}
	pause := withHelp(k.pause, "p", "pause")
	if m.operatorPaused() {
		pause = withHelp(k.pause, "p", "resume")
	}
	quit := withHelp(k.quit, "q", "quit viewer")
	if m.opt.InProcess {
		quit = withHelp(k.quit, "q", "quit & stop")
	}
	views = []key.Binding{withHelp(k.views, "1-5/tab", "views")}
	switch m.screen {
	case screenQueue:
		if len(m.failedRecent()) > 0 {
			own = []key.Binding{k.retry, withHelp(k.up, "↑↓", "select")}
		}
	case screenHistory:
		if m.reportKey != "" {
			own = []key.Binding{k.back, withHelp(k.up, "↑↓", "scroll")}
			if m.report != nil && m.report.State == watcher.Failed {
				own = append([]key.Binding{k.retry}, own...)
			}
		} else {
			own = []key.Binding{k.open, k.search, withHelp(k.up, "↑↓", "select")}
			if len(m.history) > 0 && m.history[m.histSel].State == watcher.Failed {
				own = append([]key.Binding{k.retry}, own...)
			}
		}
	case screenLog:
		own = []key.Binding{withHelp(k.up, "↑↓", "scroll"), k.end}
	}
	return views, own, []key.Binding{pause, quit}
}

func withHelp(b key.Binding, keys, desc string) key.Binding {
	b.SetHelp(keys, desc)
	return b
}
