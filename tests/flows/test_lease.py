"""The lease logic of ``flows/lease.py``: who may take a run, the heartbeat, a lost lease.

Real processes stand in for owners on this host (a child that exited, a live child with
another start time, a live child as the owner), an invented host for an owner elsewhere,
and a second Store object for a second process's connection.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from selftaught.errors import LeaseError, LeaseLost, StoreError
from selftaught.flows.lease import Owner, acquire, claim, hold_run, lease_seconds, process_start
from selftaught.records import RunLease, Stage
from selftaught.store import Store
from selftaught.store.models import utcnow

RUN = "SRP1"
BUSY = (
    r"^run SRP1 is being worked on by {owner} since \d\d:\d\d:\d\d "
    r"\(lease expires in (\d+) s\); wait, or take it over with --force$"
)


@pytest.fixture
def store(tmp_path):
    """A SQLite file store holding run SRP1 (a file: the heartbeat thread needs its own connections)."""
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    s.create_run(RUN, name="tiny", recipe={})
    yield s
    s.close()


@pytest.fixture
def live_child():
    """A process of this host that stays alive for the test."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def _other_store(store: Store) -> Store:
    return Store(store.url)  # another connection pool, as another process has


def test_claim_rules():
    me = Owner("here", 10, "100")
    now = utcnow()

    def lease(host: str, pid: int, start: str | None, expires_in: float) -> RunLease:
        return RunLease("t", host, pid, start, now, now, now + dt.timedelta(seconds=expires_in))

    assert claim(None, me, now) == "free"
    assert claim(lease("here", 10, "100", 30), me, now) == "mine"
    assert claim(lease("there", 10, "100", 30), me, now) is None  # same pid, other host: not me
    assert claim(lease("there", 10, "100", 30), me, now, force=True) == "forced"
    assert claim(lease("there", 10, "100", 0), me, now) == "expired"  # expires_at <= now
    assert claim(lease("there", 10, "100", -5), me, now) == "expired"


def test_owner_of_this_process_and_its_start_time():
    me = Owner.me()
    assert (me.host, me.pid) == (socket.gethostname(), os.getpid())
    assert me.start is not None and me.start == process_start(os.getpid())
    assert not me.is_gone()
    assert Owner(me.host, me.pid, "1").is_gone()  # this pid, started at another time: a reuse


def test_a_live_owner_is_refused_with_one_line_naming_it(store: Store, live_child):
    owner = Owner(socket.gethostname(), live_child.pid, process_start(live_child.pid))
    acquire(_other_store(store), RUN, seconds=45, me=owner)
    with pytest.raises(LeaseError) as refused:
        acquire(store, RUN, seconds=45)
    message = str(refused.value)
    found = re.match(BUSY.format(owner=f"{owner.host}:{live_child.pid}"), message)
    assert found, message
    assert 40 <= int(found.group(1)) <= 45 and "\n" not in message
    assert store.get_lease(RUN).pid == live_child.pid  # untouched


