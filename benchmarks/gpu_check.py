"""The GPU check: selftaught's sampling and training paths on a GPU against the same machine's CPU.

    python benchmarks/gpu_check.py --out DIR                  # a GPU machine: cuda and cpu, ratios
    python benchmarks/gpu_check.py --devices cpu --smoke      # anywhere: the same code, tiny sizes

Made for the device machines lent to this project (one H100/H200, 8 minutes; torch,
transformers, peft and accelerate installed; no trl, datasets, prefect or sqlalchemy, no
network). Nothing is downloaded: models are built from configs with random weights, which
does not change how fast they run. Rows, each on every device asked for:

1. **generate, K=8 (tiny)**: the embedded ~2M-parameter model through ``Policy.complete``
   (the generate and evaluate stages' code), 200 prompts x 8 samples x 32 new tokens: the
   demo's held-out workload.
2. **generate, K=8 (SmolLM2 shapes)**: SmolLM2-135M's configuration (30 layers, hidden 576,
   vocabulary 49,152), 64 prompts x 8 samples x 128 new tokens. The CPU runs a quarter of
   the prompts (``--cpu-share``); throughput is compared per generated token.
3. **SFT steps/s (SmolLM2 shapes)**: selftaught's ``train_sft`` (TRL, the placement's mixed
   precision) when trl and datasets import; otherwise a plain torch loop with the same
   batch (16 rows x 256 tokens, AdamW, float32 master weights, autocast in the placement's
   dtype), labelled ``torch loop``.

Each device's placement is ``hardware.decide(device)``: what a recipe with ``device: cuda``
or ``device: cpu`` and ``dtype: auto`` gets. A row that would overrun ``--budget-s`` is
skipped with the reason. Prints a markdown table with GPU / CPU ratios and writes
``gpu_check.json`` to ``--out``. One ``selftaught run`` round on the GPU needs prefect and
sqlalchemy, which the device image lacks and which do not fit its 64 MiB of carried files
with trl and datasets; the script says so rather than pretend.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SMOLLM2_SHAPES = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                      num_key_value_heads=3, vocab_size=49152, rope_theta=100000.0)  # fmt: skip


def _sync(placement: Any) -> None:
    if placement.on_cuda:
        import torch

        torch.cuda.synchronize()


def build_models(folder: Path, smoke: bool) -> dict[str, str]:
    """The tiny model (selftaught's own builder) and a SmolLM2-shaped model with the tiny
    tokenizer (its ids fit any vocabulary), both saved as HF folders."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from selftaught.loops.checkpoint import save_checkpoint
    from selftaught.loops.tinymodel import build_tokenizer, init_policy

    tiny = init_policy(folder / "tiny", seed=0)
    tokenizer = build_tokenizer()
    shapes = dict(SMOLLM2_SHAPES, num_hidden_layers=2) if smoke else SMOLLM2_SHAPES
    config = LlamaConfig(**shapes, max_position_embeddings=2048, tie_word_embeddings=True,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    save_checkpoint(model, tokenizer, folder / "smollm2-shapes", meta={"kind": "gpu-check", "shapes": "smollm2"})
    return {"tiny": tiny, "smollm2-shapes": str(folder / "smollm2-shapes")}


def generate_row(path: str, placement: Any, *, prompts: int, k: int, new_tokens: int) -> dict:
    """Generated tokens per second through ``Policy.complete`` (one warm-up call first)."""
    from selftaught.loops.arithmetic import make_problems
    from selftaught.loops.policy import load_policy
    from selftaught.records import SamplingParams, Split

    policy = load_policy(path, placement=placement)
    params = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=new_tokens, do_sample=True)
    texts = [p.prompt for p in make_problems(200, Split.HELDOUT, seed=0)][:prompts]
    policy.complete(texts[:2], n=2, params=params, seed=0)
    _sync(placement)
    clock = time.perf_counter()
    out = policy.complete(texts, n=k, params=params, seed=1)
    _sync(placement)
    seconds = time.perf_counter() - clock
    tokens = sum(c.n_tokens for row in out for c in row)
    return {"sequences": len(texts) * k, "tokens": tokens, "seconds": seconds, "per_s": tokens / seconds}


def sft_row(path: str, placement: Any, *, steps: int, rows: int, length: int) -> dict:
    """Optimizer steps per second on ``rows`` x ``length``-token batches."""
    if importlib.util.find_spec("trl") and importlib.util.find_spec("datasets"):
        return _sft_trl(path, placement, steps=steps, rows=rows, length=length)
    return _sft_torch(path, placement, steps=steps, rows=rows, length=length)


def _sft_trl(path: str, placement: Any, *, steps: int, rows: int, length: int) -> dict:
    from selftaught.loops.train import SFTSettings, train_sft
    from selftaught.records import TrainingExample, TrainingSet

    text = "1 2 3 4 5 6 7 8 9 " * (length // 9)
    examples = tuple(TrainingExample(problem_id=f"p{i}", prompt="Q:", completion=text[: length * 2]) for i in range(rows))
    cfg = SFTSettings(lr=1e-5, steps=steps, batch_size=rows, max_length=length, placement=placement)
    with tempfile.TemporaryDirectory() as out:
        clock = time.perf_counter()
        train_sft(path, TrainingSet("rft", examples, {}), out, cfg=cfg, checkpoint_id="gpu-check", parent_id=None,
                  round_index=None)  # fmt: skip
        seconds = time.perf_counter() - clock
    return {"how": "train_sft (TRL)", "steps": steps, "seconds": seconds, "per_s": steps / seconds}


def _sft_torch(path: str, placement: Any, *, steps: int, rows: int, length: int) -> dict:
    import torch

    from selftaught.loops.policy import load_for_training

    model, _ = load_for_training(path, master_dtype="float32", placement=placement)
    model = model.to(placement.device)  # float32 master weights; autocast below computes in half precision
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batch = torch.randint(3, 20, (rows, length), device=model.device)
    mixed = placement.on_cuda and placement.dtype != "float32"

    def step() -> None:
        with torch.autocast(placement.device, dtype=placement.torch_dtype(), enabled=mixed):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()  # warm-up: kernels, optimizer state
    _sync(placement)
    clock = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(placement)
    seconds = time.perf_counter() - clock
    return {"how": "torch loop (no trl here)", "steps": steps, "seconds": seconds, "per_s": steps / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="cuda,cpu", help="comma-separated: cuda, cpu (ratios need both)")
    ap.add_argument("--out", type=Path, default=Path("."))
    ap.add_argument("--budget-s", type=float, default=420.0, help="skip rows once this much time is spent")
    ap.add_argument("--cpu-share", type=float, default=0.25, help="share of the SmolLM2-shaped prompts the CPU runs")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script, measures nothing")
    args = ap.parse_args()

    import torch

    from selftaught.hardware import decide
    from selftaught.loops.policy import quiet_transformers

    quiet_transformers()
    start = time.perf_counter()
    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    if "cuda" in devices and not torch.cuda.is_available():
        sys.exit("error: --devices cuda: torch sees no CUDA GPU here (use --devices cpu)")
    env = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
           "cpu_threads": torch.get_num_threads()}  # fmt: skip
    s = 0.05 if args.smoke else 1.0
    plan = [
        ("generate K=8, tiny (tokens/s)", "tiny", lambda p, share: generate_row(
            models["tiny"], p, prompts=max(2, int(200 * s * share)), k=8, new_tokens=32)),
        ("generate K=8, SmolLM2 shapes (tokens/s)", "smollm2-shapes", lambda p, share: generate_row(
            models["smollm2-shapes"], p, prompts=max(2, int(64 * s * share)), k=8, new_tokens=int(128 * max(s, 0.25)))),
        ("SFT, SmolLM2 shapes, 16 x 256 tokens (steps/s)", "smollm2-shapes", lambda p, share: sft_row(
            models["smollm2-shapes"], p, steps=max(2, int(10 * s * share * 2)), rows=16 if not args.smoke else 2,
            length=256 if not args.smoke else 32)),
    ]  # fmt: skip
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        models = build_models(Path(scratch), args.smoke)
        for name, _, run in plan:
            row: dict[str, Any] = {"row": name}
            for device in devices:
                if time.perf_counter() - start > args.budget_s:
                    row[device] = {"skipped": f"over the {args.budget_s:.0f} s budget"}
                    continue
                placement = decide(device)
                share = args.cpu_share if device == "cpu" and "smollm2" in name.lower() and "cuda" in devices else 1.0
                if placement.on_cuda:
                    torch.cuda.reset_peak_memory_stats()
                row[device] = {"placement": placement.label, **run(placement, share)}
                if placement.on_cuda:
                    row[device]["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
                print(f"{name} on {placement.label}: {row[device]['per_s']:.2f}/s", flush=True)
            results.append(row)

    print(f"\n{env['gpu'] or 'no GPU'}; torch {env['torch']}; {env['cpu_threads']} CPU threads; "
          f"{time.perf_counter() - start:.0f} s in all{' (smoke sizes: not a measurement)' if args.smoke else ''}")
    print("| what | " + " | ".join(devices) + (" | cuda / cpu |" if {"cuda", "cpu"} <= set(devices) else " |"))
    print("|---|" + "---:|" * (len(devices) + ({"cuda", "cpu"} <= set(devices))))
    for row in results:
        cells = [f"{row[d]['per_s']:.2f} ({row[d]['placement']})" if "per_s" in row[d] else row[d]["skipped"]
                 for d in devices]  # fmt: skip
        if {"cuda", "cpu"} <= set(devices):
            both = all("per_s" in row[d] for d in ("cuda", "cpu"))
            cells.append(f"{row['cuda']['per_s'] / row['cpu']['per_s']:.1f}x" if both else "-")
        print(f"| {row['row']} | " + " | ".join(cells) + " |")
    run_note = ("one selftaught run round: not run (prefect/sqlalchemy are not installed on this machine)"
                if not (importlib.util.find_spec("prefect") and importlib.util.find_spec("sqlalchemy")) else
                "one selftaught run round: run it with `selftaught run` and a recipe with device: cuda")  # fmt: skip
    print(run_note)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps({"env": env, "smoke": args.smoke, "rows": results,
                                                          "run_round": run_note}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
