"""``StoreBase``: what every part of the store stands on, declared in one place.

In: a database URL and the home folder. Out: the two engines (writes, and SQLite reads
that never wait for writers), one-transaction context managers, the idempotent
``INSERT ... ON CONFLICT DO NOTHING`` and the natural-key lookups a write resolves
(a run, a round's surrogate id, problem primary keys by ``problem_id``, sample ids by
``(source, problem_id, index)``, checkpoints), each raising ``StoreError`` naming what is
missing.

Every part of the store (``runs``, ``history``, ``cai_store``, ...) is a class that
inherits this one, plus the other parts whose methods it calls, so what a part may use is
what it inherits: ``tests/store/test_store_parts.py`` checks that no part reads a
``self.`` member its classes do not declare.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Self, Sequence

from sqlalchemy import Connection, Engine, Insert, String, Table, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from selftaught.errors import StoreError
from selftaught.records import Checkpoint
from selftaught.store import convert, migrations
from selftaught.store._sql import _bulk_insert_ignore, _chunks, _pk_name, _reason
from selftaught.store.db import make_engine, read_only
from selftaught.store.models import CheckpointRow, ProblemRow, Round, Run, SampleRow, utcnow

#: above this many distinct problems, verdict lookup reads the whole round's sample keys
_WHOLE_ROUND = 2000


class StoreBase:
    """The connection, transactions and natural-key lookups of a store (module docstring)."""

    url: str
    #: checkpoint folders are recorded relative to it (``homepaths``); default SELFTAUGHT_HOME
    home: Path
    _engine: Engine  # writes: BEGIN IMMEDIATE on SQLite
    _reader: Engine  # reads: deferred BEGIN on SQLite
    _dialect: str  # "sqlite" or "postgresql"
    _pg: bool  # PostgreSQL (RETURNING counts, other NULL ordering)
    _leases: dict[str, str]  # run id -> lease token this Store took (lease_store.py)

    def __init__(self, url: str, *, upgrade: bool = True, home: str | Path | None = None):
        self.url = url
        if home is None:  # the environment's default, read only when none is given
            from selftaught.settings import get_settings

            home = get_settings().home
        self.home = Path(os.path.abspath(home))
        self._engine = make_engine(url)
        self._reader = read_only(self._engine)
        self._dialect = self._engine.dialect.name
        self._pg = self._dialect == "postgresql"
        self._leases = {}
        try:
            with self._reader.connect() as conn:
                revision = migrations.current_revision(conn)
            if revision != migrations.HEAD:
                if not upgrade:
                    raise StoreError(
                        f"store {self._safe_url} is at schema {revision or 'none'}, "
                        f"this selftaught needs {migrations.HEAD}: run `selftaught db upgrade`"
                    )
                migrations.upgrade(self._engine)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(f"cannot open store {self._safe_url}: {_reason(exc)}") from exc
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def _safe_url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._safe_url!r})"

    # transactions ---------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store write failed: {_reason(exc)}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One read transaction (deferred on SQLite: never waits for writers)."""
        try:
            with self._reader.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store read failed: {_reason(exc)}") from exc

    def _insert(self, table: Table) -> Insert:
        return (postgresql.insert if self._pg else sqlite.insert)(table)

    def _insert_ignore(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]], *,
        created_at: dt.datetime | None = None,
    ) -> int:  # fmt: skip
        """``INSERT ... ON CONFLICT DO NOTHING`` of ``rows``; returns how many were new.

        With ``created_at`` (bound once for the statement) it takes the bulk path.
        """
        if not rows:
            return 0
        if created_at is not None:
            return _bulk_insert_ignore(conn, table, rows, created_at)
        stmt = self._insert(table).on_conflict_do_nothing()
        if self._pg:  # psycopg reports no rowcount for executemany: count what comes back
            return len(conn.execute(stmt.returning(table.c[_pk_name(table)]), rows).all())
        return conn.execute(stmt, rows).rowcount

    # natural-key lookups ---------------------------------------------------------------

    def _require_run(self, conn: Connection, run_id: str) -> None:
        if conn.execute(select(Run.id).where(Run.id == run_id)).first() is None:
            raise StoreError(f"unknown run {run_id!r}: create_run first")

    def _round_id(self, conn: Connection, run_id: str, index: int, *, create: bool = False) -> int:
        find = select(Round.id).where(Round.run_id == run_id, Round.index == index)
        rid = conn.execute(find).scalar_one_or_none()
        if rid is not None:
            return rid
        if not create:
            raise StoreError(f"run {run_id!r} has no round {index}")
        self._require_run(conn, run_id)
        row = {"run_id": run_id, "index": index, "created_at": utcnow(), "metrics": {}}
        self._insert_ignore(conn, Round.__table__, [row])
        return conn.execute(find).scalar_one()

    def _problem_pks(self, conn: Connection, problem_ids: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(problem_ids))
        found: dict[str, int] = {}
        for chunk in _chunks(wanted):
            stmt = select(ProblemRow.problem_id, ProblemRow.id).where(
                ProblemRow.problem_id.in_(chunk)
            )
            found.update((pid, pk) for pid, pk in conn.execute(stmt))
        missing = [p for p in wanted if p not in found]
        if missing:
            raise StoreError(
                f"{len(missing)} problem id(s) not in the store, e.g. {missing[:3]}: "
                "add_problems first"
            )
        return found

    def _sample_ids(
        self, conn: Connection, round_id: int, keys: Sequence[tuple[str, str, int]]
    ) -> list[int]:
        """Surrogate ids of stored samples of one round, by (source, problem_id, index)."""
        if not keys:
            return []
        problem_ids = sorted({problem_id for _, problem_id, _ in keys})
        # source read as its stored text: no enum conversion per row of a large round
        source_text = type_coerce(SampleRow.source, String())
        base = (
            select(source_text, ProblemRow.problem_id, SampleRow.index, SampleRow.id)
            .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
            .where(SampleRow.round_id == round_id)
        )
        stored: dict[tuple[str, str, int], int] = {}
        chunks: Iterable[list[str]] = (
            [[]] if len(problem_ids) > _WHOLE_ROUND else _chunks(problem_ids)
        )
        for chunk in chunks:
            stmt = base.where(ProblemRow.problem_id.in_(chunk)) if chunk else base
            for src, pid, idx, sid in conn.execute(stmt).all():  # one fetch, not per row
                stored[(src, pid, idx)] = sid
        out: list[int] = []
        missing: list[tuple[str, str, int]] = []
        for source, problem_id, index in keys:
            sid = stored.get((str(source), problem_id, index))
            if sid is None:
                missing.append((str(source), problem_id, index))
            else:
                out.append(sid)
        if missing:
            raise StoreError(
                f"{len(missing)} sample(s) not stored in this round, e.g. {missing[:3]} "
                "(source, problem_id, index): add_samples first"
            )
        return out

    def _checkpoint_exists(self, conn: Connection, checkpoint_id: str) -> bool:
        stmt = select(CheckpointRow.id).where(CheckpointRow.id == checkpoint_id)
        return conn.execute(stmt).first() is not None

    def _get_checkpoint(self, conn: Connection, checkpoint_id: str) -> Checkpoint | None:
        table = CheckpointRow.__table__
        row = conn.execute(select(table).where(table.c.id == checkpoint_id)).one_or_none()
        return None if row is None else convert.checkpoint_from_row(row, self.home)
