"""Migrations: an empty database upgrades to head with no drift, from a checkout or a wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from selftaught.errors import StoreError
from selftaught.store import Store, migrations
from selftaught.store.models import UNMODELLED, Base

REPO = Path(__file__).resolve().parents[2]
TABLES = {
    "runs", "rounds", "stages", "problems", "samples", "verdicts", "training_examples",
    "checkpoints", "evaluations", "constitutions", "critiques", "revisions", "preference_pairs",
}  # fmt: skip
TABLES |= {"step_labels", "reward_models"}  # migration 0006 (prm)
TABLES |= {"searches", "search_results", "search_nodes"}  # migration 0007 (search)
TABLES |= {"training_pairs"}  # migration 0012 (DPO training sets)


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
            # SQLite's FTS5 table of completions and its shadow tables (0005; not in the models)
            return {n for n in names if not n.startswith(UNMODELLED)}
    finally:
        engine.dispose()


def test_head_constant_matches_the_scripts():
    assert migrations.head() == migrations.HEAD
    assert set(Base.metadata.tables) == TABLES


def test_upgrade_empty_to_head_then_no_drift(store_url: str):
    assert migrations.current(store_url) is None
    migrations.upgrade(store_url)
    migrations.upgrade(store_url)  # idempotent
    assert migrations.current(store_url) == migrations.head()
    assert _tables(store_url) == TABLES
    migrations.check(store_url)  # alembic check: autogenerate finds nothing to do


def test_downgrade_to_base_and_back(store_url: str):
    migrations.upgrade(store_url)
    migrations.downgrade(store_url, "base")
    assert migrations.current(store_url) is None and _tables(store_url) == set()
    migrations.upgrade(store_url)
    migrations.check(store_url)


def test_check_reports_drift(sqlite_url: str):
    migrations.upgrade(sqlite_url)
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_samples_run_id")
    engine.dispose()
    with pytest.raises(StoreError, match="drift"):
        migrations.check(sqlite_url)


def test_0002_fills_run_id_of_existing_samples(sqlite_url: str):
    """A store written at 0001 upgrades to head with every sample's run id copied from its round."""
    migrations.upgrade(sqlite_url, "0001")
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO runs VALUES ('r', 'n', '{}', '2026-01-01 00:00:00', 'done')")
        conn.exec_driver_sql("INSERT INTO problems (id, problem_id, prompt, split, choices, keywords, meta) "
                             "VALUES (1, 'p', 'q', 'train', '[]', '[]', '{}')")
        conn.exec_driver_sql("INSERT INTO rounds (id, run_id, \"index\", created_at, metrics) VALUES (7, 'r', 0, '2026-01-01', '{}')")
        conn.exec_driver_sql(
            "INSERT INTO samples (round_id, problem_pk, source, \"index\", prompt, completion, seed, params, "
            "n_tokens, rationalized, created_at) VALUES (7, 1, 'generate', 0, 'q', 'a', 0, '{}', 0, 0, '2026-01-01')"
        )
    engine.dispose()
    migrations.upgrade(sqlite_url)
    migrations.check(sqlite_url)
    with Store(sqlite_url) as store:
        assert [r.run for r in store.query_samples(run_id="r")] == ["r"]


def test_store_without_upgrade_refuses_an_old_schema(sqlite_url: str):
    with pytest.raises(StoreError, match="selftaught db upgrade"):
        Store(sqlite_url, upgrade=False)
    Store(sqlite_url).close()
    Store(sqlite_url, upgrade=False).close()


def test_bad_urls_are_store_errors(tmp_path):
    with pytest.raises(StoreError, match="bad database URL"):
        Store("not a url")
    with pytest.raises(StoreError, match="unsupported database"):
        Store("mysql://localhost/x")
    with pytest.raises(StoreError, match="cannot open store"):
        Store(f"sqlite:///{tmp_path}/missing-dir/x.db")


def test_checkout_finds_the_repository_scripts():
    location = migrations.script_location()
    if "site-packages" in str(location) or "_migrations" in str(location):
        pytest.skip("running from an installed wheel")
    assert location == REPO / "alembic"


@pytest.mark.slow
def test_wheel_ships_migrations_and_uses_them(tmp_path):
    """Build the wheel (~6 s), unpack it, and upgrade a database from the unpacked copy."""
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO), "-w", str(out)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    (wheel,) = out.glob("selftaught-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    for expected in (
        "selftaught/_migrations/alembic.ini",
        "selftaught/_migrations/alembic/env.py",
        "selftaught/_migrations/alembic/versions/0001_initial.py",
        "selftaught/_migrations/alembic/versions/0002_sample_run_id.py",
        "selftaught/_migrations/alembic/versions/0003_drop_low_cardinality_verdict_indexes.py",
        "selftaught/_migrations/alembic/versions/0004_constitutional_ai.py",
    ):
        assert expected in names
    code = (
        "import sys; from selftaught.store import migrations as m; "
        "print(m.script_location()); m.upgrade(sys.argv[1]); print(m.current(sys.argv[1]))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = subprocess.run(
        [sys.executable, "-c", code, f"sqlite:///{tmp_path}/w.db"],
        check=True, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    location, revision = done.stdout.split()
    assert Path(location) == tmp_path / "site" / "selftaught" / "_migrations" / "alembic"
    assert revision == migrations.HEAD
