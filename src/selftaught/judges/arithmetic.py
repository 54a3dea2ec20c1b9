"""The arithmetic judge: the embedded task's final-answer judge, registered as ``arithmetic``.

In: a problem with its gold ``answer`` and an untrusted completion. Out: a ``Verdict``
named ``"arithmetic"``: pass (score 1) when the final answer equals the gold answer as a
number (``"068"`` equals ``"68"``, ``"1,024"`` equals ``"1024"``; a non-numeric gold
answer compares as stripped text), fail (score 0) otherwise, error when the problem has
no answer.

The final answer is read by the one extractor (``judges.extract.extract_answer``): after
the last ``</think>``, the last boxed / "the answer is" / inline-math / number; a
``<think>`` never closed has none. Strict (``strict=True`` with an instructed
``answer_format``), only that format counts. Unlike ``math`` it needs no sympy and no
worker process: plain numbers compare with ``Decimal``. It never evaluates what it reads.

Its verdicts' version hashes only what changes them (``arithmetic_version``): not strict,
the answer format is never read, so it is not part of the version.
"""

from __future__ import annotations

from typing import ClassVar

from selftaught.judges.base import BaseVerifier
from selftaught.judges.extract import ANSWER_FORMATS, answers_equal, extract_answer
from selftaught.judges.version import judge_version
from selftaught.records import Problem, Verdict

NAME = "arithmetic"
#: this judge's own revision; bump it when a change to its code changes verdicts
CODE_REVISION = "1"


def arithmetic_version(answer_format: str = "free", strict: bool = False) -> str:
    """The version of the arithmetic judge's verdicts (``judges.version.judge_version``).

    >>> arithmetic_version("think") == arithmetic_version("boxed") != arithmetic_version("boxed", strict=True)
    True
    """
    config = {"answer_format": answer_format, "strict": True} if strict and answer_format != "free" else {"strict": False}
    return judge_version(NAME, config, CODE_REVISION)


class ArithmeticVerifier(BaseVerifier):
    """Pass when the final answer equals ``problem.answer`` as a number.

    >>> p68, p5 = Problem(id="a", prompt="23+45=?", answer="68"), Problem(id="b", prompt="2+3=?", answer="5")
    >>> ArithmeticVerifier().verify(p68, " <think>3+5=8 2+4=6</think> 68").outcome
    <Outcome.PASS: 'pass'>
    >>> strict = ArithmeticVerifier("boxed", strict=True)
    >>> strict.verify(p5, "2+3 = 5").outcome, strict.verify(p5, "\\\\boxed{5}").outcome
    (<Outcome.FAIL: 'fail'>, <Outcome.PASS: 'pass'>)
    """

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = ("answer",)
    plain_answers: ClassVar[bool] = True
    code_revision: ClassVar[str] = CODE_REVISION

    def __init__(self, answer_format: str = "free", strict: bool = False) -> None:
        if answer_format not in ANSWER_FORMATS:
            raise ValueError(f"answer_format must be one of {', '.join(ANSWER_FORMATS)}, not {answer_format!r}")
        self.strict = bool(strict) and answer_format != "free"
        self.answer_format = answer_format if self.strict else "free"

    @property
    def version(self) -> str:
        return arithmetic_version(self.answer_format, self.strict)

    def verify(self, problem: Problem, completion: str) -> Verdict:
        if problem.answer is None:
            return self.error("problem has no gold answer")
        answer = extract_answer(completion, self.answer_format, strict=self.strict, plain=self.plain_answers)
        if answer is None:
            where = f" in the {self.answer_format} format" if self.strict else ""
            return self.failed(f"no final answer{where}")
        if answers_equal(problem.answer, answer):
            return self.passed(f"answer {answer[:40]}")
        return self.failed(f"answer {answer[:40]} != {problem.answer[:40]}")
