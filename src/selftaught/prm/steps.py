"""Steps of a solution: split a completion into steps, join steps back, check them exactly.

In: a completion text (and, for user data, a delimiter). Out: a list of step strings.

The embedded task's completions look like ``" <think>7+5=12 2+4+1=7</think> 72"``. Its
steps are the ``<think>`` body split on whitespace -- one column sum each -- and then the
final answer text as the last step::

    >>> split_steps(" <think>7+5=12 2+4+1=7</think> 72")
    ['7+5=12', '2+4+1=7', '72']

A completion without ``</think>`` has no final-answer step (it was cut off); one without
``<think>`` is split on whitespace as a whole. For user data pass ``delimiter`` (``"\\n"``
for lines, or any string): the text is split on it and blank pieces are dropped.

``join_steps`` is the inverse for the embedded format. With ``complete=False`` (the
default) every step is a ``<think>`` step and the result is a *prefix* to continue from:
the policy generates the rest after ``prompt + join_steps(prefix_steps)``. With
``complete=True`` the last step is the final answer and the result is a whole completion.
An empty prefix is the empty string (continue from the prompt alone).

``check_arithmetic_steps`` is the exact truth for the embedded task (the operands are
known from the problem). It is used ONLY to measure -- the true first error against the
PRM's first low-scoring step -- never as a reward in training or in search.

No torch, no store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from selftaught.errors import DataError
from selftaught.judges.base import THINK_CLOSE, THINK_OPEN
from selftaught.judges.extract import answers_equal
from selftaught.loops.arithmetic import gold_columns
from selftaught.records import Problem

_COLUMN = re.compile(r"^(\d)\+(\d)(\+1)?=(\d+)$")
_NUMBER = re.compile(r"^-?\d+$")


def split_steps(completion: str, delimiter: str | None = None) -> list[str]:
    """The steps of ``completion`` (see the module docstring).

    >>> split_steps(" <think>3+5=8 2+4=6</think> 68")
    ['3+5=8', '2+4=6', '68']
    >>> split_steps(" <think>3+5=8 2+4")          # cut off: no final-answer step
    ['3+5=8', '2+4']
    >>> split_steps("first\\n\\nsecond\\n", delimiter="\\n")
    ['first', 'second']
    """
    if delimiter is not None:
        if delimiter == "":
            raise ValueError("delimiter must not be empty")
        return [s.strip() for s in completion.split(delimiter) if s.strip()]
    if THINK_OPEN not in completion:
        return completion.split()
    body = completion.split(THINK_OPEN, 1)[1]
    if THINK_CLOSE not in body:
        return body.split()
    think, final = body.split(THINK_CLOSE, 1)
    steps = think.split()
    if final.strip():
        steps.append(final.strip())
    return steps


def join_steps(
    steps: Sequence[str], *, complete: bool = False, delimiter: str | None = None
) -> str:
    """Steps back to text: a prefix to continue from, or (``complete``) a whole completion.

    >>> join_steps(["7+5=12"])
    ' <think>7+5=12'
    >>> join_steps(["7+5=12", "2+4+1=7", "72"], complete=True)
    ' <think>7+5=12 2+4+1=7</think> 72'
    >>> join_steps([])
    ''

    With a ``delimiter`` the steps are joined with it (a trailing delimiter on a prefix,
    so the continuation starts a new step).
    """
    steps = list(steps)
    if delimiter is not None:
        text = delimiter.join(steps)
        return text if complete or not steps else text + delimiter
    if complete:
        if not steps:
            raise ValueError("a complete solution needs at least its final-answer step")
        return f" {THINK_OPEN}{' '.join(steps[:-1])}{THINK_CLOSE} {steps[-1]}"
    if not steps:
        return ""
    return f" {THINK_OPEN}{' '.join(steps)}"


def _operands(problem: Problem) -> tuple[int, int]:
    meta = problem.meta or {}
    if "a" in meta and "b" in meta:
        return int(meta["a"]), int(meta["b"])
    m = re.search(r"(\d+)\+(\d+)=\?", problem.prompt)
    if m is None:
        raise DataError(f"problem {problem.id!r}: not an addition problem (prompt {problem.prompt[:40]!r})")
    return int(m.group(1)), int(m.group(2))


def check_arithmetic_steps(problem: Problem, steps: Sequence[str]) -> list[bool]:
    """Exact truth per step for an addition problem: is this step the right one here?

    A column step (``x+y[+1]=s``) is right when it is the gold step of the column it
    occupies (the n-th column step is column n from the right): same digits, the carry
    written exactly when there is one, the right sum. A bare number is the final answer:
    right when it equals ``a+b``. Anything else, or a column step past the last column,
    is wrong. The first ``False`` is the true first error.

    >>> from selftaught.loops.arithmetic import make_problem
    >>> check_arithmetic_steps(make_problem(27, 45, 2), ["7+5=12", "2+4=6", "62"])
    [True, False, False]
    """
    a, b = _operands(problem)
    gold = gold_columns(a, b)
    out: list[bool] = []
    column = 0
    for step in steps:
        m = _COLUMN.match(step.strip())
        if m is not None:
            if column < len(gold):
                x, y, carry, s = gold[column]
                ok = (int(m.group(1)), int(m.group(2)), m.group(3) is not None, int(m.group(4))) == (
                    x, y, carry, s,
                )  # fmt: skip
            else:
                ok = False
            column += 1
            out.append(ok)
        elif _NUMBER.match(step.strip()):
            out.append(answers_equal(str(a + b), step.strip()))
        else:
            out.append(False)
    return out


def first_error(truth: Sequence[bool]) -> int | None:
    """Index of the first ``False`` (the first wrong step), or None when all are right."""
    for i, ok in enumerate(truth):
        if not ok:
            return i
    return None
