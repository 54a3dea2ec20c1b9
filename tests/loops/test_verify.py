"""The judge stage: every sample judged against its own problem (the arithmetic judge's own
table is tests/judges/test_arithmetic.py, the extractor's tests/judges/test_extract.py)."""

from __future__ import annotations

import pytest

from selftaught.errors import DataError
from selftaught.loops.verify import judge_all
from selftaught.records import Sample, SampleSource, SamplingParams


def test_judge_all_pairs_each_sample_with_its_own_problem(three_problems):
    params = SamplingParams()
    samples = [
        Sample(p.id, 0, p.prompt, p.solution, SampleSource.GENERATE, 0, params) for p in three_problems
    ]
    judged = judge_all(samples, {p.id: p for p in three_problems})
    assert [j.sample for j in judged] == samples
    assert all(j.verdict.passed for j in judged)
    wrong = [Sample(three_problems[0].id, 0, "", three_problems[1].solution, SampleSource.GENERATE, 0, params)]
    assert not judge_all(wrong, {p.id: p for p in three_problems})[0].verdict.passed
    with pytest.raises(DataError, match="unknown problem"):
        judge_all(samples, {})
