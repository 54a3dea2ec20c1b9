"""Splitting completions into steps, joining them back, and the exact step checker."""

from __future__ import annotations

import pytest

from selftaught.loops.arithmetic import gold_completion, make_problem
from selftaught.prm.steps import (
    check_arithmetic_steps,
    first_error,
    join_steps,
    split_steps,
)


@pytest.mark.parametrize(
    "completion, delimiter, steps",
    [
        (" <think>7+5=12 2+4+1=7</think> 72", None, ["7+5=12", "2+4+1=7", "72"]),  # the embedded format
        (" <think>7+5=12  2+4+1=7 </think>72", None, ["7+5=12", "2+4+1=7", "72"]),  # odd spacing
        (" <think>7+5=12 2+4", None, ["7+5=12", "2+4"]),  # cut off: no final-answer step
        (" <think>3+5=8</think>", None, ["3+5=8"]),  # closed but no answer
        (" 68", None, ["68"]),  # no <think> at all: split as a whole
        ("", None, []),
        ("a = 1\n\nb = 2\nso 3\n", "\n", ["a = 1", "b = 2", "so 3"]),  # user data by lines
        ("x ;; y ;; ", ";;", ["x", "y"]),  # any delimiter, blank pieces dropped
    ],
)
def test_split_steps(completion, delimiter, steps):
    assert split_steps(completion, delimiter) == steps


@pytest.mark.parametrize("a, b", [(23, 45), (27, 45), (87, 45), (99, 99), (10, 10)])
def test_join_inverts_split_on_gold_completions(a, b):
    gold = gold_completion(a, b)
    steps = split_steps(gold)
    assert join_steps(steps, complete=True) == gold
    # a prefix continues into the gold completion
    for i in range(len(steps) - 1):
        assert gold.startswith(join_steps(steps[: i + 1]))


def test_join_with_a_delimiter_ends_a_prefix_with_it():
    assert join_steps(["a", "b"], delimiter="\n") == "a\nb\n"
    assert join_steps(["a", "b"], delimiter="\n", complete=True) == "a\nb"
    assert join_steps([], delimiter="\n") == ""


def test_empty_delimiter_and_empty_complete_solution_are_errors():
    with pytest.raises(ValueError):
        split_steps("abc", "")
    with pytest.raises(ValueError):
        join_steps([], complete=True)


@pytest.mark.parametrize(
    "a, b, steps, truth",
    [
        (27, 45, ["7+5=12", "2+4+1=7", "72"], [True, True, True]),  # gold
        (27, 45, ["7+5=12", "2+4=6", "62"], [True, False, False]),  # carry dropped
        (27, 45, ["7+5=12", "2+4=6", "72"], [True, False, True]),  # wrong step, right answer
        (27, 45, ["7+5=11", "2+4+1=7", "71"], [False, True, False]),  # wrong sum, column 2 is still gold
        (23, 45, ["3+5=8", "2+4+1=7", "78"], [True, False, False]),  # carry written where there is none
        (23, 45, ["3+5=8", "2+4=6", "1+1=2", "68"], [True, True, False, True]),  # a column too many
        (23, 45, ["5+3=8", "2+4=6", "68"], [False, True, True]),  # operands swapped is not the gold step
        (23, 45, ["3+5=8", "nonsense", "068"], [True, False, True]),  # not a step; 068 == 68
        (87, 45, ["7+5=12", "8+4+1=13", "132"], [True, True, True]),  # carry out of the top column
    ],
)
def test_check_arithmetic_steps(a, b, steps, truth):
    assert check_arithmetic_steps(make_problem(a, b, 2), steps) == truth


def test_checker_reads_operands_from_the_prompt_without_meta():
    from selftaught.records import Problem

    problem = Problem(id="x", prompt="Q: 27+45=? A:", answer="72")
    assert check_arithmetic_steps(problem, ["7+5=12", "2+4+1=7", "72"]) == [True, True, True]


def test_checker_rejects_a_problem_that_is_not_an_addition():
    from selftaught.errors import DataError
    from selftaught.records import Problem

    with pytest.raises(DataError, match="not an addition"):
        check_arithmetic_steps(Problem(id="x", prompt="Name a colour", answer="red"), ["red"])


def test_first_error():
    assert first_error([True, False, False]) == 1
    assert first_error([True, True]) is None
    assert first_error([]) is None
