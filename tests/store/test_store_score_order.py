"""Score-ordered pages (``--sort -score`` with a verdict filter) read off the verdict indexes
of migration 0005 return exactly what the sorted query returned before, on both backends;
on SQLite the plan really reads the index instead of sorting."""

from __future__ import annotations

import random

import pytest

from selftaught.records import Judged, Outcome, Verdict
from selftaught.store import Store
from tests.store.factories import RUN, make_sample


@pytest.fixture
def scored(store_with_run: Store) -> Store:
    """Two runs, three rounds; scores with ties, two judges, some samples never judged."""
    store = store_with_run
    store.create_run("other", name="other", recipe={})
    rng = random.Random(0)
    for run, rounds in ((RUN, (0, 1, 2)), ("other", (0,))):
        for r in rounds:
            samples = [make_sample(p, i) for p in ("add-1", "add-2", "mc-1") for i in range(6)]
            store.add_samples(run, r, samples)
            judged = []
            for s in samples[:-2]:  # the last two stay unjudged
                score = rng.choice([0.0, 0.25, 0.3, 0.3, 0.5, 1.0, rng.random()])
                judged.append(Judged(s, Verdict("math", Outcome.PASS if score >= 0.5 else Outcome.FAIL, score)))
                if s.index % 3 == 0:
                    judged.append(Judged(s, Verdict("format", Outcome.PASS, rng.choice([0.3, 1.0]))))
            store.add_verdicts(run, r, judged)
    return store


def _both_ways(store: Store, **query) -> tuple[list, list]:
    indexed = store.query_samples(**query)
    store._score_pages = False  # the query as built before 0005: sort everything
    try:
        return indexed, store.query_samples(**query)
    finally:
        del store._score_pages


CASES = [
    dict(run_id=RUN, round_index=1, min_score=0.2, max_score=0.6),
    dict(run_id=RUN, round_index=2, outcome="fail"),
    dict(run_id=RUN, round_index=0, judge="format"),
    dict(run_id=RUN, min_score=0.25),
    dict(run_id=RUN, max_score=0.3, judge="math"),
    dict(run_id="other", min_score=0.0),
    dict(round_index=0, min_score=0.1),  # no run: stays as it was
    dict(run_id=RUN, round_index=1),  # no verdict filter: unjudged samples must stay in
]


def test_score_pages_equal_the_sorted_query(scored: Store):
    for case in CASES:  # one store per backend, every case (a fixture per case cost ~1 s each)
        for order_by in ("-score", "score"):
            for limit in (5, None):
                indexed, sorted_ = _both_ways(scored, **case, order_by=order_by, limit=limit)
                assert indexed == sorted_ and indexed, (case, order_by, limit)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sqlite_reads_score_pages_off_the_index(scored: Store):

    def plan(**query) -> str:
        stmt = scored.sample_query_statement(**query, order_by="-score")
        with scored._read() as conn:
            compiled = stmt.compile(conn)
            params = tuple(compiled.params[k] for k in compiled.positiontup)
            return " | ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params))

    in_round = plan(run_id=RUN, round_index=1, min_score=0.2)
    in_run = plan(run_id=RUN, max_score=0.9)
    assert "ix_verdicts_round_id_score" in in_round and "TEMP B-TREE FOR ORDER BY" not in in_round, in_round
    assert "ix_verdicts_run_id_score" in in_run and "TEMP B-TREE FOR ORDER BY" not in in_run, in_run
