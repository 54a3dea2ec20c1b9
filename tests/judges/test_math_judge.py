"""The math judge: answer extraction, normalisation, equivalence, and the hard deadline."""

from __future__ import annotations

import threading
import time

import pytest

from selftaught.judges import MathVerifier, extract_answer, normalize_answer
from selftaught.judges.math_judge import MathWorkerPool
from selftaught.records import Outcome, Problem

# (why, completion, extracted answer)
EXTRACTION = [
    ("the embedded arithmetic task: the answer follows </think>", "<think>3+5=8 2+4=6</think> 68", "68"),
    ("numbers inside the reasoning never count", "<think>3+5=8 99</think> 12", "12"),
    ("a think block never closed was cut off: no answer", "<think>3+5=8 2+4=6", None),
    ("the last \\boxed wins", "\\boxed{1} no wait \\boxed{2}", "2"),
    ("nested braces inside \\boxed", "so \\boxed{\\frac{1}{\\sqrt{2}}}.", "\\frac{1}{\\sqrt{2}}"),
    ("\\boxed without braces", "thus \\boxed 7", "7"),
    ("an unclosed \\boxed falls back to the last number", "\\boxed{12", "12"),
    ("'the answer is' to the end of its line", "The answer is 3/4.\nCheck: 0.75", "3/4"),
    ("'Answer:' with inline math", "Answer: $\\frac{2}{3}$", "\\frac{2}{3}"),
    ("the last inline math when nothing else marks the answer", "x is $2$ and y is $x+1$", "x+1"),
    ("the last number, with thousands separators", "we need 1,234,567 apples", "1,234,567"),
    ("a negative decimal", "the temperature is -3.5 degrees", "-3.5"),
    ("a percentage keeps its sign for normalisation", "it rose by 50%", "50%"),
    ("no number at all", "I don't know", None),
]


@pytest.mark.parametrize("why, completion, expected", EXTRACTION, ids=[r[0] for r in EXTRACTION])
def test_extract_answer(why, completion, expected):
    assert extract_answer(completion) == expected


# (why, raw, normalised)
NORMALISATION = [
    ("surrounding $...$", "$42$", "42"),
    ("thousands separators", "1,000,000", "1000000"),
    ("a set is not a thousands number", "1,2", "1,2"),
    ("\\dfrac and \\tfrac are \\frac", "\\dfrac{1}{2}+\\tfrac{1}{3}", "\\frac{1}{2}+\\frac{1}{3}"),
    ("percent (plain and LaTeX)", "50\\%", "50"),
    ("units in \\text", "5\\text{ cm}", "5"),
    ("units as words", "12 dollars", "12"),
    ("degrees", "90^\\circ", "90"),
    ("an assignment keeps its right-hand side", "x = \\frac{1}{2}", "\\frac{1}{2}"),
    ("an equation with two '=' is left alone", "a=b=c", "a=b=c"),
    ("a spaced fraction", "3 / 4", "3/4"),
    ("\\left/\\right sizing", "\\left(1,2\\right)", "(1,2)"),
]


@pytest.mark.parametrize("why, raw, expected", NORMALISATION, ids=[r[0] for r in NORMALISATION])
def test_normalize_answer(why, raw, expected):
    assert normalize_answer(raw) == expected


# (why, gold, completion, outcome)
EQUIVALENCE = [
    ("arithmetic task format, right", "68", "<think>3+5=8 2+4=6</think> 68", Outcome.PASS),
    ("arithmetic task format, wrong", "68", "<think>3+5=8 2+4=7</think> 78", Outcome.FAIL),
    ("leading zeros are the same number", "68", "<think>x</think> 068", Outcome.PASS),
    ("0.5 = 1/2", "1/2", "\\boxed{0.5}", Outcome.PASS),
    ("\\frac = decimal (through sympy)", "\\frac{1}{2}", "The answer is $0.5$", Outcome.PASS),
    ("\\dfrac = \\frac", "\\frac{3}{4}", "\\boxed{\\dfrac{3}{4}}", Outcome.PASS),
    ("thousands separator against plain", "1000", "The answer is 1,000.", Outcome.PASS),
    ("percent", "50", "it is 50%", Outcome.PASS),
    ("units", "5", "\\boxed{5\\text{ cm}}", Outcome.PASS),
    ("intervals", "[1, 2)", "\\boxed{[1,2)}", Outcome.PASS),
    ("open vs half-open interval differ", "[1, 2)", "\\boxed{(1,2)}", Outcome.FAIL),
    ("sets ignore order", "\\{1, 2\\}", "\\boxed{\\{2, 1\\}}", Outcome.PASS),
    ("simple expressions commute", "x + 1", "\\boxed{1 + x}", Outcome.PASS),
    ("radicals simplify", "2\\sqrt{2}", "\\boxed{\\sqrt{8}}", Outcome.PASS),
    ("a different expression", "x + 1", "\\boxed{x + 2}", Outcome.FAIL),
    ("no answer is a fail, not an error", "3", "I give up", Outcome.FAIL),
    ("a truncated think block has no answer", "3", "<think>1+2=3", Outcome.FAIL),
    ("an answer too long to look at", "3", "\\boxed{" + "1+" * 300 + "1}", Outcome.FAIL),
    ("nesting deeper than the guard", "3", "$" + "(" * 60 + "3" + ")" * 60 + "$", Outcome.FAIL),
]


