"""Fixtures for the store tests: fresh stores on SQLite and PostgreSQL, and records.

``store`` is parametrized over both backends; every PostgreSQL test gets its own database
(cloned from a template migrated once per session, dropped afterwards), so parallel and
repeated runs never collide. If the server is unreachable the PostgreSQL tests fail when
``CI=true`` and skip (saying why) otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from selftaught.records import (
    Judged,
    Outcome,
    Problem,
    Sample,
    SampleSource,
    SamplingParams,
    Split,
    Verdict,
)
from selftaught.store import Store
from selftaught.store import migrations

PG_URL = os.environ.get(
    "SELFTAUGHT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RUN = "run-1"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin_engine() -> sa.Engine:
    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _create_database(name: str, template: str | None = None) -> str:
    with _admin_engine().connect() as conn:
        clause = f" TEMPLATE {template}" if template else ""
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
    return sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _drop_database(name: str) -> None:
    with _admin_engine().connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL admin URL, once the server answered (fail in CI, skip locally)."""
    try:
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        reason = f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}: {exc})"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason + "; set SELFTAUGHT_TEST_PG_URL or start the server")
    return PG_URL


@pytest.fixture
def pg_empty_url(pg_server: str) -> Iterator[str]:
    """A brand-new, empty PostgreSQL database of this test's own (dropped afterwards)."""
    name = f"st_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(name)
    yield url
    _drop_database(name)


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head, cloned by ``pg_url`` (one per session)."""
    name = f"st_tmpl_{uuid.uuid4().hex[:12]}"
    url = _create_database(name)
    migrations.upgrade(url)
    yield name
    _drop_database(name)


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own, already at schema head."""
    name = f"st_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(name, template=pg_template)
    yield url
    _drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh database URL, once per backend."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An empty store at schema head, on each backend."""
    s = Store(store_url)
    yield s
    s.close()


@pytest.fixture
def problems() -> list[Problem]:
    """Three training problems and one held-out problem."""
    return [
        Problem(id="add-1", prompt="1+1=?", answer="2"),
        Problem(id="add-2", prompt="2+3=?", answer="5", solution="<think>2+3=5</think> 5"),
        Problem(id="mc-1", prompt="Pick", answer="B", choices=("A", "B"), keywords=("b",),
                meta={"source": "toy", "level": 1}),
        Problem(id="held-1", prompt="4+4=?", answer="8", split=Split.HELDOUT),
    ]  # fmt: skip


@pytest.fixture
def store_with_run(store: Store, problems: list[Problem]) -> Store:
    """A store holding run ``run-1`` and the ``problems``."""
    store.create_run(RUN, name="test run", recipe={"method": "rft", "k": 2})
    store.add_problems(problems)
    return store


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


@pytest.fixture(name="make_sample")
def make_sample_fixture() -> Callable[..., Sample]:
    """``make_sample(problem_id, index=0, source=GENERATE, completion=None)``."""
    return make_sample


@pytest.fixture(name="make_judged")
def make_judged_fixture() -> Callable[..., Judged]:
    """``make_judged(sample, outcome=PASS, judge="math", detail="")``."""
    return make_judged
