"""The report's reads (``selftaught report``): exact counts, a bounded sample of rows, and
which held-out problems each round solved. A mixin of ``Store``; callers see only ``Store``.

A run can hold a million samples; the report page must stay a few megabytes. So nothing
here returns rows in proportion to the run's size:

* ``sample_counts``: (round, outcome, judge) -> number of (sample, verdict) rows, one
  GROUP BY. The page states these exact numbers next to the rows it shows.
* ``sample_rows``: at most ``per_stratum`` rows of each (round, outcome) stratum, chosen in
  SQL by ``ROW_NUMBER()`` over a fixed pseudo-random order of sample ids (a multiplicative
  hash), so failures and passes of every round both appear and the same store always
  gives the same rows; then only those rows are read whole. Texts are returned whole; the
  caller truncates.
* ``heldout_solved``: per (round, held-out problem), whether any of the round's
  evaluation samples passed (a sample passes when every verdict on it passes) -- what
  the report's "newly solved / newly lost" compares between rounds. One row per problem
  and round, aggregated in SQL.

Verdicts are each round's own, or ``judge_version``'s (``rejudge_store``), as in every
history read.
"""

from __future__ import annotations

from sqlalchemy import case, func, literal, select

from selftaught.records import Outcome, SampleSource, Split
from selftaught.store._sql import _chunks
from selftaught.store.history import _QUERY_COLS, HistoryMixin
from selftaught.store.models import ProblemRow, Round, SampleRow, VerdictRow
from selftaught.store.rows import ProblemSolved, SampleCount, SampleHit

__all__ = ["ReportStoreMixin"]

#: Knuth's multiplicative hash: a fixed, well-mixed order of sample ids that both SQLite
#: (64-bit integers) and PostgreSQL (bigint) compute without overflow for ids below 2**31
_HASH_MUL, _HASH_MOD = 2654435761, 2**32


class ReportStoreMixin(HistoryMixin):
    def sample_counts(self, run_id: str, *, judge_version: str | None = None) -> list[SampleCount]:
        """Exact (sample, verdict) row counts of a run per (round, outcome, judge), in round
        order; samples without a verdict count once under outcome and judge None."""
        picked = self._picked(run_id, judge_version)
        stmt = (  # grouped by the samples' own round_id: no join to rounds for every row
            select(SampleRow.round_id, VerdictRow.outcome, VerdictRow.judge, func.count())
            .select_from(SampleRow)
            .outerjoin(VerdictRow, (VerdictRow.sample_id == SampleRow.id) & picked)
            .where(SampleRow.run_id == run_id)
            .group_by(SampleRow.round_id, VerdictRow.outcome, VerdictRow.judge)
        )
        with self._read() as conn:
            index = dict(conn.execute(select(Round.id, Round.index).where(Round.run_id == run_id)).all())
            found = [(index[rid], None if o is None else Outcome(o), j, n) for rid, o, j, n in conn.execute(stmt)]
        found.sort(key=lambda c: (c[0], c[1] or "", c[2] or ""))
        return [SampleCount(round=r, outcome=o, judge=j, n=n) for r, o, j, n in found]

    def sample_rows(self, run_id: str, *, per_stratum: int,
                    judge_version: str | None = None) -> list[SampleHit]:  # fmt: skip
        """Up to ``per_stratum`` (sample, verdict) rows of each (round, outcome) of the run,
        picked in SQL in a fixed pseudo-random order (the same store gives the same rows);
        returned by round, then sample id.

        Two steps: rank the narrow (sample id, verdict id) pairs and keep the picked ones
        (the sort never carries texts), then read those rows whole."""
        picked = self._picked(run_id, judge_version)
        spread = (SampleRow.id * literal(_HASH_MUL)) % _HASH_MOD
        rank = func.row_number().over(
            partition_by=(SampleRow.round_id, VerdictRow.outcome), order_by=(spread, SampleRow.id, VerdictRow.id)
        )
        ranked = (
            select(SampleRow.id.label("sid"), VerdictRow.id.label("vid"), rank.label("pick"))
            .select_from(SampleRow)
            .outerjoin(VerdictRow, (VerdictRow.sample_id == SampleRow.id) & picked)
            .where(SampleRow.run_id == run_id)
            .subquery()
        )
        with self._read() as conn:
            keep = {(s, v) for s, v in conn.execute(
                select(ranked.c.sid, ranked.c.vid).where(ranked.c.pick <= max(0, int(per_stratum)))
            )}  # fmt: skip
        cols = (*_QUERY_COLS, VerdictRow.id.label("verdict_id"))
        hits: list[SampleHit] = []
        for chunk in _chunks(sorted({s for s, _ in keep})):
            stmt = self._sample_query(cols, {"run_id": run_id, "judge_version": judge_version},
                                      order_by="id", limit=None).where(SampleRow.id.in_(chunk))  # fmt: skip
            with self._read() as conn:
                hits += [SampleHit(*r[:-1]) for r in conn.execute(stmt) if (r.sample_id, r.verdict_id) in keep]
        return sorted(hits, key=lambda h: (h.round, h.sample_id))

    def heldout_solved(self, run_id: str, *, judge_version: str | None = None) -> list[ProblemSolved]:
        """Per (round, held-out problem) with judged evaluation samples: whether any of them
        passed (every verdict on the sample passes), by round and problem id."""
        per_sample = (
            select(
                Round.index.label("round"),
                SampleRow.problem_pk.label("problem_pk"),
                func.min(case((VerdictRow.outcome == Outcome.PASS, 1), else_=0)).label("ok"),
            )
            .join(Round, Round.id == SampleRow.round_id)
            .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
            .where(SampleRow.run_id == run_id, SampleRow.source == SampleSource.EVAL,
                   self._picked(run_id, judge_version))  # fmt: skip
            .group_by(Round.index, SampleRow.problem_pk, SampleRow.id)
            .subquery()
        )
        stmt = (
            select(per_sample.c.round, ProblemRow.problem_id, func.max(per_sample.c.ok))
            .join(ProblemRow, ProblemRow.id == per_sample.c.problem_pk)
            .where(ProblemRow.split == Split.HELDOUT)
            .group_by(per_sample.c.round, ProblemRow.problem_id)
            .order_by(per_sample.c.round, ProblemRow.problem_id)
        )
        with self._read() as conn:
            return [ProblemSolved(round=r, problem_id=p, solved=bool(ok)) for r, p, ok in conn.execute(stmt)]
