"""Timestamps are timezone-aware UTC on both backends, bulk-inserted ones included."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from tests.store.factories import RUN, make_judged, make_sample

from selftaught.records import Stage
from selftaught.store import Store
from selftaught.store.models import Round, SampleRow, StageRun, VerdictRow


def test_every_timestamp_is_aware_utc_and_recent(store_with_run: Store):
    store = store_with_run
    before = dt.datetime.now(dt.UTC)
    s = make_sample("add-1")
    store.add_samples(RUN, 0, [s])
    store.add_verdicts(RUN, 0, [make_judged(s)])
    store.start_stage(RUN, 0, Stage.GENERATE)
    store.finish_stage(RUN, 0, Stage.GENERATE, seconds=0.5, metrics={})
    after = dt.datetime.now(dt.UTC)
    engine = sa.create_engine(store.url)
    try:
        with engine.connect() as conn:
            stamps = [
                conn.execute(sa.select(SampleRow.created_at)).scalar_one(),
                conn.execute(sa.select(VerdictRow.created_at)).scalar_one(),
                conn.execute(sa.select(Round.created_at)).scalar_one(),
                *conn.execute(sa.select(StageRun.started_at, StageRun.finished_at)).one(),
            ]
    finally:
        engine.dispose()
    for stamp in stamps:
        assert stamp.utcoffset() == dt.timedelta(0)
        assert before - dt.timedelta(seconds=1) <= stamp <= after
