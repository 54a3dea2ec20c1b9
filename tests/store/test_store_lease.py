"""Run leases in the store and the status invariants, on SQLite and PostgreSQL.

The compare-and-set is what keeps two processes from both owning a run: two Store objects
(two connections, as two processes have) that read the same lease race to replace it, and
exactly one wins. A Store that lost its lease can no longer write the run's status; and no
store, lease or not, lets a round's stages or a run's status contradict each other (the
issue-14 store: run ``done``, train ``failed``, evaluate ``done``).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from tests.store.factories import RUN

from selftaught.errors import LeaseLost, StoreError
from selftaught.records import RunLease, Stage
from selftaught.store import Store, migrations
from selftaught.store.models import utcnow


def _lease(owner: str = "a", *, seconds: float = 60) -> RunLease:
    now = utcnow()
    return RunLease(
        token=f"tok-{owner}", host=f"host-{owner}", pid=100, pid_start="4242",
        acquired_at=now, heartbeat_at=now, expires_at=now + dt.timedelta(seconds=seconds),
    )  # fmt: skip


def test_take_renew_release_round_trip(store_with_run: Store):
    store = store_with_run
    assert store.get_lease(RUN) is None
    lease = _lease()
    assert store.take_lease(RUN, lease, replacing=None) is True
    assert store.get_lease(RUN) == lease  # every field, the times timezone-aware UTC
    assert store.take_lease(RUN, _lease("b"), replacing=None) is False  # not free any more
    later = lease.expires_at + dt.timedelta(seconds=30)
    assert store.renew_lease(RUN, lease.token, expires_at=later) is True
    renewed = store.get_lease(RUN)
    assert renewed.expires_at == later and renewed.heartbeat_at > lease.heartbeat_at
    assert store.renew_lease(RUN, "someone-else", expires_at=later) is False
    assert store.release_lease(RUN, "someone-else") is False and store.get_lease(RUN) is not None
    assert store.release_lease(RUN, lease.token) is True and store.get_lease(RUN) is None
    with pytest.raises(StoreError, match="unknown run"):
        store.get_lease("nope")
    assert store.take_lease("nope", _lease(), replacing=None) is False


def test_an_expired_lease_is_replaced_only_while_it_is_expired(store_with_run: Store):
    store = store_with_run
    old = _lease("a", seconds=-1)  # expired a second ago
    store.take_lease(RUN, old, replacing=None)
    now = utcnow()
    assert store.take_lease(RUN, _lease("b"), replacing=old.token, expired_by=now - dt.timedelta(seconds=5)) is False
    # the owner renewed between our read and our write: the compare-and-set must lose
    other = Store(store.url)
    other.take_lease(RUN, old, replacing=old.token)  # (its Store renews it)
    other.renew_lease(RUN, old.token, expires_at=now + dt.timedelta(seconds=60))
    assert store.take_lease(RUN, _lease("b"), replacing=old.token, expired_by=now) is False
    other.renew_lease(RUN, old.token, expires_at=now - dt.timedelta(seconds=1))
    assert store.take_lease(RUN, _lease("b"), replacing=old.token, expired_by=now) is True
    assert store.get_lease(RUN).host == "host-b"
    other.close()


def test_racing_compare_and_sets_have_one_winner(store_with_run: Store):
    """Eight Store objects (eight connections) replace the same lease at once, 5 times over."""
    url = store_with_run.url
    stores = [Store(url) for _ in range(8)]
    try:
        for attempt in range(5):
            seen = stores[0].get_lease(RUN)
            barrier = threading.Barrier(len(stores))
            wins: list[int] = []

            def grab(i: int) -> None:
                barrier.wait()
                lease = _lease(f"{attempt}-{i}")
                if stores[i].take_lease(RUN, lease, replacing=None if seen is None else seen.token):
                    wins.append(i)

            threads = [threading.Thread(target=grab, args=(i,)) for i in range(len(stores))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert len(wins) == 1, (attempt, wins)
            assert stores[0].get_lease(RUN).host == f"host-{attempt}-{wins[0]}"
    finally:
        for s in stores:
            s.close()


def test_a_store_that_lost_its_lease_cannot_write_the_run_status(store_with_run: Store):
    store = store_with_run
    mine = _lease("me")
    assert store.take_lease(RUN, mine, replacing=None)
    store.start_stage(RUN, 0, Stage.GENERATE)  # holding it: writes go through
    thief = Store(store.url)
    assert thief.take_lease(RUN, _lease("thief"), replacing=mine.token)  # --force elsewhere
    writes = {
        "finish_stage": lambda: store.finish_stage(RUN, 0, Stage.GENERATE, seconds=1.0, metrics={}),
        "fail_stage": lambda: store.fail_stage(RUN, 0, Stage.GENERATE, error="boom"),
        "start_stage": lambda: store.start_stage(RUN, 0, Stage.JUDGE),
        "set_run_status": lambda: store.set_run_status(RUN, "failed"),
    }
    for name, write in writes.items():
        with pytest.raises(LeaseLost, match=r"lease was taken over by host-thief:100 at \d\d:\d\d:\d\d; stopped"):
            write()
    assert store.stage_status(RUN, 0) == {Stage.GENERATE: "running"}  # nothing was written
    assert store.get_run(RUN).status == "created"
    thief.finish_stage(RUN, 0, Stage.GENERATE, seconds=1.0, metrics={})  # the new owner writes
    assert store.release_lease(RUN, mine.token) is False  # not ours: left alone
    assert thief.get_lease(RUN).host == "host-thief"
    thief.close()


def test_a_stage_is_never_done_after_an_earlier_stage_failed(store_with_run: Store):
    store = store_with_run
    for stage in (Stage.GENERATE, Stage.JUDGE, Stage.RATIONALIZE, Stage.CURATE):
        store.finish_stage(RUN, 2, stage, seconds=1.0, metrics={})
    store.fail_stage(RUN, 2, Stage.TRAIN, error="OSError: [Errno 39] Directory not empty")
    with pytest.raises(StoreError, match="round 2 of run 'run-1': cannot mark evaluate done while train is failed"):
        store.finish_stage(RUN, 2, Stage.EVALUATE, seconds=1.0, metrics={})
    assert Stage.EVALUATE not in store.stage_status(RUN, 2)
    # the re-run of train, then evaluate: fine
    store.start_stage(RUN, 2, Stage.TRAIN)
    store.finish_stage(RUN, 2, Stage.TRAIN, seconds=1.0, metrics={})
    store.finish_stage(RUN, 2, Stage.EVALUATE, seconds=1.0, metrics={})
    # and the other order: a stage is never marked failed while a later one is done
    with pytest.raises(StoreError, match="cannot mark train failed while evaluate is done"):
        store.fail_stage(RUN, 2, Stage.TRAIN, error="late")
    assert set(store.stage_status(RUN, 2).values()) == {"done"}


def test_a_run_is_never_done_while_a_stage_is_not(store_with_run: Store):
    store = store_with_run
    store.finish_stage(RUN, 0, Stage.TRAIN, seconds=1.0, metrics={})
    store.start_stage(RUN, 1, Stage.GENERATE)
    with pytest.raises(StoreError, match="run 'run-1' cannot be done: round 1 generate is running"):
        store.set_run_status(RUN, "done")
    store.fail_stage(RUN, 1, Stage.GENERATE, error="boom")
    with pytest.raises(StoreError, match="round 1 generate is failed"):
        store.set_run_status(RUN, "done")
    store.set_run_status(RUN, "failed")  # any other status is fine
    store.finish_stage(RUN, 1, Stage.GENERATE, seconds=1.0, metrics={})
    store.set_run_status(RUN, "done")
    assert store.get_run(RUN).status == "done"


def test_a_store_from_before_leases_upgrades_with_no_lease(store_url: str):
    migrations.upgrade(store_url, "0009")
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO runs (id, name, recipe, created_at, status) "
                             "VALUES ('old', 'n', '{}', :t, 'done')"), {"t": utcnow()})  # fmt: skip
        # a round refers to the run: the downgrade must not copy `runs` (SQLite foreign keys)
        conn.execute(sa.text("INSERT INTO rounds (run_id, \"index\", created_at, metrics) "
                             "VALUES ('old', 0, :t, '{}')"), {"t": utcnow()})  # fmt: skip
    engine.dispose()
    with Store(store_url) as store:
        assert migrations.current(store_url) == migrations.HEAD
        assert store.get_run("old").status == "done" and store.get_lease("old") is None
        assert store.take_lease("old", _lease(), replacing=None)
    migrations.downgrade(store_url, "0009")  # and back: the columns go, the run stays
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM runs")).scalars().all() == ["old"]
        assert "lease_token" not in {c["name"] for c in sa.inspect(conn).get_columns("runs")}
    engine.dispose()
