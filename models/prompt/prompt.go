// Package prompt builds MAIRA-2's prompt for a study and lays the image
// tokens into it.
//
// The text follows Microsoft's Maira2Processor (processing_maira2.py,
// _construct_chat_messages_reporting) rendered through MAIRA-2's chat
// template, as ../shared/docs/MAIRA.md records it:
//
//	SYSTEM USER: Given the current frontal image only<image> Provide a structured description
//	of the findings in the radiology study in comparison to the prior frontal image.
//	INDICATION: x TECHNIQUE: y COMPARISON: z ASSISTANT:␠
//
// (one line; the rendered chat ends with "ASSISTANT: ", so the last prompt
// token is the lone "▁"). With more images the first sentence becomes "Given
// the current frontal image<image> the current lateral image<image> and the
// prior frontal image<image>", and a prior report adds " PRIOR_REPORT: ...".
// A missing section reads "N/A". Each <image> is later expanded to one token
// per image patch, whose embeddings the projected image features replace.
package prompt

import (
	"fmt"
	"regexp"
	"strings"

	"maira/quant/modelfile"
)

// Study is the text side of a study: which images there are and the
// sections of the request.
type Study struct {
	Lateral     bool   // a current lateral image is given
	Prior       bool   // a prior frontal image is given
	PriorReport string // the prior study's report ("" : N/A)
	Indication  string
	Technique   string
	Comparison  string
	Grounded    bool // ask for findings with boxes
}

// ImageToken is the placeholder the text carries for each image.
const ImageToken = "<image>"

// missing is what Maira2Processor writes for an absent section.
const missing = "N/A"

// section is Maira2Processor._get_section_text_or_missing_text: an empty
// section reads "N/A"; any other text goes in as it is, but for token
// markup (see neutralize).
func section(s string) string {
	if s == "" {
		return missing
	}
	return neutralize(s)
}

// markup matches the text of MAIRA-2's added and special tokens.
var markup = regexp.MustCompile(`</?(?:image|prev_im|lat_image|s|unk|obj|box)>|<[xy][0-9]+>`)

// neutralize turns token markup in outside text (an indication typed at the
// scanner, a prior report) into plain brackets: the tokenizer matches added
// tokens anywhere in the text, so a literal "<image>" in an indication
// would add an image placeholder the study has no image for, and "<s>"
// would start a new sequence.
func neutralize(s string) string {
	return markup.ReplaceAllStringFunc(s, func(m string) string {
		return "(" + m[1:len(m)-1] + ")"
	})
}

// Text returns the prompt text for a study, with one ImageToken per image
// in the order the images are encoded: current frontal, current lateral,
// prior frontal.
func Text(p *modelfile.Prompt, s Study) string {
	var b strings.Builder
	b.WriteString(p.System)
	b.WriteString(" USER: ")
	switch {
	case !s.Lateral && !s.Prior:
		b.WriteString("Given the current frontal image only" + ImageToken)
	case s.Lateral && s.Prior:
		b.WriteString("Given the current frontal image" + ImageToken + " the current lateral image" + ImageToken +
			" and the prior frontal image" + ImageToken)
	case s.Prior:
		b.WriteString("Given the current frontal image" + ImageToken + " and the prior frontal image" + ImageToken)
	default:
		b.WriteString("Given the current frontal image" + ImageToken + " and the current lateral image" + ImageToken)
	}
	if s.Prior {
		b.WriteString(" PRIOR_REPORT: " + section(s.PriorReport))
	}
	instruction := p.FindingsInstruction
	if s.Grounded {
		instruction = p.GroundedInstruction
	}
	fmt.Fprintf(&b, " %s INDICATION: %s TECHNIQUE: %s COMPARISON: %s", instruction,
		section(s.Indication), section(s.Technique), section(s.Comparison))
	b.WriteString(" ASSISTANT: ")
	return b.String()
}

// Images returns how many images the study's prompt holds.
func (s Study) Images() int {
	n := 1
	if s.Lateral {
		n++
	}
	if s.Prior {
		n++
	}
	return n
}

// Layout is a tokenized prompt with every image placeholder expanded.
type Layout struct {
	IDs []int32
	// Images[i] is the first position of image i's tokens; each image
	// occupies PerImage positions from there.
	Images   []int
	PerImage int
}

// Expand replaces each imageID in ids by perImage copies of it and records
// where each image's run starts. want is the number of images the caller
// will supply features for; a prompt holding another number of
// placeholders is an error (the text and the images would disagree).
func Expand(ids []int32, imageID int32, perImage, want int) (*Layout, error) {
	l := &Layout{PerImage: perImage}
	for _, id := range ids {
		if id == imageID {
			l.Images = append(l.Images, len(l.IDs))
			for k := 0; k < perImage; k++ {
				l.IDs = append(l.IDs, imageID)
			}
			continue
		}
		l.IDs = append(l.IDs, id)
	}
	if len(l.Images) != want {
		return nil, fmt.Errorf("the prompt holds %d image placeholders for %d images", len(l.Images), want)
	}
	return l, nil
}
