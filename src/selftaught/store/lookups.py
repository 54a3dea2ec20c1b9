"""Natural-key lookups inside a write transaction: a run, a round's surrogate id, problem
primary keys by ``problem_id``, sample ids by ``(source, problem_id, index)``, checkpoints.
Each raises ``StoreError`` naming what is missing. A mixin of ``Store``."""

from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import Connection, String, select, type_coerce

from selftaught.errors import StoreError
from selftaught.records import Checkpoint
from selftaught.store import convert
from selftaught.store._sql import _chunks
from selftaught.store.models import CheckpointRow, ProblemRow, Round, Run, SampleRow, utcnow

#: above this many distinct problems, verdict lookup reads the whole round's sample keys
_WHOLE_ROUND = 2000


class KeyLookupMixin:
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
        return None if row is None else convert.checkpoint_from_row(row, self.home)
