package runtime

import (
	"sync"
	"sync/atomic"

	"maira/kernels"
)

// pool is a fixed set of worker goroutines, each with its own kernel
// scratch. The calling goroutine works too (as worker 0), so a pool of n
// runs n pieces at once with n-1 extra goroutines.
type pool struct {
	n       int
	work    []chan *job // work[w] feeds worker w (w >= 1)
	scratch []kernels.Scratch
	closed  bool
}

// job is one parallel call: workers take chunks of grain items from next
// until total is covered.
type job struct {
	total, grain int64
	next         atomic.Int64
	fn           func(w, lo, hi int)
	wg           sync.WaitGroup
}

func newPool(n int) *pool {
	p := &pool{n: n, work: make([]chan *job, n), scratch: make([]kernels.Scratch, n)}
	for w := 1; w < n; w++ {
		p.work[w] = make(chan *job)
		go func(w int, ch chan *job) {
			for j := range ch {
				j.run(w)
				j.wg.Done()
			}
		}(w, p.work[w])
	}
	return p
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
	for w := 1; w < workers; w++ {
		p.work[w] <- j
	}
	j.run(0)
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
