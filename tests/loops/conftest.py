"""Fixtures for the loops tests: canned problems, a fake policy, and one real tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.loops.arithmetic import make_problem
from selftaught.loops.policy import FakePolicy


@pytest.fixture
def three_problems():
    """23+45, 27+45 (a carry) and 87+45 (a carry out of the top column)."""
    return [make_problem(23, 45, 2), make_problem(27, 45, 2), make_problem(87, 45, 2)]


@pytest.fixture
def fake_policy(three_problems):
    """Per prompt: one right and one wrong completion (23+45 only wrong ones)."""
    p0, p1, p2 = three_problems
    return FakePolicy(
        {
            p0.prompt: [" <think>3+5=8 2+4=6</think> 69", " <think>3+5=8 2+4=6</think> 67"],
            p1.prompt: [p1.solution, " <think>7+5=12 2+4=6</think> 62"],
            p2.prompt: [p2.solution, p2.solution, " <think></think> 1"],
        },
        default=lambda text: " <think>nothing</think> 0",
    )


@pytest.fixture(scope="session")
def micro_policy_path(tmp_path_factory) -> str:
    """A freshly initialised (untrained) micro Llama policy saved with a manifest."""
    from selftaught.loops.tinymodel import init_policy

    return init_policy(Path(tmp_path_factory.mktemp("micro")) / "init", seed=0, size="micro")
