"""A weighted combination of verifiers, e.g. ``1.0 × math + 0.2 × format``.

In: (verifier, weight) parts. Out: a ``Verdict`` whose score is the weighted mean
``Σ wᵢ·sᵢ / Σ wᵢ`` (so it stays in [0, 1]; a GRPO advantage is unchanged by the
constant factor) and whose detail lists every part. The outcome is PASS only if every
part passed; otherwise ERROR if any part errored, else TIMEOUT if any timed out, else
FAIL — so a correctness judge that timed out is never hidden behind a format bonus.
Batches go to each part's ``verify_batch`` (the math pool stays parallel).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from selftaught.judges.base import BaseVerifier, Verifier, clip
from selftaught.judges.version import judge_version
from selftaught.records import Outcome, Problem, Verdict


class WeightedVerifier(BaseVerifier):
    """Weighted mean of several verifiers' scores.

    >>> from selftaught.judges.think_format import FormatVerifier
    >>> from selftaught.judges.keywords import KeywordVerifier
    >>> v = WeightedVerifier([(KeywordVerifier(), 1.0), (FormatVerifier(), 0.25)])
    >>> v.verify(Problem(id="p", prompt="", keywords=("68",)), "<think>3+5=8</think> 68").score
    1.0
    """

    name: ClassVar[str] = "weighted"

    def __init__(self, parts: Sequence[tuple[Verifier, float]]) -> None:
        if not parts:
            raise ValueError("a weighted combination needs at least one part")
        if any(w < 0 for _, w in parts) or sum(w for _, w in parts) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        self.parts = tuple(parts)
        self.total = float(sum(w for _, w in parts))
        self.label = "+".join(f"{w:g}*{v.name}" for v, w in parts)

    @property
    def version(self) -> str:
        """A hash of the parts' names, versions and weights."""
        parts = [[v.name, v.version, w] for v, w in self.parts]
        return judge_version("weighted", {"parts": parts}, self.code_version())

    def verify(self, problem: Problem, completion: str) -> Verdict:
        return self.verify_batch([(problem, completion)])[0]

    def verify_batch(self, pairs: Sequence[tuple[Problem, str]]) -> list[Verdict]:
        columns = [verifier.verify_batch(pairs) for verifier, _ in self.parts]
        return [self.combine(list(row)) for row in zip(*columns)] if pairs else []

    def combine(self, verdicts: list[Verdict]) -> Verdict:
        outcomes = {v.outcome for v in verdicts}
        if outcomes == {Outcome.PASS}:
            outcome = Outcome.PASS
        elif Outcome.ERROR in outcomes:
            outcome = Outcome.ERROR
        elif Outcome.TIMEOUT in outcomes:
            outcome = Outcome.TIMEOUT
        else:
            outcome = Outcome.FAIL
        score = sum(v.score * w for v, (_, w) in zip(verdicts, self.parts)) / self.total
        detail = " | ".join(
            f"{v.judge}={v.outcome.value}({v.score:.2f}): {v.detail}" for v in verdicts
        )
        return Verdict(
            judge=self.label,
            outcome=outcome,
            score=min(1.0, max(0.0, score)),
            detail=clip(detail),
            judge_version=self.version,
        )
