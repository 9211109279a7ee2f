#!/usr/bin/python3
"""Time a ViT-B/14 forward at 518x518 (1370 tokens, RAD-DINO's shape) in PyTorch on the CPU, the
anchor for `maira bench`'s image encode. Debian: apt-get install python3-torch libopenblas0-pthread
(without OpenBLAS torch falls back to a reference BLAS that is far slower).
usage: /usr/bin/python3 scripts/torch-vit-time.py [threads]"""
import sys, time, torch

torch.manual_seed(0)
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
D, L, H = 768, 12, 12
patch = torch.nn.Conv2d(3, D, 14, 14)
block = lambda: torch.nn.TransformerEncoderLayer(D, H, 4 * D, activation="gelu", batch_first=True,
                                                 norm_first=True, dropout=0.0)
encoder = torch.nn.TransformerEncoder(block(), L, enable_nested_tensor=False).eval()
image = torch.randn(1, 3, 518, 518)
cls = torch.zeros(1, 1, D)

def forward():
    with torch.inference_mode():
        tokens = patch(image).flatten(2).transpose(1, 2)
        return encoder(torch.cat([cls, tokens], 1))

forward()  # warm-up
times = []
for _ in range(3):
    t0 = time.perf_counter()
    forward()
    times.append(time.perf_counter() - t0)
print(f'{{"engine": "torch {torch.__version__}", "threads": {threads}, "vit_b14_518_ms": {min(times) * 1000:.0f}}}')
