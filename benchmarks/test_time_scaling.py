"""Test-time scaling on the embedded task: held-out accuracy against generation budget.

    .venv/bin/python benchmarks/test_time_scaling.py [--reuse DIR] [--out DIR] [--problems 100]
        [--budgets 1,4,16,64] [--threads 1] [--db URL] [--json FILE] [--with-revise]

One run, one process:

1. the policy, ORM and PRM: reused from ``--reuse DIR`` (``DIR/policy``, ``DIR/orm``,
   ``DIR/prm``: the shared cold start and ``prm.pipeline.build_reward_models``'s output),
   else built there (cold start as the demo does, then sample -> Math-Shepherd labels ->
   train, on train-split problems only);
2. on ``--problems`` held-out problems: greedy (the budget-independent baseline); one pool
   of max(budgets) samples per problem, scored once by the ORM and the PRM, from which
   budget B reads its first B samples for majority vote, best-of-N by ORM and by PRM (min),
   and the reward-weighted votes (``vote-orm``, ``vote-prm``: ``search.bon``);
   beam search and MCTS run afresh at each budget with a token cap of B x (the pool's mean
   tokens per sample), so every method pays about the same tokens per budget unit;
   ``--with-revise`` adds sequential revision (B attempts) as a row;
3. prints one table (accuracy per budget, ratio to this run's greedy, tokens per problem),
   writes one plot (``OUT/test_time_scaling.png``), PRM vs ORM on the same candidates
   (selection accuracy, AUROC over all candidates), and how often the PRM's first step
   scored below 0.5 is the true first error (``prm.steps.check_arithmetic_steps``:
   measurement only) on sampled and on selected wrong paths;
4. stores every search (all candidates, partial paths, scores, selections) in ``--db``
   (default ``OUT/search.db``): ``selftaught searches --db ... --show ID`` inspects them.

The verifier only measures; no method sees it. Outputs go under ``--out`` (default
/tmp/st7b/tts), never into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

from selftaught.loops.arithmetic import make_problems
from selftaught.records import Split

METHODS = ("majority", "bon-orm", "bon-prm", "vote-orm", "vote-prm", "beam", "mcts", "revise")
#: selections read off the one pool: name -> (selection rule, PRM aggregation)
POOL_VARIANTS = {"majority": ("majority", "min"), "bon-orm": ("bon-orm", "min"), "bon-prm": ("bon-prm", "min"),
                 "vote-orm": ("vote-orm", "min"), "vote-prm": ("vote-prm", "min"), "bon-prm-last": ("bon-prm", "last"), "bon-prm-product": ("bon-prm", "product")}  # fmt: skip
LABELS = {"greedy": "greedy", "majority": "majority vote", "bon-orm": "best-of-N, ORM",
          "bon-prm": "best-of-N, PRM (min)", "vote-orm": "weighted vote, ORM",
          "vote-prm": "weighted vote, PRM (min)", "beam": "beam search (PRM)", "mcts": "MCTS (PRM value)",
          "revise": "revise (PRM check)", "pass": "pass@B (oracle bound)"}  # fmt: skip


def models(reuse: Path, threads: int) -> tuple[str, str, str, dict]:
    """(policy, orm, prm) checkpoint paths in ``reuse``, built there when missing."""
    from selftaught.prm.pipeline import build_reward_models, cold_start_policy

    info: dict = {}
    policy = reuse / "policy"
    clock = time.perf_counter()
    if not (policy / "manifest.json").exists():
        cold_start_policy(policy, threads=threads)
        info["policy_built_seconds"] = time.perf_counter() - clock
    orm, prm = reuse / "orm", reuse / "prm"
    if not ((orm / "manifest.json").exists() and (prm / "manifest.json").exists()):
        clock = time.perf_counter()
        build_reward_models(policy, reuse, threads=threads)
        info["reward_models_built_seconds"] = time.perf_counter() - clock
    report = reuse / "report.json"
    if report.exists():
        rep = json.loads(report.read_text())
        info["orm_heldout"], info["prm_heldout"] = rep.get("orm_heldout"), rep.get("prm_heldout")
    return str(policy), str(orm), str(prm), info


def subset(states, b: int):
    """Fresh states holding the first ``b`` candidates of each pool state (scores kept)."""
    from selftaught.search.state import ProblemState

    out = []
    for s in states:
        t = ProblemState(s.problem)
        for n in s.nodes[:b]:
            t.nodes.append(replace(n, scores=dict(n.scores), children=[]))
        t.budget.samples = len(t.nodes)
        t.budget.tokens = sum(n.n_tokens for n in t.nodes)
        out.append(t)
    return out


def first_step_agreement(pairs) -> dict:
    """Compare the PRM's first step < 0.5 with the true first error over ``(problem, node)``."""
    from selftaught.prm.steps import check_arithmetic_steps, first_error, split_steps

    counts = {"wrong_paths": 0, "exact": 0, "prm_earlier": 0, "prm_later": 0, "prm_never": 0}
    for problem, node in pairs:
        steps = split_steps(node.text)
        true = first_error(check_arithmetic_steps(problem, steps)) if steps else None
        if true is None:
            continue
        counts["wrong_paths"] += 1
        scores = node.scores.get("prm", [])
        flagged = next((i for i, x in enumerate(scores) if x < 0.5), None)
        key = ("prm_never" if flagged is None else "exact" if flagged == true
               else "prm_earlier" if flagged < true else "prm_later")  # fmt: skip
        counts[key] += 1
    n = max(1, counts["wrong_paths"])
    return counts | {f"{k}_share": counts[k] / n for k in ("exact", "prm_earlier", "prm_later", "prm_never")}


