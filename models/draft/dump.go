package draft

import (
	"encoding/binary"
	"fmt"
	"math"

	"maira/models/imageproc"
	"maira/quant/safetensors"
	"maira/runtime"
)

// addImage records one image's pixels, features and embeddings.
func (d *Dump) addImage(b runtime.Backend, p *imageproc.Pixels, feats, emb runtime.Tensor) error {
	if d.Images > 0 && (p.Height != d.H || p.Width != d.W || feats.Rows() != d.N) {
		return fmt.Errorf("dump: images of different sizes")
	}
	d.Images++
	d.H, d.W, d.N, d.C, d.D = p.Height, p.Width, feats.Rows(), feats.Cols(), emb.Cols()
	d.PixelValues = append(d.PixelValues, p.Data...)
	for _, t := range []struct {
		src runtime.Tensor
		dst *[]float32
	}{{feats, &d.ImageFeatures}, {emb, &d.ImageEmbeddings}} {
		buf := make([]float32, t.src.Rows()*t.src.Cols())
		if err := b.Read(t.src, buf); err != nil {
			return err
		}
		*t.dst = append(*t.dst, buf...)
	}
	return nil
}

// Write saves the dump as a safetensors file: pixel_values [images,3,H,W],
// image_features [images,N,C], image_embeddings [images,N,D], prompt_ids [T]
// (int32) and first_logits [V], all float32 but the ids.
func (d *Dump) Write(path string) error {
	if d.Images == 0 || d.FirstLogits == nil {
		return fmt.Errorf("%s: nothing to dump (the run did not reach the first logits)", path)
	}
	channels := len(d.PixelValues) / (d.Images * d.H * d.W)
	specs := []safetensors.Spec{
		{Name: "pixel_values", DType: safetensors.F32, Shape: []int64{int64(d.Images), int64(channels), int64(d.H), int64(d.W)}},
		{Name: "image_features", DType: safetensors.F32, Shape: []int64{int64(d.Images), int64(d.N), int64(d.C)}},
		{Name: "image_embeddings", DType: safetensors.F32, Shape: []int64{int64(d.Images), int64(d.N), int64(d.D)}},
		{Name: "prompt_ids", DType: "I32", Shape: []int64{int64(len(d.PromptIDs))}},
		{Name: "first_logits", DType: safetensors.F32, Shape: []int64{int64(len(d.FirstLogits))}},
	}
	w, err := safetensors.Create(path, specs, map[string]string{"format": "pt", "producer": "maira report --dump"})
	if err != nil {
		return err
	}
	for _, part := range [][]byte{f32bytes(d.PixelValues), f32bytes(d.ImageFeatures), f32bytes(d.ImageEmbeddings), i32bytes(d.PromptIDs), f32bytes(d.FirstLogits)} {
		if _, err := w.Write(part); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func i32bytes(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}
