"""Measure the embedded demo's learning curve: RFT vs STaR from one cold-start checkpoint.

    .venv/bin/python benchmarks/demo_curve.py [--seed 0] [--rounds 3] [--threads 0]
        [--methods rft,star] [--out DIR]

Builds the tiny policy, cold-starts it, evaluates it on the held-out split, then runs
``rounds`` rounds of each method from that same checkpoint and seed. Prints one table
row per checkpoint (held-out greedy accuracy, pass@1 at T=1, pass@k, maj@k, seconds)
and the deltas against the cold start, then the wall time of "build + cold start +
rounds" per method -- the figure that ``selftaught demo`` must keep under 10 minutes.
All settings come from ``selftaught.loops.defaults.DemoConfig``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from selftaught.loops.arithmetic import make_problems
from selftaught.loops.checkpoint import checkpoint_sha256
from selftaught.loops.defaults import DemoConfig
from selftaught.loops.evaluate import evaluate
from selftaught.loops.methods import Method
from selftaught.loops.policy import load_policy
from selftaught.loops.rounds import problems_for_round, run_round, stage_seed
from selftaught.loops.tinymodel import init_policy
from selftaught.loops.train import cold_start
from selftaught.records import Split


def row(label: str, ev, seconds: float, base=None) -> str:
    cells = [ev.greedy_accuracy, ev.pass_at_1, ev.pass_at_k, ev.maj_at_k]
    text = f"{label:<12}" + "".join(f"{100 * c:>9.1f}" for c in cells) + f"{seconds:>9.1f}"
    if base is not None:
        ref = [base.greedy_accuracy, base.pass_at_1, base.pass_at_k, base.maj_at_k]
        text += "   " + " ".join(f"{100 * (c - r):+6.1f}" for c, r in zip(cells, ref))
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = SELFTAUGHT_TORCH_THREADS or torch default)")
    ap.add_argument("--methods", default="rft,star")
    ap.add_argument("--out", default=None, help="where checkpoints go (default: a temp dir)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    threads = args.threads
    if threads == 0:
        from selftaught.settings import get_settings

        threads = get_settings().torch_threads
    cfg = DemoConfig(seed=args.seed)
    if args.rounds is not None:
        cfg = cfg.replace(rounds=args.rounds)
    methods = [Method(m) for m in args.methods.split(",")]
    root = Path(args.out or tempfile.mkdtemp(prefix="selftaught-curve-"))
    import torch

    print(f"# seed={cfg.seed} threads={threads or torch.get_num_threads()} out={root}")
    print(f"# {cfg}")

    t0 = time.perf_counter()
    pool = make_problems(cfg.task.n_train, Split.TRAIN, cfg.seed, cfg.task.digits)
    heldout = make_problems(cfg.task.n_heldout, Split.HELDOUT, cfg.seed, cfg.task.digits)
    init_path = init_policy(root / "init", seed=cfg.seed, size=cfg.policy.size)
    t_init = time.perf_counter() - t0

    clock = time.perf_counter()
    cold = cold_start(
        init_path, pool[: cfg.task.n_cold_start], str(root / "cold"),
        cfg=cfg.cold_start_sft(), checkpoint_id="cold", threads=threads,
        hint_fraction=cfg.policy.cold_start_hint_fraction, stop=cfg.cold_start_stop(pool),
    )
    t_cold_train = time.perf_counter() - clock
    clock = time.perf_counter()
    base, _, _ = evaluate(
        load_policy(cold.path, threads=threads), heldout, k=cfg.evaluate.k,
        seed=stage_seed(cfg.seed, 0, "evaluate"), checkpoint_id=cold.id,
        temperature=cfg.evaluate.temperature, max_new_tokens=cfg.generate.max_new_tokens,
        batch_size=cfg.generate.batch_size,
    )
    t_cold_eval = time.perf_counter() - clock
    print(f"# build {t_init:.1f}s, cold-start SFT {t_cold_train:.1f}s "
          f"(stopped at step {cold.config.get('stopped_at_step', cfg.policy.cold_start_steps)}, "
          f"probe {cold.config.get('probe', [])[-3:]}), eval {t_cold_eval:.1f}s")

    header = f"{'checkpoint':<12}{'greedy':>9}{'pass@1':>9}{'pass@' + str(cfg.evaluate.k):>9}{'maj@' + str(cfg.evaluate.k):>9}{'seconds':>9}   deltas vs cold (greedy pass@1 pass@k maj@k)"
    results: dict = {"config": repr(cfg), "cold": base.__dict__ | {"extra": dict(base.extra)}, "methods": {}}
    for method in methods:
        print()
        print(f"## {method.value}")
        print(header)
        print(row("cold", base, t_init + t_cold_train + t_cold_eval))
        parent = cold
        total = t_init + t_cold_train + t_cold_eval
        curve = []
        for r in range(1, cfg.rounds + 1):
            res = run_round(
                parent, problems_for_round(pool, r, cfg.task.prompts_per_round), heldout,
                round_index=r, out_dir=root / method.value / f"round-{r}", cfg=cfg,
                method=method, threads=threads,
            )
            secs = sum(res.seconds.values())
            total += secs
            print(row(f"round {r}", res.evaluation, secs, base), flush=True)
            st = res.training_set.stats
            print(
                f"#   train: {st['n_correct']}/{st['n_samples']} correct, "
                f"{st['n_problems_solved']}/{st['n_problems']} solved, "
                f"{st.get('n_rationalized', 0)} rationalized, {st['n_examples']} rows; "
                + ", ".join(f"{k} {v:.1f}s" for k, v in res.seconds.items()),
                flush=True,
            )
            curve.append({"round": r, "seconds": res.seconds, "stats": dict(st),
                          "evaluation": res.evaluation.__dict__ | {"extra": dict(res.evaluation.extra)}})
            parent = res.checkpoint
        checkpoint_sha256(parent.path)
        print(f"# {method.value}: build + cold start + {cfg.rounds} rounds = {total:.0f}s wall "
              f"({total / 60:.1f} min); pass@1 {100 * base.pass_at_1:.1f} -> "
              f"{100 * res.evaluation.pass_at_1:.1f} ({100 * (res.evaluation.pass_at_1 - base.pass_at_1):+.1f})")
        results["methods"][method.value] = {"total_seconds": total, "curve": curve}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
