"""What every verifier is: ``verify(problem, completion) -> Verdict``, plus a batch form.

A verifier reads a problem's reference (answer, tests, choices, keywords) and one
untrusted completion, and says pass / fail / error / timeout with a score in [0, 1]
and a short detail. ``ERROR`` means the judge could not judge (its own failure, or a
problem without the reference it needs); ``TIMEOUT`` means the judge gave up at its
deadline. Neither is a wrong answer, and neither is ever reported as a silent 0.

Verifiers here are small objects so that options (deadlines, weights, partial credit)
are fixed once, when the recipe is read; the work itself is done by plain functions in
each module (``extract_answer``, ``grade_choice``, ...) that are easy to test alone.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from selftaught.judges.version import judge_version
from selftaught.records import Outcome, Problem, Verdict

#: Verdict details are for humans and logs: never longer than this.
MAX_DETAIL = 300

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


@runtime_checkable
class Verifier(Protocol):
    """What a judge is, to everything that judges: the loops, the flows, rejudge, the TRL adapter.

    One protocol rather than a bare ``(problem, completion) -> Verdict`` callable: a judge
    must carry its ``name`` and ``version`` (every verdict and every reward metric names
    them; ``rejudge`` keys on the version) and a batch form (the math judge's worker pool,
    the code judge's sandbox), and a function carries neither. Callers get one from
    ``judges.registry`` (``get_verifier``, ``judge_for``) and call ``judge.verify(...)``.
    """

    name: str
    version: str

    def verify(self, problem: Problem, completion: str) -> Verdict: ...

    def verify_batch(self, pairs: Sequence[tuple[Problem, str]]) -> list[Verdict]: ...


class BaseVerifier:
    """Shared plumbing: verdict construction, a sequential ``verify_batch`` and the version.

    ``options`` are the constructor's arguments, defaults filled in (recorded by ``__new__``
    so that every subclass has them without code of its own), less the resource-only ones
    named in ``unversioned``; ``version`` hashes them with ``code_version()``
    (``judges/version.py``): every verdict says which rule made it.
    """

    name: ClassVar[str] = "base"
    #: the ``Problem`` fields it reads; a recipe whose task's problems lack one fails at load
    reads: ClassVar[tuple[str, ...]] = ()
    #: its final answers are read plainly (``extract_answer(..., plain=True)``: numbers only);
    #: maj@k reads answers the way the judge does
    plain_answers: ClassVar[bool] = False
    #: the judge's own revision: bump it when a change to its code changes verdicts
    code_revision: ClassVar[str] = "1"
    #: constructor options that change how fast, not what, the judge decides
    unversioned: ClassVar[frozenset[str]] = frozenset({"workers"})
    options: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any):
        self = super().__new__(cls)
        bound = inspect.signature(cls.__init__).bind(self, *args, **kwargs)
        bound.apply_defaults()
        named = list(bound.arguments.items())[1:]
        self.options = {k: v for k, v in named if k not in cls.unversioned}
        return self

    @classmethod
    def code_version(cls) -> str:
        """The code behind the verdicts: ``code_revision`` (a judge leaning on a package adds its version)."""
        return cls.code_revision

    @property
    def version(self) -> str:
        return judge_version(self.name, self.options, self.code_version())

    def verify(self, problem: Problem, completion: str) -> Verdict:  # pragma: no cover
        raise NotImplementedError

    def verify_batch(self, pairs: Sequence[tuple[Problem, str]]) -> list[Verdict]:
        return [self.verify(problem, completion) for problem, completion in pairs]

    def verdict(self, outcome: Outcome, score: float, detail: str = "") -> Verdict:
        return Verdict(
            judge=self.name,
            outcome=outcome,
            score=float(score),
            detail=clip(detail),
            judge_version=self.version,
        )

    def passed(self, detail: str = "") -> Verdict:
        return self.verdict(Outcome.PASS, 1.0, detail)

    def failed(self, detail: str, score: float = 0.0) -> Verdict:
        return self.verdict(Outcome.FAIL, score, detail)

    def error(self, detail: str) -> Verdict:
        return self.verdict(Outcome.ERROR, 0.0, detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def clip(text: str, limit: int = MAX_DETAIL) -> str:
    """Bound a detail string, keeping its start and end.

    >>> clip("abcdefghijklmnopqrstuvwxyz", 12)
    'abcd…[19]…xyz'
    """
    text = str(text)
    if len(text) <= limit:
        return text
    keep = max(limit - 5, 2)  # the marker may add a few characters
    head, tail = keep - keep // 2, keep // 2
    cut = len(text) - head - tail
    return f"{text[:head]}…[{cut}]…{text[-tail:] if tail else ''}"


_CLOSE_RE = re.compile(re.escape(THINK_CLOSE), re.IGNORECASE)


def after_think(completion: str) -> str | None:
    """The part of a completion after its reasoning, or None if the reasoning never ended.

    A completion without any ``<think>`` is returned whole; one that opens ``<think>``
    but never closes it was cut off mid-thought and has no answer.

    >>> after_think("<think>3+5=8 2+4=6</think> 68")
    ' 68'
    >>> after_think("just 42")
    'just 42'
    >>> after_think("<think>still going") is None
    True
    """
    matches = list(_CLOSE_RE.finditer(completion))
    if matches:
        return completion[matches[-1].end() :]
    if THINK_OPEN in completion.lower():
        return None
    return completion
