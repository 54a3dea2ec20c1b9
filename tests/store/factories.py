"""Records and databases for the store tests (imported by conftest and the test files).

``fresh_url`` gives an empty database on either backend: a SQLite file, or a PostgreSQL
schema of its own (``CREATE SCHEMA`` costs ~0.1 s here, ``CREATE DATABASE`` ~2 s) dropped
afterwards. If the server is unreachable, PostgreSQL tests fail when ``CI=true`` and skip,
saying why, otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from selftaught.records import (
    Judged,
    Outcome,
    Sample,
    SampleSource,
    SamplingParams,
    Verdict,
)

PG_URL = os.environ.get(
    "SELFTAUGHT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RUN = "run-1"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin_engine() -> sa.Engine:
    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def require_pg_server() -> None:
    """Fail (CI) or skip (locally) unless the PostgreSQL server answers."""
    try:
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        reason = f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}: {exc})"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason + "; set SELFTAUGHT_TEST_PG_URL or start the server")


@contextmanager
def pg_schema() -> Iterator[str]:
    """A URL whose connections live in a new, empty schema (dropped afterwards).

    A schema, not a database: CREATE/DROP DATABASE cost ~2 s here, a schema ~0.1 s.
    """
    require_pg_server()
    name = f"st_test_{uuid.uuid4().hex[:12]}"
    with _admin_engine().connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def fresh_url(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Like ``store_url`` for fixtures of a wider scope (``tmp_dir`` for SQLite)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / 'store.db'}"
    else:
        with pg_schema() as url:
            yield url



def make_sample(
    problem_id: str,
    index: int = 0,
    source: SampleSource = SampleSource.GENERATE,
    completion: str | None = None,
    checkpoint_id: str | None = "ckpt-0",
) -> Sample:
    return Sample(
        problem_id=problem_id,
        index=index,
        prompt=f"Q: {problem_id}",
        completion=completion if completion is not None else f"answer {problem_id}/{index}",
        source=source,
        seed=1000 + index,
        params=SamplingParams(temperature=0.7, max_new_tokens=32),
        checkpoint_id=checkpoint_id,
        n_tokens=7,
    )


def make_judged(
    sample: Sample, outcome: Outcome = Outcome.PASS, judge: str = "math", detail: str = ""
) -> Judged:
    score = 1.0 if outcome is Outcome.PASS else 0.0
    return Judged(sample, Verdict(judge=judge, outcome=outcome, score=score, detail=detail))
