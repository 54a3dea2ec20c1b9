"""The format judge: does the completion follow the answer format the prompt asked for?

In: a completion (the problem is not consulted). Out: a ``Verdict`` named
``"format"``. What "the format" is depends on ``style`` (a recipe's
``prompt.answer_format``):

- ``think`` (R1's, the embedded model's): full marks (PASS, score 1) for optional
  whitespace, exactly one ``<think>`` block with non-empty reasoning, then a non-empty
  answer. A closed think block that breaks another rule (text before it, several blocks,
  empty reasoning, no answer after it) gets ``partial`` credit (FAIL); none scores 0.
- ``boxed``: exactly one non-empty ``\\boxed{...}`` (after any closed think block) passes;
  several boxes get ``partial``; none scores 0. "2 + 6 = 8. The answer is \\boxed{8}." passes
  -- plain reasoning needs no ``<think>`` block.
- ``answer_is``: a "The answer is N" (or "Answer: N") with something after it passes.

This is the R1-style format reward: add it to a correctness judge with a small
weight (``{"math": 1.0, "format": 0.2}``), never use it alone.
"""

from __future__ import annotations

from typing import ClassVar

from selftaught.judges.base import THINK_CLOSE, THINK_OPEN, BaseVerifier, after_think
from selftaught.records import Problem, Verdict

STYLES = ("think", "boxed", "answer_is")

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


def count_boxes(completion: str) -> int | None:
    """Non-empty ``\\boxed{...}`` answers after the reasoning; None if the reasoning never closed.

    >>> count_boxes("2 + 6 = 8, so \\\\boxed{8}."), count_boxes("8"), count_boxes("<think>x")
    (1, 0, None)
    """
    text = after_think(completion)
    if text is None:
        return None
    from selftaught.judges.extract import _last_boxed

    n = 0
    rest = text
    while (i := rest.find("\\boxed")) >= 0:
        rest = rest[i:]
        inner = _last_boxed(rest[: _box_end(rest)])
        n += bool(inner and inner.strip())
        rest = rest[len("\\boxed") :]
    return n


def _box_end(text: str) -> int:
    """End (exclusive) of the first ``\\boxed{...}`` at the start of ``text`` (or its length)."""
    depth = 0
    for i, c in enumerate(text):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


class FormatVerifier(BaseVerifier):
    """The instructed answer format (``style``); ``partial`` credit for a flawed one.

    >>> FormatVerifier().verify(Problem(id="p", prompt=""), "<think>3+5=8 2+4=6</think> 68").score
    1.0
    >>> FormatVerifier(style="boxed").verify(Problem(id="p", prompt=""), "2 + 6 = 8. The answer is \\\\boxed{8}.").score
    1.0
    """

    name: ClassVar[str] = "format"

    def __init__(self, partial: float = 0.5, style: str = "think") -> None:
        if not 0.0 <= partial <= 1.0:
            raise ValueError(f"partial must be in [0, 1], not {partial}")
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
        self.partial = partial
        self.style = style

    def verify(self, problem: Problem, completion: str) -> Verdict:
        if self.style == "boxed":
            n = count_boxes(completion)
            if not n:
                return self.failed("no \\boxed{} answer" if n == 0 else "reasoning never closed")
            if n > 1:
                return self.failed(f"{n} boxed answers", score=self.partial)
            return self.passed("one boxed answer")
        if self.style == "answer_is":
            from selftaught.judges.extract import extract_answer

            if extract_answer(completion, "answer_is", strict=True) is None:
                return self.failed("no 'The answer is ...'")
            return self.passed("states the answer")
        problems = format_problems(completion)
        if problems is None:
            return self.failed("no closed <think> block")
        if problems:
            return self.failed("; ".join(problems), score=self.partial)
        return self.passed("well formed")
