"""The arithmetic judge (the embedded task's): table-driven, each row says why it exists."""

from __future__ import annotations

import pytest

from selftaught.judges import get_verifier
from selftaught.loops.arithmetic import make_problem
from selftaught.records import Outcome, Problem

P = make_problem(23, 45, 2)  # answer 68
ARITHMETIC = get_verifier("arithmetic")


@pytest.mark.parametrize(
    "completion, outcome, why",
    [
        (" <think>3+5=8 2+4=6</think> 68", Outcome.PASS, "the gold format"),
        (" <think>3+5=8 2+4=6</think> 068", Outcome.PASS, "numbers compare by value"),
        (" <think>3+5=8 2+4=6</think>68 because", Outcome.PASS, "first number after </think>"),
        (" <think>68</think> 67", Outcome.FAIL, "the chain's numbers do not count"),
        (" <think>3+5=8 2+4=6</think>", Outcome.FAIL, "nothing after </think> is no answer"),
        (" <think>a</think> x</think> 68", Outcome.PASS, "the last </think> wins"),
        (" 68", Outcome.PASS, "no chain: last number"),
        (" 67 or maybe 68", Outcome.PASS, "no chain: last number, not first"),
        (" 68 or maybe 67", Outcome.FAIL, "no chain: last number decides"),
        ("", Outcome.FAIL, "empty completion"),
        (" <think>3+5=8", Outcome.FAIL, "truncated chain: last number is 8"),
        (" <think>3+5=8 2+4=6 68", Outcome.PASS, "</think> dropped, answer written: read like no chain (the demo counts it)"),
        (" <think>x</think> -68", Outcome.FAIL, "the sign matters"),
    ],
)
def test_judge_arithmetic(completion, outcome, why):
    v = ARITHMETIC.verify(P, completion)
    assert v.outcome is outcome, why
    assert v.score == (1.0 if outcome is Outcome.PASS else 0.0)
    assert v.judge == "arithmetic"


def test_problem_without_answer_is_an_error_not_a_fail():
    v = ARITHMETIC.verify(Problem(id="x", prompt="p"), " 1")
    assert v.outcome is Outcome.ERROR


def test_non_numeric_gold_compares_as_text():
    p = Problem(id="x", prompt="p", answer="1,024")
    assert ARITHMETIC.verify(p, "</think> 1024").passed


def test_it_is_registered_and_reads_the_answer():
    from selftaught.judges import VERIFIERS, ArithmeticVerifier

    assert VERIFIERS["arithmetic"] is ArithmeticVerifier and ArithmeticVerifier.reads == ("answer",)
