"""verify: the judge stage of a round -- every sample judged against its own problem.

In: samples, their problems by id, and a judge (any ``judges.Verifier``; the default is
the embedded task's ``arithmetic`` judge). Out: one ``Judged`` per sample, in order.

The judges themselves live in ``selftaught.judges`` and are made from a recipe's name by
``judges.registry`` (``judge_for``); this module only pairs samples with problems.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from selftaught.errors import DataError
from selftaught.judges.arithmetic import ArithmeticVerifier
from selftaught.judges.base import Verifier
from selftaught.records import Judged, Problem, Sample

#: the embedded task's judge, lenient (any answer format): the loops' default
ARITHMETIC: Verifier = ArithmeticVerifier()
#: samples per ``verify_batch`` call when the caller follows progress (a worker pool's
#: batch: large enough to keep its workers busy)
PROGRESS_BATCH = 512


def judge_all(
    samples: Sequence[Sample],
    problems_by_id: Mapping[str, Problem],
    judge: Verifier = ARITHMETIC,
    progress: Callable[[int], None] | None = None,
) -> list[Judged]:
    """Judge every sample against its own problem, in order (``judge.verify_batch``).

    With ``progress``: ``verify_batch`` takes ``PROGRESS_BATCH`` samples at a time and
    ``progress(samples_judged)`` follows each (verdicts do not depend on the batching)."""
    missing = next((s for s in samples if s.problem_id not in problems_by_id), None)
    if missing is not None:
        raise DataError(f"sample {missing.key} refers to unknown problem {missing.problem_id!r}")
    pairs = [(problems_by_id[s.problem_id], s.completion) for s in samples]
    if progress is None:
        verdicts = judge.verify_batch(pairs)
    else:
        verdicts = []
        for start in range(0, len(pairs), PROGRESS_BATCH):
            verdicts += judge.verify_batch(pairs[start : start + PROGRESS_BATCH])
            progress(len(verdicts))
    return [Judged(sample=s, verdict=v) for s, v in zip(samples, verdicts)]
