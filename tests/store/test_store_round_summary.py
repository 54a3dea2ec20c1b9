"""Cached round counts (``rounds.summary`` and ``rounds.report``, store/summaries.py): the
round table and the report's pass rates and histograms read from the caches equal the ones
counted live, and every write that changes a round's counts clears its caches. On both
backends."""

from __future__ import annotations

from sqlalchemy import null, select, update

from selftaught.records import (
    Judged,
    Outcome,
    SampleSource,
    Stage,
    TrainingExample,
    TrainingSet,
    Verdict,
)
from selftaught.store import RoundRow, Store
from selftaught.store.models import Round
from selftaught.store.summaries import SUMMARY_VERSION
from tests.store.factories import RUN, make_judged, make_sample


def _summaries(store: Store) -> dict[int, dict | None]:
    with store._read() as conn:
        return dict(conn.execute(select(Round.index, Round.summary).where(Round.run_id == RUN)).all())


def _views(store: Store) -> tuple[list, list, list]:
    """What `selftaught rounds` and `report` read: the round table, pass rates, histograms."""
    return (store.round_table(RUN), store.problem_pass_rates(RUN),
            store.score_histogram(RUN, bins=10, source="generate"))  # fmt: skip


def _live_views(store: Store) -> tuple[list, list, list]:
    """``_views`` with every cache wiped (what a store written before 0005 shows)."""
    with store._write() as conn:
        saved = conn.execute(select(Round.id, Round.summary, Round.report)).all()
        conn.execute(update(Round).values(summary=null(), report=null()))
    views = _views(store)
    with store._write() as conn:  # put the caches back as they were
        for rid, summary, report in saved:
            conn.execute(update(Round).where(Round.id == rid)
                         .values(summary=summary or null(), report=report or null()))  # fmt: skip
    return views


def _live_table(store: Store) -> list[RoundRow]:
    return _live_views(store)[0]


def _finish(store: Store, index: int, *stages: Stage) -> None:
    for stage in stages:
        store.start_stage(RUN, index, stage)
        store.finish_stage(RUN, index, stage, seconds=1.0, metrics={})


def _round(store: Store, index: int, n_problems_passing: int) -> list:
    """Samples of add-1/add-2 (2 each) + a rationalization, judged, with a training set."""
    gen = [make_sample(p, i) for p in ("add-1", "add-2") for i in range(2)]
    rat = make_sample("add-2", 0, source=SampleSource.RATIONALIZE)
    store.add_samples(RUN, index, gen + [rat])
    _finish(store, index, Stage.GENERATE)
    outcomes = [Outcome.PASS if i < n_problems_passing else Outcome.FAIL for i in range(len(gen))]
    store.add_verdicts(RUN, index, [make_judged(s, o) for s, o in zip(gen, outcomes)] + [
        make_judged(gen[0], Outcome.FAIL, judge="format"), make_judged(rat)])  # fmt: skip
    _finish(store, index, Stage.JUDGE)
    store.add_training_set(RUN, index, TrainingSet("star", (
        TrainingExample("1+1=?", "2", "add-1", gen[0].key),
        TrainingExample("2+3=?", "5", "add-2", rat.key),
    )))  # fmt: skip
    _finish(store, index, Stage.CURATE, Stage.TRAIN)
    return gen


def test_finished_rounds_are_cached_and_equal_the_live_counts(store_with_run: Store):
    store = store_with_run
    _round(store, 0, n_problems_passing=1)
    _round(store, 1, n_problems_passing=3)
    store.add_samples(RUN, 2, [make_sample("add-1", 0)])  # a running round: nothing finished

    cache = _summaries(store)
    assert cache[0]["v"] == SUMMARY_VERSION and cache[1]["v"] == SUMMARY_VERSION and cache[2] is None
    cached_views = _views(store)
    assert cached_views == _live_views(store)
    r0, r1, r2 = cached_views[0]
    rates = {(r.round, r.problem_id): (r.n_judged, r.n_pass) for r in cached_views[1]}
    assert rates[(1, "add-1")] == (2, 1) and rates[(1, "add-2")] == (2, 1) and rates[(0, "add-2")] == (2, 0)
    assert {(h.round, h.judge) for h in cached_views[2]} == {(0, "math"), (0, "format"), (1, "math"),
                                                                   (1, "format")}  # fmt: skip
    # add-1/0 passes math but fails format: it does not pass
    assert (r0.n_samples, r0.n_generate, r0.n_rationalized, r0.n_judged) == (5, 4, 1, 4)
    assert r0.pass_rate == 0 and r1.pass_rate == 2 / 4
    assert (r0.n_train, r0.n_train_rationalized) == (2, 1)
    assert (r2.n_samples, r2.n_judged, r2.pass_rate) == (1, 0, None)


def test_every_write_into_a_round_clears_its_cache(store_with_run: Store):
    store = store_with_run
    gen = _round(store, 0, n_problems_passing=2)
    before = store.round_table(RUN)[0]

    # a judge re-run at a new version: new verdicts, so the cache goes and the counts change
    store.add_verdicts(RUN, 0, [Judged(s, Verdict("math", Outcome.PASS, 1.0, judge_version="2")) for s in gen])
    assert _summaries(store)[0] is None
    assert _views(store) == _live_views(store)
    _finish(store, 0, Stage.JUDGE)
    assert _summaries(store)[0] is not None and _views(store) == _live_views(store)

    # a resumed round that generates more samples
    store.add_samples(RUN, 0, [make_sample("mc-1", 0)])
    assert _summaries(store)[0] is None
    after = store.round_table(RUN)[0]
    assert after.n_samples == before.n_samples + 1 and after == _live_table(store)[0]
    _finish(store, 0, Stage.GENERATE)
    assert store.round_table(RUN)[0] == after


def test_stage_bookkeeping_alone_keeps_the_cache(store_with_run: Store):
    store = store_with_run
    _round(store, 0, n_problems_passing=1)
    cache = _summaries(store)[0]
    store.start_stage(RUN, 0, Stage.EVALUATE)  # a re-run stage, a failure: no rows change
    store.fail_stage(RUN, 0, Stage.EVALUATE, error="boom")
    assert _summaries(store)[0] == cache
    assert store.round_table(RUN) == _live_table(store)
    assert store.round_table(RUN)[0].stage_status["evaluate"] == "failed"  # read live


def test_a_cache_of_another_version_is_counted_live(store_with_run: Store):
    store = store_with_run
    _round(store, 0, n_problems_passing=1)
    truth = store.round_table(RUN)
    with store._write() as conn:  # an older selftaught's cache layout: ignored, not trusted
        conn.execute(update(Round).values(summary={"v": SUMMARY_VERSION - 1, "n_samples": 999}))
    assert store.round_table(RUN) == truth