def sign_test(a: list[bool], b: list[bool]) -> dict:
    """Paired comparison of two methods on the same problems: discordant counts and the exact
    two-sided sign-test p-value (is "only a right" vs "only b right" a fair coin?).

    >>> sign_test([True, True, True, False], [False, False, False, False])["p"]
    0.25
    """
    import math

    only_a = sum(x and not y for x, y in zip(a, b, strict=True))
    only_b = sum(y and not x for x, y in zip(a, b, strict=True))
    n, k = only_a + only_b, min(only_a, only_b)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0
    return {"only_a": only_a, "only_b": only_b, "p": p}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reuse", type=Path, default=Path("/tmp/st7"), help="folder with policy/, orm/, prm/ (built if missing)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/st7b/tts"), help="plot, JSON and store go here")
    ap.add_argument("--problems", type=int, default=100)
    ap.add_argument("--budgets", default="1,4,16,64")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("SELFTAUGHT_TORCH_THREADS", "1")))
    ap.add_argument("--db", default=None, help="store URL (default sqlite:///OUT/search.db)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--with-revise", action="store_true", help="add sequential revision (B attempts) as a row")
    args = ap.parse_args()
    start = time.perf_counter()
    budgets = sorted({int(b) for b in args.budgets.split(",")})
    args.out.mkdir(parents=True, exist_ok=True)

    from selftaught.loops.policy import load_policy
    from selftaught.loops.verify import ARITHMETIC
    from selftaught.prm.quality import roc_auc, within_group_auc
    from selftaught.prm.scorers import aggregate, load_orm, load_prm
    from selftaught.search.bon import SELECT, sample_candidates
    from selftaught.search.run import SearchConfig, run_search, to_record
    from selftaught.search.state import ProblemState, Scorers
    from selftaught.store import Store

    policy_path, orm_path, prm_path, built = models(args.reuse, args.threads)
    policy = load_policy(policy_path, threads=args.threads)
    orm, prm = load_orm(orm_path, threads=args.threads), load_prm(prm_path, threads=args.threads)
    problems = make_problems(args.problems, Split.HELDOUT, seed=args.seed)
    base = SearchConfig(batch_size=len(problems), seed=args.seed)
    records, seconds = [], {}

    clock = time.perf_counter()
    greedy = run_search(policy, problems, base.replace(method="greedy", budget=1), orm=orm, prm=prm,
                        checkpoint=policy_path)  # fmt: skip
    seconds["greedy"] = time.perf_counter() - clock
    records.append(greedy)

    # one pool of max(budgets) samples, scored once by both reward models
    clock = time.perf_counter()
    pool = [ProblemState(p) for p in problems]
    scorers = Scorers(orm=orm, prm=prm, how="min")
    sample_candidates(policy, pool, n=max(budgets), params=base.params, seed=args.seed + 1, scorers=scorers)
    seconds["pool"] = time.perf_counter() - clock
    print(f"  greedy {greedy.accuracy:.3f} ({seconds['greedy']:.0f}s); pool of {max(budgets)} samples per problem, "
          f"scored by ORM and PRM: {seconds['pool']:.0f}s", flush=True)  # fmt: skip
    tps = round(sum(s.budget.tokens for s in pool) / sum(s.budget.samples for s in pool))

    acc: dict[str, dict[int, float]] = {m: {} for m in ("pass", *METHODS)}
    tok: dict[str, dict[int, float]] = {m: {} for m in METHODS}
    pool_sel: dict[int, dict[str, list[bool]]] = {}
    for b in budgets:
        pool_sel[b] = {}
        for variant, (method, how) in POOL_VARIANTS.items():
            states = subset(pool, b)
            for s in states:
                for n in s.nodes:
                    n.scores["agg"] = aggregate(n.scores["prm"], how)
                s.selected = SELECT[method](s.nodes).index
            cfg = base.replace(method=method, budget=b, aggregate=how)
            config = {**vars(cfg), "method": method, "pool": f"first {b} of {max(budgets)}"}
            rec = to_record(states, cfg, config, policy_path, ARITHMETIC,
                            f"{variant}-b{b}-pool-s{args.seed}-n{len(problems)}")  # fmt: skip
            pool_sel[b][variant] = [r.correct for r in rec.results]
            records.append(rec)
            if variant in METHODS:
                acc[variant][b] = rec.accuracy
                tok[variant][b] = sum(r.tokens for r in rec.results) / len(problems)
        acc["pass"][b] = sum(any(ARITHMETIC.verify(s.problem, n.text).passed for n in s.nodes[:b]) for s in pool) / len(pool)

    for method in ("beam", "mcts", "revise") if args.with_revise else ("beam", "mcts"):
        for b in budgets:
            clock = time.perf_counter()
            rec = run_search(policy, problems, base.replace(method=method, budget=b, tokens_per_sample=tps),
                             orm=orm, prm=prm, checkpoint=policy_path)  # fmt: skip
            seconds[f"{method}-b{b}"] = time.perf_counter() - clock
            records.append(rec)
            acc[method][b] = rec.accuracy
            tok[method][b] = sum(r.tokens for r in rec.results) / len(problems)
            print(f"  {method:7s} B={b:<3d} acc {rec.accuracy:.3f}  tokens/problem {tok[method][b]:7.1f}  "
                  f"{seconds[f'{method}-b{b}']:.1f}s", flush=True)  # fmt: skip

    # PRM vs ORM on the same candidates
    all_nodes = [(s.problem, n) for s in pool for n in s.nodes]
    correct = [ARITHMETIC.verify(p, n.text).passed for p, n in all_nodes]
    orm_scores = [n.scores["orm"] for _, n in all_nodes]
    # over all candidates, and within each problem (what best-of-N depends on)
    groups = [p.id for p, _ in all_nodes]
    rm = {"orm_auroc": roc_auc(orm_scores, correct),
          "orm_auroc_within_problem": within_group_auc(orm_scores, correct, groups)}  # fmt: skip
    for how in ("min", "last", "product"):
        sc = [aggregate(n.scores["prm"], how) for _, n in all_nodes]
        rm[f"prm_{how}_auroc"] = roc_auc(sc, correct)
        rm[f"prm_{how}_auroc_within_problem"] = within_group_auc(sc, correct, groups)
    head_to_head = {}
    for b in budgets:
        o, p = pool_sel[b]["bon-orm"], pool_sel[b]["bon-prm"]
        head_to_head[b] = {"orm": sum(o) / len(o), "prm_min": sum(p) / len(p),
                           "prm_last": sum(pool_sel[b]["bon-prm-last"]) / len(p),
                           "prm_product": sum(pool_sel[b]["bon-prm-product"]) / len(p),
                           "only_prm_right": sum(x and not y for x, y in zip(p, o)),
                           "only_orm_right": sum(y and not x for x, y in zip(p, o))}  # fmt: skip
    bmax = max(budgets)
    greedy_right = [r.correct for r in greedy.results]
    paired = {f"{m}-b{b}": sign_test(pool_sel[b][m], greedy_right)
              for m in ("vote-orm", "majority", "bon-orm") for b in budgets if b > 1}  # fmt: skip
    paired |= {f"vote-orm-vs-majority-b{b}": sign_test(pool_sel[b]["vote-orm"], pool_sel[b]["majority"])
               for b in budgets if b > 1}  # fmt: skip
    sel_prm = next(r for r in records if r.id.startswith(f"bon-prm-b{bmax}-pool"))
    by_id = {p.id: p for p in problems}
    selected_wrong = [(by_id[n.problem_id], n) for n in sel_prm.nodes if n.selected and not n.correct]
    first = {"sampled_paths": first_step_agreement(all_nodes),
             f"bon_prm_b{bmax}_selected": first_step_agreement(selected_wrong)}  # fmt: skip

    # store everything
    url = args.db or f"sqlite:///{args.out / 'search.db'}"
    clock = time.perf_counter()
    store = Store(url)
    run_id = f"tts-{time.strftime('%Y%m%d-%H%M%S')}"
    store.create_run(run_id, name="test-time-scaling", recipe={"kind": "search", "problems": len(problems)})
    store.add_problems(problems)
    for rec in records:
        store.add_search(rec, run_id=run_id)
    store_seconds = time.perf_counter() - clock

    g = greedy.accuracy
    lines = ["| method | " + " | ".join(f"B={b}" for b in budgets) + f" | tokens/problem at B={bmax} |",
             "|---|" + "---:|" * (len(budgets) + 1)]  # fmt: skip
    lines.append(f"| {LABELS['greedy']} | " + " | ".join(f"{100 * g:.1f}%" for _ in budgets)
                 + f" | {sum(r.tokens for r in greedy.results) / len(problems):.0f} |")  # fmt: skip
    for m in (m for m in METHODS if acc[m]):
        cells = [f"{100 * acc[m][b]:.1f}% ({acc[m][b] / g:.2f}x)" if g else f"{100 * acc[m][b]:.1f}%" for b in budgets]
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + f" | {tok[m][bmax]:.0f} |")
    lines.append(f"| {LABELS['pass']} | " + " | ".join(f"{100 * acc['pass'][b]:.1f}%" for b in budgets) + " | – |")
    table = "\n".join(lines)
    png = plot(acc, g, budgets, args.out / "test_time_scaling.png", len(problems))
    result = {"problems": len(problems), "budgets": budgets, "greedy": g, "accuracy": acc, "tokens_per_problem": tok,
              "tokens_per_sample": tps, "reward_models": rm, "prm_vs_orm_same_candidates": head_to_head,
              "paired_vs_greedy": paired,
              "first_wrong_step": first, "seconds": seconds, "store_seconds": store_seconds, "built": built,
              "store": url, "run": run_id, "plot": str(png), "wall_seconds": time.perf_counter() - start,
              "load": os.getloadavg()}  # fmt: skip
    print(f"\nheld-out problems: {len(problems)}, budgets {budgets}; ratio = accuracy / this run's greedy "
          f"({100 * g:.1f}%); tokens per budget unit (pool mean per sample): {tps}\n")  # fmt: skip
    print(table)
    print(f"\nPRM vs ORM on the same candidates ({len(all_nodes)} sampled, {sum(correct)} correct):")
    print("  AUROC (correct vs wrong): " + ", ".join(f"{k} {v:.3f}" for k, v in rm.items() if v is not None))
    for b, h in head_to_head.items():
        print(f"  B={b:<3d} selected correct: ORM {100 * h['orm']:.1f}%  PRM min {100 * h['prm_min']:.1f}%  "
              f"last {100 * h['prm_last']:.1f}%  product {100 * h['prm_product']:.1f}%   "
              f"only PRM right {h['only_prm_right']}, only ORM right {h['only_orm_right']}")  # fmt: skip
    print("\npaired, same problems (right only by the first / only by the second; sign-test p):")
    for name, t in paired.items():
        versus = "" if "-vs-" in name else " vs greedy"
        print(f"  {name}{versus}: {t['only_a']} / {t['only_b']}, p={t['p']:.3f}")
    for name, c in first.items():
        print(f"first wrong step, {name}: {c['wrong_paths']} wrong paths; PRM's first step < 0.5 is the true first "
              f"error {100 * c['exact_share']:.1f}%, earlier {100 * c['prm_earlier_share']:.1f}%, later "
              f"{100 * c['prm_later_share']:.1f}%, never {100 * c['prm_never_share']:.1f}%")  # fmt: skip
    print(f"\nplot {png}; store {url} (run {run_id}); wall {result['wall_seconds']:.0f}s; "
          f"load {result['load'][0]:.1f}")  # fmt: skip
    (args.out / "test_time_scaling.json").write_text(json.dumps(result, indent=1, default=str))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))


def plot(acc: dict, greedy: float, budgets: list[int], out: Path, n: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    ax.axhline(100 * greedy, color="black", ls="--", lw=1, label=LABELS["greedy"])
    for m, style in zip((*METHODS, "pass"), ("o-", "s-", "^-", "P-", "X-", "D-", "v-", "x-", "k:")):
        if not acc[m]:
            continue
        ax.plot(budgets, [100 * acc[m][b] for b in budgets], style, label=LABELS[m])
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.set_xlabel("budget (whole-solution equivalents: samples, or their tokens)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"test-time scaling, embedded task, {n} held-out problems", fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


if __name__ == "__main__":
    main()
