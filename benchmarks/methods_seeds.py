"""Every method over several training seeds and rounds, at an equal budget of generated samples.

    .venv/bin/python benchmarks/methods_seeds.py [--methods rft,star,grpo,rloo,dpo,r1]
        [--seeds 0,1,2] [--rounds 3] [--budget 2048] [--digits 2] [--max-new-tokens N]
        [--threads 1] [--jobs 1]
        [--out DIR] [--json FILE] [--paired star,rft]

In: the shipped recipes (``recipes/*.yaml``). For each (method, seed) it writes a copy of the
method's recipe with ``seed``, the number of rounds and the sample budget set, and runs it
with ``selftaught run RECIPE --run-id METHOD-sSEED`` in its own process, every run in one
SQLite store under ``--out`` (``--jobs`` runs at a time). Every run cold-starts itself
(round 0); the cold start depends only on the seed and the thread count, so all methods of
one seed start from the same checkpoint and see the same problems. Out: per method and
round, the mean and 95% t-interval over seeds of held-out pass@1 (T=1, K=8, 200 problems)
and greedy accuracy, the mean round wall time without its evaluation, and the samples the
round generated as the store counts them; ``--json`` writes every run's rows too.

The budget (``--budget``, default 2048 = the demo's 256 prompts x k 8) is the number of
completions a round samples from the policy while training:

    rft, star, dpo     task.prompts_per_round x generate.k        (prompts_per_round set)
    grpo, rloo         steps x prompts_per_step x num_generations  (steps set; 1 iteration)
    r1                 grpo, rft, grpo, dpo rounds, each as above (the first --rounds stages)

STaR's rationalization adds hinted samples for the problems with no correct sample; they are
counted apart (``+hint``) and not held to the budget. With ``--paired A,B`` it prints a
paired comparison of A and B after the last round, seed by seed (paired t-test and exact
sign test, ``benchmarks/seedstats.py``). Re-running with the same ``--out`` resumes: runs
that finished are read from the store, not run again; ``--report-only`` runs nothing and
prints what the store holds (e.g. after two invocations split the methods between them:
each one's first method cold-starts itself, and a cold start depends only on the seed and
the thread count).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seedstats import mean_ci, paired_t, sign_test  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {"rft": "arithmetic-rft.yaml", "star": "arithmetic-star.yaml", "grpo": "grpo.yaml",
           "rloo": "rloo.yaml", "dpo": "dpo.yaml", "r1": "r1-pipeline.yaml"}  # fmt: skip
LABELS = {"rft": "RFT", "star": "STaR", "grpo": "GRPO", "rloo": "RLOO", "dpo": "DPO", "r1": "R1 pipeline"}


def budget_recipe(method: str, seed: int, rounds: int, budget: int, digits: int | None,
                  max_new_tokens: int | None = None) -> dict:  # fmt: skip
    """The shipped recipe of ``method`` with its seed, rounds and per-round sample budget set.

    >>> r = budget_recipe("grpo", 1, 3, 2048, None)
    >>> r["seed"], r["rounds"], r["grpo"]["steps"] * r["grpo"]["prompts_per_step"] * r["grpo"]["num_generations"]
    (1, 3, 2048)
    >>> r = budget_recipe("r1", 0, 3, 2048, 3, 48)
    >>> r["stages"], r["task"]["prompts_per_round"] * r["generate"]["k"], r["task"]["digits"]
    (['grpo', 'rft', 'grpo'], 2048, 3)
    >>> r["generate"]["max_new_tokens"], r["grpo"]["max_completion_length"]
    (48, 48)
    """
    recipe = yaml.safe_load((ROOT / "recipes" / RECIPES[method]).read_text())
    recipe["name"] = f"{method}-seeds"
    recipe["seed"] = seed
    if recipe.get("stages"):
        recipe["stages"] = list(recipe["stages"])[:rounds]
        recipe.pop("rounds", None)
    else:
        recipe["rounds"] = rounds
    generate = recipe.setdefault("generate", {})
    k = generate.setdefault("k", 8)
    task = recipe.setdefault("task", {})
    task["prompts_per_round"] = budget // k  # the sft and preference rounds' prompts (and the RL rounds')
    if digits is not None:
        task["digits"] = digits
    if max_new_tokens is not None:  # 3-digit chains of thought are ~40 characters: 32 cut them off
        generate["max_new_tokens"] = max_new_tokens
    for section in ("grpo", "rloo"):
        if section in recipe:
            rl = recipe[section]
            if max_new_tokens is not None:
                rl["max_completion_length"] = max_new_tokens
            rl["steps"] = budget // (rl.get("prompts_per_step", 8) * rl.get("num_generations", 8))
            rl["num_iterations"] = 1
    return recipe


def _selftaught() -> list[str]:
    return [sys.executable, "-c", "import sys; from selftaught.cli.main import main; sys.exit(main())"]


class ColdStarts:
    """The round-0 checkpoint folder of each seed's first run, published once it exists."""

    def __init__(self, seeds: list[int]) -> None:
        self._ready = {s: threading.Event() for s in seeds}
        self._paths: dict[int, str | None] = dict.fromkeys(seeds)

    def publish(self, seed: int, path: str | None) -> None:
        self._paths[seed] = path
        self._ready[seed].set()

    def wait(self, seed: int) -> str | None:
        self._ready[seed].wait()
        return self._paths[seed]


