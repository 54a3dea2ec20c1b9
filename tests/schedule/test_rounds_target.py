"""How far one firing of a schedule takes a run (no Prefect: the rule alone)."""

from __future__ import annotations

import pytest

from selftaught.records import Stage
from selftaught.store import Store


@pytest.fixture
def store():
    with Store("sqlite://") as s:
        yield s


def _complete(store: Store, run_id: str, *indices: int) -> None:
    for i in indices:
        for stage in Stage:
            store.finish_stage(run_id, i, stage, seconds=0.1, metrics={})


def test_first_firing_runs_the_recipe_as_written(store):
    from selftaught.flows.schedule import rounds_target

    assert rounds_target(store, "new", recipe_rounds=3, extra_rounds=1) == 3


def test_later_firings_add_rounds_after_the_last_complete_one(store):
    from selftaught.flows.schedule import rounds_target

    store.create_run("r", name="r", recipe={})
    _complete(store, "r", 0, 1, 2, 3)
    assert rounds_target(store, "r", recipe_rounds=3, extra_rounds=1) == 4
    assert rounds_target(store, "r", recipe_rounds=3, extra_rounds=2) == 5
    assert rounds_target(store, "r", recipe_rounds=10, extra_rounds=1) == 10  # the plan first


def test_a_half_done_round_is_the_one_a_firing_adds(store):
    from selftaught.flows.schedule import rounds_target

    store.create_run("r", name="r", recipe={})
    _complete(store, "r", 0, 1)
    store.start_stage("r", 2, Stage.GENERATE)  # crashed mid-round
    assert rounds_target(store, "r", recipe_rounds=1, extra_rounds=1) == 2
