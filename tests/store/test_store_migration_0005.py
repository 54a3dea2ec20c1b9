"""Migration 0005 on a store that already holds data: the verdicts' copied round and run are
filled, old completions are searchable, old rounds are counted live; then no drift, and
back down to 0004. On both backends."""

from __future__ import annotations

import sqlalchemy as sa

from selftaught.store import Store, migrations
from selftaught.store.models import Round, VerdictRow

ROWS = [
    "INSERT INTO runs VALUES ('r', 'n', '{}', '2026-01-01 00:00:00', 'done')",
    "INSERT INTO problems (id, problem_id, prompt, split, choices, keywords, meta) "
    "VALUES (1, 'p', 'q', 'train', '[]', '[]', '{}')",
    "INSERT INTO rounds (id, run_id, \"index\", created_at, metrics) VALUES (7, 'r', 0, '2026-01-01', '{}')",
    "INSERT INTO samples (id, round_id, run_id, problem_pk, source, \"index\", prompt, completion, seed, "
    "params, n_tokens, rationalized, created_at) VALUES "
    "(1, 7, 'r', 1, 'generate', 0, 'q', 'an OLD needle', 0, '{}', 0, FALSE, '2026-01-01'), "
    "(2, 7, 'r', 1, 'generate', 1, 'q', 'hay', 0, '{}', 0, FALSE, '2026-01-01')",
    "INSERT INTO verdicts (sample_id, judge, judge_version, outcome, score, detail, created_at) "
    "VALUES (1, 'math', '1', 'pass', 1.0, '', '2026-01-01'), (2, 'math', '1', 'fail', 0.2, '', '2026-01-01')",
]


def test_0005_upgrades_a_store_with_data_and_back(store_url: str):
    migrations.upgrade(store_url, "0004")
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        for statement in ROWS:
            conn.exec_driver_sql(statement)
    migrations.upgrade(store_url)
    migrations.check(store_url)
    with engine.connect() as conn:
        copied = conn.execute(sa.select(VerdictRow.sample_id, VerdictRow.round_id, VerdictRow.run_id)
                              .order_by(VerdictRow.sample_id)).all()  # fmt: skip
        assert [tuple(r) for r in copied] == [(1, 7, "r"), (2, 7, "r")]
        assert conn.execute(sa.select(Round.summary)).scalar_one() is None  # counted live
    engine.dispose()
    with Store(store_url) as store:
        assert [r.sample_id for r in store.query_samples(text="old NEEDLE")] == [1]
        assert [r.sample_id for r in store.query_samples(run_id="r", round_index=0, min_score=0.1,
                                                            order_by="-score")] == [1, 2]  # fmt: skip
        (row,) = store.round_table("r")
        assert (row.n_samples, row.n_judged, row.pass_rate) == (2, 2, 0.5)
    migrations.downgrade(store_url, "0004")
    assert migrations.current(store_url) == "0004"
    migrations.upgrade(store_url)
    migrations.check(store_url)
