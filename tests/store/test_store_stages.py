"""Rounds and stage status: what a resumed flow reads to skip work already done."""

from __future__ import annotations

import pytest
from tests.store.factories import RUN

from selftaught.errors import StoreError
from selftaught.records import Stage
from selftaught.store import StagePlacement, StageStatus, Store


def test_stage_lifecycle_running_done_failed_restarted(store_with_run: Store):
    store = store_with_run
    assert store.stage_status(RUN, 0) == {}  # never started: absent, not "pending"
    store.start_stage(RUN, 0, Stage.GENERATE)
    assert store.stage_status(RUN, 0) == {Stage.GENERATE: "running"}
    store.finish_stage(RUN, 0, Stage.GENERATE, seconds=1.5, metrics={"n": 8})
    store.start_stage(RUN, 0, Stage.JUDGE)
    store.fail_stage(RUN, 0, Stage.JUDGE, error="Traceback ...\nBoom")
    status = store.stage_status(RUN, 0)
    assert status == {Stage.GENERATE: StageStatus.DONE, Stage.JUDGE: StageStatus.FAILED}
    assert isinstance(status[Stage.GENERATE], str)
    store.start_stage(RUN, 0, Stage.JUDGE)  # the retry
    store.finish_stage(RUN, 0, Stage.JUDGE, seconds=0.25, metrics={})
    assert store.stage_status(RUN, 0) == {Stage.GENERATE: "done", Stage.JUDGE: "done"}
    (row,) = store.round_table(RUN)
    assert row.seconds == {"generate": 1.5, "judge": 0.25}
    assert row.stages_done == ("generate", "judge")


def test_a_stage_records_where_it_ran_its_model_until_it_runs_again(store_with_run: Store):
    store = store_with_run
    store.start_stage(RUN, 0, Stage.TRAIN)
    store.finish_stage(RUN, 0, Stage.TRAIN, seconds=2.0, metrics={}, device="cuda", dtype="float16",
                       peak_gpu_mb=512.25)  # fmt: skip
    store.finish_stage(RUN, 0, Stage.JUDGE, seconds=0.5, metrics={})  # no model: nothing recorded
    (row,) = store.round_table(RUN)
    assert row.placement == {"train": StagePlacement(device="cuda", dtype="float16", peak_gpu_mb=512.25)}
    store.start_stage(RUN, 0, Stage.TRAIN)  # a retry starts clean
    assert store.round_table(RUN)[0].placement == {}
    with pytest.raises(ValueError):
        store.finish_stage(RUN, 0, Stage.TRAIN, seconds=1.0, metrics={}, device="tpu", dtype="float32")


def test_finish_without_start_still_records_done(store_with_run: Store):
    store_with_run.finish_stage(RUN, 3, Stage.TRAIN, seconds=2.0, metrics={"loss": 0.5})
    assert store_with_run.stage_status(RUN, 3) == {Stage.TRAIN: "done"}


def test_last_round_index_and_ensure_round(store_with_run: Store):
    store = store_with_run
    assert store.last_round_index(RUN) is None
    store.ensure_round(RUN, 0)
    store.ensure_round(RUN, 0)
    store.ensure_round(RUN, 2, constitution_hash="abc")
    store.ensure_round(RUN, 2, constitution_hash="abc")
    assert store.last_round_index(RUN) == 2
    assert [r.index for r in store.round_table(RUN)] == [0, 2]
    assert store.round_table(RUN)[1].constitution_hash == "abc"
    with pytest.raises(StoreError, match="constitution"):
        store.ensure_round(RUN, 2, constitution_hash="def")


def test_rounds_belong_to_a_known_run(store: Store):
    with pytest.raises(StoreError, match="unknown run"):
        store.ensure_round("ghost", 0)
    with pytest.raises(StoreError, match="unknown run"):
        store.start_stage("ghost", 0, Stage.GENERATE)
    assert store.last_round_index("ghost") is None
