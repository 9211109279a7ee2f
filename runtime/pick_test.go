package runtime

import (
	"math"
	"testing"

	"maira/quant/dtype"
)

func TestCPUPick(t *testing.T) {
	c, err := NewCPU(1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		logits []float32
		id     int32
		margin float32
		finite bool
	}{
		{[]float32{1, 3, 2}, 1, 1, true},
		{[]float32{5, 1, 5}, 0, 0, true}, // a tie: the lowest index, no margin
		{[]float32{nan, 1, 0.5}, 1, 0.5, false},
		{[]float32{1, inf, 0}, 1, inf, false},
	} {
		x, _ := c.Alloc(1, len(tc.logits))
		c.Write(x, tc.logits)
		c.Pick(x)
		id, margin, finite, err := c.Picked()
		if err != nil || id != tc.id || margin != tc.margin || finite != tc.finite {
			t.Errorf("Pick(%v) = %d, %g, %v, %v; want %d, %g, %v", tc.logits, id, margin, finite, err, tc.id, tc.margin, tc.finite)
		}
	}
	// GatherPicked gathers the picked row.
	table := make([]float32, 3*32)
	for i := range table {
		table[i] = float32(i)
	}
	w := weight(t, c, dtype.F32, 3, 32, table)
	x, _ := c.Alloc(1, 3)
	c.Write(x, []float32{0, 0, 7})
	c.Pick(x)
	d, _ := c.Alloc(2, 32)
	c.GatherPicked(d, w)
	got := make([]float32, 64)
	c.Read(d, got)
	if got[0] != 64 || got[31] != 95 || got[32] != 0 {
		t.Errorf("GatherPicked of row 2: %v", got)
	}
}
