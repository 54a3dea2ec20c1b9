"""One owner per run: the lease a process holds in the store while it works on a run.

What comes in: an open ``Store`` and a run id (the run row must exist). What goes out:
``hold_run``, a context manager that takes the run's lease before any work, renews it from
a heartbeat thread, and clears it when the run ends (done, failed or interrupted); or one
``LeaseError`` line naming the owner if another process holds it:

    run SRP1 is being worked on by host:4242 since 12:03:04 (lease expires in 41 s);
    wait, or take it over with --force

Who may take a lease (``claim``, a pure function):

* nobody holds it, or this very process does;
* it expired: its owner stopped renewing it for ``lease_seconds`` (default 60 s,
  ``SELFTAUGHT_LEASE_SECONDS``), e.g. a machine that died; an owner on *another host* is
  only ever taken over this way, since its process cannot be checked from here;
* its owner is on *this host* and that process is gone (``kill -9``, a crash): taken at
  once, so a killed run resumes immediately. The owner's process start time is stored with
  its pid, so a pid the OS gave to a new process does not count as the owner;
* ``force=True`` (``selftaught run --resume RUN --force``): taken whatever its state; if it
  was live, the new owner then waits for the old one's next heartbeat (below) to begin.

Each decision ends in one compare-and-set UPDATE of the run row (``store/lease_store.py``),
so two processes racing for a lease never both win, on SQLite or PostgreSQL.

A lost lease (taken over with ``--force``, or it expired while this process was stalled):
the heartbeat notices at its next beat (every third of ``lease_seconds``) and raises
``LeaseLost`` in the thread that holds the lease, so the process stops with one line before
writing more; and every status write of the run (a stage marked running, done or failed, the
run's own status) checks the token in its own transaction, so even a process that never
reaches a heartbeat cannot mark anything over the new owner's work. Writes of samples,
verdicts and checkpoints are idempotent upserts and need no lease to stay correct. The CLI
prints a ``LeaseError`` as its one line; Prefect's tracebacks of it, like those of any failed
stage, stay off the terminal (``flows/context.py`` ``_run_logs_to_api_only``).

Leases nest within a process (the CLI takes the run's lease, then ``run_flow`` asks for it
again); the outermost ``hold_run`` releases it. An in-memory SQLite store gets no heartbeat
thread: no other process can open it, and its one connection is not for two threads.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from selftaught.errors import LeaseError, LeaseLost, StoreError
from selftaught.records import RunLease
from selftaught.store import Store
from selftaught.store.lease_store import clock, lost_message
from selftaught.store.models import utcnow

#: how long a lease lasts without a heartbeat, unless SELFTAUGHT_LEASE_SECONDS says otherwise
DEFAULT_LEASE_SECONDS = 60.0
#: tries of the read -> decide -> compare-and-set loop before giving up (each lost try means
#: another process changed the lease in between)
_TRIES = 5

log = logging.getLogger("selftaught.lease")


# --------------------------------------------------------------------------- owners


@dataclass(frozen=True)
class Owner:
    """A process as a lease names it: host, pid, and the process's start time."""

    host: str
    pid: int
    start: str | None

    @classmethod
    def me(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), process_start(os.getpid()))

    @classmethod
    def of(cls, lease: RunLease) -> Owner:
        return cls(lease.host, lease.pid, lease.pid_start)

    def is_gone(self) -> bool:
        """True if this host has no such process: the pid is free, a zombie, or now belongs to
        a process started at another time. Only meaningful for an owner on this host."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's process: it exists
            pass
        stat = _proc_stat(self.pid)
        if stat is None:
            return Path("/proc/self/stat").exists()  # no /proc here: trust the pid
        state, start = stat
        return state in ("Z", "X") or (self.start is not None and start != self.start)


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` as the OS counts it (clock ticks since boot on
    Linux); None where that is unknown."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) from ``/proc/PID/stat``, or None (no such file)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 onwards
    return fields[0], fields[19]  # field 3 (state), field 22 (starttime)


# --------------------------------------------------------------------------- claims


def claim(current: RunLease | None, me: Owner, now: dt.datetime, *, force: bool = False) -> str | None:
    """Why ``me`` may take a lease that is now ``current``, or None if it may not.

    >>> me = Owner("here", 1, "7")
    >>> now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    >>> claim(None, me, now)
    'free'
    >>> other = RunLease("t", "there", 2, "9", now, now, now + dt.timedelta(seconds=30))
    >>> claim(other, me, now) is None, claim(other, me, now, force=True)
    (True, 'forced')
    >>> claim(other, me, now + dt.timedelta(seconds=30))
    'expired'
    """
    if current is None:
        return "free"
    owner = Owner.of(current)
    if owner == me:
        return "mine"
    if force:
        return "forced"
    if current.expires_at <= now:
        return "expired"
    if owner.host == me.host and owner.is_gone():
        return "stale"
    return None


def busy_message(run_id: str, lease: RunLease, now: dt.datetime) -> str:
    left = max(0, round((lease.expires_at - now).total_seconds()))
    return (
        f"run {run_id} is being worked on by {lease.owner} since {clock(lease.acquired_at)} "
        f"(lease expires in {left} s); wait, or take it over with --force"
    )


def acquire(
    store: Store, run_id: str, *, seconds: float, force: bool = False, me: Owner | None = None,
) -> RunLease:  # fmt: skip
    """Take the run's lease for ``me`` (this process) for ``seconds``, or raise
    ``LeaseError`` naming the live owner. Read, decide (``claim``), compare-and-set; a
    compare-and-set that loses (another process changed the lease meanwhile) reads again."""
    me = me or Owner.me()
    for _ in range(_TRIES):
        current = store.get_lease(run_id)
        now = utcnow()
        reason = claim(current, me, now, force=force)
        if reason is None:
            raise LeaseError(busy_message(run_id, current, now))
        lease = RunLease(
            token=uuid.uuid4().hex, host=me.host, pid=me.pid, pid_start=me.start, acquired_at=now,
            heartbeat_at=now, expires_at=now + dt.timedelta(seconds=seconds),
        )  # fmt: skip
        replacing = None if current is None else current.token
        if store.take_lease(run_id, lease, replacing=replacing, expired_by=now if reason == "expired" else None):
            if reason in ("expired", "stale"):
                log.info("run %s: took over the lease of %s (%s)", run_id, current.owner, reason)
            if reason == "forced" and claim(current, me, now) is None:  # it was live
                _let_owner_stop(run_id, current)
            return lease
    raise LeaseError(f"run {run_id}: its lease kept changing hands; try again")


def _let_owner_stop(run_id: str, taken: RunLease) -> None:
    """After ``--force`` took a live lease: wait until its owner's next heartbeat (plus a
    second), when it finds the lease gone and stops, so the two never write one checkpoint
    folder at once. Its heartbeat comes every third of its lease's length."""
    beat = (taken.expires_at - taken.heartbeat_at) / 3
    wait = (taken.heartbeat_at + beat - utcnow()).total_seconds() + 1.0
    if wait > 0:
        log.warning("run %s: took the lease from %s (--force); waiting %.0f s for it to stop", run_id, taken.owner, wait)
        time.sleep(wait)


