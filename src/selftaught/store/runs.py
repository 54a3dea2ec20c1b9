"""Runs, rounds and stages: create a run, set its status, open rounds, mark stages.

In: run ids, round indexes, ``Stage``s and what a finished stage measured. Out: ``RunInfo``
records and each round's stage statuses. Status writes keep the store's story consistent:
a stage is never marked done while an earlier stage of its round is failed (nor failed
while a later one is done), a run is never marked done while one of its stages is not
done, and a process that lost a run's lease cannot write the run's status at all
(``lease_store``). A part of ``Store`` (``base.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from sqlalchemy import Connection, func, select, update

from selftaught.errors import StoreError
from selftaught.records import STAGE_ORDER, Stage
from selftaught.store._sql import _enum
from selftaught.store.lease_store import LeaseStoreMixin
from selftaught.store.models import Round, Run, StageDevice, StageDType, StageRun, utcnow
from selftaught.store.rows import WALL_SECONDS_KEY, RunInfo, RunStatus, StageStatus
from selftaught.store.summaries import RoundSummaryMixin

_ERROR_MAX = 20_000
_NO_PLACEMENT = {"device": None, "dtype": None, "peak_gpu_mb": None}


class RunStoreMixin(LeaseStoreMixin, RoundSummaryMixin):
    """Runs, rounds and stages (module docstring)."""

    # runs -----------------------------------------------------------------------------

    def create_run(self, run_id: str, *, name: str, recipe: dict) -> bool:
        """Record a run; True if it was new, False if ``run_id`` already existed."""
        row = {"id": run_id, "name": name, "recipe": dict(recipe), "created_at": utcnow(),
               "status": RunStatus.CREATED}
        with self._write() as conn:
            return self._insert_ignore(conn, Run.__table__, [row]) == 1

    def get_run(self, run_id: str) -> RunInfo | None:
        with self._read() as conn:
            row = conn.execute(select(*_RUN_COLS).where(Run.id == run_id)).one_or_none()
        return None if row is None else RunInfo(*row)

    def set_run_status(self, run_id: str, status: RunStatus | str) -> None:
        """Set the run's status; "done" only if every stage it recorded is done."""
        status = _enum(RunStatus, status)
        with self._write() as conn:
            self._check_lease(conn, run_id)
            if status == RunStatus.DONE:
                _require_all_done(conn, run_id)
            done = conn.execute(update(Run).where(Run.id == run_id).values(status=status))
            if done.rowcount != 1:
                raise StoreError(f"unknown run {run_id!r}")

    def list_runs(self) -> list[RunInfo]:
        with self._read() as conn:
            rows = conn.execute(select(*_RUN_COLS).order_by(Run.created_at, Run.id)).all()
        return [RunInfo(*r) for r in rows]

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

    def stage_status(self, run_id: str, index: int) -> dict[Stage, StageStatus]:
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

    def record_round_wall(self, run_id: str, index: int, seconds: float) -> None:
        """Keep the round flow's wall time as the process that ran it measured it, so that
        ``selftaught rounds RUN`` shows the orchestration share the run printed
        (``RoundRow.orchestration_share``). A resumed round keeps its latest measurement."""
        with self._write() as conn:
            self._check_lease(conn, run_id)
            rid = self._round_id(conn, run_id, index)
            metrics = conn.execute(select(Round.metrics).where(Round.id == rid)).scalar_one() or {}
            conn.execute(update(Round).where(Round.id == rid).values(metrics={**metrics, WALL_SECONDS_KEY: float(seconds)}))

    def last_round_index(self, run_id: str) -> int | None:
        with self._read() as conn:
            return conn.execute(
                select(func.max(Round.index)).where(Round.run_id == run_id)
            ).scalar_one()


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
