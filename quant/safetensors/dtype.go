package safetensors

// DType is a safetensors element type as its header spells it ("F32",
// "BF16", "I64", ...). Any string read from a file is kept as it stands, so a
// checkpoint with a dtype this package cannot decode still opens; only
// Tensor.Float32 refuses it.
type DType string

// The dtypes that Tensor.Float32 decodes. MAIRA-2's public shards are F32;
// converted checkpoints are BF16 or F16.
const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
)

// dtypeSizes holds the bytes per element of every byte-sized dtype the
// safetensors specification defines (enum Dtype in huggingface/safetensors'
// tensor.rs). The sub-byte types of newer versions (F4, F6_E2M3, F6_E3M2)
// are left out on purpose: they have no whole-byte size, so Size reports 0
// and the reader does not check their data length.
var dtypeSizes = map[DType]int{
	"BOOL":    1,
	"U8":      1,
	"I8":      1,
	"F8_E5M2": 1,
	"F8_E4M3": 1,
	"F8_E8M0": 1,
	"I16":     2,
	"U16":     2,
	F16:       2,
	BF16:      2,
	"I32":     4,
	"U32":     4,
	F32:       4,
	"C64":     8,
	"F64":     8,
	"I64":     8,
	"U64":     8,
}

// Size returns the bytes per element of d, or 0 if d is not a byte-sized
// dtype of the safetensors specification.
func (d DType) Size() int { return dtypeSizes[d] }
