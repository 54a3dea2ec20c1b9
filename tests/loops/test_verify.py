"""The tiny arithmetic judge: table-driven, each row says why it exists."""

from __future__ import annotations

import pytest

from selftaught.errors import DataError
from selftaught.loops.arithmetic import make_problem
from selftaught.loops.verify import extract_answer, judge_all, judge_arithmetic, normalize_answer
from selftaught.records import Outcome, Problem, Sample, SampleSource, SamplingParams

P = make_problem(23, 45, 2)  # answer 68


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
        (" <think>x</think> -68", Outcome.FAIL, "the sign matters"),
    ],
)
def test_judge_arithmetic(completion, outcome, why):
    v = judge_arithmetic(P, completion)
    assert v.outcome is outcome, why
    assert v.score == (1.0 if outcome is Outcome.PASS else 0.0)
    assert v.judge == "arithmetic"


def test_problem_without_answer_is_an_error_not_a_fail():
    v = judge_arithmetic(Problem(id="x", prompt="p"), " 1")
    assert v.outcome is Outcome.ERROR


def test_non_numeric_gold_compares_as_text():
    p = Problem(id="x", prompt="p", answer="1,024")
    assert judge_arithmetic(p, "</think> 1024").passed


@pytest.mark.parametrize(
    "text, key",
    [("68", "68"), ("068", "68"), ("68.0", "68"), ("1,024", "1024"), ("2.50", "2.5"), (None, None)],
)
def test_normalize_answer(text, key):
    assert normalize_answer(text) == key


def test_extract_answer_returns_text_as_written():
    assert extract_answer("</think> 1,024.") == "1,024"


def test_judge_all_pairs_each_sample_with_its_own_problem(three_problems):
    params = SamplingParams()
    samples = [
        Sample(p.id, 0, p.prompt, p.solution, SampleSource.GENERATE, 0, params) for p in three_problems
    ]
    judged = judge_all(samples, {p.id: p for p in three_problems})
    assert [j.sample for j in judged] == samples
    assert all(j.verdict.passed for j in judged)
    wrong = [Sample(three_problems[0].id, 0, "", three_problems[1].solution, SampleSource.GENERATE, 0, params)]
    assert not judge_all(wrong, {p.id: p for p in three_problems})[0].verdict.passed
    with pytest.raises(DataError, match="unknown problem"):
        judge_all(samples, {})
