package convert

import (
	"fmt"
	"strings"

	"maira/quant/hf"
	"maira/quant/modelfile"
)

// A binding ties one tensor of the output file to the Hugging Face tensor it
// is made from.
type binding struct {
	gguf    string   // output name
	hf      []string // source names to try, in order (prefix variants)
	part    part
	role    role
	permute int // for attn_q / attn_k: llama.cpp's RoPE row permutation with this many heads
}

type part int

const (
	partVision part = iota
	partProjector
	partText
)

func (p part) String() string { return [...]string{"vision", "projector", "language"}[p] }

// role decides the storage type a recipe gives a tensor.
type role int

const (
	roleMatrix    role = iota // a weight matrix: quantized as the recipe says
	roleEmbedding             // token_embd and output: the recipe's embedding type
	roleFloat                 // norms, biases, LayerScale, class and position embeddings: F32
)

// Prefixes under which each part's tensors appear. transformers < 4.52 saved
// LLaVA-family models (MAIRA-2 among them) with the parts at the top level;
// later versions nest them under "model.", with lm_head at the top.
var (
	visionPrefixes    = []string{"vision_tower.", "model.vision_tower."}
	projectorPrefixes = []string{"multi_modal_projector.", "model.multi_modal_projector."}
	textPrefixes      = []string{"language_model.model.", "model.language_model."}
	headPrefixes      = []string{"language_model.", ""}
)

// ignored are source tensors that carry no weights the model uses: Dinov2's
// mask token (training only) and the RoPE frequency buffers old checkpoints
// saved.
func ignored(name string) bool {
	return strings.HasSuffix(name, "embeddings.mask_token") || strings.HasSuffix(name, "rotary_emb.inv_freq")
}

func withPrefixes(prefixes []string, local string) []string {
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p + local
	}
	return out
}

// bindings lists every output tensor of the model cfg describes, with the
// source names it may come from.
func bindings(cfg *hf.Config, h *modelfile.Header) []binding {
	var bs []binding
	add := func(gguf string, p part, r role, prefixes []string, local string) {
		bs = append(bs, binding{gguf: gguf, hf: withPrefixes(prefixes, local), part: p, role: r})
	}
	if v := h.Vision; v != nil {
		pre := visionPrefixes
		if cfg.ModelType == "dinov2" {
			pre = []string{"", "dinov2."}
		}
		add(modelfile.VPatchEmbd, partVision, roleMatrix, pre, "embeddings.patch_embeddings.projection.weight")
		add(modelfile.VPatchEmbdBias, partVision, roleFloat, pre, "embeddings.patch_embeddings.projection.bias")
		add(modelfile.VClassEmbd, partVision, roleFloat, pre, "embeddings.cls_token")
		add(modelfile.VPositionEmbd, partVision, roleFloat, pre, "embeddings.position_embeddings")
		for i := 0; i < v.BlockCount; i++ {
			l := fmt.Sprintf("encoder.layer.%d.", i)
			for _, m := range []struct{ out, in string }{
				{"attn_q", "attention.attention.query"}, {"attn_k", "attention.attention.key"},
				{"attn_v", "attention.attention.value"}, {"attn_out", "attention.output.dense"},
				{"ffn_up", "mlp.fc1"}, {"ffn_down", "mlp.fc2"},
			} {
				add(modelfile.VBlock(i, m.out, "weight"), partVision, roleMatrix, pre, l+m.in+".weight")
				add(modelfile.VBlock(i, m.out, "bias"), partVision, roleFloat, pre, l+m.in+".bias")
			}
			for _, m := range []struct{ out, in string }{{"ln1", "norm1"}, {"ln2", "norm2"}} {
				add(modelfile.VBlock(i, m.out, "weight"), partVision, roleFloat, pre, l+m.in+".weight")
				add(modelfile.VBlock(i, m.out, "bias"), partVision, roleFloat, pre, l+m.in+".bias")
			}
			add(modelfile.VBlock(i, "ls1", "weight"), partVision, roleFloat, pre, l+"layer_scale1.lambda1")
			add(modelfile.VBlock(i, "ls2", "weight"), partVision, roleFloat, pre, l+"layer_scale2.lambda1")
		}
		add(modelfile.VPostLNWeight, partVision, roleFloat, pre, "layernorm.weight")
		add(modelfile.VPostLNBias, partVision, roleFloat, pre, "layernorm.bias")
	}
	if p := h.Projector; p != nil {
		for i := 0; i < p.BlockCount; i++ {
			// MAIRA-2 keeps its linears in an nn.Sequential (layers.0, .2,
			// ...); LLaVA names its two linear_1 and linear_2.
			local := fmt.Sprintf("layers.%d", p.LinearIndex(i))
			if cfg.ModelType == "llava" {
				local = fmt.Sprintf("linear_%d", i+1)
			}
			add(modelfile.MM(p, i, "weight"), partProjector, roleMatrix, projectorPrefixes, local+".weight")
			add(modelfile.MM(p, i, "bias"), partProjector, roleFloat, projectorPrefixes, local+".bias")
		}
	}
	if t := h.Text; t != nil {
		pre, head := textPrefixes, headPrefixes
		if cfg.ModelType == "llama" {
			pre, head = []string{"model."}, []string{""}
		}
		add(modelfile.TokenEmbd, partText, roleEmbedding, pre, "embed_tokens.weight")
		for i := 0; i < t.BlockCount; i++ {
			l := fmt.Sprintf("layers.%d.", i)
			add(modelfile.Block(i, "attn_norm"), partText, roleFloat, pre, l+"input_layernorm.weight")
			add(modelfile.Block(i, "attn_q"), partText, roleMatrix, pre, l+"self_attn.q_proj.weight")
			bs[len(bs)-1].permute = t.HeadCount
			add(modelfile.Block(i, "attn_k"), partText, roleMatrix, pre, l+"self_attn.k_proj.weight")
			bs[len(bs)-1].permute = t.HeadCountKV
			add(modelfile.Block(i, "attn_v"), partText, roleMatrix, pre, l+"self_attn.v_proj.weight")
			add(modelfile.Block(i, "attn_output"), partText, roleMatrix, pre, l+"self_attn.o_proj.weight")
			add(modelfile.Block(i, "ffn_norm"), partText, roleFloat, pre, l+"post_attention_layernorm.weight")
			add(modelfile.Block(i, "ffn_gate"), partText, roleMatrix, pre, l+"mlp.gate_proj.weight")
			add(modelfile.Block(i, "ffn_up"), partText, roleMatrix, pre, l+"mlp.up_proj.weight")
			add(modelfile.Block(i, "ffn_down"), partText, roleMatrix, pre, l+"mlp.down_proj.weight")
		}
		add(modelfile.OutputNorm, partText, roleFloat, pre, "norm.weight")
		if cfg.Text.TieWordEmbeddings {
			// A tied head is the embedding matrix; llama.cpp's files carry
			// it as output.weight all the same when converters copy it.
			add(modelfile.Output, partText, roleEmbedding, pre, "embed_tokens.weight")
		} else {
			add(modelfile.Output, partText, roleEmbedding, head, "lm_head.weight")
		}
	}
	return bs
}
