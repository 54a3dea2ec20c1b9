"""Step labels and reward-model rows in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from selftaught.errors import StoreError
from selftaught.prm.label import StepLabel
from selftaught.records import Checkpoint
from tests.prm.conftest import RUN, round_samples


def _labels() -> list[StepLabel]:
    s = round_samples()[1].sample  # 27+45, the wrong one
    return [StepLabel(s.key, 0, "7+5=12", 8, 5), StepLabel(s.key, 1, "2+4=6", 8, 0), StepLabel(s.key, 2, "62", 1, 0)]


def test_step_labels_round_trip_once(prm_store):
    assert prm_store.add_step_labels(RUN, 1, _labels(), params={"seed": 3}) == 3
    assert prm_store.add_step_labels(RUN, 1, _labels()) == 0  # a re-run writes nothing twice
    assert prm_store.get_step_labels(RUN, 1) == _labels()
    assert prm_store.get_step_labels(RUN, 2) == []


@pytest.mark.parametrize("rollouts, successes", [(0, 0), (4, 5), (4, -1)])
def test_impossible_counts_are_refused_and_nothing_is_written(prm_store, rollouts, successes):
    bad = _labels()[:2] + [StepLabel(_labels()[2].sample_key, 2, "62", rollouts, successes)]
    with pytest.raises(StoreError, match="successes"):
        prm_store.add_step_labels(RUN, 1, bad)
    assert prm_store.get_step_labels(RUN, 1) == []


def test_labels_of_an_unstored_sample_are_refused(prm_store):
    with pytest.raises(StoreError, match="not stored"):
        prm_store.add_step_labels(RUN, 1, [StepLabel(("generate", "add2-27-45", 9), 0, "x", 1, 0)])
    assert prm_store.get_step_labels(RUN, 1) == []


def test_reward_models_are_checkpoints_with_a_kind(prm_store):
    orm = Checkpoint(id="orm-1", path="/tmp/orm", sha256="a" * 64, round_index=1)
    prm = Checkpoint(id="prm-1", path="/tmp/prm", sha256="b" * 64, round_index=1)
    prm_store.add_reward_model(RUN, orm, kind="orm", data={"rows": 8}, metrics={"auc": 0.7})
    prm_store.add_reward_model(RUN, prm, kind="prm")
    prm_store.add_reward_model(RUN, orm, kind="orm", metrics={"auc": 0.8})  # re-evaluated
    assert prm_store.get_checkpoint("orm-1").path == "/tmp/orm"
    got = prm_store.get_reward_model("orm-1")
    assert (got.kind, got.data, got.metrics, got.run_id) == ("orm", {"rows": 8}, {"auc": 0.8}, RUN)
    assert [r.checkpoint.id for r in prm_store.list_reward_models(kind="prm")] == ["prm-1"]
    assert len(prm_store.list_reward_models(run_id=RUN)) == 2
    assert prm_store.get_reward_model("nope") is None
    with pytest.raises(StoreError, match="already stored as a orm"):
        prm_store.add_reward_model(RUN, orm, kind="prm")
    with pytest.raises(StoreError, match="'orm' or 'prm'"):
        prm_store.add_reward_model(RUN, orm, kind="value")
