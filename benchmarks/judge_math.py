"""Math judge throughput: 2 worker processes vs a plain sequential math-verify loop.

    .venv/bin/python benchmarks/judge_math.py [--pairs 2000] [--workers 2] [--seed 0]

Builds ``--pairs`` deterministic (gold, completion) pairs in the forms a policy writes
(the embedded ``<think>…</think> 68`` task, ``\\boxed{}`` fractions and decimals,
"The answer is …", LaTeX expressions, intervals, sets; about half of them wrong), then:

1. baseline: ``math_verify.verify(parse(gold), parse(completion))`` in a plain loop in
   this process (math-verify's own signal timeouts on, as a script would call it);
2. ``MathVerifier(workers=N).verify_batch`` on the same pairs (warm pool), once with the
   integer fast path (the default) and once with every pair sent to the workers.

The three run on the same chunk back to back, chunk after chunk, so that load from
other processes on a shared machine hits them alike. Prints wall time, verdicts/s,
the ratio to the baseline, CPU seconds (this process + workers), and the agreement
with the baseline on pairs where neither side timed out (listing any disagreement).
"""

from __future__ import annotations

import argparse
import os
import random
import time

from selftaught.judges import MathVerifier
from selftaught.records import Outcome, Problem


def make_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    kinds = ["arith", "frac_boxed", "decimal", "answer_is", "expr", "interval", "set", "sqrt"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        wrong = rng.random() < 0.5
        if kind == "arith":
            a, b = rng.randint(10, 99), rng.randint(10, 99)
            ans = a + b + (rng.randint(1, 9) if wrong else 0)
            steps = f"{a % 10}+{b % 10}={(a % 10) + (b % 10)} {a // 10}+{b // 10}={a // 10 + b // 10}"
            pairs.append((str(a + b), f"<think>{steps}</think> {ans}"))
        elif kind == "frac_boxed":
            p, q = rng.randint(1, 9), rng.randint(2, 12)
            shown = f"\\frac{{{p + (1 if wrong else 0)}}}{{{q}}}"
            pairs.append((f"\\frac{{{p}}}{{{q}}}", f"So the result is \\boxed{{{shown}}}."))
        elif kind == "decimal":
            p = rng.choice([2, 4, 5, 8, 10, 20, 25])
            value = 1 / p + (0.1 if wrong else 0)
            pairs.append((f"\\frac{{1}}{{{p}}}", f"\\boxed{{{value:g}}}"))
        elif kind == "answer_is":
            v = rng.randint(100, 100_000)
            pairs.append((str(v), f"The answer is ${v + (7 if wrong else 0)}$."))
        elif kind == "expr":
            k = rng.randint(1, 9)
            gold = f"x^2 + {2 * k}x + {k * k}"
            shown = f"(x+{k + (1 if wrong else 0)})^2"
            pairs.append((gold, f"Expanding gives \\boxed{{{shown}}}"))
        elif kind == "interval":
            lo, hi = rng.randint(-9, 0), rng.randint(1, 9)
            shown = f"({lo}, {hi}]" if wrong else f"[{lo}, {hi})"
            pairs.append((f"[{lo}, {hi})", f"\\boxed{{{shown}}}"))
        elif kind == "set":
            xs = rng.sample(range(1, 20), 3)
            ys = list(reversed(xs)) if not wrong else [xs[0], xs[1], xs[2] + 20]
            gold = "\\{" + ", ".join(map(str, xs)) + "\\}"
            pairs.append((gold, "\\boxed{\\{" + ", ".join(map(str, ys)) + "\\}}"))
        else:  # sqrt
            k = rng.randint(2, 6)
            shown = f"\\sqrt{{{k * k * 2 + (1 if wrong else 0)}}}"
            pairs.append((f"{k}\\sqrt{{2}}", f"\\boxed{{{shown}}}"))
    return pairs


def _burn(seconds: float, queue) -> None:  # noqa: ANN001
    end, spent = time.time() + seconds, time.process_time()
    while time.time() < end:
        pass
    queue.put(time.process_time() - spent)


def cpu_available(seconds: float = 2.0) -> tuple[float, float]:
    """CPU seconds per wall second this session gets with 1 and with 2 busy processes.

    With Linux autogroup scheduling all processes of one session share one CPU share,
    so on a machine loaded by other sessions, 2 processes may get no more than 1.
    """
    import multiprocessing as mp

    rates = []
    for n in (1, 2):
        queue = mp.get_context("spawn").Queue()
        procs = [mp.get_context("spawn").Process(target=_burn, args=(seconds, queue)) for _ in range(n)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        rates.append(sum(queue.get() for _ in procs) / seconds)
    return rates[0], rates[1]


def _proc_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by live processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=250, help="pairs per interleaved round")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from math_verify import parse, verify

    pairs = make_pairs(args.pairs, args.seed)
    problems = [(Problem(id=str(i), prompt="", answer=g), c) for i, (g, c) in enumerate(pairs)]
    judges = {
        "fast path": MathVerifier(workers=args.workers, fast_path=True),
        "all via sympy": MathVerifier(workers=args.workers, fast_path=False),
    }
    pool = judges["fast path"].pool  # one shared pool for both settings
    judges["fast path"].verify_batch(problems[:8])  # start workers (sympy import) untimed
    parse("$1$")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    one, two = cpu_available()
    print(f"CPU this session gets: 1 busy process {one:.2f} cores, 2 busy processes {two:.2f} cores")

    # The machine is shared: run the three methods on the same chunk back to back, chunk
    # after chunk, so that load changes hit all of them alike.
    wall = dict.fromkeys(["baseline", *judges], 0.0)
    cpu = dict.fromkeys(["baseline", *judges], 0.0)
    base: list[bool] = []
    outcomes: dict[str, list[Outcome]] = {name: [] for name in judges}
    for start in range(0, len(pairs), args.chunk):
        chunk = pairs[start : start + args.chunk]
        t, c = time.perf_counter(), time.process_time()
        base += [bool(verify(parse(f"${g}$"), parse(comp))) for g, comp in chunk]
        wall["baseline"] += time.perf_counter() - t
        cpu["baseline"] += time.process_time() - c
        for name, judge in judges.items():
            before = _proc_cpu(pool.pids) + time.process_time()
            t = time.perf_counter()
            verdicts = judge.verify_batch(problems[start : start + args.chunk])
            wall[name] += time.perf_counter() - t
            cpu[name] += _proc_cpu(pool.pids) + time.process_time() - before
            outcomes[name] += [v.outcome for v in verdicts]
    print(f"load average after:  {os.getloadavg()[0]:.2f}")
    n = len(pairs)
    print(f"pairs: {n} ({sum(base)} equivalent per math-verify)")
    print(f"{'method':42s} {'wall s':>8s} {'verdicts/s':>11s} {'ratio':>7s} {'cpu s':>7s}")
    print(f"{'sequential math_verify.verify loop':42s} {wall['baseline']:8.2f} "
          f"{n / wall['baseline']:11.1f} {1.0:6.2f}x {cpu['baseline']:7.2f}")
    for name in judges:
        label = f"MathVerifier, {args.workers} workers, {name}"
        print(f"{label:42s} {wall[name]:8.2f} {n / wall[name]:11.1f} "
              f"{wall['baseline'] / wall[name]:6.2f}x {cpu[name]:7.2f}")
    for name, got in outcomes.items():
        timed_out = sum(o is Outcome.TIMEOUT for o in got)
        compared = [(b, o) for b, o in zip(base, got) if o is not Outcome.TIMEOUT]
        agree = sum(b == (o is Outcome.PASS) for b, o in compared)
        print(f"agreement ({name}): {agree}/{len(compared)} identical verdicts where neither timed out "
              f"(timeouts {timed_out}, errors {sum(o is Outcome.ERROR for o in got)})")
        for (gold, completion), b, o in zip(pairs, base, got):
            if o is not Outcome.TIMEOUT and b != (o is Outcome.PASS):
                print(f"    differs: gold {gold!r}, completion {completion!r}: "
                      f"math-verify {b}, ours {o.value}")
    pool.close()


if __name__ == "__main__":
    main()
