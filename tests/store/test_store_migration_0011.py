"""Migration 0011 on a store with old verdicts: their hand-written versions become
``unknown`` / ``unknown:LABEL``, nothing else changes, and back down to 0010. On both backends."""

from __future__ import annotations

import sqlalchemy as sa

from selftaught.store import migrations
from selftaught.store.models import VerdictRow
from tests.store.test_store_migration_0005 import ROWS

MORE = [
    "INSERT INTO samples (id, round_id, run_id, problem_pk, source, \"index\", prompt, completion, seed, "
    "params, n_tokens, rationalized, created_at) VALUES "
    "(3, 7, 'r', 1, 'generate', 2, 'q', 'x', 0, '{}', 0, FALSE, '2026-01-01')",
    "INSERT INTO verdicts (sample_id, round_id, run_id, judge, judge_version, outcome, score, detail, created_at) "
    "VALUES (3, 7, 'r', 'math', '1+strict-boxed', 'fail', 0.0, 'd', '2026-01-01')",
]


def _verdicts(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(VerdictRow.sample_id, VerdictRow.judge_version, VerdictRow.outcome,
                                      VerdictRow.score).order_by(VerdictRow.sample_id)).all()  # fmt: skip
    engine.dispose()
    return [tuple(r) for r in rows]


def test_0011_marks_old_versions_unknown_and_back(store_url: str):
    migrations.upgrade(store_url, "0004")
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        for statement in ROWS:
            conn.exec_driver_sql(statement)
    engine.dispose()
    migrations.upgrade(store_url, "0010")
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        for statement in MORE:
            conn.exec_driver_sql(statement)
    engine.dispose()
    before = _verdicts(store_url)
    migrations.upgrade(store_url)
    migrations.check(store_url)
    after = _verdicts(store_url)
    assert [v for _, v, *_ in after] == ["unknown", "unknown", "unknown:1+strict-boxed"]
    assert [(s, o, sc) for s, _, o, sc in after] == [(s, o, sc) for s, _, o, sc in before]  # nothing else
    migrations.downgrade(store_url, "0010")
    assert _verdicts(store_url) == before
