// Package tui is the technician's terminal UI for maira watch: what the box
// is doing now, what waits, what it wrote, what went wrong, what it runs on,
// and its log, on an 80x24 terminal without a mouse, with or without colour.
//
// It is a bubbletea program in the Elm architecture: the state is in Model,
// it changes only in Update, View only draws it, and every read of the
// service (the control socket, through a Source) happens in a command. The
// TUI only reads the socket and never blocks the service: the service drops
// events for a viewer too slow to keep up, so the model also polls the
// status every second and never relies on events alone. The same code runs
// in-process (`maira watch` on a terminal) and attached to a running service
// (`maira tui`); either way it talks to the service through its socket.
package tui

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"

	"maira/watcher"
)

// Source is where the model gets its data: a running service's control
// socket (watcher.Client), or fixtures in tests.
type Source interface {
	Status() (watcher.Status, error)
	History(query string) ([]watcher.StudyLine, error)
	Report(key string) (*watcher.StudyReport, error)
	Device() (watcher.Device, error)
	Log(n int) ([]string, error)
	Pause() error
	Resume() error
	Retry(key string) error
	Events(ctx context.Context) (<-chan watcher.Event, error)
}

var _ Source = watcher.Client{}

// Options configure the UI.
type Options struct {
	// Title names the program in the header ("maira watch", "maira tui").
	Title string
	// Socket is the control socket's path, for the "not connected" line.
	Socket string
	// InProcess tells that quitting stops the service (maira watch), not
	// only the viewer (maira tui); the help bar says which.
	InProcess bool
	// Now is the clock (nil: time.Now); tests fix it.
	Now func() time.Time
	// Poll is how often the status is read (0: every second).
	Poll time.Duration
	// Retry is how long to wait before connecting again after the service
	// went away (0: 2 seconds).
	Retry time.Duration
}

// Run shows the UI on the terminal (in, out: nil for stdin and stdout) until
// the user quits or ctx ends; neither is an error.
func Run(ctx context.Context, src Source, opt Options, in io.Reader, out io.Writer) error {
	if in == nil {
		in = os.Stdin
	}
	if out == nil {
		out = os.Stdout
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the event stream
	p := tea.NewProgram(New(ctx, src, opt), tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out),
		tea.WithoutSignalHandler())
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, tea.ErrInterrupted) {
		return nil
	}
	return err
}

// Connect is the Source for the service whose data folder is data: its
// control socket, through watcher.Client.
func Connect(data string) Source { return watcher.Client{Data: data} }
