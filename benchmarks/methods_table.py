"""One round of each method from the same cold-start checkpoint: held-out accuracy, time, memory.

    .venv/bin/python benchmarks/methods_table.py [--methods rft,star,grpo,rloo,dpo]
        [--threads 1] [--out DIR] [--lora-ratio] [--json FILE]

Builds the embedded tiny policy and cold-starts it exactly as the demo and the flows do
(``DemoConfig`` defaults, seed 0: a quarter of the rows with the STaR hint, stopped once
greedy accuracy on a train-split probe reaches 35%), or reuses ``--out``'s ``cold/``
checkpoint if it is there, and evaluates it on the held-out split. Then, for each method, a *separate process* runs one round from that checkpoint with
the method's shipped defaults (the recipe defaults: ``loops.rl.RLSettings``/``RLOOSettings``/
``DPOSettings``, ``DemoConfig.train``) and evaluates the result with the same seed.
Each row: held-out sampled accuracy (pass@1 at T=1, K=8) before and after, greedy accuracy
after, the round's wall time (train + its own generation/judging; evaluation excluded),
and the process's peak RSS. ``--lora-ratio`` adds GRPO with beta=0.04 with and without
LoRA (10 steps each) and prints the peak-memory ratio.

Run it on an otherwise quiet machine if you can; it prints ``os.getloadavg()`` beside
every row because on 2 shared cores the wall times move with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selftaught.loops.arithmetic import make_problems
from selftaught.loops.defaults import DemoConfig
from selftaught.records import Split

CFG = DemoConfig()


def _problems():
    pool = make_problems(CFG.task.n_train, Split.TRAIN, CFG.seed, CFG.task.digits)
    heldout = make_problems(CFG.task.n_heldout, Split.HELDOUT, CFG.seed, CFG.task.digits)
    return pool, heldout


def _evaluate(path: str, threads: int):
    from selftaught.loops.evaluate import evaluate
    from selftaught.loops.policy import load_policy
    from selftaught.loops.rounds import stage_seed

    ev, _, _ = evaluate(
        load_policy(path, threads=threads), _problems()[1], k=CFG.evaluate.k, seed=stage_seed(CFG.seed, 0, "evaluate"),
        checkpoint_id=path, temperature=CFG.evaluate.temperature, max_new_tokens=CFG.generate.max_new_tokens,
        batch_size=CFG.generate.batch_size,
    )  # fmt: skip
    return ev


def cold_start(out: Path, threads: int) -> dict:
    from selftaught.loops.tinymodel import init_policy
    from selftaught.loops.train import cold_start as sft_cold_start

    path = out / "cold"
    clock = time.perf_counter()
    if not (path / "manifest.json").exists():
        init = init_policy(out / "init", seed=CFG.seed, size=CFG.policy.size)
        pool, _ = _problems()
        sft_cold_start(init, pool[: CFG.task.n_cold_start], str(path), cfg=CFG.cold_start_sft(),
                       checkpoint_id="cold", threads=threads, hint_fraction=CFG.policy.cold_start_hint_fraction,
                       stop=CFG.cold_start_stop(pool))  # fmt: skip  (the demo's and the flows' cold start)
    seconds = time.perf_counter() - clock
    ev = _evaluate(str(path), threads)
    return {"path": str(path), "seconds": seconds, "pass_at_1": ev.pass_at_1, "greedy": ev.greedy_accuracy}


def one_method(method: str, cold: str, out: str, threads: int, lora: bool = False, beta: float | None = None,
               steps: int | None = None) -> dict:  # fmt: skip
    """One round of ``method`` from ``cold`` (run in its own process by ``main``)."""
    from selftaught.loops.dpo import build_pairs, train_dpo
    from selftaught.loops.generate import generate
    from selftaught.loops.lora import LoRASettings
    from selftaught.loops.methods import Method
    from selftaught.loops.policy import load_policy
    from selftaught.loops.rl import reward_verifier, train_rl
    from selftaught.loops.rounds import problems_for_round, run_round, stage_seed
    from selftaught.loops.verify import ARITHMETIC, judge_all
    from selftaught.recipe import Recipe
    from selftaught.records import Checkpoint

    recipe = Recipe()
    pool, heldout = _problems()
    problems = problems_for_round(pool, 1, CFG.task.prompts_per_round)
    parent = Checkpoint(id="cold", path=cold, sha256="")
    dest = str(Path(out) / method)
    seed = stage_seed(CFG.seed, 1, "train")
    clock = time.perf_counter()
    extra: dict = {}
    if method in ("rft", "star"):
        result = run_round(parent, problems, heldout[:1], round_index=1, out_dir=dest, cfg=CFG, method=method,
                           threads=threads)  # fmt: skip  (evaluation on 1 problem: timed apart below)
        path = result.checkpoint.path
        extra = {"n_examples": len(result.training_set.examples)}
    elif method in ("grpo", "rloo"):
        settings = recipe.rl_settings(Method(method), seed=seed)
        if lora:
            settings = settings.replace(lora=LoRASettings())
        if beta is not None:
            settings = settings.replace(beta=beta)
        if steps is not None:
            settings = settings.replace(steps=steps)
        verifier = reward_verifier(recipe.reward, ARITHMETIC)
        result = train_rl(method, cold, problems, dest, cfg=settings, verifier=verifier, checkpoint_id=method,
                          parent_id="cold", round_index=1, threads=threads)  # fmt: skip
        path = result.checkpoint.path
        extra = {"n_rollouts": len(result.rollouts), "rollout_pass_rate": result.checkpoint.config["rollout_pass_rate"],
                 "beta": settings.beta, "lora": lora}  # fmt: skip
    elif method == "dpo":
        settings = recipe.dpo_settings(seed=seed)
        samples = generate(load_policy(cold, threads=threads), problems, k=CFG.generate.k, params=CFG.generate.sampling,
                           seed=stage_seed(CFG.seed, 1, "generate"), checkpoint_id="cold",
                           batch_size=CFG.generate.batch_size)  # fmt: skip
        by_id = {p.id: p for p in problems}
        pairs = build_pairs(judge_all(samples, by_id, ARITHMETIC), by_id,
                            max_pairs_per_problem=settings.max_pairs_per_problem)  # fmt: skip
        ck = train_dpo(cold, pairs, dest, cfg=settings, checkpoint_id="dpo", parent_id="cold", round_index=1,
                       threads=threads)  # fmt: skip
        path = ck.path
        extra = {"n_pairs": len(pairs)}
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - clock
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ev = _evaluate(path, threads)
    return {"method": method, "seconds": seconds, "peak_rss_mb": peak_mb, "pass_at_1": ev.pass_at_1,
            "greedy": ev.greedy_accuracy, "load": os.getloadavg()[0], **extra}  # fmt: skip


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="rft,star,grpo,rloo,dpo")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="checkpoints (default: a temp dir); reuses out/cold")
    ap.add_argument("--lora-ratio", action="store_true", help="also GRPO beta=0.04 with/without LoRA")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        method, cold, out, threads, lora, beta, steps = args.child
        print(json.dumps(one_method(method, cold, out, int(threads), lora == "1",
                                    None if beta == "-" else float(beta), None if steps == "-" else int(steps))))  # fmt: skip
        return 0

    out = Path(args.out or tempfile.mkdtemp(prefix="selftaught-methods-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"load before: {os.getloadavg()}", flush=True)
    base = cold_start(out, args.threads)
    print(f"cold start: pass@1 {100 * base['pass_at_1']:.1f}%  greedy {100 * base['greedy']:.1f}%  "
          f"({base['seconds']:.0f} s)  load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    rows = []
    print(f"{'method':<14}{'before':>8}{'after':>8}{'greedy':>8}{'wall s':>8}{'peak MB':>9}{'load':>6}")
    for method in args.methods.split(","):
        r = _child([method, base["path"], str(out), str(args.threads), "0", "-", "-"])
        rows.append(r)
        print(f"{method:<14}{100 * base['pass_at_1']:>8.1f}{100 * r['pass_at_1']:>8.1f}{100 * r['greedy']:>8.1f}"
              f"{r['seconds']:>8.0f}{r['peak_rss_mb']:>9.0f}{r['load']:>6.2f}", flush=True)  # fmt: skip
    if args.lora_ratio:
        mem = {}
        for lora in ("0", "1"):
            r = _child(["grpo", base["path"], str(out / f"lora{lora}"), str(args.threads), lora, "0.04", "10"])
            mem[lora] = r
            print(f"grpo beta=0.04 lora={lora}: peak {r['peak_rss_mb']:.0f} MB, {r['seconds']:.0f} s, "
                  f"load {r['load']:.2f}", flush=True)  # fmt: skip
        ratio = mem["1"]["peak_rss_mb"] / mem["0"]["peak_rss_mb"]
        print(f"peak memory GRPO+LoRA / GRPO full (beta=0.04): {ratio:.2f}")
        rows.append({"lora_ratio": ratio, "lora": mem})
    if args.json:
        Path(args.json).write_text(json.dumps({"cold": base, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
