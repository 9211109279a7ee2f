package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"

	"maira/kernels"
)

// pool is a fixed set of worker goroutines, each with its own kernel
// scratch. The calling goroutine works too (as worker 0), so a pool of n
// runs n pieces at once with n-1 extra goroutines.
//
// A decode step is hundreds of short parallel calls (a 4096-row MatMul of
// one token takes about 0.3 ms), so handing work over must cost far less
// than a futex wake-up: an idle worker polls its channel for a while
// (spinFor) before it blocks, and the caller polls for the workers to
// finish before it waits on them. Workers that find nothing for that long
// sleep, so an idle engine costs no CPU.
type pool struct {
	n       int
	work    []chan *job // work[w] feeds worker w (w >= 1); buffered, so a send to a polling worker wakes no one
	scratch []kernels.Scratch
	closed  bool
}

// spinFor is how many polls (each a non-blocking channel receive and a
// scheduler yield every 64) an idle worker makes before it blocks: about
// 50-100 µs, longer than the serial gaps between the ops of a decode step.
const spinFor = 2000

// job is one parallel call: workers take chunks of grain items from next
// until total is covered.
type job struct {
	total, grain int64
	next         atomic.Int64
	left         atomic.Int32 // workers (other than the caller) still running
	fn           func(w, lo, hi int)
	wg           sync.WaitGroup
}

func newPool(n int) *pool {
	p := &pool{n: n, work: make([]chan *job, n), scratch: make([]kernels.Scratch, n)}
	for w := 1; w < n; w++ {
		p.work[w] = make(chan *job, 1)
		go worker(w, p.work[w])
	}
	return p
}

func worker(w int, ch chan *job) {
	for {
		var j *job
		var ok bool
	poll:
		for i := 0; i < spinFor; i++ {
			select {
			case j, ok = <-ch:
				break poll
			default:
				if i%64 == 63 {
					goruntime.Gosched()
				}
			}
		}
		if j == nil {
			if j, ok = <-ch; !ok {
				return
			}
		}
		if !ok {
			return
		}
		j.run(w)
		j.left.Add(-1)
		j.wg.Done()
	}
}

func (j *job) run(w int) {
	for {
		c := j.next.Add(1) - 1
		lo := c * j.grain
		if lo >= j.total {
			return
		}
		j.fn(w, int(lo), int(min(lo+j.grain, j.total)))
	}
}

// parallel calls fn(w, lo, hi) over [0, total) in chunks of grain items,
// chunks handed out dynamically so uneven chunks balance; w is the worker
// running the chunk (for p.scratch[w]). It returns when all are done.
func (p *pool) parallel(total, grain int, fn func(w, lo, hi int)) {
	if total <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := (total + grain - 1) / grain
	workers := min(p.n, chunks)
	if workers <= 1 {
		fn(0, 0, total)
		return
	}
	j := &job{total: int64(total), grain: int64(grain), fn: fn}
	j.wg.Add(workers - 1)
	j.left.Store(int32(workers - 1))
	for w := 1; w < workers; w++ {
		p.work[w] <- j
	}
	j.run(0)
	for i := 0; i < spinFor && j.left.Load() > 0; i++ {
		if i%64 == 63 {
			goruntime.Gosched()
		}
	}
	j.wg.Wait()
}

func (p *pool) close() {
	if p.closed {
		return
	}
	p.closed = true
	for w := 1; w < p.n; w++ {
		close(p.work[w])
	}
}
