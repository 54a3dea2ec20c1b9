"""The report's reads (``store/report_store.py``) on the synthetic run, on SQLite and
PostgreSQL: exact counts, a bounded and deterministic sample of rows in which every
(round, outcome) appears, and which held-out problems each round solved."""

from __future__ import annotations

from collections import Counter

from selftaught.records import Outcome
from selftaught.store import Store
from tests.history.synthetic import HELDOUT, RUN, build


def test_sample_counts_are_exact(store_url: str):
    build(store_url)
    with Store(store_url) as store:
        counts = store.sample_counts(RUN)
        every = store.query_samples(run_id=RUN, limit=None)
    expected = Counter((h.round, h.outcome, h.judge) for h in every)
    assert {(c.round, c.outcome, c.judge): c.n for c in counts} == dict(expected)
    assert sum(c.n for c in counts) == len(every) == 51  # 4 + 24 + 23 rows of the round table


def test_sample_rows_take_at_most_the_cap_of_each_round_and_outcome(store_url: str):
    build(store_url)
    with Store(store_url) as store:
        picked = store.sample_rows(RUN, per_stratum=2)
        again = store.sample_rows(RUN, per_stratum=2)
        everything = store.sample_rows(RUN, per_stratum=10_000)
        every = store.query_samples(run_id=RUN, limit=None)
    strata = Counter((h.round, h.outcome) for h in picked)
    present = {(h.round, h.outcome) for h in every}
    assert set(strata) == present  # passes and failures of every round appear
    assert all(n == 2 for n in strata.values())  # each stratum here has more than 2 rows
    assert picked == again  # the same store gives the same rows
    assert [h.sample_id for h in picked] == sorted(h.sample_id for h in picked)  # by round, then id
    assert sorted(h.sample_id for h in everything) == sorted(h.sample_id for h in every)


def test_heldout_solved_marks_a_problem_with_any_passing_evaluation_sample(store_url: str):
    build(store_url)
    with Store(store_url) as store:
        solved = store.heldout_solved(RUN)
    # synthetic.py: evaluation sample k of round r passes when k < r (2 samples per problem)
    assert [(s.round, s.problem_id, s.solved) for s in solved] == [
        (r, p.id, r > 0) for r in range(3) for p in HELDOUT
    ]


def test_heldout_solved_reads_the_asked_judge_version(sqlite_url: str):
    build(sqlite_url)
    with Store(sqlite_url) as store:
        own = store.heldout_solved(RUN)
        assert store.heldout_solved(RUN, judge_version="none-such") == []  # no verdicts of it
        counts = store.sample_counts(RUN, judge_version="none-such")
    assert own and all(c.outcome is None for c in counts)  # every sample unjudged by that version
    assert Outcome.PASS not in {c.outcome for c in counts}
