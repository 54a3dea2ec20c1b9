"""round_table: the per-round history the CLI prints and the plots read."""

from __future__ import annotations

from tests.store.factories import RUN, make_judged, make_sample

from selftaught.records import (
    Checkpoint,
    Evaluation,
    Outcome,
    SampleSource,
    Split,
    Stage,
    TrainingExample,
    TrainingSet,
)
from selftaught.store import ROUND_TABLE_KEYS, Store


def test_round_table_summarizes_each_round(store_with_run: Store):
    store = store_with_run
    store.ensure_round(RUN, 0, constitution_hash="c0")
    gen = [make_sample(p, i) for p in ("add-1", "add-2") for i in range(2)]
    rat = make_sample("add-2", 0, source=SampleSource.RATIONALIZE)
    store.add_samples(RUN, 0, gen + [rat])
    # add-1/0 passes both judges; add-1/1 fails one of two; add-2/0 passes; add-2/1 unjudged
    store.add_verdicts(RUN, 0, [
        make_judged(gen[0]), make_judged(gen[0], judge="format"),
        make_judged(gen[1]), make_judged(gen[1], Outcome.FAIL, judge="format"),
        make_judged(gen[2]), make_judged(rat),
    ])  # fmt: skip
    store.add_training_set(RUN, 0, TrainingSet("rft", (
        TrainingExample("1+1=?", "2", "add-1", gen[0].key),
        TrainingExample("2+3=?", "5", "add-2", rat.key),
    )))  # fmt: skip
    placements = {Stage.GENERATE: {"device": "cpu", "dtype": "float32"}, Stage.JUDGE: {},  # no model
                  Stage.TRAIN: {"device": "cuda", "dtype": "bfloat16", "peak_gpu_mb": 2048.5}}  # fmt: skip
    for stage, secs in [(Stage.GENERATE, 3.0), (Stage.JUDGE, 1.0), (Stage.TRAIN, 9.0)]:
        store.start_stage(RUN, 0, stage)
        store.finish_stage(RUN, 0, stage, seconds=secs, metrics={}, **placements[stage])
    store.start_stage(RUN, 0, Stage.EVALUATE)
    store.add_checkpoint(RUN, Checkpoint("base", "/b", "0"))
    store.add_checkpoint(RUN, Checkpoint("c0", "/c0", "1", parent_id="base", round_index=0))
    store.add_evaluation(RUN, 0, Evaluation("c0", Split.HELDOUT, 10, 1, 0.4, 0.35, 0.35, 0.35))
    store.add_evaluation(RUN, 0, Evaluation("c0", Split.HELDOUT, 10, 8, 0.4, 0.35, 0.8, 0.5))
    store.add_evaluation(RUN, 0, Evaluation("c0", Split.TRAIN, 10, 8, 0.9, 0.9, 0.9, 0.9))
    store.ensure_round(RUN, 1)

    r0, r1 = store.round_table(RUN)
    assert list(r0.as_dict()) == list(ROUND_TABLE_KEYS)
    assert r0.as_dict() == {
        "index": 0,
        "stages_done": ["generate", "judge", "train"],
        "stage_status": {"generate": "done", "judge": "done", "train": "done",
                         "evaluate": "running"},
        "n_samples": 5,
        "n_generate": 4,
        "n_rationalized": 1,
        "n_judged": 3,
        "pass_rate": 2 / 3,
        "n_train": 2,
        "n_train_rationalized": 1,
        "checkpoint_id": "c0",
        "heldout_k": 8,
        "heldout_greedy": 0.4,
        "heldout_pass_at_1": 0.35,
        "heldout_pass_at_k": 0.8,
        "heldout_maj_at_k": 0.5,
        "seconds": {"generate": 3.0, "judge": 1.0, "train": 9.0},
        "placement": {"generate": {"device": "cpu", "dtype": "float32", "peak_gpu_mb": None},
                      "train": {"device": "cuda", "dtype": "bfloat16", "peak_gpu_mb": 2048.5}},
        "constitution_hash": "c0",
        "wall_seconds": None,
    }  # fmt: skip
    assert r1.index == 1 and r1.n_samples == 0 and r1.pass_rate is None
    assert r1.stages_done == () and r1.checkpoint_id is None and r1.placement == {}
    assert store.round_table("other") == []
    assert r0.orchestration_share is None  # no wall time recorded: `rounds RUN` shows "-"

    # the wall time the run measured is kept, so `rounds RUN` shows the share the run printed
    store.record_round_wall(RUN, 0, 20.0)
    assert store.round_table(RUN)[0].wall_seconds == 20.0
    assert store.round_table(RUN)[0].orchestration_share == (20.0 - 13.0) / 20.0  # 13 s in the stages
    assert store.get_training_set(RUN, 0) is not None  # the round's other metrics are kept
