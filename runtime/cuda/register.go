package cuda

import (
	"fmt"

	"maira/runtime"
)

// init registers "cuda" in builds that can load the driver (-tags cuda);
// in others, auto is the CPU without a word and --backend cuda says the
// build has no CUDA.
func init() {
	if Built {
		runtime.RegisterGPU("cuda", OpenBackend)
	}
}

// OpenBackend is the "cuda" GPUOpener: device 0, checked against
// o.Model's memory plan when o names a model, with the kernels loaded (a
// JIT failure is the error).
func OpenBackend(o runtime.OpenOptions) (runtime.Backend, error) {
	c, err := Open(0)
	if err != nil {
		return nil, err
	}
	if o.Model != "" {
		free, _, err := c.FreeMemory()
		if err != nil {
			c.Close()
			return nil, err
		}
		d := c.Device
		d.FreeMem = free
		p, err := PlanModel(o.Model, o.Positions, d)
		if err != nil {
			c.Close()
			return nil, err
		}
		if err := p.Err(); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %v", d.Name, err)
		}
	}
	b, err := newBackend(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return b, nil
}
