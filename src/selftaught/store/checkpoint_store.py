"""Checkpoints and evaluations: lineage, pruning, held-out scores.

In: ``Checkpoint`` and ``Evaluation`` records. Out: the same, read back; a checkpoint's
folder is recorded relative to the store's home and read back absolute (``homepaths``).
A checkpoint id re-added with a different path, hash or parent raises ``StoreError``.
A part of ``Store`` (``base.py``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, select, update

from selftaught.errors import StoreError
from selftaught.records import Checkpoint, Evaluation
from selftaught.store import convert
from selftaught.store.base import StoreBase
from selftaught.store.models import CheckpointRow, EvaluationRow, Round, utcnow


class CheckpointStoreMixin(StoreBase):
    """Checkpoints and evaluations (module docstring)."""

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
