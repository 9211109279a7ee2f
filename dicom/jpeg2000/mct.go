package jpeg2000

// Inverse multiple component transforms (T.800 Annex G) and the DC level
// shift.

// inverseRCT turns Y, Cb, Cr planes of the reversible transform back into
// R, G, B in place.
func inverseRCT(y, cb, cr []int32) {
	n := min(len(y), len(cb), len(cr))
	for i := 0; i < n; i++ {
		g := y[i] - (cb[i]+cr[i])>>2
		y[i], cb[i], cr[i] = cr[i]+g, g, cb[i]+g
	}
}

// inverseICT is the irreversible YCbCr to RGB transform, in place.
func inverseICT(y, cb, cr []float32) {
	n := min(len(y), len(cb), len(cr))
	for i := 0; i < n; i++ {
		Y, Cb, Cr := y[i], cb[i], cr[i]
		y[i] = Y + 1.402*Cr
		cb[i] = Y - 0.34413*Cb - 0.71414*Cr
		cr[i] = Y + 1.772*Cb
	}
}
