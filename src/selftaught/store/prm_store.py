"""Step labels and reward-model checkpoints in the store (issue #7, migration 0006).

A mixin of ``Store`` (it uses the store's transactions and natural-key lookups); callers
see only ``Store``.

- ``add_step_labels`` / ``get_step_labels``: Math-Shepherd labels of samples stored in a
  round, keyed by (sample, step index); a re-run writes nothing twice.
- ``add_reward_model`` records a reward-model checkpoint: an ordinary ``checkpoints`` row
  (so ``get_checkpoint`` and ``checkpoint_chain`` work; its parent is the policy it was
  initialised from, when that is stored) plus a ``reward_models`` row with its kind
  (orm/prm), training data and held-out metrics. ``get_reward_model`` /
  ``list_reward_models`` read them back.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, select, type_coerce

from selftaught.errors import StoreError
from selftaught.records import Checkpoint, StepLabel
from selftaught.store.checkpoint_store import CheckpointStoreMixin
from selftaught.store.models import (
    CheckpointRow,
    ProblemRow,
    RewardModelKind,
    RewardModelRow,
    Round,
    SampleRow,
    StepLabelRow,
    utcnow,
)
from selftaught.store.rows import RewardModelInfo


class PrmStoreMixin(CheckpointStoreMixin):
    def add_step_labels(
        self, run_id: str, index: int, labels: Sequence[StepLabel], *, params: dict | None = None
    ) -> int:
        """Store step labels of samples stored in round ``index``; returns how many were new.

        ``params`` (how the rollouts were drawn) is stored with every row. A label of a
        sample the store does not hold raises ``StoreError`` and nothing is written.
        """
        labels = list(labels)
        if not labels:
            return 0
        for lab in labels:
            if lab.rollouts < 1 or not 0 <= lab.successes <= lab.rollouts or lab.step_index < 0:
                raise StoreError(
                    f"step label {lab.sample_key} step {lab.step_index}: needs rollouts >= 1 and "
                    f"0 <= successes <= rollouts (got {lab.successes}/{lab.rollouts})"
                )
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            ids = self._sample_ids(conn, rid, [lab.sample_key for lab in labels])
            rows = [
                {"sample_id": sid, "step_index": lab.step_index, "step": lab.step,
                 "rollouts": lab.rollouts, "successes": lab.successes, "params": dict(params or {})}
                for lab, sid in zip(labels, ids, strict=True)
            ]  # fmt: skip
            return self._insert_ignore(conn, StepLabelRow.__table__, rows, created_at=utcnow())

    def get_step_labels(self, run_id: str, index: int) -> list[StepLabel]:
        """Step labels of one round, ordered by (source, problem_id, index, step index)."""
        stmt = (
            select(
                type_coerce(SampleRow.source, String()).label("source"), ProblemRow.problem_id,
                SampleRow.index, StepLabelRow.step_index, StepLabelRow.step,
                StepLabelRow.rollouts, StepLabelRow.successes,
            )
            .join(SampleRow, SampleRow.id == StepLabelRow.sample_id)
            .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
            .join(Round, Round.id == SampleRow.round_id)
            .where(Round.run_id == run_id, Round.index == index)
            .order_by(SampleRow.source, ProblemRow.problem_id, SampleRow.index, StepLabelRow.step_index)
        )  # fmt: skip
        with self._read() as conn:
            return [
                StepLabel((r.source, r.problem_id, r.index), r.step_index, r.step, r.rollouts, r.successes)
                for r in conn.execute(stmt)
            ]

    def add_reward_model(
        self, run_id: str, ckpt: Checkpoint, *, kind: str, data: dict | None = None,
        metrics: dict | None = None,
    ) -> None:  # fmt: skip
        """Record a reward-model checkpoint (idempotent on ``ckpt.id``).

        ``kind`` is ``"orm"`` or ``"prm"``. Re-adding the same id with another kind raises
        ``StoreError``; metrics given again replace the stored ones (a re-evaluation).
        """
        try:
            k = RewardModelKind(kind)
        except ValueError as exc:
            raise StoreError(f"reward model kind must be 'orm' or 'prm', got {kind!r}") from exc
        self.add_checkpoint(run_id, ckpt)
        table = RewardModelRow.__table__
        with self._write() as conn:
            old = conn.execute(select(table).where(table.c.checkpoint_id == ckpt.id)).one_or_none()
            if old is None:
                row = {"checkpoint_id": ckpt.id, "kind": k, "data": dict(data or {}),
                       "metrics": dict(metrics or {})}  # fmt: skip
                self._insert_ignore(conn, table, [row], created_at=utcnow())
                return
            if old.kind != k:
                raise StoreError(f"checkpoint {ckpt.id!r} is already stored as a {old.kind.value} model")
            if metrics:
                conn.execute(table.update().where(table.c.checkpoint_id == ckpt.id).values(metrics=dict(metrics)))

    def get_reward_model(self, checkpoint_id: str) -> RewardModelInfo | None:
        """The reward model of this checkpoint, or None."""
        found = self.list_reward_models(checkpoint_id=checkpoint_id)
        return found[0] if found else None

    def list_reward_models(
        self, *, run_id: str | None = None, kind: str | None = None, checkpoint_id: str | None = None
    ) -> list[RewardModelInfo]:
        """Reward models, newest first, optionally of one run and/or one kind."""
        rm, ck = RewardModelRow.__table__, CheckpointRow.__table__
        stmt = select(rm, ck.c.run_id).join(ck, ck.c.id == rm.c.checkpoint_id)
        if run_id is not None:
            stmt = stmt.where(ck.c.run_id == run_id)
        if kind is not None:
            stmt = stmt.where(rm.c.kind == RewardModelKind(kind))
        if checkpoint_id is not None:
            stmt = stmt.where(rm.c.checkpoint_id == checkpoint_id)
        stmt = stmt.order_by(rm.c.created_at.desc(), rm.c.checkpoint_id)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            return [
                RewardModelInfo(checkpoint=self._get_checkpoint(conn, r.checkpoint_id), kind=r.kind.value,
                                data=r.data, metrics=r.metrics, run_id=r.run_id, created_at=r.created_at)
                for r in rows
            ]  # fmt: skip