@pytest.mark.parametrize(
    "why, gold, completion, outcome", EQUIVALENCE, ids=[r[0] for r in EQUIVALENCE]
)
def test_math_verdicts(why, gold, completion, outcome, math_verifier):
    verdict = math_verifier.verify(Problem(id="p", prompt="", answer=gold), completion)
    assert verdict.outcome is outcome, verdict
    assert verdict.score == (1.0 if outcome is Outcome.PASS else 0.0)
    assert verdict.judge == "math" and len(verdict.detail) <= 310


def test_batch_keeps_order_and_matches_single_calls(math_verifier):
    pairs = [(Problem(id=str(i), prompt="", answer=g), c) for i, (_, g, c, _) in enumerate(EQUIVALENCE)]
    batch = math_verifier.verify_batch(pairs)
    assert [v.outcome for v in batch] == [row[3] for row in EQUIVALENCE]


def test_problem_without_gold_is_an_error_not_a_fail(math_verifier):
    verdict = math_verifier.verify(Problem(id="p", prompt=""), "\\boxed{3}")
    assert verdict.outcome is Outcome.ERROR


# (why, answer) — each must come back as TIMEOUT or FAIL within the deadline.
PATHOLOGICAL = [
    ("a power tower sympy would try to evaluate", "\\boxed{9^{9^{9}}}"),
    ("a factorial of ten million", "\\boxed{(10^7)!}"),
    ("1,000-deep nesting", "$" + "(" * 1000 + "1" + ")" * 1000 + "$"),
    ("a 1 MB string", "\\boxed{" + "1+" * 500_000 + "1}"),
]


@pytest.mark.parametrize("why, completion", PATHOLOGICAL, ids=[r[0] for r in PATHOLOGICAL])
def test_pathological_answers_end_within_the_deadline(why, completion):
    # guards off (huge limits) so that the worker deadline itself is what is tested
    judge = MathVerifier(deadline_s=2.0, max_answer_chars=10**7, max_nesting=10**6)
    start = time.monotonic()
    verdict = judge.verify(Problem(id="p", prompt="", answer="5"), completion)
    elapsed = time.monotonic() - start
    assert verdict.outcome in (Outcome.TIMEOUT, Outcome.FAIL), verdict
    # + worker start-up (imports sympy) on the first call, + slack for a loaded machine
    assert elapsed < 2.0 + 6.0, elapsed


def test_guards_reject_pathological_answers_without_sympy(math_verifier):
    for _, completion in PATHOLOGICAL[2:]:
        start = time.monotonic()
        verdict = math_verifier.verify(Problem(id="p", prompt="", answer="5"), completion)
        assert verdict.outcome is Outcome.FAIL
        assert time.monotonic() - start < 1.0


def test_deadline_holds_from_a_thread_and_the_pool_recovers():
    """math-verify's signal.alarm breaks in threads; our deadline must not."""
    pool = MathWorkerPool(workers=1, deadline_s=1.5)
    results = {}

    def work():
        results["out"] = pool.run([("5", "9^{9^{9}}"), ("\\frac{1}{2}", "0.5")])

    try:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert results["out"][0][0] == "timeout"
        assert results["out"][1][0] == "pass"  # a fresh worker took over
        assert pool.timeouts == 1
    finally:
        pool.close()


def test_killed_worker_is_really_gone():
    pool = MathWorkerPool(workers=1, deadline_s=1.0)
    try:
        pool.run([("1", "1")])
        (first,) = pool.pids
        assert pool.run([("5", "(10^7)!")])[0][0] == "timeout"
        with pytest.raises(ProcessLookupError):
            import os

            os.kill(first, 0)
    finally:
        pool.close()
