"""``Store``: the only API through which flows and the CLI touch the database.

What comes in: records (``Problem``, ``Sample``, ``Judged``, ``TrainingSet``,
``Checkpoint``, ``Evaluation``) plus the run id and round index they belong to. What goes
out: the same records, read back, and flat dicts for history tables and queries.

Every write is idempotent. Each method is one transaction; bulk writes are one
``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING`` on the table's natural key, so a
Prefect retry that repeats a write stores nothing twice, and the count returned is the
number of rows *newly* inserted. Samples and verdicts take a bulk path (``_bulk_insert_
ignore``): the columns' own type converters, then the driver's executemany, at ~0.8 of raw
sqlite3's speed (``benchmarks/store_ingest.py``). Rows that would conflict are not compared (a sample
regenerated with the same key keeps its first text) except where a silent mismatch would
be a bug worth stopping for: a problem re-added with different content, a checkpoint id
re-added with a different path or hash, a round given a different constitution.

Lookups by natural key happen here, in bulk, inside the writing transaction: samples refer
to problems by ``problem_id``; verdicts refer to samples by ``(round, source, problem_id,
index)``; an unknown run, problem, sample or checkpoint raises ``StoreError``. Every
database error leaves as ``StoreError`` too (with the driver's message), so the CLI can
print one line. All user input reaches SQL as bound parameters.

It does not know about Prefect, models or judges; it imports SQLAlchemy, and Alembic only
when the schema needs upgrading.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import math
from dataclasses import dataclass
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import (
    Connection,
    Insert,
    Select,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from selftaught.errors import StoreError
from selftaught.records import (
    STAGE_ORDER,
    Checkpoint,
    Critique,
    PreferencePair,
    Revision,
    Evaluation,
    Judged,
    Outcome,
    Problem,
    Sample,
    SampleSource,
    Split,
    Stage,
    TrainingExample,
    TrainingSet,
)
from selftaught.store import convert, migrations
from selftaught.store.db import make_engine, read_only
from selftaught.store.models import (
    CheckpointRow,
    ConstitutionRow,
    CritiqueRow,
    PreferencePairRow,
    RevisionRow,
    EvaluationRow,
    ProblemRow,
    Round,
    Run,
    SampleRow,
    StageRun,
    StageStatus,
    TrainingExampleRow,
    VerdictRow,
    utc_constant,
    utcnow,
)

#: bound parameters per ``IN (...)`` lookup (far below SQLite's and PostgreSQL's limits)
_CHUNK = 900
#: above this many distinct problems, verdict lookup reads the whole round's sample keys
_WHOLE_ROUND = 2000
_ERROR_MAX = 20_000
_TRAINING_SET_KEY = "training_set"


class Store:
    """A selftaught store at ``url`` (``sqlite:///path.db`` or ``postgresql+psycopg://...``).

    >>> store = Store("sqlite://")          # in memory, schema created
    >>> store.create_run("r1", name="demo", recipe={"method": "rft"})
    True
    >>> store.create_run("r1", name="demo", recipe={"method": "rft"})
    False
    >>> store.close()
    """

    def __init__(self, url: str, *, upgrade: bool = True):
        self.url = url
        self._engine = make_engine(url)
        self._reader = read_only(self._engine)
        self._dialect = self._engine.dialect.name
        self._pg = self._dialect == "postgresql"
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
        with self._write() as conn:
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
        """Mark a stage running (again): started now, no finish, no error."""
        now = utcnow()
        self._upsert_stage(
            run_id, index, stage,
            insert={"status": StageStatus.RUNNING, "started_at": now, "finished_at": None,
                    "seconds": None, "metrics": {}, "error": None},
            update=("status", "started_at", "finished_at", "seconds", "metrics", "error"),
        )  # fmt: skip

    def finish_stage(
        self, run_id: str, index: int, stage: Stage, *, seconds: float, metrics: dict
    ) -> None:
        """Mark a stage done, with how long it took and what it measured."""
        now = utcnow()
        self._upsert_stage(
            run_id, index, stage,
            insert={"status": StageStatus.DONE, "started_at": now - dt.timedelta(seconds=seconds),
                    "finished_at": now, "seconds": float(seconds), "metrics": dict(metrics),
                    "error": None},
            update=("status", "finished_at", "seconds", "metrics", "error"),
        )  # fmt: skip

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
            rid = self._round_id(conn, run_id, index, create=True)
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
            return self._insert_ignore(conn, SampleRow.__table__, rows, created_at=now)

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
                convert.verdict_to_row(j.verdict, sample_id=sid)
                for j, sid in zip(judged, ids, strict=True)
            ]
            return self._insert_ignore(conn, VerdictRow.__table__, rows, created_at=now)

    def get_judged(
        self,
        run_id: str,
        index: int,
        source: SampleSource | None = None,
        judge: str | None = None,
    ) -> list[Judged]:
        """Every (sample, verdict) pair of a round, ordered by sample key then judge."""
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
            row = convert.checkpoint_to_row(ckpt, run_id=run_id, now=utcnow())
            if self._insert_ignore(conn, table, [row]):
                return
            old = conn.execute(select(table).where(table.c.id == ckpt.id)).one()
            if (old.path, old.sha256, old.parent_id) != (ckpt.path, ckpt.sha256, ckpt.parent_id):
                raise StoreError(
                    f"checkpoint {ckpt.id!r} is already stored with a different path, hash "
                    "or parent"
                )

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        with self._read() as conn:
            return self._get_checkpoint(conn, checkpoint_id)

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

    # constitutional AI ----------------------------------------------------------------

    def add_constitution(self, hash: str, name: str, text: str) -> bool:
        """Record one constitution version (keyed by its content hash), once; True if new.

        ``text`` is its canonical JSON (``constitution.canonical_json``). Re-adding a hash
        with a different text raises ``StoreError`` (the hash must be of that text).
        """
        with self._write() as conn:
            old = conn.execute(
                select(ConstitutionRow.text).where(ConstitutionRow.hash == hash)
            ).scalar_one_or_none()
            if old is not None:
                if old != text:
                    raise StoreError(f"constitution {hash[:12]} is already stored with a different text")
                return False
            row = {"hash": hash, "name": name, "text": text, "created_at": utcnow()}
            return self._insert_ignore(conn, ConstitutionRow.__table__, [row]) == 1

    def get_constitution(self, hash: str) -> dict | None:
        """``{"hash", "name", "text", "created_at"}`` of a stored version, or None."""
        with self._read() as conn:
            row = conn.execute(
                select(ConstitutionRow.__table__).where(ConstitutionRow.hash == hash)
            ).one_or_none()
        return None if row is None else dict(row._mapping)

    def add_critiques(self, run_id: str, index: int, critiques: Sequence[Critique]) -> int:
        """Store critiques of answers stored in round ``index``; returns how many were new.

        Keyed by (sample, pass); the critiqued sample and the constitution version must be
        stored already (``add_samples``, ``add_constitution``), or nothing is written.
        """
        critiques = list(critiques)
        if not critiques:
            return 0
        now = utcnow()
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            self._require_constitutions(conn, {c.constitution_hash for c in critiques})
            ids = self._sample_ids(conn, rid, [c.sample_key for c in critiques])
            rows = [
                {"sample_id": sid, "pass_index": c.pass_index, "principle_id": c.principle_id,
                 "constitution_hash": c.constitution_hash, "answer": c.answer, "text": c.text,
                 "seed": c.seed}
                for c, sid in zip(critiques, ids, strict=True)
            ]  # fmt: skip
            return self._insert_ignore(conn, CritiqueRow.__table__, rows, created_at=now)

    def add_revisions(self, run_id: str, index: int, revisions: Sequence[Revision]) -> int:
        """Store revisions of answers stored in round ``index`` (keyed by sample, pass)."""
        revisions = list(revisions)
        if not revisions:
            return 0
        now = utcnow()
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            self._require_constitutions(conn, {r.constitution_hash for r in revisions})
            ids = self._sample_ids(conn, rid, [r.sample_key for r in revisions])
            rows = [
                {"sample_id": sid, "pass_index": r.pass_index, "principle_id": r.principle_id,
                 "constitution_hash": r.constitution_hash, "text": r.text, "seed": r.seed}
                for r, sid in zip(revisions, ids, strict=True)
            ]  # fmt: skip
            return self._insert_ignore(conn, RevisionRow.__table__, rows, created_at=now)

    def add_preference_pairs(
        self, run_id: str, index: int, pairs: Sequence[PreferencePair],
        kept: Iterable[PreferencePair] = (),
    ) -> int:  # fmt: skip
        """Store AI-feedback pairs of round ``index`` (keyed by round, problem, principle).

        Both answers must be stored samples of the round; ``kept`` is the subset that
        passed the confidence threshold (stored as ``kept``). Returns how many were new.
        """
        pairs = list(pairs)
        if not pairs:
            return 0
        keep = set(kept)
        now = utcnow()
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            self._require_constitutions(conn, {p.constitution_hash for p in pairs})
            pks = self._problem_pks(conn, {p.problem_id for p in pairs})
            chosen = self._sample_ids(conn, rid, [p.chosen_key for p in pairs])
            rejected = self._sample_ids(conn, rid, [p.rejected_key for p in pairs])
            rows = [
                {"round_id": rid, "problem_pk": pks[p.problem_id], "chosen_sample_id": c,
                 "rejected_sample_id": r, "principle_id": p.principle_id,
                 "constitution_hash": p.constitution_hash, "p_chosen": float(p.p_chosen),
                 "kept": p in keep, "feedback_model": p.feedback_model,
                 "option_logprobs": [[v if math.isfinite(v) else None for v in row]
                                     for row in p.option_logprobs]}
                for p, c, r in zip(pairs, chosen, rejected, strict=True)
            ]  # fmt: skip
            return self._insert_ignore(conn, PreferencePairRow.__table__, rows, created_at=now)

    def get_cai(self, run_id: str, index: int) -> CaiRecords:
        """The round's constitution hash, critiques, revisions and preference pairs."""
        with self._read() as conn:
            found = conn.execute(
                select(Round.id, Round.constitution_hash).where(Round.run_id == run_id, Round.index == index)
            ).one_or_none()
            if found is None:
                raise StoreError(f"run {run_id!r} has no round {index}")
            rid, chash = found
            key = (ProblemRow.problem_id, type_coerce(SampleRow.source, String()), SampleRow.index)
            crit = conn.execute(
                select(*key, CritiqueRow.__table__)
                .join(SampleRow, SampleRow.id == CritiqueRow.sample_id)
                .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
                .where(SampleRow.round_id == rid)
                .order_by(ProblemRow.problem_id, SampleRow.source, SampleRow.index, CritiqueRow.pass_index)
            ).all()
            revs = conn.execute(
                select(*key, RevisionRow.__table__)
                .join(SampleRow, SampleRow.id == RevisionRow.sample_id)
                .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
                .where(SampleRow.round_id == rid)
                .order_by(ProblemRow.problem_id, SampleRow.source, SampleRow.index, RevisionRow.pass_index)
            ).all()
            ch, rj = aliased(SampleRow), aliased(SampleRow)
            prs = conn.execute(
                select(
                    ProblemRow.problem_id, PreferencePairRow.__table__,
                    ch.prompt.label("prompt"), ch.completion.label("chosen"),
                    type_coerce(ch.source, String()).label("c_source"), ch.index.label("c_index"),
                    rj.completion.label("rejected"),
                    type_coerce(rj.source, String()).label("r_source"), rj.index.label("r_index"),
                )
                .join(ProblemRow, ProblemRow.id == PreferencePairRow.problem_pk)
                .join(ch, ch.id == PreferencePairRow.chosen_sample_id)
                .join(rj, rj.id == PreferencePairRow.rejected_sample_id)
                .where(PreferencePairRow.round_id == rid)
                .order_by(ProblemRow.problem_id, PreferencePairRow.principle_id)
            ).all()
        critiques = tuple(
            Critique(r.problem_id, (r.source, r.problem_id, r.index), r.pass_index, r.principle_id,
                     r.constitution_hash, r.answer, r.text, r.seed)
            for r in crit
        )  # fmt: skip
        revisions = tuple(
            Revision(r.problem_id, (r.source, r.problem_id, r.index), r.pass_index, r.principle_id,
                     r.constitution_hash, r.text, r.seed)
            for r in revs
        )  # fmt: skip
        pairs: list[PreferencePair] = []
        kept: list[PreferencePair] = []
        for r in prs:
            pair = PreferencePair(
                problem_id=r.problem_id, prompt=r.prompt, principle_id=r.principle_id,
                constitution_hash=r.constitution_hash, chosen=r.chosen, rejected=r.rejected,
                chosen_key=(r.c_source, r.problem_id, r.c_index),
                rejected_key=(r.r_source, r.problem_id, r.r_index),
                p_chosen=r.p_chosen, feedback_model=r.feedback_model,
                option_logprobs=tuple(
                    tuple(-math.inf if v is None else v for v in row) for row in r.option_logprobs or ()
                ),
            )  # fmt: skip
            pairs.append(pair)
            if r.kept:
                kept.append(pair)
        return CaiRecords(chash, critiques, revisions, tuple(pairs), tuple(kept))

    def _require_constitutions(self, conn: Connection, hashes: Iterable[str]) -> None:
        wanted = sorted(set(hashes))
        found = set(
            conn.execute(select(ConstitutionRow.hash).where(ConstitutionRow.hash.in_(wanted))).scalars()
        )
        missing = [h for h in wanted if h not in found]
        if missing:
            raise StoreError(
                f"constitution {missing[0][:12]} is not in the store: add_constitution first"
            )

    # history --------------------------------------------------------------------------

    def round_table(self, run_id: str) -> list[dict]:
        """One flat dict per round of the run, in round order (see ``ROUND_TABLE_KEYS``)."""
        with self._read() as conn:
            rounds = conn.execute(
                select(Round.id, Round.index, Round.constitution_hash)
                .where(Round.run_id == run_id)
                .order_by(Round.index)
            ).all()
            if not rounds:
                return []
            in_run = Round.run_id == run_id

            stages = conn.execute(
                select(StageRun.round_id, StageRun.stage, StageRun.status, StageRun.seconds)
                .join(Round, Round.id == StageRun.round_id)
                .where(in_run)
            ).all()
            counts = conn.execute(
                select(SampleRow.round_id, SampleRow.source, func.count())
                .join(Round, Round.id == SampleRow.round_id)
                .where(in_run)
                .group_by(SampleRow.round_id, SampleRow.source)
            ).all()
            # a generate sample passes when every verdict on it passes
            per_sample = (
                select(
                    SampleRow.round_id.label("round_id"),
                    func.min(case((VerdictRow.outcome == Outcome.PASS, 1), else_=0)).label("ok"),
                )
                .join(Round, Round.id == SampleRow.round_id)
                .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
                .where(in_run, SampleRow.source == SampleSource.GENERATE)
                .group_by(SampleRow.round_id, SampleRow.id)
                .subquery()
            )
            passes = conn.execute(
                select(per_sample.c.round_id, func.count(), func.sum(per_sample.c.ok))
                .group_by(per_sample.c.round_id)
            ).all()
            train = conn.execute(
                select(
                    TrainingExampleRow.round_id,
                    func.count(),
                    func.count(case((SampleRow.rationalized, 1))),
                )
                .join(Round, Round.id == TrainingExampleRow.round_id)
                .outerjoin(SampleRow, SampleRow.id == TrainingExampleRow.sample_id)
                .where(in_run)
                .group_by(TrainingExampleRow.round_id)
            ).all()
            checkpoints = conn.execute(
                select(CheckpointRow.round_index, CheckpointRow.id)
                .where(CheckpointRow.run_id == run_id, CheckpointRow.round_index.is_not(None))
                .order_by(CheckpointRow.created_at, CheckpointRow.id)
            ).all()
            evals = conn.execute(
                select(EvaluationRow.__table__)
                .join(Round, Round.id == EvaluationRow.round_id)
                .where(in_run, EvaluationRow.split == Split.HELDOUT)
                .order_by(EvaluationRow.k, EvaluationRow.id)
            ).all()

        by_round: dict[int, dict[str, Any]] = {}
        for r in rounds:
            by_round[r.id] = {
                "index": r.index,
                "stages_done": [],
                "stage_status": {},
                "n_samples": 0,
                "n_generate": 0,
                "n_rationalized": 0,
                "n_judged": 0,
                "pass_rate": None,
                "n_train": 0,
                "n_train_rationalized": 0,
                "checkpoint_id": None,
                "heldout_k": None,
                "heldout_greedy": None,
                "heldout_pass_at_1": None,
                "heldout_pass_at_k": None,
                "heldout_maj_at_k": None,
                "seconds": {},
                "constitution_hash": r.constitution_hash,
            }
        index_to_round = {row["index"]: row for row in by_round.values()}
        for round_id, stage, status, seconds in sorted(
            stages, key=lambda s: STAGE_ORDER.index(Stage(s.stage))
        ):
            row = by_round[round_id]
            row["stage_status"][Stage(stage).value] = StageStatus(status).value
            if status == StageStatus.DONE:
                row["stages_done"].append(Stage(stage).value)
            if seconds is not None:
                row["seconds"][Stage(stage).value] = seconds
        for round_id, source, n in counts:
            row = by_round[round_id]
            row["n_samples"] += n
            if source == SampleSource.GENERATE:
                row["n_generate"] = n
            elif source == SampleSource.RATIONALIZE:
                row["n_rationalized"] = n
        for round_id, judged, passed in passes:
            by_round[round_id]["n_judged"] = judged
            by_round[round_id]["pass_rate"] = (passed or 0) / judged if judged else None
        for round_id, n, n_rat in train:
            by_round[round_id]["n_train"] = n
            by_round[round_id]["n_train_rationalized"] = n_rat
        for round_index, ckpt_id in checkpoints:  # the latest checkpoint of a round wins
            if round_index in index_to_round:
                index_to_round[round_index]["checkpoint_id"] = ckpt_id
        for ev in evals:  # the largest k wins
            row = by_round[ev.round_id]
            row.update(
                heldout_k=ev.k,
                heldout_greedy=ev.greedy_accuracy,
                heldout_pass_at_1=ev.pass_at_1,
                heldout_pass_at_k=ev.pass_at_k,
                heldout_maj_at_k=ev.maj_at_k,
            )
        return [by_round[r.id] for r in rounds]

    def query_samples(
        self,
        *,
        run_id: str | None = None,
        round_index: int | None = None,
        problem: str | None = None,
        outcome: Outcome | str | None = None,
        judge: str | None = None,
        source: SampleSource | str | None = None,
        rationalized: bool | None = None,
        checkpoint_id: str | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        text: str | None = None,
        problem_text: str | None = None,
        split: Split | str | None = None,
        order_by: str = "id",
        limit: int | None = 50,
    ) -> list[dict]:
        """Search the sample history: one flat dict per (sample, verdict).

        A sample with no verdict appears once with ``outcome``/``score``/``judge`` None,
        unless a verdict filter (outcome, judge, min_score, max_score) is given. ``text``
        is a case-insensitive substring of the completion, ``problem_text`` of the
        problem's prompt; ``split`` is the problem's split. ``order_by`` is one of
        ``QUERY_ORDERS`` (prefix ``-`` for descending); ``limit=None`` returns everything.
        """
        filters = {k: v for k, v in locals().items() if k not in ("self", "order_by", "limit")}
        stmt = self._sample_query(_QUERY_COLS, filters, order_by=order_by, limit=limit)
        with self._read() as conn:
            return [_flat(r._mapping) for r in conn.execute(stmt)]

    def sample_query_statement(self, *, order_by: str = "id", limit: int | None = 50, **filters: Any) -> Select:
        """The SELECT that ``query_samples`` runs for these filters (for EXPLAIN and benchmarks)."""
        return self._sample_query(_QUERY_COLS, filters, order_by=order_by, limit=limit)

    def export_samples(self, *, limit: int | None = None, **filters: Any) -> Iterator[dict]:
        """Like ``query_samples`` (same filters, id order) plus the problem's own prompt,
        answer and split: what ``selftaught export`` turns into datasets. Streams rows."""
        cols = (*_QUERY_COLS, ProblemRow.prompt.label("problem_prompt"),
                ProblemRow.answer.label("answer"), ProblemRow.split.label("split"))  # fmt: skip
        stmt = self._sample_query(cols, filters, order_by="id", limit=limit)
        with self._read() as conn:
            for r in conn.execution_options(yield_per=5000).execute(stmt):
                yield _flat(r._mapping)

    def _sample_query(
        self, cols: Sequence[Any], filters: dict[str, Any], *, order_by: str, limit: int | None
    ):
        """One SELECT over samples x rounds x problems (+ verdicts), filters as bound values."""
        unknown = set(filters) - set(_SAMPLE_FILTERS)
        if unknown:
            raise StoreError(f"unknown sample filter(s): {sorted(unknown)}")
        stmt = (
            select(*cols)
            .join(Round, Round.id == SampleRow.round_id)
            .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
            .outerjoin(VerdictRow, VerdictRow.sample_id == SampleRow.id)
        )
        given = {k: v for k, v in filters.items() if v is not None}
        run, index = given.pop("run_id", None), given.pop("round_index", None)
        # run and round become conditions on samples' own indexed columns (the planner
        # then walks one index in id order instead of joining through rounds and sorting)
        if index is not None:
            round_ids = select(Round.id).where(Round.index == int(index))
            if run is not None:
                stmt = stmt.where(SampleRow.round_id == round_ids.where(Round.run_id == str(run)).scalar_subquery())
            else:
                stmt = stmt.where(SampleRow.round_id.in_(round_ids))
        elif run is not None:
            stmt = stmt.where(SampleRow.run_id == str(run))
        for name, value in given.items():
            stmt = stmt.where(_SAMPLE_FILTERS[name](value))
        descending = order_by.startswith("-")
        keys = QUERY_ORDERS.get(order_by.removeprefix("-"))
        if keys is None:
            raise StoreError(
                f"cannot order samples by {order_by!r}; choose one of {sorted(QUERY_ORDERS)} "
                "(prefix - for descending)"
            )
        keys = (*keys, SampleRow.id, VerdictRow.id)
        stmt = stmt.order_by(*(k.desc() if descending else k.asc() for k in keys))
        if limit is not None:
            if int(limit) < 1:
                raise StoreError(f"limit must be at least 1, not {limit}")
            stmt = stmt.limit(int(limit))
        return stmt

    def problem_history(self, problem_id: str, *, run_id: str | None = None) -> dict | None:
        """One problem across rounds: per (run, round) how many samples were judged and
        passed (generate and eval samples; a sample passes when every verdict on it
        passes), the first round with a pass, and the best and latest samples.
        None if the problem is unknown."""
        with self._read() as conn:
            prob = conn.execute(
                select(ProblemRow.__table__).where(ProblemRow.problem_id == problem_id)
            ).one_or_none()
            if prob is None:
                return None
            per_sample = (
                select(
                    Round.run_id.label("run"),
                    Round.index.label("round"),
                    SampleRow.source.label("source"),
                    func.min(case((VerdictRow.outcome == Outcome.PASS, 1), else_=0)).label("ok"),
                    func.max(VerdictRow.score).label("score"),
                )
                .join(Round, Round.id == SampleRow.round_id)
                .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
                .where(SampleRow.problem_pk == prob.id)
                .group_by(Round.run_id, Round.index, SampleRow.source, SampleRow.id)
            )
            if run_id is not None:
                per_sample = per_sample.where(Round.run_id == run_id)
            sub = per_sample.subquery()
            rounds = conn.execute(
                select(sub.c.run, sub.c.round, sub.c.source, func.count(), func.sum(sub.c.ok),
                       func.avg(sub.c.score))
                .group_by(sub.c.run, sub.c.round, sub.c.source)
                .order_by(sub.c.run, sub.c.round, sub.c.source)
            ).all()  # fmt: skip
        per_round = [
            {"run": r[0], "round": r[1], "source": SampleSource(r[2]).value, "n_judged": r[3],
             "n_pass": int(r[4] or 0), "pass_rate": (r[4] or 0) / r[3] if r[3] else None,
             "mean_score": r[5]}
            for r in rounds
        ]  # fmt: skip
        first = next((r for r in per_round if r["n_pass"] and r["source"] != "rationalize"), None)
        common = {"problem": problem_id, "run_id": run_id, "limit": 5}
        best = self.query_samples(**common, order_by="-score")
        latest = self.query_samples(**common, order_by="-id")
        return {
            "problem_id": prob.problem_id,
            "prompt": prob.prompt,
            "answer": prob.answer,
            "split": Split(prob.split).value,
            "rounds": per_round,
            "first_solved": None if first is None else {"run": first["run"], "round": first["round"]},
            "best": best,
            "latest": latest,
        }

    def problem_pass_rates(self, run_id: str, *, source: SampleSource | str = "generate") -> list[dict]:
        """Per (round, problem) of a run: samples judged and passed (every verdict passes)."""
        per_sample = (
            select(
                Round.index.label("round"),
                SampleRow.problem_pk.label("problem_pk"),
                func.min(case((VerdictRow.outcome == Outcome.PASS, 1), else_=0)).label("ok"),
            )
            .join(Round, Round.id == SampleRow.round_id)
            .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
            .where(Round.run_id == run_id, SampleRow.source == _enum(SampleSource, source))
            .group_by(Round.index, SampleRow.problem_pk, SampleRow.id)
            .subquery()
        )
        stmt = (
            select(per_sample.c.round, ProblemRow.problem_id, func.count(), func.sum(per_sample.c.ok))
            .join(ProblemRow, ProblemRow.id == per_sample.c.problem_pk)
            .group_by(per_sample.c.round, ProblemRow.problem_id)
            .order_by(per_sample.c.round, ProblemRow.problem_id)
        )
        with self._read() as conn:
            return [
                {"round": r, "problem_id": p, "n_judged": n, "n_pass": int(k or 0)}
                for r, p, n, k in conn.execute(stmt)
            ]

    def score_histogram(
        self, run_id: str, *, bins: int = 10, source: SampleSource | str | None = None
    ) -> list[dict]:
        """Verdict scores of a run counted in ``bins`` equal bins over [0, 1], per (round,
        judge): ``{"round", "judge", "counts"}``. Counted in SQL, so it stays cheap on a
        large run."""
        if bins < 1:
            raise StoreError(f"bins must be at least 1, not {bins}")
        scaled = VerdictRow.score * bins
        # SQLite's CAST truncates (scores are >= 0, so it floors); PostgreSQL's rounds
        raw = func.floor(scaled) if self._pg else cast(scaled, Integer)
        bucket = case((VerdictRow.score >= 1, bins - 1), (VerdictRow.score <= 0, 0), else_=raw)
        stmt = (
            select(Round.index, VerdictRow.judge, bucket.label("b"), func.count())
            .join(SampleRow, SampleRow.id == VerdictRow.sample_id)
            .join(Round, Round.id == SampleRow.round_id)
            .where(Round.run_id == run_id)
            .group_by(Round.index, VerdictRow.judge, bucket)
            .order_by(Round.index, VerdictRow.judge)
        )
        if source is not None:
            stmt = stmt.where(SampleRow.source == _enum(SampleSource, source))
        out: dict[tuple[int, str], list[int]] = {}
        with self._read() as conn:
            for index, judge, b, n in conn.execute(stmt):
                out.setdefault((index, judge), [0] * bins)[int(b)] += n
        return [{"round": i, "judge": j, "counts": c} for (i, j), c in out.items()]

    # natural-key lookups (inside a transaction) ---------------------------------------

    def _require_run(self, conn: Connection, run_id: str) -> None:
        if conn.execute(select(Run.id).where(Run.id == run_id)).first() is None:
            raise StoreError(f"unknown run {run_id!r}: create_run first")

    def _round_id(self, conn: Connection, run_id: str, index: int, *, create: bool = False) -> int:
        find = select(Round.id).where(Round.run_id == run_id, Round.index == index)
        rid = conn.execute(find).scalar_one_or_none()
        if rid is not None:
            return rid
        if not create:
            raise StoreError(f"run {run_id!r} has no round {index}")
        self._require_run(conn, run_id)
        row = {"run_id": run_id, "index": index, "created_at": utcnow(), "metrics": {}}
        self._insert_ignore(conn, Round.__table__, [row])
        return conn.execute(find).scalar_one()

    def _problem_pks(self, conn: Connection, problem_ids: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(problem_ids))
        found: dict[str, int] = {}
        for chunk in _chunks(wanted):
            stmt = select(ProblemRow.problem_id, ProblemRow.id).where(
                ProblemRow.problem_id.in_(chunk)
            )
            found.update((pid, pk) for pid, pk in conn.execute(stmt))
        missing = [p for p in wanted if p not in found]
        if missing:
            raise StoreError(
                f"{len(missing)} problem id(s) not in the store, e.g. {missing[:3]}: "
                "add_problems first"
            )
        return found

    def _sample_ids(
        self, conn: Connection, round_id: int, keys: Sequence[tuple[str, str, int]]
    ) -> list[int]:
        """Surrogate ids of stored samples of one round, by (source, problem_id, index)."""
        if not keys:
            return []
        problem_ids = sorted({problem_id for _, problem_id, _ in keys})
        # source read as its stored text: no enum conversion per row of a large round
        source_text = type_coerce(SampleRow.source, String())
        base = (
            select(source_text, ProblemRow.problem_id, SampleRow.index, SampleRow.id)
            .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
            .where(SampleRow.round_id == round_id)
        )
        stored: dict[tuple[str, str, int], int] = {}
        chunks: Iterable[list[str]] = (
            [[]] if len(problem_ids) > _WHOLE_ROUND else _chunks(problem_ids)
        )
        for chunk in chunks:
            stmt = base.where(ProblemRow.problem_id.in_(chunk)) if chunk else base
            for src, pid, idx, sid in conn.execute(stmt).all():  # one fetch, not per row
                stored[(src, pid, idx)] = sid
        out: list[int] = []
        missing: list[tuple[str, str, int]] = []
        for source, problem_id, index in keys:
            sid = stored.get((str(source), problem_id, index))
            if sid is None:
                missing.append((str(source), problem_id, index))
            else:
                out.append(sid)
        if missing:
            raise StoreError(
                f"{len(missing)} sample(s) not stored in this round, e.g. {missing[:3]} "
                "(source, problem_id, index): add_samples first"
            )
        return out

    def _checkpoint_exists(self, conn: Connection, checkpoint_id: str) -> bool:
        stmt = select(CheckpointRow.id).where(CheckpointRow.id == checkpoint_id)
        return conn.execute(stmt).first() is not None

    def _get_checkpoint(self, conn: Connection, checkpoint_id: str) -> Checkpoint | None:
        table = CheckpointRow.__table__
        row = conn.execute(select(table).where(table.c.id == checkpoint_id)).one_or_none()
        return None if row is None else convert.checkpoint_from_row(row)


@dataclass(frozen=True)
class CaiRecords:
    """What ``Store.get_cai`` reads back for one round."""

    constitution_hash: str | None  # the round's
    critiques: tuple[Critique, ...]
    revisions: tuple[Revision, ...]
    pairs: tuple[PreferencePair, ...]
    kept: tuple[PreferencePair, ...]  # the pairs marked kept (above the threshold)


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
_QUERY_COLS = (
    SampleRow.id.label("sample_id"),
    Round.run_id.label("run"),
    Round.index.label("round"),
    ProblemRow.problem_id,
    SampleRow.source,
    SampleRow.index,
    SampleRow.prompt,
    SampleRow.completion,
    VerdictRow.outcome,
    VerdictRow.score,
    VerdictRow.judge,
    VerdictRow.judge_version,
    VerdictRow.detail,
    SampleRow.rationalized,
    SampleRow.checkpoint_id,
    SampleRow.seed,
)
#: ``query_samples`` filters -> WHERE clause builders (values become bound parameters)
_SAMPLE_FILTERS: dict[str, Any] = {
    "run_id": lambda v: Round.run_id == str(v),
    "round_index": lambda v: Round.index == int(v),
    "problem": lambda v: SampleRow.problem_pk
    == select(ProblemRow.id).where(ProblemRow.problem_id == str(v)).scalar_subquery(),
    "outcome": lambda v: VerdictRow.outcome == _enum(Outcome, v),
    "judge": lambda v: VerdictRow.judge == str(v),
    "source": lambda v: SampleRow.source == _enum(SampleSource, v),
    "rationalized": lambda v: SampleRow.rationalized.is_(bool(v)),
    "checkpoint_id": lambda v: SampleRow.checkpoint_id == str(v),
    "min_score": lambda v: VerdictRow.score >= float(v),
    "max_score": lambda v: VerdictRow.score <= float(v),
    "text": lambda v: SampleRow.completion.icontains(str(v), autoescape=True),
    "problem_text": lambda v: ProblemRow.prompt.icontains(str(v), autoescape=True),
    "split": lambda v: ProblemRow.split == _enum(Split, v),
}
#: ``query_samples(order_by=...)`` choices -> sort columns
QUERY_ORDERS = {
    "id": (SampleRow.id,),
    "round": (Round.index,),
    "problem": (ProblemRow.problem_id, SampleRow.source, SampleRow.index),
    "score": (VerdictRow.score,),
    "created_at": (SampleRow.created_at,),
}
ROUND_TABLE_KEYS = (
    "index", "stages_done", "stage_status", "n_samples", "n_generate", "n_rationalized",
    "n_judged", "pass_rate", "n_train", "n_train_rationalized", "checkpoint_id", "heldout_k",
    "heldout_greedy", "heldout_pass_at_1", "heldout_pass_at_k", "heldout_maj_at_k",
    "seconds", "constitution_hash",
)  # fmt: skip


# helpers ----------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _bulk_insert_ignore(
    conn: Connection, table: Table, rows: list[dict[str, Any]], created_at: dt.datetime
) -> int:
    """The bulk path: the same ``INSERT ... ON CONFLICT DO NOTHING``, the column types' own
    converters applied column by column, then one DBAPI ``executemany``.

    SQLAlchemy's per-row parameter handling was over half the ingest time on SQLite (about
    27k rows/s against 40-130k for raw sqlite3 here), and on PostgreSQL its multi-VALUES
    batching (needed there for a row count) spent most of its time in psycopg's query
    parser (~1.7k rows/s). This keeps the typed conversion (enum values, JSON, booleans,
    UTC timestamps) and drops the per-row machinery; both drivers report the number of rows
    actually inserted. A value shared by many rows (one ``SamplingParams`` dict) is
    converted once. All rows must have the same keys, as ``convert`` makes them.
    """
    dialect = conn.dialect
    values: dict[str, Any] = {name: bindparam(name) for name in rows[0]}
    values["created_at"] = utc_constant(created_at, dialect.name)
    insert = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(table)
    compiled = insert.values(values).on_conflict_do_nothing().compile(dialect=dialect)
    names = list(compiled.positiontup or compiled.binds)
    columns: list[list[Any]] = []
    for name in names:
        if name in rows[0]:
            process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            raw = [row[name] for row in rows]
        else:  # the statement-level created_at
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            raw = [bind.effective_value] * len(rows)
        if process is None:
            columns.append(raw)
            continue
        out, last_in, last_out = [], object(), None
        for value in raw:
            if value is not last_in:  # identity: shared objects are converted once
                last_in, last_out = value, process(value)
            out.append(last_out)
        columns.append(out)
    if compiled.positiontup:  # qmark (sqlite3)
        params: list[Any] = list(zip(*columns, strict=True))
    else:  # pyformat (psycopg)
        params = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    return conn.exec_driver_sql(compiled.string, params).rowcount


def _flat(mapping: Any) -> dict:
    """A result row as a JSON-ready dict (enums as their values)."""
    return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in mapping.items()}


def _pk_name(table: Table) -> str:
    (col,) = table.primary_key.columns
    return col.name


def _plain(value: Any) -> Any:
    """Compare stored and new values alike (enums as values, tuples as lists)."""
    if isinstance(value, (Split, Outcome, SampleSource, Stage)):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def _enum(cls: type, value: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise StoreError(f"{value!r} is not a {cls.__name__}; choose one of: {choices}") from None


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = f"{type(orig).__name__}: {orig}" if orig is not None else str(exc)
    return text.strip().splitlines()[0][:500] if text.strip() else type(exc).__name__

