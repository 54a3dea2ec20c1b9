"""The multiple-choice judge: did the completion pick the gold option?

In: a ``Problem`` with ``choices`` (options in order: A, B, ...) and ``answer`` (the
gold letter, or the gold option's text), and a completion. Out: a ``Verdict`` named
``"choice"``, score 1 or 0.

The pick is read from the text after ``</think>``, trying in order: ``\\boxed{B}``;
"answer: B" / "the answer is (B)"; the last "(B)"; a reply that is only a letter;
the option text itself (the option mentioned last wins); a final lone capital letter
("... so B."). Bare letters must be capitals ("the answer is a prime" is not A).
"""

from __future__ import annotations

import re
import string
from typing import ClassVar

from selftaught.judges.base import BaseVerifier, after_think
from selftaught.records import Problem, Verdict

_LETTERS = string.ascii_uppercase


def _letter_patterns(n: int) -> list[re.Pattern[str]]:
    cls = f"[A-{_LETTERS[max(n, 1) - 1]}]"
    low = cls.lower()
    return [
        re.compile(rf"\\boxed\{{\s*\(?({cls}|{low})\)?\s*\}}"),
        re.compile(rf"(?i:answer)(?:\s+is)?\s*[:：]?\s*(?:\(({cls}|{low})\)|({cls})\b)"),
        re.compile(rf"\(({cls})\)"),
        re.compile(rf"^\s*\(?({cls})\)?[.:)]?\s*$"),
    ]


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")


def gold_index(choices: tuple[str, ...], answer: str | None) -> int | None:
    """Index of the gold option from a letter or the option's text.

    >>> gold_index(("red", "blue"), "B"), gold_index(("red", "blue"), "red"), gold_index(("red",), "Z")
    (1, 0, None)
    """
    if answer is None:
        return None
    a = answer.strip().strip("()").strip()
    if len(a) == 1 and a.upper() in _LETTERS[: len(choices)]:
        return _LETTERS.index(a.upper())
    for i, choice in enumerate(choices):
        if _norm(choice) == _norm(answer):
            return i
    return None


def picked_index(choices: tuple[str, ...], completion: str) -> int | None:
    """Which option the completion chose, or None.

    >>> opts = ("Paris", "Rome", "Oslo")
    >>> [picked_index(opts, t) for t in ["Answer: B", "I think (C)", "It is Paris.", "a prime"]]
    [1, 2, 0, None]
    """
    text = after_think(completion)
    if text is None or not choices:
        return None
    for pattern in _letter_patterns(len(choices)):
        last = None
        for m in pattern.finditer(text):
            last = next(g for g in m.groups() if g)
        if last is not None:
            return _LETTERS.index(last.upper())
    lowered = text.lower()
    best: tuple[int, int, int] | None = None  # (end position, length, index)
    for i, choice in enumerate(choices):
        needle = _norm(choice)
        if not needle:
            continue
        for m in re.finditer(rf"(?<!\w){re.escape(needle)}(?!\w)", lowered):
            candidate = (m.end(), len(needle), i)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    if best is not None:
        return best[2]
    m = re.search(rf"\b([A-{_LETTERS[len(choices) - 1]}])\b[.!]?\s*$", text)
    return _LETTERS.index(m.group(1)) if m else None


class ChoiceVerifier(BaseVerifier):
    """Multiple choice by letter or option text.

    >>> p = Problem(id="q", prompt="Capital of Italy?", choices=("Paris", "Rome"), answer="B")
    >>> ChoiceVerifier().verify(p, "<think>Italy</think> Answer: (B)").outcome
    <Outcome.PASS: 'pass'>
    """

    name: ClassVar[str] = "choice"
    reads: ClassVar[tuple[str, ...]] = ("choices", "answer")

    def verify(self, problem: Problem, completion: str) -> Verdict:
        if not problem.choices:
            return self.error(f"problem {problem.id!r} has no choices")
        gold = gold_index(problem.choices, problem.answer)
        if gold is None:
            return self.error(f"gold answer {problem.answer!r} is not a letter or an option")
        picked = picked_index(problem.choices, completion)
        if picked is None:
            return self.failed("no option picked")
        letter = _LETTERS[picked]
        if picked == gold:
            return self.passed(f"picked {letter}")
        return self.failed(f"picked {letter}, gold {_LETTERS[gold]}")
