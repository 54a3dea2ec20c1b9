"""Migration 0013 on a store whose runs hold the old free-text statuses: they read back as
``RunStatus``, nothing else changes, a value that is no status is refused by name, and back
down to 0012. On both backends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from selftaught.errors import StoreError
from selftaught.store import RunStatus, Store, migrations

STATUSES = ["created", "running", "done", "failed", "superseded"]


def _insert_runs(url: str, statuses: list[str]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for i, status in enumerate(statuses):
            conn.exec_driver_sql(
                f"INSERT INTO runs (id, name, recipe, created_at, status) "
                f"VALUES ('r{i}', 'n', '{{}}', '2026-01-0{i + 1} 00:00:00', '{status}')"
            )
    engine.dispose()


def _statuses(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT status FROM runs ORDER BY id").scalars().all()
    engine.dispose()
    return list(rows)


def test_0013_reads_old_statuses_as_run_status_and_back(store_url: str):
    migrations.upgrade(store_url, "0012")
    _insert_runs(store_url, STATUSES)
    migrations.upgrade(store_url)
    migrations.check(store_url)
    with Store(store_url, upgrade=False) as store:
        runs = store.list_runs()
        assert [r.status for r in runs] == [RunStatus(s) for s in STATUSES]
        assert all(type(r.status) is RunStatus for r in runs)
        store.set_run_status("r0", RunStatus.RUNNING)
        assert store.get_run("r0").status is RunStatus.RUNNING
    migrations.downgrade(store_url, "0012")
    assert _statuses(store_url) == ["running", *STATUSES[1:]]


def test_0013_refuses_a_status_it_does_not_know(store_url: str):
    migrations.upgrade(store_url, "0012")
    _insert_runs(store_url, ["done", "paused"])
    with pytest.raises(StoreError, match="'paused'"):
        migrations.upgrade(store_url)
    assert migrations.current(store_url) == "0012"


def test_a_run_status_must_be_one_of_the_enum(store: Store):
    store.create_run("r", name="n", recipe={})
    with pytest.raises(StoreError, match="not a RunStatus"):
        store.set_run_status("r", "paused")
    assert store.get_run("r").status is RunStatus.CREATED
