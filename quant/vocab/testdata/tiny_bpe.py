#!/usr/bin/python3
"""Trains testdata/tiny-bpe.model with the real sentencepiece library.

usage: tiny_bpe.py OUT.model

A small BPE model with LLaMA's settings (byte fallback, identity
normalization, no whitespace removal, dummy prefix, split digits,
whitespace-only pieces), plus a user-defined symbol and a pad piece, so
that the parser meets a ModelProto exactly as the library writes one, with
every trainer_spec field it fills in. Needs Debian's python3-sentencepiece.
"""

import io
import sys

import sentencepiece

CORPUS = """\
Given the current frontal image only. No acute cardiopulmonary process.
There is no focal consolidation, pleural effusion, or pneumothorax.
The cardiomediastinal silhouette is within normal limits.
Interval placement of a right internal jugular central venous catheter with tip in the mid SVC.
Mild pulmonary vascular congestion. Small bilateral pleural effusions, left greater than right.
Compared to prior study from 2019-03-14, there is increased opacity at the left lung base.
ET tube terminates 4.5 cm above the carina. NG tube tip below the diaphragm.
Heart size is mildly enlarged. Lungs are clear. No pleural effusion or pneumothorax.
Lines and tubes are unchanged in position. The osseous structures are intact.
Findings: Lines/tubes: None. Lungs: Clear. Pleura: No effusion or pneumothorax.
Heart and mediastinum: Normal. Bones: Degenerative changes of the thoracic spine.
<image> Provide a description of the findings in the radiology study.
"""


def main():
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.splitlines() * 20),
        model_writer=open(sys.argv[1], "wb"),
        model_type="bpe",
        vocab_size=420,
        hard_vocab_limit=False,
        byte_fallback=True,
        character_coverage=1.0,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        user_defined_symbols=["<image>"],
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=3,
        num_threads=1,
        minloglevel=2,
    )


if __name__ == "__main__":
    main()