def run_one(method: str, seed: int, first: bool, args: argparse.Namespace, db: str, out: Path,
            colds: ColdStarts) -> str:  # fmt: skip
    """``selftaught run`` on the budgeted recipe of (method, seed); returns the run id.

    The seed's ``first`` run cold-starts (round 0) and publishes its round-0 checkpoint
    folder as soon as it is complete; every other run of the seed waits for it and starts
    from that folder (``policy.init``), so it skips the cold-start training."""
    run_id = f"{method}-s{seed}"
    recipe = budget_recipe(method, seed, args.rounds, args.budget, args.digits, args.max_new_tokens)
    if not first:
        init = colds.wait(seed)
        if init is None:
            raise SystemExit(f"error: {run_id}: the cold start of seed {seed} failed")
        recipe["policy"] = {**recipe.get("policy", {}), "init": init}
    recipe_file = out / "recipes" / f"{run_id}.yaml"
    recipe_file.parent.mkdir(parents=True, exist_ok=True)
    recipe_file.write_text(yaml.safe_dump(recipe))
    log = out / "logs" / f"{run_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    status = _run_status(db, run_id)
    where = ["--resume", run_id] if status is not None else ["--run-id", run_id]
    cmd = [*_selftaught(), "run", str(recipe_file), *where, "--db", db, "--home", str(out / "home"),
           "--threads", str(args.threads)]  # fmt: skip
    manifest = out / "home" / "runs" / run_id / "round-000" / "manifest.json"
    clock = time.perf_counter()
    try:
        with log.open("a") as fh:
            proc = None
            if status != "done":
                proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
            while first and proc is not None and proc.poll() is None and not manifest.exists():
                time.sleep(2)
            if first:  # the seed's other runs may start now
                colds.publish(seed, str(manifest.parent) if manifest.exists() else None)
            if proc is not None and proc.wait() != 0:
                raise SystemExit(f"error: {run_id} failed (exit {proc.returncode}); see {log}")
    finally:
        if first:
            colds.publish(seed, str(manifest.parent) if manifest.exists() else None)
    print(f"  {run_id}: {time.perf_counter() - clock:.0f} s  (load {os.getloadavg()[0]:.2f})", flush=True)
    return run_id


def _run_status(db: str, run_id: str) -> str | None:
    from selftaught.store import Store

    store = Store(db)
    stored = store.get_run(run_id)
    store.close()
    return None if stored is None else stored.status.value


def run_rows(db: str, run_id: str) -> list[dict]:
    """One dict per round of the run, read from the store: held-out accuracy, wall time, and
    the samples generated for training (``generate`` + ``rollout``) and by rationalization."""
    from selftaught.store import Store

    store = Store(db)
    rows = store.round_table(run_id)
    store.close()
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        counts = dict(((index, source), n) for index, source, n in conn.execute(
            'SELECT r."index", s.source, count(*) FROM samples s JOIN rounds r ON r.id = s.round_id '
            "WHERE r.run_id = ? GROUP BY 1, 2", (run_id,)))  # fmt: skip
    out = []
    for r in rows:
        evaluate = r.seconds.get("evaluate", 0.0)
        generated = counts.get((r.index, "generate"), 0) + counts.get((r.index, "rollout"), 0)
        out.append({"round": r.index, "pass_at_1": r.heldout_pass_at_1, "greedy": r.heldout_greedy,
                    "wall_seconds": r.wall_seconds, "wall_without_eval": (r.wall_seconds or 0.0) - evaluate,
                    "generated": generated, "hinted": counts.get((r.index, "rationalize"), 0),
                    "n_train": r.n_train})  # fmt: skip
    return out


def _pct(values: list[float]) -> str:
    m, h = mean_ci(values)
    return f"{100 * m:5.1f} ± {100 * h:4.1f}" if h == h else f"{100 * m:5.1f}       "


