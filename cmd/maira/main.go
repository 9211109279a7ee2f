// Command maira is the radiology appliance: it converts MAIRA checkpoints
// into one quantized file and (in later subcommands) writes draft reports.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func main() {
	// MAIRA_CPUPROFILE=FILE writes a CPU profile of the run, for developers
	// chasing a slow path (go tool pprof bin/maira FILE).
	if path := os.Getenv("MAIRA_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := run(os.Args[1:], os.Stdout, os.Stderr)
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	name := args[0]
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "maira: unknown command %q (run 'maira help')\n", name)
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "maira %s: %v\n", name, oneLine(err))
		return 2
	default:
		fmt.Fprintf(stderr, "maira %s: %v\n", name, oneLine(err))
		return 1
	}
}

// oneLine keeps an error to one line, as the appliance's logs expect.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "maira: chest X-ray report drafts with MAIRA-2, offline.")
	fmt.Fprintln(w, "\nUsage: maira COMMAND [arguments]\n\nCommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'maira COMMAND -h' for a command's flags.")
}

// cli is a subcommand's flag set and synopsis.
type cli struct {
	*flag.FlagSet
	name, synopsis string
	stdout         io.Writer
}

func newCLI(name, synopsis string, stdout io.Writer) *cli {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // errors are reported in one line by run; -h prints below
	return &cli{FlagSet: fs, name: name, synopsis: synopsis, stdout: stdout}
}

// parse parses flags that may come before, between or after positional
// arguments ("maira quant SRC -o OUT" and "maira quant -o OUT SRC" alike)
// and returns the positional ones. -h prints the usage and returns
// flag.ErrHelp.
func (c *cli) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := c.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(c.stdout, "Usage: maira %s %s\n\nFlags:\n", c.name, c.synopsis)
				c.SetOutput(c.stdout)
				c.PrintDefaults()
				c.SetOutput(io.Discard)
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = c.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
