"""What verifying a checkpoint costs before every load: sha256 vs sizes-only, against the
load itself, at 135M and ~1B parameters.

    .venv/bin/python benchmarks/verify_cost.py [--sizes 135m,1b] [--repeat 3] [--dtype float32]

Each size is a Llama built from a transformers config with random weights (nothing is
downloaded): ``135m`` is shaped like SmolLM2-135M (hidden 576, 30 layers, vocabulary
49,152, tied embeddings), ``1b`` like Llama-3.2-1B (hidden 2048, 16 layers, vocabulary
128,256, tied). It is saved through ``save_checkpoint`` in ``--dtype`` (float32: what a
selftaught round writes, ``policy.load_for_training``), then, ``--repeat`` times each, in a
fresh process per size:

- ``verify_checkpoint`` with ``mode="sha256"`` (the default; the process's memory of earlier
  verifications cleared first, ``forget_verified``);
- ``verify_checkpoint`` with ``mode="sizes"`` (``SELFTAUGHT_VERIFY=sizes``);
- the remembered case: a second sha256 verification in the same process (what the 2nd and
  3rd load of a round pay);
- reading every byte of the folder (1 MiB reads): what any check that looks at the bytes pays;
- ``AutoModelForCausalLM.from_pretrained`` of the same folder (float32, 1 torch thread): the
  weights are memory-mapped, so this alone may not read them all;
- the same load followed by one pass over every parameter (``p.sum()``): every weight read.

Medians are printed as a markdown table. The files were just written, so they are read
from the page cache: a cold read from disk adds the disk's time to sha256 and to the load
alike. The folder is deleted at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SHAPES = {
    "135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                 num_key_value_heads=3, vocab_size=49152, tie_word_embeddings=True),
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=True),
}  # fmt: skip

CHILD = r"""
import json, statistics, sys, time
from pathlib import Path
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from selftaught.loops.checkpoint import forget_verified, save_checkpoint, verify_checkpoint
from selftaught.loops.tinymodel import build_tokenizer

shape, folder, repeat, dtype = json.loads(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(1)
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(**shape)).to(getattr(torch, dtype))
params = sum(p.numel() for p in model.parameters())
clock = time.perf_counter()
save_checkpoint(model, build_tokenizer(), folder, meta={"benchmark": "verify_cost"})
save_s = time.perf_counter() - clock
del model
size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

def timed(fn):
    out = []
    for _ in range(repeat):
        clock = time.perf_counter()
        fn()
        out.append(time.perf_counter() - clock)
    return statistics.median(out)

def sha256_cold():
    forget_verified()
    verify_checkpoint(folder, mode="sha256")

def load():
    m = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    del m

def load_and_touch():
    m = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    with torch.no_grad():
        for p in m.parameters():
            p.sum()
    del m

def read_all():
    for p in folder.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                while f.read(1 << 20):
                    pass

row = {"params": params, "bytes": size, "save_s": save_s, "sha256_s": timed(sha256_cold),
       "sizes_s": timed(lambda: verify_checkpoint(folder, mode="sizes"))}
verify_checkpoint(folder, mode="sha256")
row["remembered_s"] = timed(lambda: verify_checkpoint(folder, mode="sha256"))
row["read_s"] = timed(read_all)
row["load_s"] = timed(load)
row["touch_s"] = timed(load_and_touch)
print(json.dumps(row))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="135m,1b", help=f"comma-separated: {', '.join(SHAPES)}")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    ap.add_argument("--keep", action="store_true", help="keep the checkpoint folders")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="selftaught-verify-cost-"))
    rows = {}
    try:
        for name in args.sizes.split(","):
            out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(SHAPES[name]), str(work / name),
                                  str(args.repeat), args.dtype], capture_output=True, text=True)  # fmt: skip
            if out.returncode:
                sys.exit(f"{name}: {out.stderr[-3000:]}")
            rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{args.dtype} checkpoints, median of {args.repeat}; files in the page cache; 1 torch thread")
    print("| model | parameters | on disk | sha256 verify | sizes-only verify | remembered | read every byte | "
          "from_pretrained | + touch every weight |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['params'] / 1e6:,.0f}M | {r['bytes'] / 2**30:.2f} GiB | {r['sha256_s']:.2f} s "
              f"({r['bytes'] / 2**20 / r['sha256_s']:,.0f} MiB/s) | {r['sizes_s'] * 1000:.1f} ms | "
              f"{r['remembered_s'] * 1000:.1f} ms | {r['read_s']:.2f} s | {r['load_s']:.2f} s | "
              f"{r['touch_s']:.2f} s |")  # fmt: skip
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
