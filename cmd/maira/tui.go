package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"maira/tui"
	"maira/watcher"
)

func init() {
	commands["tui"] = command{
		summary: "the technician's screen: attach to a running maira watch",
		run:     runTUI,
	}
}

func runTUI(args []string, stdout, stderr io.Writer) error {
	c := newCLI("tui", "--data DIR | --out DIR\n\n"+
		"Shows a running maira watch (systemd's, or one in another terminal) through the control\n"+
		"socket in its data folder (default OUT/.maira): the study being reported, the queue, the\n"+
		"history with each report, the device and the log. Keys are shown at the bottom; q quits the\n"+
		"viewer and leaves the service running. Several viewers may attach at once. NO_COLOR=1 or a\n"+
		"terminal without colour gives a screen without colour.", stdout)
	data := c.String("data", "", "the service's data folder")
	out := c.String("out", "", "the service's output folder (its data folder is OUT/.maira)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	dir := *data
	if dir == "" && *out != "" {
		dir = filepath.Join(*out, ".maira")
	}
	if dir == "" {
		return usagef("--data DIR or --out DIR is required")
	}
	if !isTerminal(stdout) || !isTerminal(os.Stdin) {
		return errors.New("the terminal UI needs a terminal (maira status prints the status once)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// The viewer only reads the socket: quitting it, or the service going
	// away, leaves the other alone.
	return tui.Run(ctx, tui.Connect(dir), tui.Options{Title: "maira tui", Socket: watcher.SocketPath(dir)},
		os.Stdin, stdout)
}
