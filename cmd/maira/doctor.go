package main

import (
	"fmt"
	"io"
	goruntime "runtime"

	"maira/kernels"
	"maira/runtime"
	"maira/runtime/cuda"
)

func init() {
	commands["doctor"] = command{
		summary: "show the compute backend maira picks and why, the GPU, and whether a model fits",
		run:     runDoctor,
	}
}

func runDoctor(args []string, stdout, stderr io.Writer) error {
	c := newCLI("doctor", "[--model M.gguf] [--backend auto|cpu|cuda]\n\n"+
		"Opens the backend as the other commands do and says which one runs and why; describes\n"+
		"the GPU (name, compute capability, memory, driver) and the CPU kernels; with --model,\n"+
		"says whether the model (weights, key/value cache, activations) fits the GPU's memory.", stdout)
	model := c.String("model", "", "model file to size against the GPU's memory")
	backend := c.String("backend", "auto", "backend to open: auto, cpu or cuda")
	positions := c.Int("positions", 0, "key/value cache positions to size for (default: the model's context)")
	threads := c.Int("threads", 0, "CPU threads (default: one per core)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("doctor takes no arguments, got %d", len(pos))
	}
	switch *backend {
	case "auto", "cpu", "cuda":
	default:
		return usagef("--backend %q: want auto, cpu or cuda", *backend)
	}

	// The backend, opened exactly as the other commands open it.
	b, note, openErr := runtime.OpenWith(runtime.OpenOptions{Name: *backend, Threads: *threads, Model: *model, Positions: *positions})
	switch {
	case openErr != nil:
		fmt.Fprintf(stdout, "backend: none: %v\n", openErr)
	default:
		why := "asked for"
		switch {
		case note != "":
			why = note
		case *backend == "auto" && !cuda.Built:
			why = "auto: this maira was built without CUDA support (build with -tags cuda)"
		case *backend == "auto":
			why = "auto: the GPU is usable"
		}
		fmt.Fprintf(stdout, "backend: %s (%s)\n", b.Describe(), why)
		b.Close()
	}

	// The GPU, whatever was chosen.
	dev, gerr := cuda.Probe(0)
	if gerr != nil {
		fmt.Fprintf(stdout, "gpu: none: %v\n", gerr)
	} else {
		kind := "discrete, own memory"
		if dev.Integrated {
			kind = "integrated, memory shared with the CPU"
		}
		fmt.Fprintf(stdout, "gpu: %s, compute capability %d.%d (%s), %d SMs, %s\n", dev.Name, dev.Major, dev.Minor, dev.Arch(), dev.SMs, kind)
		fmt.Fprintf(stdout, "gpu memory: %.2f GiB total, %.2f GiB free", float64(dev.TotalMem)/(1<<30), float64(dev.FreeMem)/(1<<30))
		if bw := dev.PeakBandwidth(); bw > 0 {
			fmt.Fprintf(stdout, ", %.0f GB/s peak", bw/1e9)
		}
		fmt.Fprintf(stdout, "\ndriver: CUDA %s\n", dev.DriverString())
	}

	// The CPU.
	k, kerr := kernels.Select()
	if kerr != nil {
		fmt.Fprintf(stdout, "cpu: %s/%s, %d threads, kernels: %v\n", goruntime.GOOS, goruntime.GOARCH, goruntime.GOMAXPROCS(0), kerr)
	} else {
		fmt.Fprintf(stdout, "cpu: %s/%s, %d threads, kernels %s (available: %v)\n", goruntime.GOOS, goruntime.GOARCH, goruntime.GOMAXPROCS(0), k.Name, kernels.Names())
	}

	switch {
	case *model == "":
	case gerr != nil:
		fmt.Fprintf(stdout, "model: %s: no GPU, it runs on the CPU\n", *model)
	default:
		p, err := cuda.PlanModel(*model, *positions, dev)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "model: %s: %s\n", *model, p)
	}
	// The backend asked for could not open: say so in the exit status too.
	return openErr
}
