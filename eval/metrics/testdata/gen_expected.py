"""Expected BLEU, ROUGE-L and CIDEr-D values for pairs.jsonl, computed with
pycocoevalcap's own scorers. Usage (see README.md):

    python3 gen_expected.py PYCOCOEVALCAP_DIR pairs.jsonl expected.json

PYCOCOEVALCAP_DIR holds bleu/, rouge/ and cider/ from salaniz/pycocoevalcap.
The texts in pairs.jsonl are already tokenized (lowercase, punctuation
dropped), so the Java PTB tokenizer is not needed. Without numpy, a minimal
stand-in (below) supplies the few numpy calls those scorers make."""
import json, math, sys, types

try:
    import numpy  # noqa: F401
except ImportError:
    class _Arr(list):
        def __iadd__(self, other):
            for i, v in enumerate(other):
                self[i] += v
            return self
    np = types.ModuleType("numpy")
    np.array = lambda xs: _Arr(xs)
    np.mean = lambda xs: sum(xs) / len(xs)
    np.log = math.log
    np.sqrt = math.sqrt
    np.e = math.e
    sys.modules["numpy"] = np

sys.path.insert(0, sys.argv[1])
from bleu.bleu import Bleu  # noqa: E402
from rouge.rouge import Rouge  # noqa: E402
from cider.cider import Cider  # noqa: E402

gts, res, ids = {}, {}, []
for line in open(sys.argv[2]):
    p = json.loads(line)
    ids.append(p["id"])
    gts[p["id"]] = p["refs"]
    res[p["id"]] = [p["hyp"]]

import io, contextlib  # noqa: E402
with contextlib.redirect_stdout(io.StringIO()):
    bleu, bleu_per = Bleu(4).compute_score(gts, res)
rouge, rouge_per = Rouge().compute_score(gts, res)
cider, cider_per = Cider().compute_score(gts, res)
out = {
    "corpus": {"bleu": list(bleu), "rouge_l": float(rouge), "cider": float(cider)},
    "per_study": {
        i: {"bleu": [bleu_per[k][n] for k in range(4)], "rouge_l": float(rouge_per[n]),
            "cider": float(cider_per[n])}
        for n, i in enumerate(ids)
    },
}
json.dump(out, open(sys.argv[3], "w"), indent=1)
