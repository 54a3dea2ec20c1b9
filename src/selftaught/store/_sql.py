"""Small SQL helpers shared by the store's modules: chunking, the bulk insert path,
row flattening and error text. Imports SQLAlchemy only."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from selftaught.errors import StoreError
from selftaught.records import Outcome, SampleSource, Split, Stage
from selftaught.store.models import utc_constant

#: bound parameters per ``IN (...)`` lookup (far below SQLite's and PostgreSQL's limits)
_CHUNK = 900

def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _bulk_insert_ignore(
    conn: Connection, table: Table, rows: list[dict[str, Any]], created_at: dt.datetime
) -> int:
    """The bulk path: the same ``INSERT ... ON CONFLICT DO NOTHING``, the column types' own
    converters applied column by column, then one DBAPI ``executemany``.

    SQLAlchemy's per-row parameter handling was over half the ingest time on SQLite (about
    27k rows/s against 40-130k for raw sqlite3 here), and on PostgreSQL its multi-VALUES
    batching (needed there for a row count) spent most of its time in psycopg's query
    parser (~1.7k rows/s). This keeps the typed conversion (enum values, JSON, booleans,
    UTC timestamps) and drops the per-row machinery; both drivers report the number of rows
    actually inserted. A value shared by many rows (one ``SamplingParams`` dict) is
    converted once. All rows must have the same keys, as ``convert`` makes them.
    """
    dialect = conn.dialect
    values: dict[str, Any] = {name: bindparam(name) for name in rows[0]}
    values["created_at"] = utc_constant(created_at, dialect.name)
    insert = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(table)
    compiled = insert.values(values).on_conflict_do_nothing().compile(dialect=dialect)
    names = list(compiled.positiontup or compiled.binds)
    columns: list[list[Any]] = []
    for name in names:
        if name in rows[0]:
            process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            raw = [row[name] for row in rows]
        else:  # the statement-level created_at
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            raw = [bind.effective_value] * len(rows)
        if process is None:
            columns.append(raw)
            continue
        out, last_in, last_out = [], object(), None
        for value in raw:
            if value is not last_in:  # identity: shared objects are converted once
                last_in, last_out = value, process(value)
            out.append(last_out)
        columns.append(out)
    if compiled.positiontup:  # qmark (sqlite3)
        params: list[Any] = list(zip(*columns, strict=True))
    else:  # pyformat (psycopg)
        params = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    return conn.exec_driver_sql(compiled.string, params).rowcount


def _pk_name(table: Table) -> str:
    (col,) = table.primary_key.columns
    return col.name


def _plain(value: Any) -> Any:
    """Compare stored and new values alike (enums as values, tuples as lists)."""
    if isinstance(value, (Split, Outcome, SampleSource, Stage)):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def _enum(cls: type, value: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise StoreError(f"{value!r} is not a {cls.__name__}; choose one of: {choices}") from None


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = f"{type(orig).__name__}: {orig}" if orig is not None else str(exc)
    return text.strip().splitlines()[0][:500] if text.strip() else type(exc).__name__

