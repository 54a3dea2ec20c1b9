"""Verdicts of several judge versions side by side: what ``selftaught rejudge`` reads and writes.

What comes in: a run, a round, a judge name and a judge version (``judges/version.py``).
What goes out: the round's samples that have no verdict of that version yet (a batch at a
time), the versions ``rejudge`` added to each round, the flips between a round's own
verdicts and a new version's, and the checkpoints whose training sets hold samples that
the new version no longer passes.

A round's *own* verdicts are those its stages wrote; ``rejudge`` adds verdicts of another
version beside them (the unique key is (sample, judge, judge_version): nothing is
overwritten) and records that version in the round's ``metrics["rejudged"]``. So every
read that counts or lists verdicts picks one version per round with ``version_clause``:
by default the round's own (every version except the rejudged ones: a round never
rejudged reads exactly as before, with no extra condition), or the one asked for
(``--judge-version``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, case, func, not_, or_, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from selftaught.records import Outcome, Sample
from selftaught.store import convert
from selftaught.store.base import StoreBase
from selftaught.store.convert import SAMPLE_COLS
from selftaught.store.models import CheckpointRow, ProblemRow, Round, SampleRow, TrainingExampleRow, VerdictRow
from selftaught.store.rows import StaleCheckpoint, VerdictFlips

REJUDGED_KEY = "rejudged"


def rejudged_versions(conn: Connection, *, run_id: str | None = None,
                      round_ids: Iterable[int] | None = None) -> dict[int, list[str]]:  # fmt: skip
    """Round id -> the versions ``rejudge`` added to it, for a run's rounds, these rounds, or all."""
    stmt = select(Round.id, Round.metrics)
    if run_id is not None:
        stmt = stmt.where(Round.run_id == run_id)
    if round_ids is not None:
        stmt = stmt.where(Round.id.in_(sorted(set(round_ids))))
    out = {}
    for rid, metrics in conn.execute(stmt):
        added = (metrics or {}).get(REJUDGED_KEY)
        if added:
            out[rid] = sorted(added)
    return out


def version_clause(rejudged: Mapping[int, Sequence[str]], version: str | None) -> ColumnElement[bool] | None:
    """The condition on ``verdicts`` that picks one version per round: ``version`` if given,
    else each round's own verdicts (None when no round was rejudged: no condition at all)."""
    if version is not None:
        return VerdictRow.judge_version == version
    if not rejudged:
        return None
    return not_(or_(*(and_(VerdictRow.round_id == rid, VerdictRow.judge_version.in_(vs))
                      for rid, vs in rejudged.items())))  # fmt: skip


def _passed(col: Any) -> Any:
    return func.min(case((col == Outcome.PASS, 1), else_=0))


