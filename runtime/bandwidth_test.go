package runtime

import "testing"

func TestReadBandwidth(t *testing.T) {
	if bw := ReadBandwidth(2, 8<<20); bw < 1e8 || bw > 1e13 {
		t.Errorf("read bandwidth %.3g B/s is implausible", bw)
	}
	// Of a byte slice not 8-aligned, and too short to read.
	b := make([]byte, 8<<20+3)
	if bw := ReadBandwidthOf(2, b[3:]); bw < 1e8 || bw > 1e13 {
		t.Errorf("read bandwidth of a slice %.3g B/s is implausible", bw)
	}
	if bw := ReadBandwidthOf(2, b[:5]); bw != 0 {
		t.Errorf("read bandwidth of 5 bytes: %g", bw)
	}
	if sumWords([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}) != 45 {
		t.Error("sumWords")
	}
}
