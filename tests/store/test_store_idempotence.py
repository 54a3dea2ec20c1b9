"""Writing the same thing twice stores it once (Prefect retries are at-least-once)."""

from __future__ import annotations

import datetime as dt
import dataclasses

import pytest
from tests.store.factories import RUN, make_judged, make_sample

from selftaught.errors import StoreError
from selftaught.records import (
    Outcome,
    Problem,
    SampleSource,
    Split,
    TrainingExample,
    TrainingSet,
)
from selftaught.store import Store


def test_create_run_is_idempotent_and_reads_back(store: Store):
    assert store.create_run(RUN, name="first", recipe={"k": 4}) is True
    assert store.create_run(RUN, name="second", recipe={}) is False
    run = store.get_run(RUN)
    assert run.name == "first" and run.recipe == {"k": 4} and run.status == "created"
    assert run.created_at.tzinfo is not None and run.created_at.utcoffset() == dt.timedelta(0)
    store.set_run_status(RUN, "done")
    assert [r.status for r in store.list_runs()] == ["done"]
    assert store.get_run("nope") is None
    with pytest.raises(StoreError, match="unknown run"):
        store.set_run_status("nope", "done")


def test_problems_added_twice_are_stored_once_and_round_trip(store: Store, problems):
    assert store.add_problems(problems) == len(problems)
    assert store.add_problems(problems) == 0
    assert store.add_problems(problems + [Problem(id="new", prompt="?")]) == 1
    assert store.get_problems([p.id for p in problems]) == problems
    assert [p.id for p in store.get_problems(split=Split.HELDOUT)] == ["held-1"]
    assert store.get_problems(["mc-1", "missing", "add-1"]) == [problems[2], problems[0]]


def test_problem_readded_with_different_content_is_refused(store: Store, problems):
    store.add_problems(problems)
    changed = dataclasses.replace(problems[0], answer="3")
    with pytest.raises(StoreError, match="different content"):
        store.add_problems([changed])
    assert store.get_problems(["add-1"]) == [problems[0]]


def test_samples_and_verdicts_written_twice_are_stored_once(store_with_run: Store):
    store = store_with_run
    samples = [make_sample(p, i) for p in ("add-1", "add-2") for i in range(3)]
    assert store.add_samples(RUN, 0, samples) == 6
    assert store.add_samples(RUN, 0, samples) == 0
    extra = make_sample("add-1", 0, source=SampleSource.RATIONALIZE)
    assert store.add_samples(RUN, 0, samples + [extra]) == 1  # same key, other source

    judged = [make_judged(s, Outcome.PASS if s.index == 0 else Outcome.FAIL) for s in samples]
    assert store.add_verdicts(RUN, 0, judged) == 6
    assert store.add_verdicts(RUN, 0, judged) == 0
    assert store.add_verdicts(RUN, 0, [make_judged(samples[0], judge="format")]) == 1

    stored = store.get_samples(RUN, 0, source=SampleSource.GENERATE)
    assert stored == sorted(samples, key=lambda s: (s.problem_id, s.index))
    assert store.get_samples(RUN, 0, source=SampleSource.RATIONALIZE) == [extra]
    got = store.get_judged(RUN, 0, judge="math")
    assert sorted(got, key=lambda j: j.sample.key) == sorted(judged, key=lambda j: j.sample.key)
    assert len(store.get_judged(RUN, 0)) == 7


def test_verdict_of_a_sample_not_stored_raises_and_writes_nothing(store_with_run: Store):
    store = store_with_run
    stored, missing = make_sample("add-1", 0), make_sample("add-1", 1)
    store.add_samples(RUN, 0, [stored])
    with pytest.raises(StoreError, match="not stored"):
        store.add_verdicts(RUN, 0, [make_judged(stored), make_judged(missing)])
    assert store.get_judged(RUN, 0) == []
    with pytest.raises(StoreError, match="no round 5"):
        store.add_verdicts(RUN, 5, [make_judged(stored)])


def test_samples_need_known_run_and_problems(store_with_run: Store):
    with pytest.raises(StoreError, match="not in the store"):
        store_with_run.add_samples(RUN, 0, [make_sample("nope")])
    with pytest.raises(StoreError, match="unknown run"):
        store_with_run.add_samples("other-run", 0, [make_sample("add-1")])
    assert store_with_run.get_samples(RUN, 0) == []


def test_verdict_detail_is_truncated(store_with_run: Store):
    s = make_sample("add-1")
    store_with_run.add_samples(RUN, 0, [s])
    store_with_run.add_verdicts(RUN, 0, [make_judged(s, Outcome.ERROR, detail="x" * 5000)])
    (got,) = store_with_run.get_judged(RUN, 0)
    assert len(got.verdict.detail) == 2000 and got.verdict.outcome is Outcome.ERROR


def test_training_set_written_twice_is_stored_once(store_with_run: Store):
    store = store_with_run
    s = make_sample("add-1", 1)
    store.add_samples(RUN, 0, [s])
    ts = TrainingSet(
        method="rft",
        examples=(
            TrainingExample("1+1=?", " 2", "add-1", sample_key=s.key),
            TrainingExample("2+3=?", " 5", "add-2"),  # from a solution: no sample
            TrainingExample("2+3=?", " 5", "add-2"),
        ),
        stats={"kept": 3},
    )
    assert store.get_training_set(RUN, 0) is None
    assert store.add_training_set(RUN, 0, ts) == 3
    assert store.add_training_set(RUN, 0, ts) == 0
    assert store.get_training_set(RUN, 0) == ts
    empty = TrainingSet(method="rft", examples=())
    store.add_training_set(RUN, 1, empty)
    assert store.get_training_set(RUN, 1) == empty


def test_training_example_of_unknown_sample_raises(store_with_run: Store):
    ts = TrainingSet("rft", (TrainingExample("p", "c", "add-1", ("generate", "add-1", 9)),))
    with pytest.raises(StoreError, match="not stored"):
        store_with_run.add_training_set(RUN, 0, ts)
    assert store_with_run.get_training_set(RUN, 0) is None
