"""TRL's fused log-probability head on a CPU: extra memory and time per tile size.

    .venv/bin/python benchmarks/logprob_tiles.py [--tokens 4096] [--vocab 49152] [--hidden 576]

TRL 1.16's SFT, DPO, GRPO and RLOO trainers compute token log-probabilities with
``trl.kernels.chunked_logprob.ChunkedLogProbFunction``, in tiles of ``TOKEN_CHUNK_SIZE``
tokens x a vocabulary chunk; without Triton (a CPU) each tile is folded in plain torch.
This runs one forward + backward of that function on random hidden states of ``--tokens``
tokens (SmolLM2's shapes by default: hidden 576, vocabulary 49,152), each tile size in a
fresh process, and prints the peak resident memory it added over the inputs and the wall
time, with ratios to TRL's default tile (4,096). selftaught sets the tile from the
vocabulary (``loops.policy.logprob_tile``: 256 for SmolLM2).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
tokens, vocab, hidden, tile = map(int, sys.argv[1:5])
torch.manual_seed(0)
torch.set_num_threads(1)
import trl.kernels.chunked_logprob as ck
from trl.trainer.utils import _CHUNKED_LOGPROB_CHUNK_SIZE
ck.TOKEN_CHUNK_SIZE = tile
h = torch.randn(tokens, hidden, requires_grad=True)
w = (torch.randn(vocab, hidden) * 0.02).requires_grad_()
y = torch.randint(0, vocab, (tokens,))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
clock = time.perf_counter()
out = ck.ChunkedLogProbFunction.apply(h, w, None, y, 1.0, _CHUNKED_LOGPROB_CHUNK_SIZE, None, 1.0, ("log_probs",))
(-out[0].sum()).backward()
seconds = time.perf_counter() - clock
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"tile": tile, "extra_mb": peak - before, "seconds": seconds}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=4096, help="tokens in one micro-batch (rows x length)")
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--hidden", type=int, default=576)
    ap.add_argument("--tiles", default="4096,1024,256,128")
    args = ap.parse_args()
    rows = []
    for tile in map(int, args.tiles.split(",")):
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.tokens), str(args.vocab), str(args.hidden), str(tile)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = next(r for r in rows if r["tile"] == 4096) if any(r["tile"] == 4096 for r in rows) else rows[0]
    print(f"{args.tokens} tokens, vocabulary {args.vocab}, hidden {args.hidden}; forward + backward, 1 thread")
    print("| tile (tokens) | extra peak RSS | vs 4096 | seconds | vs 4096 |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['tile']} | {r['extra_mb']:,.0f} MB | {r['extra_mb'] / base['extra_mb']:.2f}x | "
              f"{r['seconds']:.1f} | {r['seconds'] / base['seconds']:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
