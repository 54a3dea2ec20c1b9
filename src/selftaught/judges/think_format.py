"""The format judge: reasoning in ``<think>…</think>``, then an answer.

In: a completion (the problem is not consulted). Out: a ``Verdict`` named
``"format"``. Full marks (PASS, score 1) for: optional whitespace, exactly one
``<think>`` block with non-empty reasoning, then a non-empty answer. A completion
that has a closed think block but breaks another rule (text before it, several
blocks, empty reasoning, no answer after it) gets ``partial`` credit (FAIL); no closed
think block at all scores 0.

This is the R1-style format reward: add it to a correctness judge with a small
weight (``{"math": 1.0, "format": 0.2}``), never use it alone.
"""

from __future__ import annotations

from typing import ClassVar

from selftaught.judges.base import THINK_CLOSE, THINK_OPEN, BaseVerifier
from selftaught.records import Problem, Verdict

def format_problems(completion: str) -> list[str] | None:
    """What is wrong with the format; ``[]`` if nothing, None if no closed think block.

    >>> format_problems("<think>3+5=8 2+4=6</think> 68")
    []
    >>> format_problems("Sure! <think>x</think>")
    ['text before <think>', 'no answer after </think>']
    >>> format_problems("68") is None
    True
    """
    start = completion.find(THINK_OPEN)
    end = completion.find(THINK_CLOSE, start + len(THINK_OPEN)) if start >= 0 else -1
    if end < 0:
        return None  # (str.find, not a regex: linear even on hostile input)
    problems = []
    if completion.count(THINK_OPEN) > 1 or completion.count(THINK_CLOSE) > 1:
        problems.append("more than one think block")
    if completion[:start].strip():
        problems.append("text before <think>")
    if not completion[start + len(THINK_OPEN) : end].strip():
        problems.append("empty reasoning")
    answer = completion[end + len(THINK_CLOSE) :]
    if not answer.strip():
        problems.append("no answer after </think>")
    return problems


class FormatVerifier(BaseVerifier):
    """``<think>…</think>`` then an answer; ``partial`` credit for a flawed block.

    >>> FormatVerifier().verify(Problem(id="p", prompt=""), "<think>3+5=8 2+4=6</think> 68").score
    1.0
    """

    name: ClassVar[str] = "format"
    version: ClassVar[str] = "1"

    def __init__(self, partial: float = 0.5) -> None:
        if not 0.0 <= partial <= 1.0:
            raise ValueError(f"partial must be in [0, 1], not {partial}")
        self.partial = partial

    def verify(self, problem: Problem, completion: str) -> Verdict:
        problems = format_problems(completion)
        if problems is None:
            return self.failed("no closed <think> block")
        if problems:
            return self.failed("; ".join(problems), score=self.partial)
        return self.passed("well formed")