def test_an_owner_killed_on_this_host_is_taken_over_at_once(store: Store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    start = process_start(dead.pid)
    dead.wait()  # exited and reaped: its pid is free
    acquire(_other_store(store), RUN, seconds=3600, me=Owner(socket.gethostname(), dead.pid, start))
    lease = acquire(store, RUN, seconds=60)
    assert (lease.host, lease.pid) == (socket.gethostname(), os.getpid())
    assert store.get_lease(RUN).token == lease.token


def test_a_reused_pid_is_not_the_owner(store: Store, live_child):
    """The stored pid is alive, but as a process started at another time: stale."""
    acquire(_other_store(store), RUN, seconds=3600, me=Owner(socket.gethostname(), live_child.pid, "1"))
    assert acquire(store, RUN, seconds=60).pid == os.getpid()


def test_an_owner_on_another_host_is_stale_only_after_expiry(store: Store):
    elsewhere = Owner("another-host", os.getpid() + 1_000_000, None)  # no such pid here either
    other = _other_store(store)
    held = acquire(other, RUN, seconds=0.5, me=elsewhere)
    with pytest.raises(LeaseError, match="being worked on by another-host:"):
        acquire(store, RUN, seconds=60)
    time.sleep(max(0.0, (held.expires_at - utcnow()).total_seconds()) + 0.05)
    assert acquire(store, RUN, seconds=60).host == socket.gethostname()


def test_force_takes_a_live_lease_then_waits_for_its_owners_next_heartbeat(store: Store, live_child):
    owner = Owner(socket.gethostname(), live_child.pid, process_start(live_child.pid))
    old = acquire(_other_store(store), RUN, seconds=1.5, me=owner)  # it beats every 0.5 s
    lease = acquire(store, RUN, seconds=60, force=True)
    assert store.get_lease(RUN).token == lease.token and lease.pid == os.getpid()
    assert utcnow() >= old.heartbeat_at + dt.timedelta(seconds=0.5 + 1.0)  # its beat, and a second
    store.release_lease(RUN, lease.token)
    acquire(_other_store(store), RUN, seconds=0.01, me=Owner("another-host", 1, None))
    time.sleep(0.05)
    clock = time.monotonic()
    acquire(store, RUN, seconds=60, force=True)  # an expired lease: nobody to wait for
    assert time.monotonic() - clock < 0.5


def test_hold_run_renews_nests_and_releases(store: Store):
    other = _other_store(store)
    with hold_run(store, RUN, seconds=1.2) as lease:
        with hold_run(store, RUN) as inner:  # the CLI holds it, then run_flow asks again
            assert inner == lease
        assert store.get_lease(RUN).token == lease.token  # the inner exit kept it
        time.sleep(2.5)  # twice its length: only the heartbeat (every 0.4 s) keeps it alive
        with pytest.raises(LeaseError):
            acquire(other, RUN, seconds=60, me=Owner("another-host", 1, None))
        assert store.get_lease(RUN).expires_at > lease.expires_at
    assert store.get_lease(RUN) is None
    with pytest.raises(RuntimeError), hold_run(store, RUN, seconds=60):
        raise RuntimeError("a failing run")
    assert store.get_lease(RUN) is None  # released on the way out, too
    assert [t for t in threading.enumerate() if t.name.startswith("selftaught-lease")] == []


def test_a_lost_lease_stops_its_holder_at_the_next_heartbeat(store: Store):
    thief = _other_store(store)
    taken = threading.Event()

    def force() -> None:  # another process's `run --resume SRP1 --force`
        acquire(thief, RUN, seconds=60, force=True, me=Owner("another-host", 7, None))
        taken.set()

    with pytest.raises(LeaseLost) as lost:
        with hold_run(store, RUN, seconds=0.6):
            store.start_stage(RUN, 0, Stage.TRAIN)
            threading.Thread(target=force).start()
            clock = time.monotonic()
            while time.monotonic() - clock < 10:  # working, as a stage would
                time.sleep(0.01)
    waited = time.monotonic() - clock
    assert waited < 5, waited  # at a heartbeat (every 0.2 s), not after the 10 s of work
    assert not taken.is_set()  # the new owner is still waiting for the old one to stop
    assert taken.wait(5)
    assert str(lost.value).startswith(f"run {RUN}: this process's lease was taken over by another-host:7 at ")
    assert str(lost.value).endswith("; stopped before writing more")
    with pytest.raises(LeaseLost):  # and nothing more is written, heartbeat or not
        store.finish_stage(RUN, 0, Stage.TRAIN, seconds=1.0, metrics={})
    assert store.stage_status(RUN, 0) == {Stage.TRAIN: "running"}
    assert thief.get_lease(RUN).host == "another-host"  # the exit left the new owner's lease alone


def test_an_in_memory_store_holds_a_lease_without_a_heartbeat():
    with Store("sqlite://") as store:
        store.create_run(RUN, name="n", recipe={})
        with hold_run(store, RUN, seconds=60):
            assert store.get_lease(RUN) is not None
            assert not [t for t in threading.enumerate() if t.name.startswith("selftaught-lease")]
        assert store.get_lease(RUN) is None


def test_lease_seconds_from_the_environment(monkeypatch):
    monkeypatch.delenv("SELFTAUGHT_LEASE_SECONDS", raising=False)
    assert lease_seconds() == 60.0
    monkeypatch.setenv("SELFTAUGHT_LEASE_SECONDS", "2.5")
    assert lease_seconds() == 2.5
    for bad in ("0", "-1", "soon"):
        monkeypatch.setenv("SELFTAUGHT_LEASE_SECONDS", bad)
        with pytest.raises(StoreError, match="SELFTAUGHT_LEASE_SECONDS"):
            lease_seconds()


def test_doctests():
    import doctest

    from selftaught.flows import lease

    result = doctest.testmod(lease)
    assert result.attempted > 0 and result.failed == 0
