"""The code judge on honest programs: scoring, extraction, test styles, refusal without bwrap."""

from __future__ import annotations

import pytest

from selftaught.errors import SandboxUnavailable
from selftaught.judges import CodeVerifier, extract_code
from selftaught.judges import code_judge, sandbox
from selftaught.records import Outcome, Problem

from .marks import needs_bwrap

MBPP_TESTS = "assert add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(0, 5) == 5\nassert add(-1, 1) == 0\n"
HUMANEVAL_TESTS = (
    "METADATA = {}\n\ndef check(candidate):\n    assert candidate([1, 2, 3]) == 6\n"
    "    assert candidate([]) == 0\n"
)

# (why, tests, entry_point, completion, outcome, score)
CASES = [
    ("all tests pass", MBPP_TESTS, None, "def add(a, b):\n    return a + b\n", Outcome.PASS, 1.0),
    ("score = passed / total", MBPP_TESTS, None, "def add(a, b):\n    return a + b if a > 0 else 0\n", Outcome.FAIL, 0.75),
    ("a syntax error scores 0 with outcome fail", MBPP_TESTS, None, "def add(a, b) return a", Outcome.FAIL, 0.0),
    ("the last fenced block is the program", MBPP_TESTS, None, "Try:\n```python\ndef add(a, b):\n    return 0\n```\nFixed:\n```python\ndef add(a, b):\n    return a + b\n```", Outcome.PASS, 1.0),
    ("reasoning before the code is skipped", MBPP_TESTS, None, "<think>add them</think>def add(a, b):\n    return a + b\n", Outcome.PASS, 1.0),
    ("a crash in one test fails only that test", MBPP_TESTS, None, "def add(a, b):\n    if a == 0:\n        raise ValueError\n    return a + b\n", Outcome.FAIL, 0.75),
    ("a program that raises at import fails everything", MBPP_TESTS, None, "raise RuntimeError('boom')\n", Outcome.FAIL, 0.0),
    ("HumanEval style: check(candidate) is one test", HUMANEVAL_TESTS, "total", "def total(xs):\n    return sum(xs)\n", Outcome.PASS, 1.0),
    ("HumanEval style, wrong", HUMANEVAL_TESTS, "total", "def total(xs):\n    return len(xs)\n", Outcome.FAIL, 0.0),
    ("HumanEval style, entry point missing", HUMANEVAL_TESTS, "total", "def other(xs):\n    return sum(xs)\n", Outcome.FAIL, 0.0),
    ("printing does not disturb the report", MBPP_TESTS, None, "import sys\nprint('no newline', end='')\nsys.stderr.write('err')\ndef add(a, b):\n    return a + b\n", Outcome.PASS, 1.0),
    ("a solution shadowing a builtin cannot fool the tests", "assert len(f()) == 3\n", None, "def len(x):\n    return 3\ndef f():\n    return []\n", Outcome.FAIL, 0.0),
    ("patching builtins is undone before the tests", "assert abs(f()) == 1\n", None, "import builtins\nbuiltins.abs = lambda x: 1\ndef f():\n    return -5\n", Outcome.FAIL, 0.0),
    ("floats and tolerances still work", "assert abs(f() - 0.3) < 1e-9\n", None, "def f():\n    return 0.1 + 0.2\n", Outcome.PASS, 1.0),
    ("stdin is empty: input() gets EOF, not a hang", MBPP_TESTS, None, "x = input()\n", Outcome.FAIL, 0.0),
    ("the program can use its private /tmp", MBPP_TESTS, None, "open('/tmp/scratch', 'w').write('1')\ndef add(a, b):\n    return a + b\n", Outcome.PASS, 1.0),
    # The program lives in another process: what must still work across the pipe.
    ("the tests call a helper besides the entry point (HumanEval/32's poly)", "def check(candidate):\n    assert double(candidate(2)) == 10\n", "inc", "def double(x):\n    return 2 * x\ndef inc(x):\n    return x + 3\n", Outcome.PASS, 1.0),
    ("the tests build the program's objects and pass them back (MBPP's Pair)", "assert longest([Pair(1, 5), Pair(2, 3)]) == 4\nassert Pair(1, 2).b == 2\n", None, "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\ndef longest(pairs):\n    return max(p.b - p.a for p in pairs)\n", Outcome.PASS, 1.0),
    ("a generator is iterated over the pipe", "assert list(gen(3)) == [0, 1, 2]\nassert next(gen(5)) == 0\n", None, "def gen(n):\n    yield from range(n)\n", Outcome.PASS, 1.0),
    ("a list argument sorted in place is updated for the tests", "xs = [3, 1, 2]\nsort_in_place(xs)\nassert xs == [1, 2, 3]\n", None, "def sort_in_place(xs):\n    xs.sort()\n", Outcome.PASS, 1.0),
    ("the tests lend lambdas, builtins and str methods as callbacks", "assert apply_all(lambda x: x * 2, [1, 2]) == [2, 4]\nassert apply_all(len, ['ab']) == [2]\nassert sorted_by(['b', 'A'], str.lower) == ['A', 'b']\n", None, "def apply_all(f, xs):\n    return [f(x) for x in xs]\ndef sorted_by(xs, key):\n    return sorted(xs, key=key)\n", Outcome.PASS, 1.0),
    ("tests that use math without importing it get their own math", "assert math.isclose(area(1), 3.14159, rel_tol=1e-3)\n", None, "import math\ndef area(r):\n    return math.pi * r * r\n", Outcome.PASS, 1.0),
    ("patching math in the program does not reach the tests", "assert math.isclose(area(1), 3.14159, rel_tol=1e-3)\n", None, "import math\nmath.isclose = lambda *a, **k: True\ndef area(r):\n    return 0\n", Outcome.FAIL, 0.0),
    ("a program exception the tests expect arrives as its builtin base", "try:\n    root(-1)\n    raise RuntimeError('no error')\nexcept ValueError:\n    pass\nassert root(4) == 2\n", None, "class BadInput(ValueError):\n    pass\ndef root(x):\n    if x < 0:\n        raise BadInput('negative')\n    return x ** 0.5\n", Outcome.PASS, 1.0),
    ("every builtin data type round-trips exactly", "assert f() == (2**100, -1.5, 'é', b'\\x00', bytearray(b'a'), {1: [2]}, {3}, frozenset({4}), 1+2j, None, True, range(3))\nassert [type(v) for v in f()] == [int, float, str, bytes, bytearray, dict, set, frozenset, complex, type(None), bool, range]\n", None, "def f():\n    return (2**100, -1.5, 'é', b'\\x00', bytearray(b'a'), {1: [2]}, {3}, frozenset({4}), 1+2j, None, True, range(3))\n", Outcome.PASS, 1.0),
    ("Fraction, Decimal, deque, OrderedDict and Counter cross as themselves", "from fractions import Fraction\nfrom decimal import Decimal\nfrom collections import deque, OrderedDict, Counter\nassert f() == [Fraction(1, 3), Decimal('1.10'), deque([1]), OrderedDict(a=1), Counter('aab')]\n", None, "from fractions import Fraction\nfrom decimal import Decimal\nfrom collections import deque, OrderedDict, Counter\ndef f():\n    return [Fraction(1, 3), Decimal('1.10'), deque([1]), OrderedDict(a=1), Counter('aab')]\n", Outcome.PASS, 1.0),
    ("a namedtuple and an IntEnum cross as their base values", "assert f() == ((1, 2), 1)\n", None, "from collections import namedtuple\nfrom enum import IntEnum\nP = namedtuple('P', 'x y')\nclass C(IntEnum):\n    RED = 1\ndef f():\n    return P(1, 2), C.RED\n", Outcome.PASS, 1.0),
    ("an object of the program's is never compared: its __eq__ would decide", "assert make(1).v == 1\nassert make(1) == make(2)\n", None, "class Box:\n    def __init__(self, v):\n        self.v = v\n    def __eq__(self, other):\n        return True\ndef make(v):\n    return Box(v)\n", Outcome.FAIL, 0.5),
    ("a program constant the tests read is data", "assert LIMIT == 10\nassert under(3)\n", None, "LIMIT = 10\ndef under(x):\n    return x < LIMIT\n", Outcome.PASS, 1.0),
]