# --------------------------------------------------------------------------- holding


@dataclass
class _Held:
    lease: RunLease
    heartbeat: Heartbeat | None
    depth: int = 1


_held: dict[tuple[str, str], _Held] = {}
_held_lock = threading.Lock()


def lease_seconds() -> float:
    """``SELFTAUGHT_LEASE_SECONDS`` (a positive number), else ``DEFAULT_LEASE_SECONDS``."""
    raw = os.environ.get("SELFTAUGHT_LEASE_SECONDS")
    if not raw:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise StoreError(f"SELFTAUGHT_LEASE_SECONDS: not a positive number of seconds: {raw!r}")
    return value


@contextmanager
def hold_run(store: Store, run_id: str, *, force: bool = False, seconds: float | None = None) -> Iterator[RunLease]:
    """Hold the run's lease for the block (see the module docstring); nests in one process."""
    key = (store.url, run_id)
    with _held_lock:
        held = _held.get(key)
        if held is not None:
            held.depth += 1
    if held is not None:
        try:
            yield held.lease
        finally:
            held.depth -= 1
        return
    seconds = lease_seconds() if seconds is None else seconds
    lease = acquire(store, run_id, seconds=seconds, force=force)
    beat = None if _in_memory(store) else Heartbeat(store, run_id, lease.token, seconds)
    with _held_lock:
        _held[key] = _Held(lease, beat)
    if beat is not None:
        beat.start()
    try:
        yield lease
    finally:
        with _held_lock:
            _held.pop(key, None)
        if beat is not None:
            beat.stop()
        try:
            store.release_lease(run_id, lease.token)
        except StoreError as exc:  # the store is gone: the lease simply expires
            log.warning("run %s: lease not released (%s); it expires in %g s", run_id, exc, seconds)


def _in_memory(store: Store) -> bool:
    from sqlalchemy.engine import make_url

    url = make_url(store.url)
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


class Heartbeat(threading.Thread):
    """Renews a lease every third of its length. If the lease is no longer this process's,
    raises ``LeaseLost`` (with the new owner) in the thread that took it and stops.

    A renewal that fails on a store error (a restarting server) is logged and retried at the
    next beat; if none succeeds before the lease expires, another process may take it over,
    and the next beat that reaches the store finds it lost."""

    def __init__(self, store: Store, run_id: str, token: str, seconds: float):
        super().__init__(name=f"selftaught-lease-{run_id}", daemon=True)
        self.store, self.run_id, self.token, self.seconds = store, run_id, token, seconds
        self.holder = threading.get_ident()
        self._stop_event = threading.Event()
        self._lock = threading.Lock()  # a stopped heartbeat never raises in its holder

    def stop(self) -> None:
        with self._lock:
            self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=10)

    def run(self) -> None:
        while not self._stop_event.wait(self.seconds / 3):
            try:
                renewed = self.store.renew_lease(
                    self.run_id, self.token, expires_at=utcnow() + dt.timedelta(seconds=self.seconds)
                )
                current = None if renewed else self.store.get_lease(self.run_id)
            except StoreError as exc:
                log.warning("run %s: lease not renewed (%s); retrying", self.run_id, exc)
                continue
            if renewed:
                continue
            with self._lock:
                if self._stop_event.is_set():  # released while this beat ran: not lost
                    return
                _raise_in(self.holder, lost_message(self.run_id, current))
            return


def _raise_in(thread_id: int, message: str) -> None:
    """Raise ``LeaseLost(message)`` in thread ``thread_id`` at its next Python instruction
    (CPython's ``PyThreadState_SetAsyncExc``; a thread blocked in C sees it when it returns)."""
    lost = type("LeaseLost", (LeaseLost,), {"__init__": lambda self: LeaseLost.__init__(self, message)})
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(lost))
