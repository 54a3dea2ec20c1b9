"""verify: the judge stage of a round -- every sample judged against its own problem.

In: samples, their problems by id, and a judge (any ``judges.Verifier``; the default is
the embedded task's ``arithmetic`` judge). Out: one ``Judged`` per sample, in order.

The judges themselves live in ``selftaught.judges`` and are made from a recipe's name by
``judges.registry`` (``judge_for``); this module only pairs samples with problems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from selftaught.errors import DataError
from selftaught.judges.arithmetic import ArithmeticVerifier
from selftaught.judges.base import Verifier
from selftaught.records import Judged, Problem, Sample

#: the embedded task's judge, lenient (any answer format): the loops' default
ARITHMETIC: Verifier = ArithmeticVerifier()


def judge_all(
    samples: Sequence[Sample],
    problems_by_id: Mapping[str, Problem],
    judge: Verifier = ARITHMETIC,
) -> list[Judged]:
    """Judge every sample against its own problem, in order (``judge.verify_batch``)."""
    missing = next((s for s in samples if s.problem_id not in problems_by_id), None)
    if missing is not None:
        raise DataError(f"sample {missing.key} refers to unknown problem {missing.problem_id!r}")
    verdicts = judge.verify_batch([(problems_by_id[s.problem_id], s.completion) for s in samples])
    return [Judged(sample=s, verdict=v) for s, v in zip(samples, verdicts)]
