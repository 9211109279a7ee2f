package vocab

import (
	"fmt"
	"math"
	"strings"
)

// SentencePiece ModelProto field numbers (google/sentencepiece,
// src/sentencepiece_model.proto).
const (
	fModelPieces         = 1
	fModelTrainerSpec    = 2
	fModelNormalizerSpec = 3

	fPiecePiece = 1
	fPieceScore = 2
	fPieceType  = 3

	fTrainerModelType        = 3
	fTrainerVocabSize        = 4
	fTrainerWhitespaceSuffix = 24 // treat_whitespace_as_suffix
	fTrainerByteFallback     = 35
	fTrainerUnkID            = 40
	fTrainerBosID            = 41
	fTrainerEosID            = 42
	fTrainerPadID            = 43
	fTrainerUnkPiece         = 45
	fTrainerBosPiece         = 46
	fTrainerEosPiece         = 47
	fTrainerPadPiece         = 48

	fNormName             = 1
	fNormCharsMap         = 2 // precompiled_charsmap
	fNormAddDummyPrefix   = 3
	fNormRemoveExtraSpace = 4 // remove_extra_whitespaces
	fNormEscapeSpace      = 5 // escape_whitespaces
)

// TrainerSpec.ModelType values.
var modelTypeNames = map[int32]string{1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR"}

const modelTypeBPE = 2

// maxPieceBytes is SentencePiece's own limit (model_interface.cc,
// kMaxPieceSize): a longer piece makes the library refuse the model.
const maxPieceBytes = 8000

// spmModel holds the fields of a ModelProto that matter here, with the
// proto's declared defaults for the optional ones.
type spmModel struct {
	pieces []string
	scores []float32
	types  []TokenType

	modelType        int32
	byteFallback     bool
	whitespaceSuffix bool
	unkID            int32
	bosID            int32
	eosID            int32
	padID            int32

	addDummyPrefix   bool
	removeExtraSpace bool
	escapeSpace      bool
	charsMap         []byte
}

// ParseSentencePiece parses a SentencePiece ModelProto (tokenizer.model):
// its pieces (piece, score, type), trainer_spec's model_type and
// unk/bos/eos/pad ids, and normalizer_spec.add_dummy_prefix. path is used
// only in error messages.
//
// Only what LLaMA uses is accepted, since anything else would tokenize
// differently from what the rest of maira implements: model_type BPE (2);
// no precompiled normalization rules; remove_extra_whitespaces false;
// escape_whitespaces true; treat_whitespace_as_suffix false. It also makes
// the checks the sentencepiece library makes when it loads a model (one
// UNKNOWN piece, no empty or duplicate pieces, all 256 byte pieces when
// byte_fallback is on, byte pieces only then), so whatever parses here the
// library would load. AddBOS and Legacy are set to transformers' defaults
// (true), AddEOS to false; ReadDir overrides them from tokenizer_config.json.
func ParseSentencePiece(data []byte, path string) (*Vocab, error) {
	m, err := decodeModel(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	v := &Vocab{
		Tokens: m.pieces, Scores: m.scores, Types: m.types,
		BOS: m.bosID, EOS: m.eosID, PAD: m.padID, UNK: -1,
		AddBOS: true, Legacy: true, AddSpacePrefix: m.addDummyPrefix,
	}
	for i, t := range m.types {
		if t == Unknown {
			v.UNK = int32(i)
		}
	}
	if m.unkID != v.UNK {
		return nil, fmt.Errorf("%s: trainer_spec.unk_id is %d but the UNKNOWN piece is %d", path, m.unkID, v.UNK)
	}
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return v, nil
}

func decodeModel(data []byte) (*spmModel, error) {
	m := &spmModel{
		modelType: 1, unkID: 0, bosID: 1, eosID: 2, padID: -1,
		addDummyPrefix: true, removeExtraSpace: true, escapeSpace: true,
	}
	r := protoReader{b: data}
	for !r.done() {
		field, wire, err := r.tag()
		if err != nil {
			return nil, fmt.Errorf("ModelProto: %v", err)
		}
		switch field {
		case fModelPieces, fModelTrainerSpec, fModelNormalizerSpec:
			if err := expect(field, wire, wireBytes); err != nil {
				return nil, fmt.Errorf("ModelProto: %v", err)
			}
			p, err := r.bytes()
			if err != nil {
				return nil, fmt.Errorf("ModelProto field %d: %v", field, err)
			}
			switch field {
			case fModelPieces:
				if len(m.pieces) >= maxTokens {
					return nil, fmt.Errorf("more than %d pieces", maxTokens)
				}
				err = m.decodePiece(p)
			case fModelTrainerSpec:
				err = m.decodeTrainer(p)
			default:
				err = m.decodeNormalizer(p)
			}
			if err != nil {
				return nil, err
			}
		default:
			if err := r.skip(field, wire); err != nil {
				return nil, fmt.Errorf("ModelProto field %d: %v", field, err)
			}
		}
	}
	return m, nil
}

func (m *spmModel) decodePiece(b []byte) error {
	i := len(m.pieces)
	piece, score, typ := "", float32(0), Normal
	r := protoReader{b: b}
	for !r.done() {
		field, wire, err := r.tag()
		if err != nil {
			return fmt.Errorf("piece %d: %v", i, err)
		}
		switch field {
		case fPiecePiece:
			if err = expect(field, wire, wireBytes); err == nil {
				var p []byte
				p, err = r.bytes()
				piece = string(p)
			}
		case fPieceScore:
			if err = expect(field, wire, wireFixed32); err == nil {
				var u uint32
				u, err = r.fixed32()
				score = math.Float32frombits(u)
			}
		case fPieceType:
			if err = expect(field, wire, wireVarint); err == nil {
				var u uint64
				u, err = r.varint()
				typ = TokenType(int32Value(u))
			}
		default:
			err = r.skip(field, wire)
		}
		if err != nil {
			return fmt.Errorf("piece %d: %v", i, err)
		}
	}
	if typ < Normal || typ > Byte {
		return fmt.Errorf("piece %d %q: type %d is not a SentencePiece piece type", i, piece, int32(typ))
	}
	m.pieces = append(m.pieces, piece)
	m.scores = append(m.scores, score)
	m.types = append(m.types, typ)
	return nil
}

func (m *spmModel) decodeTrainer(b []byte) error {
	r := protoReader{b: b}
	for !r.done() {
		field, wire, err := r.tag()
		if err != nil {
			return fmt.Errorf("trainer_spec: %v", err)
		}
		var dst *int32
		var flag *bool
		switch field {
		case fTrainerModelType:
			dst = &m.modelType
		case fTrainerUnkID:
			dst = &m.unkID
		case fTrainerBosID:
			dst = &m.bosID
		case fTrainerEosID:
			dst = &m.eosID
		case fTrainerPadID:
			dst = &m.padID
		case fTrainerByteFallback:
			flag = &m.byteFallback
		case fTrainerWhitespaceSuffix:
			flag = &m.whitespaceSuffix
		}
		if dst == nil && flag == nil {
			if err := r.skip(field, wire); err != nil {
				return fmt.Errorf("trainer_spec field %d: %v", field, err)
			}
			continue
		}
		if err := expect(field, wire, wireVarint); err != nil {
			return fmt.Errorf("trainer_spec: %v", err)
		}
		u, err := r.varint()
		if err != nil {
			return fmt.Errorf("trainer_spec field %d: %v", field, err)
		}
		if dst != nil {
			*dst = int32Value(u)
		} else {
			*flag = u != 0
		}
	}
	return nil
}

func (m *spmModel) decodeNormalizer(b []byte) error {
	r := protoReader{b: b}
	for !r.done() {
		field, wire, err := r.tag()
		if err != nil {
			return fmt.Errorf("normalizer_spec: %v", err)
		}
		var flag *bool
		switch field {
		case fNormAddDummyPrefix:
			flag = &m.addDummyPrefix
		case fNormRemoveExtraSpace:
			flag = &m.removeExtraSpace
		case fNormEscapeSpace:
			flag = &m.escapeSpace
		case fNormCharsMap:
			if err := expect(field, wire, wireBytes); err != nil {
				return fmt.Errorf("normalizer_spec: %v", err)
			}
			if m.charsMap, err = r.bytes(); err != nil {
				return fmt.Errorf("normalizer_spec.precompiled_charsmap: %v", err)
			}
			continue
		default:
			if err := r.skip(field, wire); err != nil {
				return fmt.Errorf("normalizer_spec field %d: %v", field, err)
			}
			continue
		}
		if err := expect(field, wire, wireVarint); err != nil {
			return fmt.Errorf("normalizer_spec: %v", err)
		}
		u, err := r.varint()
		if err != nil {
			return fmt.Errorf("normalizer_spec field %d: %v", field, err)
		}
		*flag = u != 0
	}
	return nil
}

// check rejects models this package cannot represent faithfully and those
// the sentencepiece library itself would refuse.
func (m *spmModel) check() error {
	if m.modelType != modelTypeBPE {
		name := modelTypeNames[m.modelType]
		if name == "" {
			name = "unknown"
		}
		return fmt.Errorf("trainer_spec.model_type is %s (%d); only BPE (2) is supported", name, m.modelType)
	}
	if len(m.charsMap) > 0 {
		return fmt.Errorf("normalizer_spec has %d bytes of precompiled normalization rules; only the identity normalization LLaMA uses is supported", len(m.charsMap))
	}
	if m.removeExtraSpace {
		return fmt.Errorf("normalizer_spec.remove_extra_whitespaces is true; only LLaMA's false is supported")
	}
	if !m.escapeSpace {
		return fmt.Errorf("normalizer_spec.escape_whitespaces is false; only LLaMA's true is supported")
	}
	if m.whitespaceSuffix {
		return fmt.Errorf("trainer_spec.treat_whitespace_as_suffix is true; only LLaMA's false is supported")
	}
	return checkLoadable(m.pieces, m.types, m.byteFallback)
}

// checkLoadable makes the checks of sentencepiece's
// ModelInterface::InitializePieces, so that a model passing them loads.
func checkLoadable(pieces []string, types []TokenType, byteFallback bool) error {
	if len(pieces) == 0 {
		return fmt.Errorf("no pieces")
	}
	// Normal, user-defined and unused pieces share one map; the others
	// (unknown, control, byte) another. A text may appear once in each.
	normal := make(map[string]int, len(pieces))
	reserved := make(map[string]int)
	unk := -1
	var bytesFound [256]bool
	nBytes := 0
	for i, p := range pieces {
		t := types[i]
		switch {
		case p == "":
			return fmt.Errorf("piece %d is empty", i)
		case strings.IndexByte(p, 0) >= 0:
			return fmt.Errorf("piece %d %q contains a NUL byte", i, p)
		case len(p) >= maxPieceBytes:
			return fmt.Errorf("piece %d is %d bytes long, over SentencePiece's limit of %d", i, len(p), maxPieceBytes-1)
		}
		seen := reserved
		if t == Normal || t == UserDefined || t == Unused {
			seen = normal
		}
		if j, dup := seen[p]; dup {
			return fmt.Errorf("pieces %d and %d are both %q", j, i, p)
		}
		seen[p] = i
		switch t {
		case Unknown:
			if unk >= 0 {
				return fmt.Errorf("pieces %d and %d are both of type UNKNOWN", unk, i)
			}
			unk = i
		case Byte:
			if !byteFallback {
				return fmt.Errorf("piece %d %q is of type BYTE but trainer_spec.byte_fallback is false", i, p)
			}
			b, ok := BytePiece(p)
			if !ok {
				return fmt.Errorf("piece %d %q is of type BYTE but is not of the form <0xXX>", i, p)
			}
			if !bytesFound[b] {
				bytesFound[b] = true
				nBytes++
			}
		}
	}
	if unk < 0 {
		return fmt.Errorf("no piece of type UNKNOWN")
	}
	if byteFallback && nBytes != 256 {
		return fmt.Errorf("trainer_spec.byte_fallback is true but only %d of the 256 byte pieces are present", nBytes)
	}
	return nil
}

// SentencePiece encodes the vocabulary as a SentencePiece ModelProto that the
// sentencepiece library loads: a BPE model with its pieces, scores and types,
// byte_fallback on when the vocabulary has byte pieces, the special ids and
// pieces in trainer_spec, and LLaMA's normalizer ("identity" rules,
// add_dummy_prefix from AddSpacePrefix, remove_extra_whitespaces false,
// escape_whitespaces true). AddBOS, AddEOS, Legacy and ChatTemplate are not
// part of a ModelProto; WriteHFDir puts them in tokenizer_config.json.
//
// It fails where the library would refuse the model: no UNK (or an UNK not
// of type Unknown), a second Unknown piece, duplicate texts, pieces over 8000
// bytes, or byte pieces other than a complete set of 256.
func (v *Vocab) SentencePiece() ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	if v.UNK < 0 || v.Types[v.UNK] != Unknown {
		return nil, fmt.Errorf("vocab: sentencepiece needs an UNK token of type UNKNOWN")
	}
	byteFallback := false
	for _, t := range v.Types {
		if t == Byte {
			byteFallback = true
			break
		}
	}
	if err := checkLoadable(v.Tokens, v.Types, byteFallback); err != nil {
		return nil, fmt.Errorf("vocab: not a loadable sentencepiece model: %v", err)
	}

	var w, sub protoWriter
	for i, tok := range v.Tokens {
		sub.b = sub.b[:0]
		sub.stringField(fPiecePiece, tok)
		sub.floatField(fPieceScore, v.Scores[i])
		sub.int32Field(fPieceType, int32(v.Types[i]))
		w.bytesField(fModelPieces, sub.b)
	}

	sub.b = sub.b[:0]
	sub.int32Field(fTrainerModelType, modelTypeBPE)
	sub.int32Field(fTrainerVocabSize, int32(v.Len()))
	sub.boolField(fTrainerByteFallback, byteFallback)
	sub.int32Field(fTrainerUnkID, v.UNK)
	sub.int32Field(fTrainerBosID, v.BOS)
	sub.int32Field(fTrainerEosID, v.EOS)
	sub.int32Field(fTrainerPadID, v.PAD)
	// The library finds <s>, </s> and <pad> by these names (bos_id() is
	// PieceToId(bos_piece)), so they must name the pieces at the ids.
	for _, s := range []struct {
		field int
		id    int32
	}{{fTrainerUnkPiece, v.UNK}, {fTrainerBosPiece, v.BOS}, {fTrainerEosPiece, v.EOS}, {fTrainerPadPiece, v.PAD}} {
		if s.id >= 0 {
			sub.stringField(s.field, v.Tokens[s.id])
		}
	}
	w.bytesField(fModelTrainerSpec, sub.b)

	sub.b = sub.b[:0]
	sub.stringField(fNormName, "identity")
	sub.boolField(fNormAddDummyPrefix, v.AddSpacePrefix)
	sub.boolField(fNormRemoveExtraSpace, false)
	sub.boolField(fNormEscapeSpace, true)
	w.bytesField(fModelNormalizerSpec, sub.b)
	return w.b, nil
}