@needs_bwrap
@pytest.mark.parametrize(
    "why, tests, entry_point, completion, outcome, score", CASES, ids=[c[0] for c in CASES]
)
def test_code_verdicts(why, tests, entry_point, completion, outcome, score, code_verifier):
    meta = {"entry_point": entry_point} if entry_point else {}
    problem = Problem(id="p", prompt="", tests=tests, meta=meta)
    verdict = code_verifier.verify(problem, completion)
    assert (verdict.outcome, verdict.score) == (outcome, score), verdict


@needs_bwrap
def test_syntax_error_is_in_the_detail(code_verifier):
    verdict = code_verifier.verify(Problem(id="p", prompt="", tests=MBPP_TESTS), "def add(a, b) return a")
    assert "SyntaxError" in verdict.detail


@needs_bwrap
@pytest.mark.parametrize(
    "why, tests",
    [
        ("no tests at all is the problem's fault", ""),
        ("tests that do not compile", "assert (\n"),
        ("tests with nothing to count", "x = 1\n"),
    ],
)
def test_unusable_tests_are_judge_errors(why, tests, code_verifier):
    verdict = code_verifier.verify(Problem(id="p", prompt="", tests=tests), "def add(a, b):\n    return a + b\n")
    assert verdict.outcome is Outcome.ERROR, verdict


