package runtime

import "testing"

func TestReadBandwidth(t *testing.T) {
	if bw := ReadBandwidth(2, 8<<20); bw < 1e8 || bw > 1e13 {
		t.Errorf("read bandwidth %.3g B/s is implausible", bw)
	}
	if sumWords([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}) != 45 {
		t.Error("sumWords")
	}
}
