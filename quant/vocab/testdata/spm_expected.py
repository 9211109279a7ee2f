#!/usr/bin/python3
"""Encodes the test strings with the real sentencepiece library.

usage: spm_expected.py MODEL

MODEL is a tokenizer.model; the Go test writes one with Vocab.SentencePiece
from the LLaMA vocabulary in llama-spm-vocab.gguf. Prints
[{"text": ..., "ids": [...]}, ...] (ids without BOS), the contents of
spm_expected.json. Needs Debian's python3-sentencepiece.
"""

import json
import sys

import sentencepiece

TEXTS = [
    # Radiology report sentences.
    "Given the current frontal image only. No acute cardiopulmonary process.",
    "There is no focal consolidation, pleural effusion, or pneumothorax.",
    "The cardiomediastinal silhouette is within normal limits.",
    "Interval placement of a right internal jugular central venous catheter with tip in the mid SVC.",
    "Mild pulmonary vascular congestion. Small bilateral pleural effusions, left greater than right.",
    "Compared to prior study from 2019-03-14, there is increased opacity at the left lung base.",
    "ET tube terminates 4.5 cm above the carina.",
    "Heart size is mildly enlarged (CTR 0.55).",
    "NG tube tip below the diaphragm, likely in the stomach.",
    "nodule (8mm) in RUL; f/u CT in 3-6 months",
    "ALL CAPS IMPRESSION: NO ACUTE FINDINGS",
    "Findings: Lines/tubes: None. Lungs: Clear. Pleura: No effusion or pneumothorax. "
    "Heart and mediastinum: Normal. Bones: Degenerative changes of the thoracic spine.",
    # Prompt fragments (SentencePiece alone knows no added tokens, so <image> is text).
    "A chat between a curious user and an artificial intelligence assistant.",
    "USER: <image>\nProvide a description of the findings in the radiology study.",
    "ASSISTANT: ",
    "<s> literal special token text </s>",
    "<0x41> is text, not a byte piece",
    # Whitespace: the dummy prefix, runs of spaces (pieces of score -1e9), tabs, newlines.
    "",
    " ",
    "  leading spaces",
    "trailing space ",
    "multiple   internal    spaces",
    "        eight-space indent",
    "\ttab indented",
    "Line one.\nLine two.\n\nLine four.",
    "\r\n windows newline",
    "\u00a0non-breaking space",
    # Digits and symbols.
    "1234567890 0.001 3,500 2x10^9/L",
    "Temperature 38.5°C, SpO2 94% on 2L NC.",
    "Pneumothorax ≈ 2 cm; Δ from prior ≤ 1 cm.",
    # Unicode; characters missing from the vocabulary fall back to bytes.
    "Größe: 5 mm — naïve café résumé",
    "Ünïcödé",
    "肺炎の疑い",
    "🫁 lungs emoji",
    "Ǆ ǅ ǆ ꙮ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
]


def main():
    sp = sentencepiece.SentencePieceProcessor()
    sp.LoadFromFile(sys.argv[1])
    lines = [json.dumps({"text": t, "ids": sp.encode(t)}, ensure_ascii=False) for t in TEXTS]
    sys.stdout.write("[\n" + ",\n".join(lines) + "\n]\n")


if __name__ == "__main__":
    main()
