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

	"maira/models/draft"
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
		"flags override them. Log lines go to stdout. Every report is a machine draft for review by a\n"+
		"radiologist.", stdout)
	ef := addEngineFlags(c)
	config := c.String("config", "", "configuration file (TOML)")
	in := c.String("in", "", "the drop folder")
	out := c.String("out", "", "the output folder")
	data := c.String("data", "", "the store and control socket folder (default OUT/.maira)")
	once := c.Bool("once", false, "process what is in the drop folder, then exit")
	poll := c.Bool("poll", false, "scan the folder periodically instead of inotify (network shares)")
	settle := c.Duration("settle", 0, "how long a copied file must hold still (default 5s)")
	quiet := c.Duration("study-quiet", 0, "how long a DICOM study waits for more images (default 30s)")
	maxTokens := c.Int("max-tokens", 0, "cap on generated tokens (default: the model's)")
	grounded := c.Bool("grounded", false, "ask for findings with boxes")
	c.Bool("no-tui", false, "plain log lines even on a terminal (the terminal UI is a later step; log lines are all there is now)")
	jsonLog := c.Bool("json-log", false, "log lines as JSON instead of key=value text")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	cfg := watcher.Defaults()
	if *config != "" {
		if cfg, err = watcher.LoadConfig(*config); err != nil {
			return err
		}
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

	// Log lines go to stdout and to the ring the log view reads.
	log, ring := watcher.TeeLogger(stdout, *jsonLog)
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
		Quantization: draft.Quantization(eng.Model), Version: version})
	events := watcher.NewBroadcast()
	svc.Subscribe(events.Send)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- svc.Serve(ctx, events) }()
	err = svc.Run(ctx, *once)
	stop()
	if serr := <-serveErr; err == nil && serr != nil {
		err = serr
	}
	log.Info("stopped")
	return err
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
