"""The keyword judge: does the completion mention the problem's keywords?

In: a ``Problem`` with ``keywords`` and a completion. Out: a ``Verdict`` named
``"keyword"``; score = fraction of keywords found (mode ``"all"``) or 1/0 (mode
``"any"``). Matching is case-insensitive, on the text after ``</think>``, with word
boundaries where the keyword starts/ends with a word character.

This is a ROUGH judge: it cannot tell "Paris" from "not Paris". Use it for smoke tests
and as a small shaping term in a weighted combination, not as a correctness signal.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from selftaught.judges.base import BaseVerifier, after_think
from selftaught.records import Problem, Verdict


def keywords_found(keywords: tuple[str, ...], completion: str) -> list[str]:
    """The keywords present in the completion's answer, in the problem's order.

    >>> keywords_found(("Paris", "France", "ice"), "<think>hmm</think> paris is in FRANCE, nice")
    ['Paris', 'France']
    """
    text = after_think(completion)
    if text is None:
        return []
    found = []
    for keyword in keywords:
        k = keyword.strip()
        if not k:
            continue
        left = r"(?<!\w)" if re.match(r"\w", k) else ""
        right = r"(?!\w)" if re.search(r"\w$", k) else ""
        if re.search(left + re.escape(k) + right, text, re.IGNORECASE):
            found.append(keyword)
    return found


class KeywordVerifier(BaseVerifier):
    """All (default) or any of the problem's keywords, case-insensitive; rough."""

    name: ClassVar[str] = "keyword"
    reads: ClassVar[tuple[str, ...]] = ("keywords",)

    def __init__(self, mode: Literal["all", "any"] = "all") -> None:
        if mode not in ("all", "any"):
            raise ValueError(f"mode must be 'all' or 'any', not {mode!r}")
        self.mode = mode

    def verify(self, problem: Problem, completion: str) -> Verdict:
        wanted = tuple(k for k in problem.keywords if k.strip())
        if not wanted:
            return self.error(f"problem {problem.id!r} has no keywords")
        found = keywords_found(wanted, completion)
        if self.mode == "any":
            return self.passed(f"found {found[0]!r}") if found else self.failed("none found")
        missing = [k for k in wanted if k not in found]
        if not missing:
            return self.passed(f"all {len(wanted)} found")
        return self.failed(f"missing {missing}", score=len(found) / len(wanted))
