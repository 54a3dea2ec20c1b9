"""Completion substring search through an index (SQLite FTS5 trigram, PostgreSQL pg_trgm;
store/text_index.py, migration 0005): the same rows as the plain ``icontains`` scan, for
awkward patterns, on both backends; the index is really used; it follows every write."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from selftaught.store import Store, text_index
from selftaught.store.models import SampleRow
from tests.store.factories import RUN, make_judged, make_sample

COMPLETIONS = [
    "<think>2+3=5</think> 5",
    "<THINK>2+3=5</think> FIVE",
    "100% sure: a_b and a%b",
    'she said "42" twice',
    "path a/b/c and a//b",
    "back\\slash \\n here",
    "Éclair été ÉTÉ",
    "ǅ title-case digraph",
    "  leading and trailing  ",
    "x",
]
PATTERNS = [
    "think", "THINK>", "</think> 5", "five", "2+3", "% sure", "%", "a%b", "a_b", "_b ", '"42"',
    '"', "a/b", "//", "\\s", "\\n", "été", "ÉTÉ", "éclair", "ǆ", "  lead", "ing  ", "x", "zzz",
    "ai", "e",
]  # fmt: skip


@pytest.fixture
def searchable(store_with_run: Store) -> Store:
    store = store_with_run
    samples = [make_sample("add-1", i, completion=c) for i, c in enumerate(COMPLETIONS)]
    store.add_samples(RUN, 0, samples)
    store.add_verdicts(RUN, 0, [make_judged(s) for s in samples[:3]])
    return store


def _scan_ids(store: Store, pattern: str) -> list[int]:
    """The plain ``icontains`` predicate, indexes switched off (the semantics to keep)."""
    engine = sa.create_engine(store.url)
    stmt = (sa.select(SampleRow.id).where(SampleRow.completion.icontains(pattern, autoescape=True))
            .order_by(SampleRow.id))  # fmt: skip
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                for knob in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                    conn.exec_driver_sql(f"SET LOCAL {knob} = off")
            return list(conn.execute(stmt).scalars())
    finally:
        engine.dispose()


def test_search_finds_exactly_what_a_scan_finds(searchable: Store):
    for pattern in PATTERNS:
        expected = _scan_ids(searchable, pattern)
        for limit in (None, 50):
            found = searchable.query_samples(text=pattern, limit=limit, order_by="id")
            assert sorted({r.sample_id for r in found}) == expected, (pattern, limit)
    # a few sanity anchors for the semantics kept: ASCII case folds, % and _ are literal
    texts = lambda p: {r.completion for r in searchable.query_samples(text=p, limit=None)}
    assert texts("THINK>") == {COMPLETIONS[0], COMPLETIONS[1]}
    assert texts("a%b") == {COMPLETIONS[2]} and texts("a_b") == {COMPLETIONS[2]}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sqlite_uses_the_trigram_index_for_three_characters_or_more(store_with_run: Store):
    store = store_with_run
    assert store._fts

    def plan(pattern: str) -> str:
        stmt = store.sample_query_statement(run_id=RUN, text=pattern)
        with store._read() as conn:
            compiled = stmt.compile(conn)
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), compiled.positiontup and
                                        tuple(compiled.params[k] for k in compiled.positiontup))
            return " | ".join(r[-1] for r in rows)

    assert "samples_fts" in plan("abc") and "samples_fts" not in plan("ab")


@pytest.mark.parametrize("store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_postgresql_trigram_index_serves_the_same_predicate(store_with_run: Store):
    store = store_with_run
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_samples_completion_trgm' "
                "AND schemaname = current_schema()").first()  # fmt: skip
            if exists is None:
                pytest.skip("pg_trgm not available to this role: the migration skipped the index")
            # a tiny table: the planner would scan it; forbid the other paths to see the index serve
            for knob in ("enable_seqscan", "enable_indexscan"):
                conn.exec_driver_sql(f"SET LOCAL {knob} = off")
            stmt = store.sample_query_statement(text="think", limit=None)
            compiled = stmt.compile(conn)
            plan = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars().all()
    finally:
        engine.dispose()
    assert any("ix_samples_completion_trgm" in line for line in plan), plan


def test_the_index_follows_inserts_retries_updates_and_deletes(searchable: Store):
    store = searchable
    assert store.add_samples(RUN, 0, [make_sample("add-1", 0, completion="a retry: ignored")]) == 0
    assert store.query_samples(text="retry", limit=None) == []
    store.add_samples(RUN, 1, [make_sample("add-2", 0, completion="brand new needle")])
    assert [r.completion for r in store.query_samples(text="NEEDLE")] == ["brand new needle"]
    # by hand, outside the store: the triggers keep the index right
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(SampleRow).where(SampleRow.completion == "x").values(completion="haystack"))
            conn.execute(sa.delete(SampleRow).where(SampleRow.completion == "brand new needle"))
    finally:
        engine.dispose()
    assert [r.completion for r in store.query_samples(text="hayst")] == ["haystack"]
    assert store.query_samples(text="needle") == []
    for pattern in ("hayst", "needle", "think"):
        assert sorted(r.sample_id for r in store.query_samples(text=pattern, limit=None)) == _scan_ids(store, pattern)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_common_pattern_scans_for_a_page_and_uses_the_index_for_everything(searchable: Store, monkeypatch):
    store = searchable
    assert store._fts  # SQLite's FTS5 (PostgreSQL's planner makes this choice itself)
    monkeypatch.setattr(text_index, "COMMON", 2)
    assert store._completion_candidates("think", limit=50) is None  # 2 completions: common
    assert store._completion_candidates("think", limit=None) is not None
    assert store._completion_candidates("sure", limit=50) is not None  # 1 completion: rare
    for limit in (1, None):
        got = [r.sample_id for r in store.query_samples(text="think", limit=limit)]
        assert got == _scan_ids(store, "think")[: limit or None]
