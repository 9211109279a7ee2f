package dtype

func init() {
	register(Q4_0, &Traits{Name: "q4_0", BlockSize: 32, BlockBytes: 18, Quantized: true})
	register(Q8_0, &Traits{Name: "q8_0", BlockSize: 32, BlockBytes: 34, Quantized: true})
	register(Q4_K, &Traits{Name: "q4_k", BlockSize: 256, BlockBytes: 144, Quantized: true})
	register(Q6_K, &Traits{Name: "q6_k", BlockSize: 256, BlockBytes: 210, Quantized: true})
}
