"""Run leases in the store: which one process works on a run (issue 14, "one owner per run").

What comes in: a ``RunLease`` (owner host, pid and process start time, a fresh token, its
times) and the token it replaces. What goes out: whether the compare-and-set won, the run's
lease as stored, and ``LeaseLost`` from a status write of a run whose lease this Store took
and no longer holds.

Who may take a lease (nobody holds it, it expired, its owner died on this host, ``--force``)
is decided in ``flows/lease.py``; here is only SQL, so every decision ends in one atomic
compare-and-set:

    UPDATE runs SET lease_... = :new
     WHERE id = :run AND lease_token IS NOT DISTINCT FROM :seen [AND lease_expires_at <= :now]

Two processes that read the same lease and both try to replace it: one UPDATE matches the
row, the other matches none (rowcount 0) and reads again. On SQLite the UPDATE runs under
``BEGIN IMMEDIATE`` (the write lock, waited for within ``busy_timeout``); on PostgreSQL
(READ COMMITTED) the second UPDATE waits for the first one's row lock, then re-checks its
WHERE against the committed row and matches nothing. Neither raises a lock error.

The Store remembers the tokens it took (``_leases``, per Store object): ``start_stage``,
``finish_stage``, ``fail_stage`` and ``set_run_status`` of such a run check, inside their own
write transaction, that the token is still the run's (``_check_lease``), so a process that
lost its lease can never mark a stage done or failed over the new owner's work.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select, update

from selftaught.errors import LeaseLost, StoreError
from selftaught.records import RunLease
from selftaught.store.base import StoreBase
from selftaught.store.models import Run, utcnow

_LEASE_COLS = (
    Run.lease_token, Run.lease_host, Run.lease_pid, Run.lease_pid_start,
    Run.lease_acquired_at, Run.lease_heartbeat_at, Run.lease_expires_at,
)  # fmt: skip
_NO_LEASE = {col.key: None for col in _LEASE_COLS}


def lost_message(run_id: str, current: RunLease | None) -> str:
    """The one line a process prints when it finds it no longer holds ``run_id``'s lease."""
    if current is None:
        who = "released by another process"
    else:
        who = f"taken over by {current.owner} at {clock(current.acquired_at)}"
    return f"run {run_id}: this process's lease was {who}; stopped before writing more"


def clock(at: dt.datetime) -> str:
    """A stored UTC time as the local wall-clock time people compare with (12:03:04)."""
    return at.astimezone().strftime("%H:%M:%S")


class LeaseStoreMixin(StoreBase):
    """The ``runs.lease_*`` columns (migration 0010): read, take, renew, release, check."""

    def get_lease(self, run_id: str) -> RunLease | None:
        """The run's lease, or None if nobody holds it. Unknown run: ``StoreError``."""
        with self._read() as conn:
            return _lease_of(conn, run_id)

    def take_lease(
        self, run_id: str, lease: RunLease, *, replacing: str | None,
        expired_by: dt.datetime | None = None,
    ) -> bool:  # fmt: skip
        """Make ``lease`` the run's, if its current token is ``replacing`` (None: nobody
        holds it) and, with ``expired_by``, that lease expires no later than then. One
        compare-and-set UPDATE; True if it won."""
        cond = [Run.id == run_id, Run.lease_token.is_not_distinct_from(replacing)]
        if expired_by is not None:
            cond.append(Run.lease_expires_at <= expired_by)
        values = {
            "lease_token": lease.token, "lease_host": lease.host, "lease_pid": lease.pid,
            "lease_pid_start": lease.pid_start, "lease_acquired_at": lease.acquired_at,
            "lease_heartbeat_at": lease.heartbeat_at, "lease_expires_at": lease.expires_at,
        }  # fmt: skip
        with self._write() as conn:
            won = conn.execute(update(Run).where(*cond).values(**values)).rowcount == 1
        if won:
            self._leases[run_id] = lease.token
        return won

    def renew_lease(self, run_id: str, token: str, *, expires_at: dt.datetime) -> bool:
        """The heartbeat: push the expiry of the lease ``token`` out; False if it is not the
        run's lease any more (lost)."""
        with self._write() as conn:
            result = conn.execute(
                update(Run).where(Run.id == run_id, Run.lease_token == token)
                .values(lease_heartbeat_at=utcnow(), lease_expires_at=expires_at)
            )  # fmt: skip
            return result.rowcount == 1

    def release_lease(self, run_id: str, token: str) -> bool:
        """Clear the run's lease if it is still ``token``'s; True if it was. A lease that was
        lost stays remembered: this Store keeps refusing the run's status writes until it
        takes the lease again."""
        with self._write() as conn:
            result = conn.execute(
                update(Run).where(Run.id == run_id, Run.lease_token == token).values(**_NO_LEASE)
            )
            released = result.rowcount == 1
        if released and self._leases.get(run_id) == token:
            del self._leases[run_id]
        return released

    def _check_lease(self, conn: Connection, run_id: str) -> None:
        """In a write transaction: refuse with ``LeaseLost`` if this Store took the run's
        lease and the run now holds another (or none)."""
        token = self._leases.get(run_id)
        if token is None:
            return
        current = _lease_of(conn, run_id)
        if current is None or current.token != token:
            raise LeaseLost(lost_message(run_id, current))


def _lease_of(conn: Connection, run_id: str) -> RunLease | None:
    row = conn.execute(select(*_LEASE_COLS).where(Run.id == run_id)).one_or_none()
    if row is None:
        raise StoreError(f"unknown run {run_id!r}")
    if row.lease_token is None:
        return None
    return RunLease(
        token=row.lease_token, host=row.lease_host, pid=row.lease_pid, pid_start=row.lease_pid_start,
        acquired_at=row.lease_acquired_at, heartbeat_at=row.lease_heartbeat_at,
        expires_at=row.lease_expires_at,
    )  # fmt: skip
