package runtime

import (
	"sync"
	"time"
	"unsafe"
)

// ReadBandwidth measures how fast threads goroutines together read a buffer
// of size bytes (larger than the caches), in bytes per second: the ceiling
// for a decode step, which reads every weight once. It takes the best of a
// few passes.
func ReadBandwidth(threads int, size int) float64 {
	words := make([]uint64, size/8)
	for i := range words {
		words[i] = uint64(i) // touch every page, so the reads are real
	}
	return readWords(threads, words)
}

// ReadBandwidthOf is ReadBandwidth over data itself: a model file's
// mapping, whose pages (the page cache's, mapped 4 KB at a time) a decode
// step streams, where ReadBandwidth reads fresh anonymous memory.
func ReadBandwidthOf(threads int, data []byte) float64 {
	if len(data) < 8 {
		return 0
	}
	off := int(-uintptr(unsafe.Pointer(&data[0])) & 7)
	data = data[off:]
	return readWords(threads, unsafe.Slice((*uint64)(unsafe.Pointer(&data[0])), len(data)/8))
}

// readWords times threads goroutines summing equal parts of words, best
// of three passes, in bytes per second.
func readWords(threads int, words []uint64) float64 {
	threads = max(threads, 1)
	per := len(words) / threads
	best := 0.0
	var sink uint64
	var mu sync.Mutex
	for pass := 0; pass < 3; pass++ {
		var wg sync.WaitGroup
		start := time.Now()
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func(part []uint64) {
				defer wg.Done()
				s := sumWords(part)
				mu.Lock()
				sink += s
				mu.Unlock()
			}(words[t*per : (t+1)*per])
		}
		wg.Wait()
		if bw := float64(per*threads*8) / time.Since(start).Seconds(); bw > best {
			best = bw
		}
	}
	if sink == 42 { // keep the sums alive
		best++
	}
	return best
}

// sumWords reads part with eight independent accumulators, so the loop is
// bound by memory, not by one chain of additions.
func sumWords(w []uint64) uint64 {
	var s0, s1, s2, s3, s4, s5, s6, s7 uint64
	i := 0
	for ; i+8 <= len(w); i += 8 {
		x := w[i : i+8 : i+8]
		s0 += x[0]
		s1 += x[1]
		s2 += x[2]
		s3 += x[3]
		s4 += x[4]
		s5 += x[5]
		s6 += x[6]
		s7 += x[7]
	}
	for ; i < len(w); i++ {
		s0 += w[i]
	}
	return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
}
