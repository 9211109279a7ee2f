package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"maira/firmware"
	"maira/models/draft"
	"maira/tui"
	"maira/watcher"
)

func init() {
	commands["watch"] = command{
		summary: "run the appliance: report every study dropped into a folder",
		run:     runWatch,
	}
	commands["status"] = command{
		summary: "show a running maira watch's queue, current study and last results",
		run:     runStatus,
	}
}

func runWatch(args []string, stdout, stderr io.Writer) error {
	c := newCLI("watch", "--model M.gguf --in DIR --out DIR [--config FILE] [--once] [--poll]\n\n"+
		"Watches DIR for DICOM, PNG and JPEG files, groups them into studies, writes each study's draft\n"+
		"report to OUT/reports/DATE/STUDY/ and moves its inputs to OUT/archive/DATE/STUDY/; refused\n"+
		"files go to OUT/failed/ with a reason. Settings come from --config (docs/maira-watch.toml),\n"+
		"flags override them. On a terminal it shows the technician's screen (as maira tui does; q or\n"+
		"Ctrl-C stops the service as SIGTERM does: intake closes, the running study finishes) and\n"+
		"writes its log lines to DATA/watch.log; otherwise, or with --no-tui, log lines go to stdout.\n"+
		"Every report is a machine draft for review by a radiologist.", stdout)
	ef := addEngineFlags(c)
	config := c.String("config", "", "configuration file (TOML)")
	root := c.String("root", "", "firmware root (maira firmware): run the active slot's model, config and plugins")
	in := c.String("in", "", "the drop folder")
	out := c.String("out", "", "the output folder")
	data := c.String("data", "", "the store and control socket folder (default OUT/.maira)")
	once := c.Bool("once", false, "process what is in the drop folder, then exit")
	poll := c.Bool("poll", false, "scan the folder periodically instead of inotify (network shares)")
	settle := c.Duration("settle", 0, "how long a copied file must hold still (default 5s)")
	quiet := c.Duration("study-quiet", 0, "how long a DICOM study waits for more images (default 30s)")
	maxTokens := c.Int("max-tokens", 0, "cap on generated tokens (default: the model's)")
	grounded := c.Bool("grounded", false, "ask for findings with boxes")
	noTUI := c.Bool("no-tui", false, "plain log lines to stdout even on a terminal, no terminal UI")
	jsonLog := c.Bool("json-log", false, "log lines as JSON instead of key=value text")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	cfg := watcher.Defaults()
	// The active firmware slot gives the model, the config and the
	// plugins; --config and the flags override it.
	var slot *firmware.Slot
	if *root != "" {
		if slot, err = firmware.Active(*root); err != nil {
			return fmt.Errorf("%s: %w", *root, err)
		}
		if slot.Config != "" && *config == "" {
			*config = slot.Config
		}
	}
	if *config != "" {
		if cfg, err = watcher.LoadConfig(*config); err != nil {
			return err
		}
	}
	if slot != nil {
		if slot.Model != "" {
			cfg.Model = slot.Model
		}
		cfg.Outputs.Plugins = append(cfg.Outputs.Plugins, slot.Plugins...)
	}
	// Flags given on the command line override the file.
	c.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "model":
			cfg.Model = *ef.model
		case "in":
			cfg.In = *in
		case "out":
			cfg.Out = *out
		case "data":
			cfg.Data = *data
		case "poll":
			cfg.Poll = *poll
		case "settle":
			cfg.Settle.Duration = *settle
		case "study-quiet":
			cfg.StudyQuiet.Duration = *quiet
		case "max-tokens":
			cfg.Generation.MaxTokens = *maxTokens
		case "grounded":
			cfg.Generation.Grounded = *grounded
		case "backend":
			cfg.Generation.Backend = *ef.backend
		case "threads":
			cfg.Generation.Threads = *ef.threads
		case "kv-cache":
			cfg.Generation.KVCache = *ef.kvCache
		}
	})
	if err := cfg.Check(); err != nil {
		return usagef("%v", err)
	}
	*ef.model, *ef.backend, *ef.threads, *ef.kvCache = cfg.Model, cfg.Generation.Backend, cfg.Generation.Threads, cfg.Generation.KVCache

	// Log lines go to stdout and to the ring the log view reads; with the
	// terminal UI, which owns the terminal, to the ring and a file.
	withTUI := !*noTUI && isTerminal(stdout) && isTerminal(os.Stdin)
	logOut := stdout
	if withTUI {
		if err := os.MkdirAll(cfg.Data, 0o770); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(cfg.Data, "watch.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		logOut = f
		fmt.Fprintf(stdout, "maira watch: loading %s (log lines go to %s)\n", cfg.Model, f.Name())
	}
	log, ring := watcher.TeeLogger(logOut, *jsonLog)
	eng, b, err := ef.engine()
	if err != nil {
		return err
	}
	defer b.Close()
	defer eng.Close()
	log.Info("model loaded", "model", cfg.Model, "backend", b.Name())

	svc, err := watcher.New(cfg, eng, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	svc.SetLogRing(ring)
	svc.SetTokenText(func() func(int32) string {
		st := eng.Tokenizer.NewStream()
		return func(id int32) string { return st.Add(id) }
	})
	svc.SetInfo(watcher.Info{Backend: b.Describe(), Model: filepath.Base(cfg.Model), ModelName: eng.Model.Header.Name,
		Quantization: draft.Quantization(eng.Model), Version: firmwareVersion(slot)})
	events := watcher.NewBroadcast()
	svc.Subscribe(events.Send)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	if !withTUI {
		go func() { serveErr <- svc.Serve(ctx, events) }()
		err = svc.Run(ctx, *once)
	} else {
		err = watchWithTUI(ctx, svc, events, cfg.Data, *once, stdout, serveErr)
	}
	stop()
	if serr := <-serveErr; err == nil && serr != nil {
		err = serr
	}
	log.Info("stopped")
	if withTUI {
		fmt.Fprintln(stdout, "maira watch: stopped")
	}
	return err
}

// watchWithTUI runs the service with the terminal UI in front of it,
// attached to the service's own socket as maira tui is. Quitting the UI
// stops the service as SIGTERM does (intake closes, the running study
// finishes); the service ending (--once, an error, a signal) ends the UI.
func watchWithTUI(ctx context.Context, svc *watcher.Service, events *watcher.Broadcast, data string, once bool,
	stdout io.Writer, serveErr chan<- error) error {
	svcCtx, stopSvc := context.WithCancel(ctx)
	defer stopSvc()
	uiCtx, endUI := context.WithCancel(ctx)
	defer endUI()
	go func() {
		err := svc.Serve(svcCtx, events)
		if err != nil {
			endUI() // no socket, no screen
		}
		serveErr <- err
	}()
	var runErr error
	ran := make(chan struct{})
	go func() {
		runErr = svc.Run(svcCtx, once)
		close(ran)
		endUI()
	}()
	// The screen starts once the socket answers (else it says so and
	// retries).
	client := watcher.Client{Data: data}
	for i := 0; i < 100 && uiCtx.Err() == nil; i++ {
		if _, err := client.Status(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sock := watcher.SocketPath(data)
	uiErr := tui.Run(uiCtx, tui.Connect(data),
		tui.Options{Title: "maira watch", Socket: sock, InProcess: true}, os.Stdin, stdout)
	select {
	case <-ran:
	default:
		fmt.Fprintln(stdout, "maira watch: stopping: intake closed; a running study finishes first")
	}
	stopSvc()
	<-ran
	if runErr != nil {
		return runErr
	}
	return uiErr
}

func runStatus(args []string, stdout, stderr io.Writer) error {
	c := newCLI("status", "--data DIR | --out DIR [--json]\n\n"+
		"Asks the maira watch that owns DIR (its data folder; default OUT/.maira) through its\n"+
		"control socket. Patient identifiers are never shown.", stdout)
	data := c.String("data", "", "the service's data folder")
	out := c.String("out", "", "the service's output folder (its data folder is OUT/.maira)")
	asJSON := c.Bool("json", false, "print JSON")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	dir := *data
	if dir == "" && *out != "" {
		dir = *out + "/.maira"
	}
	if dir == "" {
		return usagef("--data DIR or --out DIR is required")
	}
	st, err := watcher.QueryStatus(dir)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "maira watch: %s -> %s\n", st.In, st.Out)
	if st.Paused != "" {
		fmt.Fprintf(stdout, "PAUSED: %s\n", st.Paused)
	}
	fmt.Fprintf(stdout, "studies: %d collecting, %d queued, %d running, %d done, %d failed; %d file(s) settling\n",
		st.Counts[watcher.Collecting], st.Counts[watcher.Queued], st.Counts[watcher.Running], st.Counts[watcher.Done], st.Counts[watcher.Failed], st.Settling)
	if r := st.Running; r != nil {
		fmt.Fprintf(stdout, "running: %s, %s, %d/%d tokens, %s\n", r.Study, r.Stage, r.Tokens, r.Total, time.Since(r.Started).Round(time.Second))
	}
	for _, q := range st.Queue {
		fmt.Fprintf(stdout, "  %-9s %s  %d image(s), arrived %s\n", q.State, q.Study, q.Images, q.Arrived.Format("15:04:05"))
	}
	for _, r := range st.Recent {
		what := r.ReportDir
		if r.State == watcher.Failed {
			what = r.Error
		}
		fmt.Fprintf(stdout, "  %-9s %s  %s  %s\n", r.State, r.Study, r.Finished.Format("2006-01-02 15:04:05"), what)
	}
	return nil
}

// firmwareVersion names what runs: the binary's version, and the active
// firmware slot's when there is one.
func firmwareVersion(slot *firmware.Slot) string {
	if slot == nil {
		return version
	}
	return fmt.Sprintf("%s (firmware %s, slot %s)", version, slot.Version, slot.Name)
}
