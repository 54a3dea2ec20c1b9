"""The small judges: multiple choice, keywords (rough), <think> format."""

from __future__ import annotations

import pytest

from selftaught.judges import ChoiceVerifier, FormatVerifier, KeywordVerifier
from selftaught.records import Outcome, Problem

OPTIONS = ("Paris", "Rome", "Oslo", "New Rome")

# (why, gold, completion, outcome)
CHOICE = [
    ("'Answer: B'", "B", "Answer: B", Outcome.PASS),
    ("'(B)' in running text", "B", "I'd go with (B) here", Outcome.PASS),
    ("'the answer is (c)' lowercase in parentheses", "C", "the answer is (c)", Outcome.PASS),
    ("a bare letter reply", "B", " B. ", Outcome.PASS),
    ("\\boxed{B}", "B", "so \\boxed{B}", Outcome.PASS),
    ("the option text itself", "B", "It is Rome, of course.", Outcome.PASS),
    ("the longer option wins at the same position", "D", "Clearly New Rome", Outcome.PASS),
    ("gold given as option text", "Rome", "Answer: B", Outcome.PASS),
    ("the last stated answer counts", "C", "Answer: A ... wait, Answer: C", Outcome.PASS),
    ("the reasoning is ignored", "B", "<think>maybe (A)?</think> Answer: B", Outcome.PASS),
    ("a wrong letter", "B", "Answer: A", Outcome.FAIL),
    ("the article 'a' is not option A", "A", "the answer is a mystery", Outcome.FAIL),
    ("a letter beyond the options is ignored", "B", "Answer: (F)", Outcome.FAIL),
    ("nothing picked", "B", "no idea", Outcome.FAIL),
    ("a truncated think block picks nothing", "B", "<think>it is (B)", Outcome.FAIL),
    ("a final lone capital", "C", "after all that, C", Outcome.PASS),
]


@pytest.mark.parametrize("why, gold, completion, outcome", CHOICE, ids=[r[0] for r in CHOICE])
def test_choice(why, gold, completion, outcome):
    problem = Problem(id="q", prompt="Capital?", choices=OPTIONS, answer=gold)
    assert ChoiceVerifier().verify(problem, completion).outcome is outcome


@pytest.mark.parametrize(
    "why, problem",
    [
        ("no choices", Problem(id="q", prompt="", answer="A")),
        ("a gold answer that is neither letter nor option", Problem(id="q", prompt="", choices=OPTIONS, answer="Z")),
    ],
)
def test_choice_errors_are_the_problems_fault(why, problem):
    assert ChoiceVerifier().verify(problem, "Answer: A").outcome is Outcome.ERROR


# (why, mode, keywords, completion, outcome, score)
KEYWORD = [
    ("all found, any case", "all", ("Paris", "France"), "paris is in FRANCE", Outcome.PASS, 1.0),
    ("partial credit for some", "all", ("Paris", "France", "Seine"), "Paris, France", Outcome.FAIL, 2 / 3),
    ("whole words only", "all", ("ice",), "a nice day", Outcome.FAIL, 0.0),
    ("non-word keywords match as substrings", "all", ("C++",), "I like c++.", Outcome.PASS, 1.0),
    ("any: one is enough", "any", ("Paris", "Lyon"), "Lyon", Outcome.PASS, 1.0),
    ("any: none found", "any", ("Paris", "Lyon"), "Nice", Outcome.FAIL, 0.0),
    ("rough by design: negation still matches", "all", ("Paris",), "not Paris", Outcome.PASS, 1.0),
    ("keywords in the reasoning do not count", "all", ("Paris",), "<think>Paris?</think> Lyon", Outcome.FAIL, 0.0),
]


@pytest.mark.parametrize("why, mode, keywords, completion, outcome, score", KEYWORD, ids=[r[0] for r in KEYWORD])
def test_keyword(why, mode, keywords, completion, outcome, score):
    verdict = KeywordVerifier(mode=mode).verify(Problem(id="k", prompt="", keywords=keywords), completion)
    assert verdict.outcome is outcome
    assert verdict.score == pytest.approx(score)


def test_keyword_without_keywords_is_an_error():
    assert KeywordVerifier().verify(Problem(id="k", prompt=""), "x").outcome is Outcome.ERROR


# (why, completion, outcome, score with partial=0.5)
FORMAT = [
    ("the embedded arithmetic task's format", "<think>3+5=8 2+4=6</think> 68", Outcome.PASS, 1.0),
    ("leading whitespace is fine", "  \n<think>r</think>\nanswer", Outcome.PASS, 1.0),
    ("text before <think>", "Sure! <think>r</think> 1", Outcome.FAIL, 0.5),
    ("no answer after </think>", "<think>r</think>   ", Outcome.FAIL, 0.5),
    ("empty reasoning", "<think> </think> 1", Outcome.FAIL, 0.5),
    ("two think blocks", "<think>a</think><think>b</think> 1", Outcome.FAIL, 0.5),
    ("never closed", "<think>3+5=8", Outcome.FAIL, 0.0),
    ("no think block", "68", Outcome.FAIL, 0.0),
    ("closing tag before opening", "</think> 1 <think>", Outcome.FAIL, 0.0),
]


@pytest.mark.parametrize("why, completion, outcome, score", FORMAT, ids=[r[0] for r in FORMAT])
def test_format(why, completion, outcome, score):
    verdict = FormatVerifier(partial=0.5).verify(Problem(id="f", prompt=""), completion)
    assert (verdict.outcome, verdict.score) == (outcome, score)


def test_format_partial_credit_is_configurable():
    verdict = FormatVerifier(partial=0.0).verify(Problem(id="f", prompt=""), "Sure! <think>r</think> 1")
    assert verdict.score == 0.0


def test_format_is_linear_on_hostile_input():
    import time

    start = time.monotonic()
    FormatVerifier().verify(Problem(id="f", prompt=""), "</think>" + "<think>" * 200_000)
    assert time.monotonic() - start < 1.0