class RejudgeStoreMixin(StoreBase):
    """``Store`` methods for ``selftaught rejudge`` (see the module docstring)."""

    def _verdict_filter(self, conn: Connection, version: str | None, *, run_id: str | None = None,
                       round_ids: Iterable[int] | None = None) -> ColumnElement[bool] | None:  # fmt: skip
        """``version_clause`` for a run's rounds, these rounds, or all of them."""
        if version is not None:
            return version_clause({}, version)
        return version_clause(rejudged_versions(conn, run_id=run_id, round_ids=round_ids), None)

    def round_indexes(self, run_id: str) -> list[int]:
        """The run's round indexes, in order."""
        with self._read() as conn:
            return list(conn.execute(select(Round.index).where(Round.run_id == run_id).order_by(Round.index)).scalars())

    def own_versions(self, run_id: str, index: int) -> list[tuple[str, str]]:
        """The (judge, version) pairs of the round's own verdicts, in order of first use."""
        with self._read() as conn:
            rid = self._round_id(conn, run_id, index)
            added = rejudged_versions(conn, round_ids=[rid]).get(rid, [])
            rows = conn.execute(
                select(VerdictRow.judge, VerdictRow.judge_version, func.min(VerdictRow.id).label("first"))
                .where(VerdictRow.round_id == rid, VerdictRow.judge_version.not_in(added))
                .group_by(VerdictRow.judge, VerdictRow.judge_version)
                .order_by("first")
            ).all()
        return [(judge, version) for judge, version, _ in rows]

    def mark_rejudged(self, run_id: str, index: int, judge: str, version: str, options: Mapping[str, Any]) -> None:
        """Record in the round's metrics that ``version`` was added by ``rejudge`` (once)."""
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            metrics = dict(conn.execute(select(Round.metrics).where(Round.id == rid)).scalar_one() or {})
            added = dict(metrics.get(REJUDGED_KEY) or {})
            if version in added:
                return
            added[version] = {"judge": judge, "options": {k: str(v) for k, v in options.items()}}
            conn.execute(update(Round).where(Round.id == rid).values(metrics={**metrics, REJUDGED_KEY: added}))

    def samples_without_verdict(self, run_id: str, index: int, judge: str, version: str, limit: int,
                                after: int = 0) -> list[tuple[int, Sample]]:  # fmt: skip
        """Up to ``limit`` (row id, sample) of the round with no verdict of (judge, version), in
        id order, from row ids above ``after`` (the last one of the previous batch: each batch
        reads on from there instead of walking the judged ones again)."""
        has = select(VerdictRow.id).where(
            VerdictRow.sample_id == SampleRow.id, VerdictRow.judge == judge, VerdictRow.judge_version == version
        )
        with self._read() as conn:
            rid = self._round_id(conn, run_id, index)
            rows = conn.execute(
                select(*SAMPLE_COLS)
                .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
                .where(SampleRow.round_id == rid, SampleRow.id > after, ~has.exists())
                .order_by(SampleRow.id)
                .limit(limit)
            )
            return [(r.sample_pk, convert.sample_from_row(r)) for r in rows]

    def _flip_pairs(self, conn: Connection, rid: int, judge: str, version: str):
        """Per sample of round ``rid`` judged by both: (own ok, new ok), 1 = pass."""
        added = rejudged_versions(conn, round_ids=[rid]).get(rid, [])
        new = aliased(VerdictRow)
        own = (
            select(VerdictRow.sample_id.label("sid"), _passed(VerdictRow.outcome).label("ok"))
            .where(VerdictRow.round_id == rid, VerdictRow.judge_version.not_in(added))
            .group_by(VerdictRow.sample_id)
            .subquery()
        )
        return (
            select(own.c.sid, own.c.ok, case((new.outcome == Outcome.PASS, 1), else_=0).label("new_ok"))
            .join(new, and_(new.sample_id == own.c.sid, new.judge == judge, new.judge_version == version))
            .subquery()
        )

    def verdict_flips(self, run_id: str, judge: str, version: str) -> list[VerdictFlips]:
        """Per round that has verdicts of (judge, version): how many samples both the round's
        own verdicts and the new ones judged, and how many went pass->fail and fail->pass
        (a sample passes when every verdict of its version passes; error/timeout do not pass)."""
        out = []
        with self._read() as conn:
            rounds = conn.execute(select(Round.id, Round.index).where(Round.run_id == run_id).order_by(Round.index))
            for rid, index in rounds.all():
                pairs = self._flip_pairs(conn, rid, judge, version)
                n, lost, gained = conn.execute(
                    select(func.count(), func.count(case((and_(pairs.c.ok == 1, pairs.c.new_ok == 0), 1))),
                           func.count(case((and_(pairs.c.ok == 0, pairs.c.new_ok == 1), 1))))  # fmt: skip
                ).one()
                if n:
                    out.append(VerdictFlips(round=index, n_compared=n, pass_to_fail=lost, fail_to_pass=gained))
        return out

    def stale_checkpoints(self, run_id: str, judge: str, version: str) -> list[StaleCheckpoint]:
        """The checkpoints of the run whose round's training set holds samples that the
        (judge, version) verdicts do not pass, in round order. A round that recorded no training set (DPO
        pairs are rebuilt, not stored) has nothing to list."""
        with self._read() as conn:
            counts = conn.execute(
                select(Round.index, func.count(TrainingExampleRow.id),
                       func.count(case((and_(VerdictRow.id.is_not(None), VerdictRow.outcome != Outcome.PASS), 1))))
                .join(TrainingExampleRow, TrainingExampleRow.round_id == Round.id)
                .outerjoin(VerdictRow, and_(VerdictRow.sample_id == TrainingExampleRow.sample_id,
                                            VerdictRow.judge == judge, VerdictRow.judge_version == version))
                .where(Round.run_id == run_id)
                .group_by(Round.index)
                .order_by(Round.index)
            ).all()  # fmt: skip
            checkpoints = conn.execute(
                select(CheckpointRow.round_index, CheckpointRow.id)
                .where(CheckpointRow.run_id == run_id, CheckpointRow.round_index.is_not(None))
                .order_by(CheckpointRow.created_at, CheckpointRow.id)
            ).all()
        latest = dict(checkpoints)  # the latest checkpoint of a round wins, as in round_table
        return [StaleCheckpoint(round=i, checkpoint_id=latest.get(i), n_train=n, n_no_longer_pass=bad)
                for i, n, bad in counts if bad]  # fmt: skip
