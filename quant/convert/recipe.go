package convert

import (
	"fmt"

	"maira/quant/dtype"
)

// Recipe says which type each kind of tensor is stored in. Norms, biases,
// LayerScale and the class and position embeddings are always F32: they are
// small, and the runtime adds or multiplies them element-wise.
type Recipe struct {
	Vision     dtype.Type // vision encoder and projector matrices
	LLM        dtype.Type // language-model matrices
	Embeddings dtype.Type // token_embd and output
}

// DefaultRecipe is the mixed recipe: the image path at Q8_0 (the encoder is
// small, so int8 keeps its accuracy for little size), the language model at
// Q4_K, and its embeddings and output head at Q6_K, as llama.cpp's Q4_K_M
// keeps its output head at higher precision.
func DefaultRecipe() Recipe {
	return Recipe{Vision: dtype.Q8_0, LLM: dtype.Q4_K, Embeddings: dtype.Q6_K}
}

// RecipeHelp describes the default recipe for --help.
const RecipeHelp = "mixed: vision encoder and projector q8_0, language model q4_k, token embeddings and output head q6_k; norms, biases, LayerScale, class and position embeddings f32"

// ParseRecipe builds a recipe from --type (all), --vision-type and
// --llm-type; empty strings keep the default. --type sets everything,
// embeddings included; --llm-type sets the language model's matrices and its
// embeddings.
func ParseRecipe(all, vision, llm string) (Recipe, error) {
	r := DefaultRecipe()
	parse := func(flag, s string) (dtype.Type, error) {
		t, err := dtype.Parse(s)
		if err != nil {
			return 0, fmt.Errorf("--%s: %v", flag, err)
		}
		return t, nil
	}
	if all != "" {
		t, err := parse("type", all)
		if err != nil {
			return r, err
		}
		r = Recipe{Vision: t, LLM: t, Embeddings: t}
	}
	if vision != "" {
		t, err := parse("vision-type", vision)
		if err != nil {
			return r, err
		}
		r.Vision = t
	}
	if llm != "" {
		t, err := parse("llm-type", llm)
		if err != nil {
			return r, err
		}
		r.LLM, r.Embeddings = t, t
	}
	return r, nil
}

func (r Recipe) String() string {
	return fmt.Sprintf("vision %s, language model %s, embeddings %s", r.Vision, r.LLM, r.Embeddings)
}

// typeFor returns the type a tensor of this part and role gets.
func (r Recipe) typeFor(p part, ro role) dtype.Type {
	switch {
	case ro == roleFloat:
		return dtype.F32
	case p == partText && ro == roleEmbedding:
		return r.Embeddings
	case p == partText:
		return r.LLM
	default:
		return r.Vision
	}
}

// fit returns the type to store a tensor whose rows are rowLen long: want
// itself when its blocks divide the row, else the nearest type that fits,
// following Q4_K -> Q8_0 -> F16 (Q6_K likewise; Q4_0 and Q8_0 go to F16).
func fit(want dtype.Type, rowLen uint64) dtype.Type {
	chain := []dtype.Type{want}
	switch want {
	case dtype.Q4_K, dtype.Q6_K:
		chain = append(chain, dtype.Q8_0, dtype.F16)
	case dtype.Q4_0, dtype.Q8_0:
		chain = append(chain, dtype.F16)
	}
	for _, t := range chain {
		if rowLen%uint64(t.BlockSize()) == 0 {
			return t
		}
	}
	return dtype.F32
}

// fileType returns llama.cpp's LLAMA_FTYPE for a language model stored
// mostly in t (llama.h: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7,
// MOSTLY_Q4_K_M 15, MOSTLY_Q6_K 18, MOSTLY_BF16 32).
func fileType(t dtype.Type) uint32 {
	switch t {
	case dtype.F16:
		return 1
	case dtype.Q4_0:
		return 2
	case dtype.Q8_0:
		return 7
	case dtype.Q4_K:
		return 15
	case dtype.Q6_K:
		return 18
	case dtype.BF16:
		return 32
	}
	return 0
}
