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


def test_forged_report_without_the_nonce_is_ignored(code_verifier):
    run = sandbox.Execution(0, b'deadbeef {"passed": 4, "total": 4}\n', b"", False, False, 0.1, True)
    assert code_verifier.grade(run, "cafebabe").outcome is Outcome.FAIL


def test_extract_code_without_fence_takes_everything():
    assert extract_code("def f():\n    return 1") == "def f():\n    return 1"
