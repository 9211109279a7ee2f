// Package jsonstr writes JSON strings the way Hugging Face's Rust libraries
// (serde_json) write them, so files we write (safetensors headers,
// tokenizer.json) are byte-for-byte what those libraries would write:
// '"', '\\' and control characters are escaped, with the short forms
// serde_json uses; everything else, non-ASCII and <, >, & included, is
// literal. (encoding/json escapes <, >, & and U+2028/U+2029.)
package jsonstr

// Append appends s to b as a quoted JSON string.
func Append(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// Quote returns s as a quoted JSON string.
func Quote(s string) string { return string(Append(nil, s)) }
