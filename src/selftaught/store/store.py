"""``Store``: the only API through which flows and the CLI touch the database.

What comes in: records (``Problem``, ``Sample``, ``Judged``, ``TrainingSet``,
``Checkpoint``, ``Evaluation``) plus the run id and round index they belong to. What goes
out: the same records, read back, and flat dicts for history tables and queries.

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

It does not know about Prefect, models or judges; it imports SQLAlchemy, and Alembic only
when the schema needs upgrading.

The class is assembled from mixins, one per concern, so no file is long: this module holds
transactions, runs, problems, rounds, samples, verdicts, training sets, checkpoints and
evaluations; ``lookups`` the natural-key lookups; ``cai_store`` the Constitutional AI
records; ``history`` the read-side queries (round table, sample search, pass rates);
``summaries`` the rounds' cached counts; ``text_index`` the completions' substring index;
``lease_store`` the run leases (one process works on a run); ``supersede`` moving a run's
later rounds aside (``--retrain-from``); ``rejudge_store`` verdicts of several judge versions
(``selftaught rejudge``, and which version each read picks); ``_sql`` the shared SQL helpers (the bulk insert path).

Status writes keep the store's story consistent: a stage is never marked done while an
earlier stage of its round is failed (nor failed while a later one is done), a run is never
marked done while one of its stages is not done, and a process that lost a run's lease
cannot write the run's status at all (``lease_store``).
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from sqlalchemy import (
    Connection,
    Insert,
    Table,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from selftaught.errors import StoreError
from selftaught.settings import get_settings
from selftaught.records import (
    STAGE_ORDER,
    Checkpoint,
    Evaluation,
    Judged,
    Problem,
    Sample,
    SampleSource,
    Split,
    Stage,
    TrainingExample,
    TrainingSet,
)
from selftaught.store import convert, migrations
from selftaught.store._sql import _bulk_insert_ignore, _chunks, _enum, _pk_name, _plain, _reason
from selftaught.store.cai_store import CaiRecords, CaiStoreMixin
from selftaught.store.db import make_engine, read_only
from selftaught.store.lookups import KeyLookupMixin
from selftaught.store.prm_store import PrmStoreMixin
from selftaught.store.search_store import SearchStoreMixin
from selftaught.store.history import QUERY_ORDERS, ROUND_TABLE_KEYS, HistoryMixin
from selftaught.store.lease_store import LeaseStoreMixin
from selftaught.store.rejudge_store import RejudgeStoreMixin
from selftaught.store.summaries import RoundSummaryMixin
from selftaught.store.supersede import SupersedeMixin
from selftaught.store.text_index import TextIndexMixin
from selftaught.store.models import (
    CheckpointRow,
    EvaluationRow,
    ProblemRow,
    Round,
    Run,
    SampleRow,
    StageDevice,
    StageDType,
    StageRun,
    StageStatus,
    TrainingExampleRow,
    TrainingPairRow,
    VerdictRow,
    utcnow,
)

__all__ = ["QUERY_ORDERS", "ROUND_TABLE_KEYS", "CaiRecords", "Store"]

_ERROR_MAX = 20_000
_NO_PLACEMENT = {"device": None, "dtype": None, "peak_gpu_mb": None}
_TRAINING_SET_KEY = "training_set"


class Store(KeyLookupMixin, CaiStoreMixin, HistoryMixin, PrmStoreMixin, SearchStoreMixin,
            TextIndexMixin, RoundSummaryMixin, LeaseStoreMixin, SupersedeMixin, RejudgeStoreMixin):
    """A selftaught store at ``url`` (``sqlite:///path.db`` or ``postgresql+psycopg://...``).

    >>> store = Store("sqlite://")          # in memory, schema created
    >>> store.create_run("r1", name="demo", recipe={"method": "rft"})
    True
    >>> store.create_run("r1", name="demo", recipe={"method": "rft"})
    False
    >>> store.close()
    """

    def __init__(self, url: str, *, upgrade: bool = True, home: str | Path | None = None):
        self.url = url
        #: checkpoint folders are recorded relative to it (``homepaths``); default SELFTAUGHT_HOME
        self.home = Path(os.path.abspath(get_settings().home if home is None else home))
        self._engine = make_engine(url)
        self._reader = read_only(self._engine)
        self._dialect = self._engine.dialect.name
        self._pg = self._dialect == "postgresql"
        self._leases: dict[str, str] = {}  # run id -> lease token this Store took (lease_store.py)
        try:
            with self._reader.connect() as conn:
                revision = migrations.current_revision(conn)
            if revision != migrations.HEAD:
                if not upgrade:
                    raise StoreError(
                        f"store {self._safe_url} is at schema {revision or 'none'}, "
                        f"this selftaught needs {migrations.HEAD}: run `selftaught db upgrade`"
                    )
                migrations.upgrade(self._engine)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(f"cannot open store {self._safe_url}: {_reason(exc)}") from exc
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def _safe_url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._safe_url!r})"

    # transactions ---------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store write failed: {_reason(exc)}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One read transaction (deferred on SQLite: never waits for writers)."""
        try:
            with self._reader.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store read failed: {_reason(exc)}") from exc

    def _insert(self, table: Table) -> Insert:
        return (postgresql.insert if self._pg else sqlite.insert)(table)

    def _insert_ignore(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]], *,
        created_at: dt.datetime | None = None,
    ) -> int:  # fmt: skip
        """``INSERT ... ON CONFLICT DO NOTHING`` of ``rows``; returns how many were new.

        With ``created_at`` (bound once for the statement) it takes the bulk path.
        """
        if not rows:
            return 0
        if created_at is not None:
            return _bulk_insert_ignore(conn, table, rows, created_at)
        stmt = self._insert(table).on_conflict_do_nothing()
        if self._pg:  # psycopg reports no rowcount for executemany: count what comes back
            return len(conn.execute(stmt.returning(table.c[_pk_name(table)]), rows).all())
        return conn.execute(stmt, rows).rowcount

    # runs -----------------------------------------------------------------------------

    def create_run(self, run_id: str, *, name: str, recipe: dict) -> bool:
        """Record a run; True if it was new, False if ``run_id`` already existed."""
        row = {"id": run_id, "name": name, "recipe": dict(recipe), "created_at": utcnow(),
               "status": "created"}
        with self._write() as conn:
            return self._insert_ignore(conn, Run.__table__, [row]) == 1

    def get_run(self, run_id: str) -> dict | None:
        with self._read() as conn:
            row = conn.execute(select(*_RUN_COLS).where(Run.id == run_id)).one_or_none()
        return None if row is None else dict(row._mapping)

    def set_run_status(self, run_id: str, status: str) -> None:
        """Set the run's status; "done" only if every stage it recorded is done."""
        with self._write() as conn:
            self._check_lease(conn, run_id)
            if status == "done":
                _require_all_done(conn, run_id)
            done = conn.execute(update(Run).where(Run.id == run_id).values(status=status))
            if done.rowcount != 1:
                raise StoreError(f"unknown run {run_id!r}")

    def list_runs(self) -> list[dict]:
        with self._read() as conn:
            rows = conn.execute(select(*_RUN_COLS).order_by(Run.created_at, Run.id)).all()
        return [dict(r._mapping) for r in rows]

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

    # rounds and stages ----------------------------------------------------------------

    def ensure_round(self, run_id: str, index: int, *, constitution_hash: str | None = None) -> None:
        """Create round ``index`` of the run if missing; record its constitution hash."""
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index, create=True)
            if constitution_hash is None:
                return
            old = conn.execute(select(Round.constitution_hash).where(Round.id == rid)).scalar_one()
            if old is None:
                conn.execute(
                    update(Round).where(Round.id == rid).values(constitution_hash=constitution_hash)
                )
            elif old != constitution_hash:
                raise StoreError(
                    f"round {index} of run {run_id!r} already ran under constitution {old}, "
                    f"not {constitution_hash}"
                )

    def stage_status(self, run_id: str, index: int) -> dict[Stage, str]:
        """Stage -> "running" / "done" / "failed"; a stage never started is absent."""
        stmt = (
            select(StageRun.stage, StageRun.status)
            .join(Round, Round.id == StageRun.round_id)
            .where(Round.run_id == run_id, Round.index == index)
        )
        with self._read() as conn:
            return {Stage(s): StageStatus(st) for s, st in conn.execute(stmt)}

    def start_stage(self, run_id: str, index: int, stage: Stage) -> None:
        """Mark a stage running (again): started now, no finish, no error, no placement."""
        now = utcnow()
        self._upsert_stage(
            run_id, index, stage,
            insert={"status": StageStatus.RUNNING, "started_at": now, "finished_at": None,
                    "seconds": None, "metrics": {}, "error": None, **_NO_PLACEMENT},
            update=("status", "started_at", "finished_at", "seconds", "metrics", "error", *_NO_PLACEMENT),
        )  # fmt: skip

    def finish_stage(
        self, run_id: str, index: int, stage: Stage, *, seconds: float, metrics: dict,
        device: str | None = None, dtype: str | None = None, peak_gpu_mb: float | None = None,
    ) -> None:  # fmt: skip
        """Mark a stage done, with how long it took, what it measured and where it ran its
        model (``device``/``dtype``, and on CUDA its peak GPU memory in MiB; None: no model)."""
        now = utcnow()
        placement = {"device": None if device is None else StageDevice(device),
                     "dtype": None if dtype is None else StageDType(dtype),
                     "peak_gpu_mb": None if peak_gpu_mb is None else float(peak_gpu_mb)}  # fmt: skip
        self._upsert_stage(
            run_id, index, stage,
            insert={"status": StageStatus.DONE, "started_at": now - dt.timedelta(seconds=seconds),
                    "finished_at": now, "seconds": float(seconds), "metrics": dict(metrics),
                    "error": None, **placement},
            update=("status", "finished_at", "seconds", "metrics", "error", *placement),
        )  # fmt: skip
        self._remember_counts(run_id, index)  # the round's counts, cached (summaries.py)

    def fail_stage(self, run_id: str, index: int, stage: Stage, *, error: str) -> None:
        """Mark a stage failed, keeping the error text (bounded)."""
        now = utcnow()
        self._upsert_stage(
            run_id, index, stage,
            insert={"status": StageStatus.FAILED, "started_at": None, "finished_at": now,
                    "seconds": None, "metrics": {}, "error": error[:_ERROR_MAX]},
            update=("status", "finished_at", "error"),
        )  # fmt: skip

    def _upsert_stage(
        self, run_id: str, index: int, stage: Stage, *, insert: dict[str, Any],
        update: Sequence[str],
    ) -> None:  # fmt: skip
        with self._write() as conn:
            self._check_lease(conn, run_id)
            rid = self._round_id(conn, run_id, index, create=True)
            _require_stage_order(conn, rid, Stage(stage), insert["status"], f"round {index} of run {run_id!r}")
            stmt = self._insert(StageRun.__table__).values(round_id=rid, stage=Stage(stage), **insert)
            stmt = stmt.on_conflict_do_update(
                index_elements=["round_id", "stage"],
                set_={name: stmt.excluded[name] for name in update},
            )
            conn.execute(stmt)

    def last_round_index(self, run_id: str) -> int | None:
        with self._read() as conn:
            return conn.execute(
                select(func.max(Round.index)).where(Round.run_id == run_id)
            ).scalar_one()

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
            select(*_SAMPLE_COLS)
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
            select(*_SAMPLE_COLS, *_VERDICT_COLS)
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

    # training sets --------------------------------------------------------------------

    def add_training_set(self, run_id: str, index: int, ts: TrainingSet) -> int:
        """Record round ``index``'s curated set, once; returns how many examples were new.

        A round has one training set: if one is already recorded this is a no-op that
        returns 0 (a retried curate stage). Examples keep their order; an example's
        ``sample_key`` must name a stored sample of this round, and an example repeating
        another's (problem, sample) is stored once. Method and stats go in the round's
        ``metrics["training_set"]``.
        """
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index, create=True)
            metrics = conn.execute(select(Round.metrics).where(Round.id == rid)).scalar_one() or {}
            if _TRAINING_SET_KEY in metrics:
                return 0
            examples = list(ts.examples)
            pks = self._problem_pks(conn, {e.problem_id for e in examples})
            keyed = [e for e in examples if e.sample_key is not None]
            sample_ids = self._sample_ids(conn, rid, [e.sample_key for e in keyed])
            by_example = {id(e): sid for e, sid in zip(keyed, sample_ids, strict=True)}
            rows = [
                {
                    "round_id": rid,
                    "position": i,
                    "problem_pk": pks[e.problem_id],
                    "sample_id": by_example.get(id(e)),
                    "prompt": e.prompt,
                    "completion": e.completion,
                    "method": ts.method,
                }
                for i, e in enumerate(examples)
            ]
            n = self._insert_ignore(conn, TrainingExampleRow.__table__, rows)
            self._forget_counts(conn, rid)
            record = {"method": ts.method, "stats": dict(ts.stats), "n_examples": len(rows)}
            conn.execute(
                update(Round).where(Round.id == rid)
                .values(metrics={**metrics, _TRAINING_SET_KEY: record})
            )  # fmt: skip
            return n

    def get_training_set(self, run_id: str, index: int) -> TrainingSet | None:
        """The round's training set as recorded, or None if curate never recorded one."""
        sample_problem = aliased(ProblemRow)
        with self._read() as conn:
            found = conn.execute(
                select(Round.id, Round.metrics).where(Round.run_id == run_id, Round.index == index)
            ).one_or_none()
            if found is None or _TRAINING_SET_KEY not in (found.metrics or {}):
                return None
            record = found.metrics[_TRAINING_SET_KEY]
            rows = conn.execute(
                select(
                    TrainingExampleRow.prompt,
                    TrainingExampleRow.completion,
                    ProblemRow.problem_id,
                    SampleRow.source,
                    SampleRow.index,
                    sample_problem.problem_id.label("sample_problem_id"),
                )
                .join(ProblemRow, ProblemRow.id == TrainingExampleRow.problem_pk)
                .outerjoin(SampleRow, SampleRow.id == TrainingExampleRow.sample_id)
                .outerjoin(sample_problem, sample_problem.id == SampleRow.problem_pk)
                .where(TrainingExampleRow.round_id == found.id)
                .order_by(TrainingExampleRow.position)
            ).all()
        examples = tuple(
            TrainingExample(
                prompt=r.prompt,
                completion=r.completion,
                problem_id=r.problem_id,
                sample_key=None
                if r.source is None
                else (SampleSource(r.source).value, r.sample_problem_id, r.index),
            )
            for r in rows
        )
        return TrainingSet(method=record["method"], examples=examples, stats=record["stats"])

    def add_training_pairs(self, run_id: str, index: int, pairs: Sequence[Any]) -> int:
        """Record the DPO pairs round ``index`` trains on (``VerifiedPair``s), in order, once;
        returns how many were new (0 when the round has them already: a retried curate)."""
        if not pairs:
            return 0
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index, create=True)
            if conn.execute(select(TrainingPairRow.id).where(TrainingPairRow.round_id == rid).limit(1)).first():
                return 0
            pks = self._problem_pks(conn, {p.problem_id for p in pairs})
            chosen = self._sample_ids(conn, rid, [p.chosen_key for p in pairs])
            rejected = self._sample_ids(conn, rid, [p.rejected_key for p in pairs])
            rows = [
                {"round_id": rid, "position": i, "problem_pk": pks[p.problem_id], "chosen_sample_id": c,
                 "rejected_sample_id": r, "prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected}
                for i, (p, c, r) in enumerate(zip(pairs, chosen, rejected, strict=True))
            ]  # fmt: skip
            return self._insert_ignore(conn, TrainingPairRow.__table__, rows)

    def get_training_pairs(self, run_id: str, index: int) -> list[dict] | None:
        """The round's recorded DPO pairs in order (problem_id, prompt, chosen, rejected and
        the two sample ids), or None if it recorded none."""
        with self._read() as conn:
            rows = conn.execute(
                select(ProblemRow.problem_id, TrainingPairRow.prompt, TrainingPairRow.chosen, TrainingPairRow.rejected,
                       TrainingPairRow.chosen_sample_id, TrainingPairRow.rejected_sample_id)
                .join(ProblemRow, ProblemRow.id == TrainingPairRow.problem_pk)
                .join(Round, Round.id == TrainingPairRow.round_id)
                .where(Round.run_id == run_id, Round.index == index)
                .order_by(TrainingPairRow.position)
            ).all()  # fmt: skip
        return [dict(r._mapping) for r in rows] or None

    # checkpoints and evaluations ------------------------------------------------------

    def add_checkpoint(self, run_id: str, ckpt: Checkpoint) -> None:
        """Record a checkpoint (idempotent on ``ckpt.id``). Its parent must be recorded first."""
        if ckpt.parent_id == ckpt.id:
            raise StoreError(f"checkpoint {ckpt.id!r} cannot be its own parent")
        table = CheckpointRow.__table__
        with self._write() as conn:
            self._require_run(conn, run_id)
            if ckpt.parent_id is not None and not self._checkpoint_exists(conn, ckpt.parent_id):
                raise StoreError(
                    f"checkpoint {ckpt.id!r}: parent {ckpt.parent_id!r} is not in the store "
                    "(add the parent, e.g. the base model, first)"
                )
            row = convert.checkpoint_to_row(ckpt, run_id=run_id, now=utcnow(), home=self.home)
            if self._insert_ignore(conn, table, [row]):
                return
            old = conn.execute(select(table).where(table.c.id == ckpt.id)).one()
            if (old.path, old.sha256, old.parent_id) != (row["path"], ckpt.sha256, ckpt.parent_id):
                raise StoreError(
                    f"checkpoint {ckpt.id!r} is already stored with a different path, hash "
                    "or parent"
                )

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        with self._read() as conn:
            return self._get_checkpoint(conn, checkpoint_id)

    def checkpoint_run_id(self, checkpoint_id: str) -> str | None:
        """The run that recorded the checkpoint, or None if there is no such checkpoint."""
        with self._read() as conn:
            return conn.execute(select(CheckpointRow.run_id).where(CheckpointRow.id == checkpoint_id)).scalar_one_or_none()

    def checkpoint_chain(self, checkpoint_id: str) -> list[Checkpoint]:
        """This checkpoint, its parent, ... back to the root (empty if unknown)."""
        chain: list[Checkpoint] = []
        seen: set[str] = set()
        with self._read() as conn:
            next_id: str | None = checkpoint_id
            while next_id is not None and next_id not in seen:
                seen.add(next_id)
                ckpt = self._get_checkpoint(conn, next_id)
                if ckpt is None:
                    break
                chain.append(ckpt)
                next_id = ckpt.parent_id
        return chain

    def list_checkpoints(self, run_id: str) -> list[Checkpoint]:
        """Every checkpoint recorded for the run, pruned ones included: rounds in order, then
        the rest (reward models, ...) by creation. Unknown run: ``StoreError``."""
        table = CheckpointRow.__table__
        stmt = (
            select(table)
            .where(table.c.run_id == run_id)
            .order_by(table.c.round_index.is_(None), table.c.round_index, table.c.created_at, table.c.id)
        )
        with self._read() as conn:
            self._require_run(conn, run_id)
            return [convert.checkpoint_from_row(r, self.home) for r in conn.execute(stmt)]

    def mark_checkpoint_pruned(self, checkpoint_id: str, *, at: dt.datetime | None = None) -> bool:
        """Record that a checkpoint's weights were deleted (its row stays). Idempotent: the
        first time is kept and True returned only then. Unknown id: ``StoreError``."""
        table = CheckpointRow.__table__
        with self._write() as conn:
            if not self._checkpoint_exists(conn, checkpoint_id):
                raise StoreError(f"unknown checkpoint {checkpoint_id!r}")
            result = conn.execute(
                update(table)
                .where(table.c.id == checkpoint_id, table.c.pruned_at.is_(None))
                .values(pruned_at=at or utcnow())
            )
            return result.rowcount > 0

    def add_evaluation(self, run_id: str, index: int | None, ev: Evaluation) -> None:
        """Record an evaluation (idempotent on checkpoint, split, k); its checkpoint must exist."""
        with self._write() as conn:
            if index is None:
                self._require_run(conn, run_id)
                rid = None
            else:
                rid = self._round_id(conn, run_id, index, create=True)
            if not self._checkpoint_exists(conn, ev.checkpoint_id):
                raise StoreError(
                    f"evaluation of unknown checkpoint {ev.checkpoint_id!r}: add_checkpoint first"
                )
            row = convert.evaluation_to_row(ev, round_id=rid, now=utcnow())
            self._insert_ignore(conn, EvaluationRow.__table__, [row])

    def get_evaluations(self, run_id: str) -> list[tuple[int | None, Evaluation]]:
        """(round index or None, evaluation) for the run's rounds and checkpoints."""
        stmt = (
            select(EvaluationRow.__table__, Round.index.label("round_index"))
            .join(CheckpointRow, CheckpointRow.id == EvaluationRow.checkpoint_id)
            .outerjoin(Round, Round.id == EvaluationRow.round_id)
            .where(
                or_(
                    Round.run_id == run_id,
                    and_(EvaluationRow.round_id.is_(None), CheckpointRow.run_id == run_id),
                )
            )
            .order_by(func.coalesce(Round.index, -1), EvaluationRow.id)
        )
        with self._read() as conn:
            return [(r.round_index, convert.evaluation_from_row(r)) for r in conn.execute(stmt)]


# status invariants ------------------------------------------------------------------------


def _require_stage_order(conn: Connection, rid: int, stage: Stage, status: StageStatus, where: str) -> None:
    """A stage is never done while an earlier stage of its round is failed, nor failed while
    a later one is done: either would be a round whose stages tell two stories."""
    if status == StageStatus.RUNNING:
        return
    at = STAGE_ORDER.index(stage)
    if status == StageStatus.DONE:
        others, clash = STAGE_ORDER[:at], StageStatus.FAILED
    else:
        others, clash = STAGE_ORDER[at + 1 :], StageStatus.DONE
    found = conn.execute(
        select(StageRun.stage).where(
            StageRun.round_id == rid, StageRun.status == clash, StageRun.stage.in_(others)
        )
    ).scalars().first()
    if found is not None:
        raise StoreError(
            f"{where}: cannot mark {stage.value} {status.value} while {Stage(found).value} is "
            f"{clash.value}; resume the run to re-run its stages"
        )


def _require_all_done(conn: Connection, run_id: str) -> None:
    """A run is never done while one of its recorded stages is not."""
    found = conn.execute(
        select(Round.index, StageRun.stage, StageRun.status)
        .join(Round, Round.id == StageRun.round_id)
        .where(Round.run_id == run_id, StageRun.status != StageStatus.DONE)
        .order_by(Round.index)
    ).first()
    if found is not None:
        raise StoreError(
            f"run {run_id!r} cannot be done: round {found.index} {Stage(found.stage).value} is "
            f"{StageStatus(found.status).value}"
        )


# selected columns -------------------------------------------------------------------------

_RUN_COLS = (Run.id, Run.name, Run.recipe, Run.created_at, Run.status)
_SAMPLE_COLS = (
    SampleRow.id.label("sample_pk"),
    ProblemRow.problem_id,
    SampleRow.index,
    SampleRow.prompt,
    SampleRow.completion,
    SampleRow.source,
    SampleRow.seed,
    SampleRow.params,
    SampleRow.checkpoint_id,
    SampleRow.n_tokens,
    SampleRow.step,
)
_VERDICT_COLS = (
    VerdictRow.judge,
    VerdictRow.judge_version,
    VerdictRow.outcome,
    VerdictRow.score,
    VerdictRow.detail,
)
