"""verify: a tiny final-answer judge for the embedded task.

In: a problem (with its gold ``answer``) and a completion. Out: a ``Verdict`` from the
judge named ``"arithmetic"``: pass (score 1) when the final answer equals the gold
answer as a number, fail (score 0) otherwise, error when the problem has no answer.

The final answer is the first number after the last ``</think>``; a completion with
no ``</think>`` is read for its last number instead. Numbers compare by value
(``"068"`` equals ``"68"``, ``"1,024"`` equals ``"1024"``); a non-numeric gold answer
compares as stripped text. This judge never evaluates anything it reads. Its verdicts'
version is a hash of its options and revision (``arithmetic_version``).

The judges package (``selftaught.judges``) holds the hardened, general judges; the
loops take any ``judge_fn(problem, completion) -> Verdict`` so it can be swapped in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar
from decimal import Decimal, InvalidOperation

from selftaught.errors import DataError
from selftaught.judges.base import BaseVerifier
from selftaught.judges.version import judge_version
from selftaught.loops.arithmetic import THINK_CLOSE
from selftaught.records import Judged, Outcome, Problem, Sample, Verdict

JUDGE_NAME = "arithmetic"
#: this judge's own revision; its verdicts' version hashes it with the options (``arithmetic_version``)
JUDGE_CODE_VERSION = "1"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")

JudgeFn = Callable[[Problem, str], Verdict]


def extract_answer(completion: str) -> str | None:
    """The final answer as written, or None.

    >>> extract_answer(" <think>3+5=8 2+4=6</think> 68")
    '68'
    >>> extract_answer("so it is 12, no, 13") is None, extract_answer("12, no, 13")
    (False, '13')
    """
    if THINK_CLOSE in completion:
        after = completion.rsplit(THINK_CLOSE, 1)[1]
        m = _NUMBER.search(after)
        return m.group(0).rstrip(",") if m else None
    found = _NUMBER.findall(completion)
    return found[-1].rstrip(",") if found else None


def _as_number(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def answers_equal(gold: str, answer: str) -> bool:
    """Numeric equality when both parse as numbers, else exact stripped text."""
    g, a = _as_number(gold.strip()), _as_number(answer.strip())
    if g is not None and a is not None:
        return g == a
    return gold.strip() == answer.strip()


def normalize_answer(answer: str | None) -> str | None:
    """A canonical key for majority voting: ``"068"`` and ``"68"`` vote together."""
    if answer is None:
        return None
    n = _as_number(answer)
    if n is None:
        return answer.strip()
    return str(int(n)) if n == n.to_integral_value() else str(n.normalize())


def arithmetic_version(answer_format: str = "free", strict: bool = False) -> str:
    """The version of the arithmetic judge's verdicts (``judges.version.judge_version``).

    Not strict, the answer format is never read, so it is not part of the configuration:

    >>> arithmetic_version("think") == arithmetic_version("boxed") != arithmetic_version("boxed", strict=True)
    True
    """
    config = {"answer_format": answer_format, "strict": True} if strict and answer_format != "free" else {"strict": False}
    return judge_version(JUDGE_NAME, config, JUDGE_CODE_VERSION)


#: the version of ``judge_arithmetic``'s verdicts
JUDGE_VERSION = arithmetic_version()


def judge_arithmetic(problem: Problem, completion: str) -> Verdict:
    """Pass when the final answer equals ``problem.answer``.

    >>> from selftaught.loops.arithmetic import make_problem
    >>> judge_arithmetic(make_problem(23, 45, 2), " <think>3+5=8 2+4=6</think> 68").outcome
    <Outcome.PASS: 'pass'>
    """
    if problem.answer is None:
        return Verdict(JUDGE_NAME, Outcome.ERROR, 0.0, "problem has no gold answer", JUDGE_VERSION)
    answer = extract_answer(completion)
    if answer is None:
        return Verdict(JUDGE_NAME, Outcome.FAIL, 0.0, "no final answer", JUDGE_VERSION)
    if answers_equal(problem.answer, answer):
        return Verdict(JUDGE_NAME, Outcome.PASS, 1.0, f"answer {answer[:40]}", JUDGE_VERSION)
    return Verdict(
        JUDGE_NAME, Outcome.FAIL, 0.0, f"answer {answer[:40]} != {problem.answer[:40]}", JUDGE_VERSION
    )


def arithmetic_judge(answer_format: str = "think", strict: bool = False) -> JudgeFn:
    """The arithmetic judge for a prompt's answer format.

    Not strict (the embedded task's default): ``judge_arithmetic`` itself. Strict: only the
    instructed format counts (``judges.extract.extract_answer(..., strict=True)``: a boxed
    answer, "the answer is N", or the text after a closed ``</think>``); the verdict's
    version says so.

    >>> from selftaught.loops.arithmetic import make_problem
    >>> judge = arithmetic_judge("boxed", strict=True)
    >>> judge(make_problem(2, 3, 1), "2+3 = 5").outcome, judge(make_problem(2, 3, 1), "\\\\boxed{5}").outcome
    (<Outcome.FAIL: 'fail'>, <Outcome.PASS: 'pass'>)
    """
    if not strict or answer_format == "free":
        return judge_arithmetic
    from selftaught.judges.extract import extract_answer as extract_strict

    version = arithmetic_version(answer_format, strict)

    def judge(problem: Problem, completion: str) -> Verdict:
        if problem.answer is None:
            return Verdict(JUDGE_NAME, Outcome.ERROR, 0.0, "problem has no gold answer", version)
        answer = extract_strict(completion, answer_format, strict=True)
        if answer is None:
            return Verdict(JUDGE_NAME, Outcome.FAIL, 0.0, f"no final answer in the {answer_format} format", version)
        if answers_equal(problem.answer, answer):
            return Verdict(JUDGE_NAME, Outcome.PASS, 1.0, f"answer {answer[:40]}", version)
        return Verdict(JUDGE_NAME, Outcome.FAIL, 0.0, f"answer {answer[:40]} != {problem.answer[:40]}", version)

    return judge


class ArithmeticVerifier(BaseVerifier):
    """``arithmetic_judge(answer_format, strict)`` as a judges ``Verifier`` (``selftaught rejudge``).

    >>> from selftaught.loops.arithmetic import make_problem
    >>> v = ArithmeticVerifier("boxed", strict=True)
    >>> v.verify(make_problem(2, 3, 1), "\\boxed{5}").judge_version == v.version == arithmetic_version("boxed", True)
    True
    """

    name: ClassVar[str] = JUDGE_NAME

    def __init__(self, answer_format: str = "free", strict: bool = False) -> None:
        from selftaught.judges.extract import ANSWER_FORMATS

        if answer_format not in ANSWER_FORMATS:
            raise ValueError(f"answer_format must be one of {', '.join(ANSWER_FORMATS)}, not {answer_format!r}")
        self.judge = arithmetic_judge(answer_format, strict)
        self._version = arithmetic_version(answer_format, strict)

    @property
    def version(self) -> str:
        return self._version

    def verify(self, problem: Problem, completion: str) -> Verdict:
        return self.judge(problem, completion)


def judge_all(
    samples: Sequence[Sample],
    problems_by_id: Mapping[str, Problem],
    judge_fn: JudgeFn = judge_arithmetic,
) -> list[Judged]:
    """Judge every sample against its own problem, in order."""
    out = []
    for s in samples:
        problem = problems_by_id.get(s.problem_id)
        if problem is None:
            raise DataError(f"sample {s.key} refers to unknown problem {s.problem_id!r}")
        out.append(Judged(sample=s, verdict=judge_fn(problem, s.completion)))
    return out