def print_table(results: dict, methods: list[str], seeds: list[int], rounds: int) -> list[dict]:
    """The per-(method, round) table; returns its rows."""
    print(f"\n{'method':<13}{'round':>5}  {'pass@1 % (95% CI)':>18}  {'greedy % (95% CI)':>18}"
          f"{'wall s':>8}  generated/round")  # fmt: skip
    table = []
    for method in methods:
        for index in range(0, rounds + 1):
            rows = [results[(method, s)][index] for s in seeds if index < len(results[(method, s)])]
            rows = [r for r in rows if r["pass_at_1"] is not None]  # a round still running has none
            if (method != methods[0] and index == 0) or not rows:
                continue  # the cold start is the same for every method of a seed: printed once
            p1 = [r["pass_at_1"] for r in rows]
            gr = [r["greedy"] for r in rows]
            wall = sum(r["wall_without_eval"] for r in rows) / len(rows)
            gen = sorted({r["generated"] for r in rows})
            hint = sorted({r["hinted"] for r in rows})
            made = "/".join(map(str, gen)) + (f" +hint {min(hint)}-{max(hint)}" if max(hint) else "")
            label = "cold start" if index == 0 else LABELS[method]
            if method == "r1" and index > 0:  # one method per round: say which
                label = f"R1: {budget_recipe('r1', 0, rounds, 64, None)['stages'][index - 1]}"
            seeds_note = "" if len(rows) == len(seeds) else f"  ({len(rows)} seeds)"
            print(f"{label:<13}{index:>5}  {_pct(p1):>18}  {_pct(gr):>18}{wall:>8.0f}  {made if index else '-'}{seeds_note}")
            table.append({"method": "cold" if index == 0 else method, "round": index, "n_seeds": len(rows),
                          "pass_at_1": mean_ci(p1), "greedy": mean_ci(gr), "wall_without_eval": wall,
                          "generated": gen, "hinted": hint})  # fmt: skip
    return table


def print_paired(results: dict, a: str, b: str, seeds: list[int], rounds: int) -> dict:
    """Seed-by-seed A vs B after the last round: paired t-test and exact sign test."""
    pa = [results[(a, s)][rounds]["pass_at_1"] for s in seeds]
    pb = [results[(b, s)][rounds]["pass_at_1"] for s in seeds]
    print(f"\n{LABELS[a]} vs {LABELS[b]} after round {rounds}, held-out pass@1 per seed:")
    for s, x, y in zip(seeds, pa, pb):
        print(f"  seed {s}: {100 * x:5.1f}  {100 * y:5.1f}  diff {100 * (x - y):+5.1f}")
    if len(seeds) < 2:
        print("  (a paired test needs at least 2 seeds)")
        return {"a": a, "b": b, "seeds": seeds, "a_pass_at_1": pa, "b_pass_at_1": pb}
    diff = mean_ci([x - y for x, y in zip(pa, pb)])
    t, p = paired_t(pa, pb)
    wins, losses, p_sign = sign_test(pa, pb)
    print(f"  mean difference {100 * diff[0]:+.1f} ± {100 * diff[1]:.1f} points (95% CI); paired t = {t:.2f}, "
          f"p = {p:.3f} (df {len(seeds) - 1}); sign test {wins}-{losses}, p = {p_sign:.3f}")  # fmt: skip
    return {"a": a, "b": b, "seeds": seeds, "a_pass_at_1": pa, "b_pass_at_1": pb, "mean_diff": diff[0],
            "ci_half": diff[1], "t": t, "p_t": p, "sign": [wins, losses], "p_sign": p_sign}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="rft,star,grpo,rloo,dpo,r1")
    ap.add_argument("--seeds", default="0,1,2", help="training seeds, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=2048, help="samples generated per round")
    ap.add_argument("--digits", type=int, default=None, help="operand digits (default: the recipes' 2)")
    ap.add_argument("--max-new-tokens", type=int, default=None,
                    help="generate.max_new_tokens and the RL max_completion_length (default: the recipes')")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time")
    ap.add_argument("--out", default="selftaught-methods-seeds", help="store, home, recipes and logs")
    ap.add_argument("--json", default=None)
    ap.add_argument("--report-only", action="store_true", help="run nothing: print what --out's store holds")
    ap.add_argument("--paired", default=None, help="A,B: paired comparison after the last round")
    args = ap.parse_args(argv)
    methods = args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    if unknown := [m for m in methods if m not in RECIPES]:
        raise SystemExit(f"error: unknown method(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{out / 'store.db'}"
    print(f"budget: {args.budget} generated samples per round; {len(methods)} methods x {len(seeds)} seeds x "
          f"{args.rounds} rounds; threads {args.threads}, jobs {args.jobs}; load {os.getloadavg()}", flush=True)  # fmt: skip
    clock = time.perf_counter()
    jobs = [(methods[0], s, True) for s in seeds] + [(m, s, False) for s in seeds for m in methods[1:]]
    colds = ColdStarts(seeds)  # the first method's runs cold-start, and are queued first
    if not args.report_only:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(lambda job: run_one(*job, args, db, out, colds), jobs))
    results = {(m, s): run_rows(db, f"{m}-s{s}") for m, s, _ in jobs}
    table = print_table(results, methods, seeds, args.rounds)
    paired = None
    if args.paired:
        a, b = args.paired.split(",")
        paired = print_paired(results, a, b, seeds, args.rounds)
    total = time.perf_counter() - clock
    print(f"\nwall time, all runs: {total / 60:.1f} min")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "budget": args.budget, "rounds": args.rounds, "seeds": seeds, "digits": args.digits,
            "max_new_tokens": args.max_new_tokens,
            "threads": args.threads, "jobs": args.jobs, "wall_seconds": total, "table": table, "paired": paired,
            "runs": {f"{m}-s{s}": rows for (m, s), rows in results.items()},
        }, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
