package convert

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"maira/quant/dtype"
	"maira/quant/gguf"
)

// Stats measures what storing a tensor in its type cost.
type Stats struct {
	SumSq    float64 // sum of squares of the source values
	SumSqErr float64 // sum of squared differences after a round trip
	N        int64
}

// RMSError is the root mean square of the quantization error.
func (s Stats) RMSError() float64 {
	if s.N == 0 {
		return 0
	}
	return math.Sqrt(s.SumSqErr / float64(s.N))
}

// RelError is the RMS error relative to the RMS of the values.
func (s Stats) RelError() float64 {
	if s.SumSq == 0 {
		return 0
	}
	return math.Sqrt(s.SumSqErr / s.SumSq)
}

func (s *Stats) add(o Stats) { s.SumSq += o.SumSq; s.SumSqErr += o.SumSqErr; s.N += o.N }

// Progress is reported after each chunk written.
type Progress struct {
	Tensor      string // output name of the tensor being written
	Index, Of   int    // its position among the plan's tensors (1-based)
	DoneBytes   int64  // source bytes converted so far
	TotalBytes  int64  // source bytes in all
	Elapsed     time.Duration
	OutputBytes int64
}

// Options tune a conversion run.
type Options struct {
	Workers  int            // goroutines quantizing; 0: one per CPU
	Progress func(Progress) // called from the writing goroutine; may be nil
}

// chunkElements bounds the elements one job converts: large enough that
// per-job overhead vanishes, small enough that the jobs in flight (a few
// per worker) stay a few tens of MB.
const chunkElements = 1 << 18

type job struct {
	t           *Tensor
	row0, nrows int64
	done        chan result
}

type result struct {
	data  []byte
	stats Stats
	err   error
}

// Write runs the plan, writing the GGUF file at path. The file appears only
// when complete; on any error nothing is left at path.
func (p *Plan) Write(path string, opt Options) error {
	w, err := p.create(path)
	if err != nil {
		return err
	}
	if err := p.stream(w, opt); err != nil {
		w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return nil
}

// create opens the writer and declares metadata and tensors.
func (p *Plan) create(path string) (*gguf.Writer, error) {
	w, err := gguf.Create(path)
	if err != nil {
		return nil, err
	}
	for _, kv := range p.Header.KVs() {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			w.Abort()
			return nil, err
		}
	}
	for _, t := range p.Tensors {
		if err := w.AddTensor(t.Name, t.Type, t.Dims); err != nil {
			w.Abort()
			return nil, err
		}
	}
	return w, nil
}

// OutputSize returns the size of the file the plan writes. It declares the
// file to a writer at path and aborts it, so the arithmetic is the writer's
// own; nothing is left behind.
func (p *Plan) OutputSize(path string) (int64, error) {
	w, err := p.create(path)
	if err != nil {
		return 0, err
	}
	defer w.Abort()
	return w.TotalSize()
}

func (p *Plan) stream(w *gguf.Writer, opt Options) error {
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan *job)
	// pending keeps results in file order; its capacity bounds the chunks in
	// flight and so the memory a conversion takes.
	pending := make(chan *job, 2*workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []float32
			for j := range jobs {
				var r result
				buf, r = convertChunk(j, buf)
				j.done <- r
			}
		}()
	}
	go func() {
		defer close(pending)
		defer close(jobs)
		for _, t := range p.Tensors {
			rows := t.Elements() / int64(t.Dims[0])
			per := max(1, chunkElements/int64(t.Dims[0]))
			for r := int64(0); r < rows; r += per {
				j := &job{t: t, row0: r, nrows: min(per, rows-r), done: make(chan result, 1)}
				select {
				case pending <- j:
				case <-stop:
					return
				}
				select {
				case jobs <- j:
				case <-stop:
					return
				}
			}
		}
	}()
	// On return, stop the producer, then wait for the workers: their
	// result channels are buffered, so none blocks on a result that will
	// not be read after an error.
	defer wg.Wait()
	defer close(stop)

	start := time.Now()
	total := p.InputBytes()
	var done, out int64
	index := map[*Tensor]int{}
	for i, t := range p.Tensors {
		index[t] = i + 1
	}
	for j := range pending {
		r := <-j.done
		if r.err != nil {
			return r.err
		}
		if _, err := w.Write(r.data); err != nil {
			return err
		}
		j.t.Stats.add(r.stats)
		done += j.t.Source.Bytes * j.nrows * int64(j.t.Dims[0]) / j.t.Elements()
		out += int64(len(r.data))
		if last := j.row0+j.nrows == j.t.Elements()/int64(j.t.Dims[0]); last {
			if p.Source.Release != nil {
				p.Source.Release(j.t.Source)
			}
		}
		if opt.Progress != nil {
			opt.Progress(Progress{Tensor: j.t.Name, Index: index[j.t], Of: len(p.Tensors),
				DoneBytes: done, TotalBytes: total, Elapsed: time.Since(start), OutputBytes: out})
		}
	}
	return nil
}

// convertChunk reads rows [row0, row0+nrows) of the tensor as float32,
// checks them, encodes them and measures the error. buf is reused scratch.
func convertChunk(j *job, buf []float32) ([]float32, result) {
	t := j.t
	rowLen := int64(t.Dims[0])
	n := j.nrows * rowLen
	if int64(cap(buf)) < 2*n {
		buf = make([]float32, 2*n)
	}
	src, back := buf[:n], buf[n:2*n]
	for i := int64(0); i < j.nrows; i++ {
		row := sourceRow(t, j.row0+i)
		if err := t.Source.Read(src[i*rowLen:(i+1)*rowLen], row*rowLen); err != nil {
			return buf, result{err: err}
		}
	}
	if k := firstNonFinite(src); k >= 0 {
		row, col := j.row0+int64(k)/rowLen, int64(k)%rowLen
		return buf, result{err: fmt.Errorf("%s: tensor %s: value %v at row %d, column %d (weights must be finite)",
			t.Source.File, t.Source.Name, src[k], sourceRow(t, row), col)}
	}
	rowBytes, _ := t.Type.RowBytes(rowLen)
	data := make([]byte, j.nrows*rowBytes)
	tr := t.Type.Traits()
	tr.FromFloat(data, src)
	var st Stats
	st.N = n
	if t.Type == dtype.F32 {
		st.SumSq = sumSq(src)
		return buf, result{data: data, stats: st}
	}
	tr.ToFloat(back, data)
	st.SumSq, st.SumSqErr = errSums(src, back)
	return buf, result{data: data, stats: st}
}

// sourceRow maps an output row to the source row it comes from. Hugging
// Face's Llama rotates the two halves of each head (pairs i and i+d/2);
// llama.cpp rotates adjacent pairs (2i, 2i+1). Its converter therefore
// reorders the rows of q_proj and k_proj within each head: output row 2i+a
// of a head is source row a*d/2+i. We do the same, so the language-model
// part of the file is a llama.cpp model.
func sourceRow(t *Tensor, row int64) int64 {
	if t.Permute == 0 {
		return row
	}
	hd := int64(t.Dims[1]) / int64(t.Permute)
	head, i := row/hd, row%hd
	return head*hd + (i%2)*(hd/2) + i/2
}

func firstNonFinite(x []float32) int {
	for i, v := range x {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}

func sumSq(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

func errSums(x, y []float32) (sq, errSq float64) {
	y = y[:len(x)]
	for i, v := range x {
		d := float64(v) - float64(y[i])
		sq += float64(v) * float64(v)
		errSq += d * d
	}
	return sq, errSq
}
