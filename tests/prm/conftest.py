"""Fixtures for the prm tests: a store on each backend holding one generated round, and
one real micro policy (untrained, built from a config) for the real-model paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selftaught.loops.arithmetic import make_problem
from selftaught.records import (
    Judged,
    Sample,
    SampleSource,
    SamplingParams,
)
from selftaught.store import Store
from tests.store.factories import BACKENDS, pg_schema

RUN = "prm-run"
PARAMS = SamplingParams(temperature=1.0, max_new_tokens=32)
PROBLEMS = [make_problem(27, 45, 2), make_problem(23, 45, 2), make_problem(87, 45, 2), make_problem(31, 12, 2)]
COMPLETIONS = [  # per problem: a right and a wrong answer
    (" <think>7+5=12 2+4+1=7</think> 72", " <think>7+5=12 2+4=6</think> 62"),
    (" <think>3+5=8 2+4=6</think> 68", " <think>3+5=8 2+4=7</think> 78"),
    (" <think>7+5=12 8+4+1=13</think> 132", " <think>7+5=12 8+4=12</think> 122"),
    (" <think>1+2=3 3+1=4</think> 43", " <think>1+2=4 3+1=4</think> 44"),
]


def round_samples(checkpoint_id: str | None = "policy") -> list[Judged]:
    from selftaught.loops.verify import ARITHMETIC

    out = []
    for p, pair in zip(PROBLEMS, COMPLETIONS):
        for i, c in enumerate(pair):
            s = Sample(p.id, i, p.prompt, c, SampleSource.GENERATE, 0, PARAMS, checkpoint_id=checkpoint_id)
            out.append(Judged(s, ARITHMETIC.verify(p, c)))
    return out


@pytest.fixture(params=BACKENDS)
def prm_store(request, tmp_path) -> Iterator[Store]:
    """A store (SQLite / PostgreSQL) with run RUN, round 1 holding 8 judged samples."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'prm.db'}")
        yield from _fill(store)
    else:
        with pg_schema() as url:
            yield from _fill(Store(url))


def _fill(store: Store) -> Iterator[Store]:
    store.create_run(RUN, name="prm", recipe={})
    store.add_problems(PROBLEMS)
    store.ensure_round(RUN, 1)
    judged = round_samples(checkpoint_id=None)
    store.add_samples(RUN, 1, [j.sample for j in judged])
    store.add_verdicts(RUN, 1, judged)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="session")
def micro_policy(tmp_path_factory) -> str:
    """A freshly initialised micro Llama policy (untrained) saved with a manifest."""
    from selftaught.loops.tinymodel import init_policy

    return init_policy(Path(tmp_path_factory.mktemp("prm-micro")) / "policy", seed=0, size="micro")
