"""Answer formats: where a judge reads the final answer, and what strictness refuses.

With an instructed format (``\\boxed{}``, "The answer is N"), the last-number fallback turns
reasoning that merely ends on the right number into a pass (issue 12: "...9 apples are added
to the 11 (third) being added to the original list." stored as a pass for gold 11)."""

from __future__ import annotations

import pytest

from selftaught.judges import FormatVerifier, MathVerifier, judge_for
from selftaught.judges.extract import extract_answer
from selftaught.records import Outcome, Problem

GOLD11 = Problem(id="p", prompt="How many apples?", answer="11")
WRONG_REASONING = "In total, 9 apples are added to the 11 (third) being added to the original list."


@pytest.mark.parametrize(
    "completion, fmt, strict, expected, why",
    [
        (WRONG_REASONING, "boxed", False, "11", "lenient: the last number passes wrong reasoning"),
        (WRONG_REASONING, "boxed", True, None, "strict: no box, no answer"),
        ("9 + 2 = 11, so \\boxed{11}.", "boxed", True, "11", "the instructed box"),
        ("\\boxed{9} then \\boxed{11}", "boxed", True, "11", "the last box counts"),
        ("The answer is 11.", "boxed", True, None, "a box was asked for, not a sentence"),
        ("9 + 2 = 11. The answer is 11.", "answer_is", True, "11", "the instructed sentence"),
        ("9 + 2 = 11", "answer_is", True, None, "no sentence"),
        ("<think>9+2=11</think> 11", "think", True, "11", "after a closed think block"),
        ("9 + 2 = 11", "think", True, None, "strict think needs the block"),
        ("9 + 2 = 11", "think", False, "11", "lenient think: the tiny model's fall back"),
        ("<think>\\boxed{11}", "boxed", True, None, "a think block never closed has no answer"),
        ("x \\boxed{11} y 12", "free", True, "11", "free: strict changes nothing"),
    ],
)
def test_extraction(completion, fmt, strict, expected, why):
    assert extract_answer(completion, fmt, strict) == expected, why


def test_the_strict_math_judge_fails_wrong_reasoning_and_says_why():
    lenient, strict = MathVerifier(), MathVerifier(answer_format="boxed", strict=True)
    assert lenient.verify(GOLD11, WRONG_REASONING).outcome is Outcome.PASS
    v = strict.verify(GOLD11, WRONG_REASONING)
    assert v.outcome is Outcome.FAIL and "boxed" in v.detail
    assert strict.verify(GOLD11, "so \\boxed{11}").outcome is Outcome.PASS
    # a verdict says which rule produced it: lineage can tell strict passes from lenient ones
    assert lenient.version != strict.version
    assert {strict.verify(GOLD11, "so \\boxed{11}").judge_version, lenient.verify(GOLD11, "11").judge_version} == {
        strict.version, lenient.version}


@pytest.mark.parametrize("name", ["arithmetic", "math"])
def test_judges_named_in_a_recipe_follow_the_prompt(name):
    judge = judge_for(name, answer_format="boxed", strict=True)
    assert judge.verify(GOLD11, WRONG_REASONING).outcome is Outcome.FAIL
    assert judge.verify(GOLD11, "\\boxed{11}").outcome is Outcome.PASS
    assert judge_for(name).verify(GOLD11, WRONG_REASONING).outcome is Outcome.PASS  # the default is lenient


@pytest.mark.parametrize(
    "style, completion, score, why",
    [
        ("boxed", "2 + 6 = 8. The answer is \\boxed{8}.", 1.0, "plain reasoning then a box: no <think> needed"),
        ("boxed", "2 + 6 = 8. The answer is 8.", 0.0, "no box"),
        ("boxed", "\\boxed{8} or \\boxed{9}", 0.5, "two boxes: partial"),
        ("boxed", "\\boxed{}", 0.0, "an empty box is no answer"),
        ("answer_is", "2 + 6 = 8. The answer is 8.", 1.0, "the instructed sentence"),
        ("think", "2 + 6 = 8. The answer is 8.", 0.0, "the R1 format needs a think block"),
        ("think", "<think>2+6=8</think> 8", 1.0, "the R1 format"),
    ],
)
def test_the_format_reward_scores_the_instructed_format(style, completion, score, why):
    assert FormatVerifier(style=style).verify(GOLD11, completion).score == score, why