@needs_bwrap
def test_prepend_prompt_for_humaneval_style_completions():
    judge = CodeVerifier(timeout_s=5, prepend_prompt=True)
    problem = Problem(id="p", prompt="def add(a, b):\n", tests=MBPP_TESTS)
    assert judge.verify(problem, "    return a + b\n").outcome is Outcome.PASS


@needs_bwrap
def test_batch_runs_in_parallel_and_keeps_order(code_verifier):
    problem = Problem(id="p", prompt="", tests=MBPP_TESTS)
    good, bad = "def add(a, b):\n    return a + b\n", "def add(a, b):\n    return 0\n"
    verdicts = code_verifier.verify_batch([(problem, good), (problem, bad)] * 3)
    assert [v.outcome for v in verdicts] == [Outcome.PASS, Outcome.FAIL] * 3


def test_refuses_without_bubblewrap(monkeypatch):
    monkeypatch.setattr(code_judge, "find_bwrap", lambda: None)
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        CodeVerifier()


def test_sandbox_layer_refuses_too(monkeypatch):
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)
    with pytest.raises(SandboxUnavailable, match="unsafe_no_sandbox"):
        sandbox.run_python("print(1)", b"", sandbox.SandboxLimits())


def test_unsafe_mode_runs_only_when_asked(monkeypatch):
    monkeypatch.setattr(code_judge, "find_bwrap", lambda: None)
    judge = CodeVerifier(timeout_s=5, unsafe_no_sandbox=True)
    problem = Problem(id="p", prompt="", tests=MBPP_TESTS)
    assert judge.verify(problem, "def add(a, b):\n    return a + b\n").outcome is Outcome.PASS
    assert judge.verify(problem, "import os\nos._exit(0)\n").outcome is Outcome.FAIL


@pytest.mark.parametrize("index", [0, 1], ids=["patched _OPS", "frame-read nonce"])
def test_unsafe_mode_still_keeps_the_program_in_its_own_process(index, monkeypatch):
    """Without bubblewrap the issue's two forgeries still fail: the split is not the sandbox's."""
    from .test_code_hostile import FORGERIES, TESTS

    monkeypatch.setattr(code_judge, "find_bwrap", lambda: None)
    judge = CodeVerifier(timeout_s=5, unsafe_no_sandbox=True)
    forgery = FORGERIES[index]
    problem = Problem(id="p", prompt="", tests=TESTS)
    assert judge.verify(problem, forgery.program.replace("EXPR", forgery.wrong_expr)).outcome is Outcome.FAIL
    assert judge.verify(problem, forgery.program.replace("EXPR", forgery.right_expr)).outcome is Outcome.PASS


@needs_bwrap
def test_output_cap_stops_a_run_that_floods_the_verdict_pipe():
    limits = sandbox.SandboxLimits(wall_s=10, max_output_bytes=1 << 20)
    run = sandbox.run_python("import sys\nsys.stdout.write('x' * (16 << 20))\n", b"", limits)
    assert run.output_exceeded and len(run.stdout) <= 1 << 20


def test_stdout_with_anything_but_the_report_is_no_report(code_verifier):
    report = b'cafe {"passed": 1, "total": 1, "error": null, "judge_error": null, "failures": []}\n'
    assert code_verifier.grade(sandbox.Execution(0, report, b"", False, False, 0.1, True), "cafe").outcome is Outcome.PASS
    for stdout in (b"noise\n" + report, report + b"noise", report.replace(b'"passed": 1', b'"passed": "1"')):
        run = sandbox.Execution(0, stdout, b"", False, False, 0.1, True)
        assert code_verifier.grade(run, "cafe").outcome is Outcome.FAIL, stdout


def test_forged_report_without_the_nonce_is_ignored(code_verifier):
    run = sandbox.Execution(0, b'deadbeef {"passed": 4, "total": 4}\n', b"", False, False, 0.1, True)
    assert code_verifier.grade(run, "cafebabe").outcome is Outcome.FAIL


def test_extract_code_without_fence_takes_everything():
    assert extract_code("def f():\n    return 1") == "def f():\n    return 1"
