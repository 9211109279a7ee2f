package dtype

func init() {
	register(F32, &Traits{Name: "f32", BlockSize: 1, BlockBytes: 4})
	register(F16, &Traits{Name: "f16", BlockSize: 1, BlockBytes: 2})
	register(BF16, &Traits{Name: "bf16", BlockSize: 1, BlockBytes: 2})
}
