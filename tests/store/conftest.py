"""Fixtures for the store tests: fresh stores on SQLite and PostgreSQL, and records.

``store`` is parametrized over both backends; every PostgreSQL test gets a schema of its
own (dropped afterwards), so parallel and repeated runs never collide. If the server is
unreachable the PostgreSQL tests fail when ``CI=true`` and skip (saying why) otherwise.
Plain helpers (``make_sample``, ``make_judged``, ``fresh_url``) live in ``factories.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selftaught.records import Problem, Split
from selftaught.store import Store
from tests.store.factories import BACKENDS, RUN, pg_schema


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL of this test's own: a fresh, empty schema."""
    with pg_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database URL, once per backend."""
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
