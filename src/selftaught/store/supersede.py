"""Superseding a run's later rounds (``selftaught run --resume RUN --retrain-from N``).

In: a run, the first round to rebuild (N), the id of a new run to hold what is superseded
(``RUN~superseded-K``, chosen by the caller) and where each moved checkpoint folder now lies.
Out: in ONE transaction, rounds >= N of the run -- with everything that hangs off them --
belong to the new run (status ``RunStatus.SUPERSEDED``), and the run itself ends at round N-1, so the
next flow rebuilds N, N+1, ... as if they had never run. Nothing is deleted:

- ``rounds`` move (their ``stages``, ``training_examples``, ``training_pairs``, CAI
  ``preference_pairs`` and ``evaluations`` hang off the round id and move with them);
  ``samples.run_id`` and ``verdicts.run_id`` (copies of the round's run) follow; step
  labels, critiques and revisions hang off the samples;
- the round checkpoints ``RUN/rI`` (I >= N) are renamed ``ARCHIVE/rI`` -- the rebuilt rounds
  need their ids -- keeping path (as given), hash, config and lineage: ``ARCHIVE/rN``'s parent
  is still ``RUN/r(N-1)``, the one good checkpoint both share. Every reference follows the
  rename: evaluations, other checkpoints' ``parent_id`` (a reward model trained on one),
  ``samples.checkpoint_id`` anywhere, an adapters-only checkpoint's ``config.adapter_base``;
- other checkpoints of the run recorded for those rounds (reward models) move to the new
  run under their own ids;
- searches made with a renamed checkpoint (a recipe's ``search:`` as the generator) get the
  suffix ``~ARCHIVE`` on their id -- a rebuilt round recomputes the same search id from the
  same checkpoint id, and must not find the superseded search there -- and the samples that
  name them (``params.search``) follow.

A transaction killed half-way leaves the store as it was (the caller moves folders before,
and can simply try again). A mixin of ``Store``; SQLAlchemy only.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import Connection, delete, insert, select, update

from selftaught.errors import StoreError
from selftaught.homepaths import stored_location
from selftaught.store.base import StoreBase
from selftaught.store.models import (
    CheckpointRow,
    EvaluationRow,
    Round,
    Run,
    SampleRow,
    SearchNodeRow,
    SearchResultRow,
    SearchRow,
    VerdictRow,
    utcnow,
)
from selftaught.store.rows import RunStatus


class SupersedeMixin(StoreBase):
    def supersede_rounds(self, run_id: str, first: int, archive_id: str, paths: Mapping[str, str]) -> list[int]:
        """Move rounds ``first``.. of ``run_id`` to a new run ``archive_id`` (module docstring);
        ``paths``: checkpoint id -> its folder now. Returns the moved round indexes."""
        with self._write() as conn:
            run = conn.execute(select(Run.name, Run.recipe).where(Run.id == run_id)).one_or_none()
            if run is None:
                raise StoreError(f"unknown run {run_id!r}")
            if conn.execute(select(Run.id).where(Run.id == archive_id)).first() is not None:
                raise StoreError(f"run {archive_id!r} already exists; cannot supersede into it")
            moved = conn.execute(
                select(Round.id, Round.index).where(Round.run_id == run_id, Round.index >= first).order_by(Round.index)
            ).all()
            conn.execute(insert(Run).values(id=archive_id, name=run.name, recipe=run.recipe, created_at=utcnow(),
                                            status=RunStatus.SUPERSEDED))  # fmt: skip
            round_ids = [r.id for r in moved]
            conn.execute(update(Round).where(Round.id.in_(round_ids)).values(run_id=archive_id))
            conn.execute(update(SampleRow).where(SampleRow.round_id.in_(round_ids)).values(run_id=archive_id))
            conn.execute(update(VerdictRow).where(VerdictRow.round_id.in_(round_ids)).values(run_id=archive_id))
            renamed = self._move_checkpoints(conn, run_id, first, archive_id, paths)
            self._rename_searches(conn, renamed, archive_id, round_ids)
        return [r.index for r in moved]

    def _move_checkpoints(self, conn: Connection, run_id: str, first: int, archive_id: str,
                          paths: Mapping[str, str]) -> dict[str, str]:  # fmt: skip
        """Round checkpoints renamed into the archive (insert the copy, point every reference at
        it, delete the original: foreign keys hold at every statement); others moved as they
        are. Returns old id -> new id."""
        table = CheckpointRow.__table__
        rows = conn.execute(
            select(table).where(table.c.run_id == run_id, table.c.round_index >= first).order_by(table.c.round_index)
        ).all()
        renamed = {r.id: f"{archive_id}/r{r.round_index}" for r in rows if r.id == f"{run_id}/r{r.round_index}"}
        for r in rows:  # parents first (round order): a copy's parent is in place before it
            if r.id not in renamed:
                continue
            config = dict(r.config or {})
            if config.get("adapter_base") in renamed:
                config["adapter_base"] = renamed[config["adapter_base"]]
            path = stored_location(paths[r.id], self.home) if r.id in paths else r.path
            conn.execute(insert(table).values(
                {**r._mapping, "id": renamed[r.id], "run_id": archive_id, "path": path,
                 "parent_id": renamed.get(r.parent_id, r.parent_id), "config": config}))  # fmt: skip
        for old, new in renamed.items():
            conn.execute(update(table).where(table.c.parent_id == old).values(parent_id=new))
            conn.execute(update(EvaluationRow).where(EvaluationRow.checkpoint_id == old).values(checkpoint_id=new))
            conn.execute(update(SampleRow).where(SampleRow.checkpoint_id == old).values(checkpoint_id=new))
        others = [r.id for r in rows if r.id not in renamed]
        conn.execute(update(table).where(table.c.id.in_(others)).values(run_id=archive_id))
        conn.execute(delete(table).where(table.c.id.in_(list(renamed))))
        return renamed

    def _rename_searches(self, conn: Connection, renamed: Mapping[str, str], archive_id: str,
                         round_ids: list[int]) -> None:  # fmt: skip
        """Searches made with a renamed checkpoint take ``~ARCHIVE`` (module docstring)."""
        if not renamed:
            return
        table = SearchRow.__table__
        found = conn.execute(select(table).where(table.c.checkpoint.in_(list(renamed)))).all()
        new_ids = {s.id: f"{s.id}~{archive_id}" for s in found}
        for s in found:
            conn.execute(insert(table).values({**s._mapping, "id": new_ids[s.id], "run_id": archive_id,
                                               "checkpoint": renamed[s.checkpoint]}))  # fmt: skip
            for child in (SearchResultRow, SearchNodeRow):
                conn.execute(update(child).where(child.search_id == s.id).values(search_id=new_ids[s.id]))
        conn.execute(delete(table).where(table.c.id.in_(list(new_ids))))
        if not new_ids:
            return
        samples = conn.execute(
            select(SampleRow.id, SampleRow.params).where(SampleRow.round_id.in_(round_ids))
        ).all()
        for sample_id, params in samples:
            if isinstance(params, dict) and params.get("search") in new_ids:
                fixed: dict[str, Any] = {**params, "search": new_ids[params["search"]]}
                conn.execute(update(SampleRow).where(SampleRow.id == sample_id).values(params=fixed))
