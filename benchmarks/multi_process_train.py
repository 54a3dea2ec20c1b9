"""One SFT (and one DPO) call on 1 process vs 2 DDP processes (``train: {processes: 2}``).

The tiny model, the same rows, seed and global batch each time; prints wall time, the time
to the first optimizer step (start-up: processes, imports, model load, process group), the
steps per second after it, and the largest per-step loss difference from the one-process
run. Rows fill whole global batches (see docs/multi-process.md for the epoch-tail case).

    PYTHONPATH=src .venv/bin/python benchmarks/multi_process_train.py [--steps 30] [--batch 32]

On 2 shared cores expect no speed-up: the two processes share the cores one process with 2
threads already uses, and pay an all-reduce per step plus ~20-30 s of start-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from selftaught.loops import launch
from selftaught.loops.arithmetic import make_problems
from selftaught.loops.dpo import DPOSettings, VerifiedPair
from selftaught.loops.tinymodel import init_policy
from selftaught.loops.train import SFTSettings, gold_training_set
from selftaught.records import Split


class Clock:
    """Wall time of a call, and when its first optimizer step ended."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.steps = 0

    def __call__(self, step: int) -> None:
        self.steps = step
        if self.first is None:
            self.first = time.perf_counter() - self.start

    def row(self, name: str, curve: list[float], ref: list[float] | None) -> str:
        wall = time.perf_counter() - self.start
        rate = (self.steps - 1) / max(wall - (self.first or 0), 1e-9)
        diff = "-" if ref is None else f"{max(abs(a - b) for a, b in zip(curve, ref)):.2e}"
        return f"| {name} | {wall:.1f} | {self.first or 0:.1f} | {rate:.2f} | {diff} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rows", type=int, default=256, help="a multiple of --batch")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as tmp:
        root = Path(tmp)
        base = init_policy(root / "init", seed=0, size="tiny")
        problems = make_problems(args.rows, Split.TRAIN, seed=0)
        ts = gold_training_set(problems)
        pairs = [VerifiedPair(p.id, p.prompt, p.solution or "", " <think></think> 0", ("g", p.id, 0), ("g", p.id, 1))
                 for p in problems]  # fmt: skip
        sft = SFTSettings(lr=5e-4, steps=args.steps, batch_size=args.batch, max_length=64)
        dpo = DPOSettings(steps=args.steps, batch_size=args.batch, max_length=64)
        print("| call | wall s | first step s | steps/s after | max loss diff vs 1 process |")
        print("|---|---|---|---|---|")
        runs = [
            ("SFT, 1 process, 1 thread", "sft", sft, 1),
            ("SFT, 1 process, 2 threads", "sft", sft, 2),
            ("SFT, 2 processes x 1 thread", "sft", sft.replace(processes=2), 2),
            ("DPO, 1 process, micro-batch batch/2, 1 thread", "dpo", dpo.replace(micro_batch_size=args.batch // 2), 1),
            ("DPO, 1 process, whole batch, 1 thread", "dpo", dpo, 1),
            ("DPO, 2 processes x 1 thread", "dpo", dpo.replace(processes=2), 2),
        ]
        refs: dict[str, list[float]] = {}
        for i, (name, kind, cfg, threads) in enumerate(runs):
            clock = Clock()
            kw = dict(cfg=cfg, checkpoint_id=f"c{i}", parent_id=None, round_index=1, progress=clock, threads=threads)
            if kind == "sft":
                ckpt = launch.train_sft(base, ts, str(root / f"c{i}"), **kw)
            else:
                ckpt = launch.train_dpo(base, pairs, str(root / f"c{i}"), **kw)
            curve = ckpt.config["loss_curve"]
            print(clock.row(name, curve, refs.get(kind)), flush=True)
            refs.setdefault(kind, curve)


if __name__ == "__main__":
    main()
