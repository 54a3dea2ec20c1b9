"""``Store``: the only API through which flows and the CLI touch the database.

What comes in: records (``Problem``, ``Sample``, ``Judged``, ``TrainingSet``,
``Checkpoint``, ``Evaluation``) plus the run id and round index they belong to. What goes
out: the same records, read back, and frozen rows for history tables and queries
(``rows.py``: ``RunInfo``, ``RoundRow``, ``SampleHit``, ...).

Every write is idempotent. Each method is one transaction; bulk writes are one
``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING`` on the table's natural key, so a
Prefect retry that repeats a write stores nothing twice, and the count returned is the
number of rows *newly* inserted. Samples and verdicts take a bulk path (``_bulk_insert_
ignore``): the columns' own type converters, then the driver's executemany, at ~0.6 of raw
sqlite3's speed (``benchmarks/store_ingest.py``). Rows that would conflict are not compared (a sample
regenerated with the same key keeps its first text) except where a silent mismatch would
be a bug worth stopping for: a problem re-added with different content, a checkpoint id
re-added with a different path or hash, a round given a different constitution.

Lookups by natural key happen here, in bulk, inside the writing transaction: samples refer
to problems by ``problem_id``; verdicts refer to samples by ``(round, source, problem_id,
index)``; an unknown run, problem, sample or checkpoint raises ``StoreError``. Every
database error leaves as ``StoreError`` too (with the driver's message), so the CLI can
print one line. All user input reaches SQL as bound parameters.

Checkpoint folders are recorded relative to the store's home folder (``Store(url, home=...)``,
default ``SELFTAUGHT_HOME``) and read back absolute under it (``selftaught/homepaths.py``).

It does not know about Prefect, models, judges, loops or flows: it imports
``selftaught.records``/``errors``/``homepaths`` and SQLAlchemy, and Alembic only when the
schema needs upgrading (``tests/test_layering.py``).

How it is put together: ``base.StoreBase`` declares, with types, what every part uses (the
engines, ``_write``/``_read`` transactions, ``_insert_ignore``, ``_pg``, ``home`` and the
natural-key lookups such as ``_round_id``); each part is a class that inherits it, plus
the other parts it calls (``runs.RunStoreMixin`` inherits ``lease_store`` and
``summaries``, ...), and ``Store`` inherits them all. We chose this over Prefect-style
per-table modules of functions over an engine because the parts share state that
belongs to one ``Store`` object (the leases this process took, whether the SQLite file
has its text index) and every caller already holds a ``Store``: the classes keep one
object and one method name per operation, and inheritance makes each part's needs
explicit (``tests/store/test_store_parts.py`` checks that no part uses a ``self.`` member
its classes do not declare). The parts: this module holds the ``Store`` and problems,
samples and verdicts; ``runs`` runs, rounds and stages; ``training_store`` training sets
and DPO pairs; ``checkpoint_store`` checkpoints and evaluations; ``cai_store`` the
Constitutional AI records; ``history`` the read-side queries (round table, sample search,
pass rates); ``report_store`` the report's (exact counts, a bounded sample of rows);
``summaries`` the rounds' cached counts; ``text_index`` the completions'
substring index; ``lease_store`` the run leases (one process works on a run);
``supersede`` moving a run's later rounds aside (``--retrain-from``); ``rejudge_store``
verdicts of several judge versions (``selftaught rejudge``, and which version each read
picks); ``prm_store`` step labels and reward models; ``search_store`` test-time searches;
``_sql`` the shared SQL helpers (the bulk insert path); ``rows`` the records reads return.

Status writes keep the store's story consistent: a stage is never marked done while an
earlier stage of its round is failed (nor failed while a later one is done), a run is never
marked done while one of its stages is not done, and a process that lost a run's lease
cannot write the run's status at all (``lease_store``).
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import select

from selftaught.errors import StoreError
from selftaught.records import Judged, Problem, Sample, SampleSource, Split
from selftaught.store import convert
from selftaught.store._sql import _chunks, _enum, _plain
from selftaught.store.cai_store import CaiRecords, CaiStoreMixin
from selftaught.store.convert import SAMPLE_COLS, VERDICT_COLS
from selftaught.store.history import QUERY_ORDERS, HistoryMixin
from selftaught.store.models import ProblemRow, Round, SampleRow, VerdictRow, utcnow
from selftaught.store.prm_store import PrmStoreMixin
from selftaught.store.report_store import ReportStoreMixin
from selftaught.store.rows import ROUND_TABLE_KEYS
from selftaught.store.runs import RunStoreMixin
from selftaught.store.search_store import SearchStoreMixin
from selftaught.store.supersede import SupersedeMixin
from selftaught.store.training_store import TrainingStoreMixin

__all__ = ["QUERY_ORDERS", "ROUND_TABLE_KEYS", "CaiRecords", "Store"]


class Store(RunStoreMixin, TrainingStoreMixin, ReportStoreMixin, HistoryMixin, PrmStoreMixin,
            CaiStoreMixin, SearchStoreMixin, SupersedeMixin):
    """A selftaught store at ``url`` (``sqlite:///path.db`` or ``postgresql+psycopg://...``).

    >>> store = Store("sqlite://")          # in memory, schema created
    >>> store.create_run("r1", name="demo", recipe={"method": "rft"})
    True
    >>> store.create_run("r1", name="demo", recipe={"method": "rft"})
    False
    >>> store.close()
    """

    # problems -------------------------------------------------------------------------

    def add_problems(self, problems: Sequence[Problem]) -> int:
        """Insert problems by ``problem.id``; identical re-adds are no-ops, different ones fail."""
        rows: dict[str, dict[str, Any]] = {}
        for p in problems:
            row = convert.problem_to_row(p)
            if rows.setdefault(p.id, row) != row:
                raise StoreError(f"problem {p.id!r} given twice with different content")
        if not rows:
            return 0
        table = ProblemRow.__table__
        with self._write() as conn:
            for chunk in _chunks(list(rows)):
                found = conn.execute(select(table).where(table.c.problem_id.in_(chunk))).all()
                for old in found:
                    new = rows[old.problem_id]
                    if {k: _plain(getattr(old, k)) for k in new} != {k: _plain(v) for k, v in new.items()}:
                        raise StoreError(
                            f"problem {old.problem_id!r} is already stored with different "
                            "content; give changed problems new ids"
                        )
            return self._insert_ignore(conn, table, list(rows.values()))

    def get_problems(
        self, ids: Sequence[str] | None = None, split: Split | None = None
    ) -> list[Problem]:
        """Problems by id (in the order given; unknown ids are left out) and/or split."""
        base = select(ProblemRow.__table__)
        if split is not None:
            base = base.where(ProblemRow.split == Split(split))
        with self._read() as conn:
            if ids is None:
                rows = conn.execute(base.order_by(ProblemRow.problem_id)).all()
                return [convert.problem_from_row(r) for r in rows]
            found: dict[str, Problem] = {}
            for chunk in _chunks(list(dict.fromkeys(ids))):
                for r in conn.execute(base.where(ProblemRow.problem_id.in_(chunk))):
                    found[r.problem_id] = convert.problem_from_row(r)
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    # samples and verdicts -------------------------------------------------------------

    def add_samples(self, run_id: str, index: int, samples: Sequence[Sample]) -> int:
        """Store samples of round ``index`` (created if missing); returns how many were new."""
        samples = list(samples)
        if not samples:
            return 0
        now = utcnow()
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index, create=True)
            pks = self._problem_pks(conn, {s.problem_id for s in samples})
            rows = convert.samples_to_rows(samples, run_id=run_id, round_id=rid, problem_pks=pks)
            self._forget_counts(conn, rid)
            return self._insert_samples(conn, rows, now)  # and indexes their text (text_index.py)

    def get_samples(
        self, run_id: str, index: int, source: SampleSource | None = None
    ) -> list[Sample]:
        """Samples of one round, ordered by (source, problem_id, index)."""
        stmt = (
            select(*SAMPLE_COLS)
            .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
            .join(Round, Round.id == SampleRow.round_id)
            .where(Round.run_id == run_id, Round.index == index)
            .order_by(SampleRow.source, ProblemRow.problem_id, SampleRow.index)
        )
        if source is not None:
            stmt = stmt.where(SampleRow.source == _enum(SampleSource, source))
        with self._read() as conn:
            return [convert.sample_from_row(r) for r in conn.execute(stmt)]

    def add_verdicts(self, run_id: str, index: int, judged: Sequence[Judged]) -> int:
        """Store verdicts of samples already stored in round ``index``; returns how many were new.

        A verdict is keyed by (sample, judge, judge_version); a verdict about a sample the
        store does not hold raises ``StoreError`` and nothing is written.
        """
        judged = list(judged)
        if not judged:
            return 0
        now = utcnow()
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            ids = self._sample_ids(conn, rid, [j.sample.key for j in judged])
            rows = [
                convert.verdict_to_row(j.verdict, sample_id=sid, round_id=rid, run_id=run_id)
                for j, sid in zip(judged, ids, strict=True)
            ]
            self._forget_counts(conn, rid)
            return self._insert_ignore(conn, VerdictRow.__table__, rows, created_at=now)

    def get_judged(
        self,
        run_id: str,
        index: int,
        source: SampleSource | None = None,
        judge: str | None = None,
        judge_version: str | None = None,
    ) -> list[Judged]:
        """Every (sample, verdict) pair of a round, ordered by sample key then judge: of the
        round's own verdicts, or of ``judge_version`` (``rejudge_store.version_clause``)."""
        stmt = (
            select(*SAMPLE_COLS, *VERDICT_COLS)
            .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
            .join(Round, Round.id == SampleRow.round_id)
            .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
            .where(Round.run_id == run_id, Round.index == index)
            .order_by(
                SampleRow.source, ProblemRow.problem_id, SampleRow.index,
                VerdictRow.judge, VerdictRow.judge_version,
            )
        )  # fmt: skip
        if source is not None:
            stmt = stmt.where(SampleRow.source == _enum(SampleSource, source))
        if judge is not None:
            stmt = stmt.where(VerdictRow.judge == judge)
        with self._read() as conn:
            picked = self._verdict_filter(conn, judge_version, run_id=run_id)
            if picked is not None:
                stmt = stmt.where(picked)
            out: list[Judged] = []
            last: tuple[int, Sample] | None = None
            for r in conn.execute(stmt):
                if last is None or last[0] != r.sample_pk:  # one Sample object per sample
                    last = (r.sample_pk, convert.sample_from_row(r))
                out.append(Judged(sample=last[1], verdict=convert.verdict_from_row(r)))
            return out
