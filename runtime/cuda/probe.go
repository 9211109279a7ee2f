package cuda

import (
	"fmt"

	"maira/quant/gguf"
	"maira/quant/modelfile"
)

// Probe opens device ordinal, reads its description and free memory, and
// closes it again (for maira doctor).
func Probe(ordinal int) (Device, error) {
	c, err := Open(ordinal)
	if err != nil {
		return Device{}, err
	}
	defer c.Close()
	d := c.Device
	if free, _, err := c.FreeMemory(); err == nil {
		d.FreeMem = free
	}
	return d, nil
}

// PlanModel sizes the model file at path for d (see NewPlan).
func PlanModel(path string, positions int, d Device) (Plan, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return Plan{}, err
	}
	defer f.Close()
	h, err := modelfile.Read(f)
	if err != nil {
		return Plan{}, fmt.Errorf("%s: %v", path, err)
	}
	if h.Text == nil {
		return Plan{}, fmt.Errorf("%s: no language model", path)
	}
	return NewPlan(WeightBytes(f), h.Text, h.Vision, positions, d.FreeMem, d.TotalMem, d.Integrated), nil
}
