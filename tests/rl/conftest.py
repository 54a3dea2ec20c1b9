"""Fixtures for the RL/DPO/curriculum tests: judged samples built by hand, a micro policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.loops.arithmetic import make_problem
from selftaught.records import Judged, Outcome, Sample, SampleSource, SamplingParams, Verdict


def judged(problem_id: str, index: int, completion: str, outcome: Outcome, prompt: str = "Q") -> Judged:
    """One judged GENERATE sample with the given outcome (score 1 for PASS, else 0)."""
    sample = Sample(problem_id, index, prompt, completion, SampleSource.GENERATE, 0, SamplingParams())
    return Judged(sample, Verdict("arithmetic", outcome, 1.0 if outcome is Outcome.PASS else 0.0))


@pytest.fixture
def two_problems():
    """23+45 and 27+45 (a carry)."""
    return [make_problem(23, 45, 2), make_problem(27, 45, 2)]


@pytest.fixture(scope="session")
def micro_policy_path(tmp_path_factory) -> str:
    """A freshly initialised (untrained) micro Llama policy saved with a manifest (~0.2M params)."""
    from selftaught.loops.tinymodel import init_policy

    return init_policy(Path(tmp_path_factory.mktemp("micro")) / "init", seed=0, size="micro")
