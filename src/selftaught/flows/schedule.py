"""Scheduled rounds: a Prefect deployment per scheduled run, executed by a process worker.

What comes in: a recipe (as plain data), a run id, where the store and the checkpoints
live, and a schedule (cron or interval). What goes out: a Prefect deployment of the flow
``selftaught-scheduled`` in a ``process`` work pool; each time it fires, a worker
(``selftaught worker``, i.e. ``prefect worker start --type process``) runs
``scheduled_run`` in a fresh process.

Growing a run. A recipe says how many rounds a run has (``rounds``); a schedule means "one
more round each time". So ``scheduled_run`` does not change the stored recipe: it computes a
*target* round count from what the store holds and hands ``run_flow`` the recipe with that
target,

    target = max(recipe.rounds, last complete round + extra_rounds)

so the first firing runs the recipe as written (cold start + ``rounds`` rounds), and every
later firing adds ``extra_rounds`` (default 1) rounds, each trained from the latest
checkpoint. A firing that finds a round half done (a crash, a killed worker) finishes it
first: that half-done round is the one it adds. The stored recipe stays the one the run
started with, so ``selftaught run RECIPE --resume RUN`` behaves as before (it resumes up to
the recipe's own ``rounds``; rounds a schedule added beyond that are simply done).
With ``fresh=True`` each firing starts a new run ``RUN-YYYYmmdd-HHMMSS`` instead.

Overlap: the deployment has a concurrency limit of 1, so a firing that comes while the
previous one still runs waits in the queue (two firings never train the same round at
once). Beyond that, ``run_flow`` holds the run's lease (``flows/lease.py``): a firing that
finds another process working on the run (a user's ``run --resume``, a firing of another
deployment) fails at once with one line naming it, before any work.

Schedules need a real Prefect server (``prefect server start``; ``PREFECT_API_URL``): the
temporary server a plain flow run starts cannot hold schedules or serve workers.

This module imports Prefect; the registration helpers are called by ``selftaught
schedule`` (``cli/schedule_cmd.py``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow

from selftaught.errors import ScheduleError
from selftaught.flows.context import open_store
from selftaught.flows.rounds import run_flow
from selftaught.records import Stage

FLOW_NAME = "selftaught-scheduled"
DEFAULT_POOL = "selftaught"


def rounds_target(store, run_id: str, recipe_rounds: int, extra_rounds: int) -> int:
    """How many rounds (after the cold start) this firing brings ``run_id`` to."""
    if store.get_run(run_id) is None:
        return recipe_rounds
    complete = [
        r.index for r in store.round_table(run_id) if len(r.stages_done) == len(Stage)
    ]
    last = max(complete, default=-1)
    return max(recipe_rounds, last + extra_rounds)


@flow(name=FLOW_NAME, log_prints=True)
def scheduled_run(
    recipe: dict,
    run_id: str,
    db_url: str,
    home: str,
    threads: int = 0,
    extra_rounds: int = 1,
    fresh: bool = False,
) -> dict:
    """One firing of a schedule: grow ``run_id`` by ``extra_rounds`` rounds (or start a new run)."""
    if fresh:
        target_run = f"{run_id}-{time.strftime('%Y%m%d-%H%M%S')}"
        rounds = int(recipe["rounds"])
    else:
        target_run = run_id
        rounds = rounds_target(open_store(db_url), run_id, int(recipe["rounds"]), extra_rounds)
    print(f"selftaught: run {target_run} -> {rounds} rounds")
    timings = run_flow(target_run, {**recipe, "rounds": rounds}, db_url, home, threads)
    return {"run_id": target_run, "rounds": rounds, "rounds_run": [t["index"] for t in timings]}


# ------------------------------------------------------------------ registration


@dataclass(frozen=True)
class ScheduleInfo:
    """A scheduled run as ``selftaught schedule list`` shows it."""

    name: str
    run_id: str
    schedule: str
    paused: bool
    pool: str | None
    fresh: bool
    last_state: str | None
    last_start: str | None
    next_run: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def require_server() -> str:
    """The Prefect API URL, or a ScheduleError saying how to get one."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise ScheduleError(
            "schedules need a Prefect server: run `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (or `prefect config set PREFECT_API_URL=...`)"
        )
    return url


def absolute_db_url(db_url: str) -> str:
    """A SQLite URL with a relative path made absolute (workers run in another folder)."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if not path.is_absolute():
            return url.set(database=str(path.resolve())).render_as_string(hide_password=False)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ScheduleError("a scheduled run needs a store that outlives one process, not in-memory SQLite")
    return db_url


def register(
    recipe: dict,
    *,
    run_id: str,
    db_url: str,
    home: str,
    cron: str | None = None,
    interval: float | None = None,
    fresh: bool = False,
    extra_rounds: int = 1,
    threads: int = 0,
    pool: str = DEFAULT_POOL,
    name: str | None = None,
) -> str:
    """Create (or update) the deployment for ``run_id``; returns its name."""
    if (cron is None) == (interval is None):
        raise ScheduleError("give exactly one of --cron or --interval")
    require_server()
    from prefect.deployments.runner import EntrypointType

    ensure_pool(pool)
    name = name or run_id
    try:
        deployment = scheduled_run.to_deployment(
            name=name,
            cron=cron,
            interval=interval,
            parameters={
                "recipe": recipe, "run_id": run_id, "db_url": absolute_db_url(db_url),
                "home": str(Path(home).resolve()), "threads": threads,
                "extra_rounds": extra_rounds, "fresh": fresh,
            },
            entrypoint_type=EntrypointType.MODULE_PATH,
            concurrency_limit=1,
            tags=["selftaught"],
            description=f"selftaught run {run_id}: "
            + ("a new run each time" if fresh else f"+{extra_rounds} round(s) each time"),
        )  # fmt: skip
        deployment.apply(work_pool_name=pool)
    except ValueError as exc:  # a bad cron string (pydantic's ValidationError is a ValueError)
        reason = str(exc).splitlines()
        detail = next((line.strip() for line in reason if "Value error" in line), reason[0] if reason else "")
        raise ScheduleError(f"schedule: {detail.removeprefix('Value error, ')}") from None
    return name


def ensure_pool(pool: str) -> None:
    """Create the process work pool ``pool`` if it does not exist."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        except ObjectAlreadyExists:
            pass


def _deployment(client, name: str):
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name(f"{FLOW_NAME}/{name}")
    except ObjectNotFound:
        raise ScheduleError(f"no scheduled run named {name!r} (see `selftaught schedule list`)") from None


def list_schedules() -> list[ScheduleInfo]:
    """Every deployment of the scheduled-run flow, with its last and next flow run."""
    require_server()
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    out: list[ScheduleInfo] = []
    with get_client(sync_client=True) as client:
        deployments = client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])))
        for d in sorted(deployments, key=lambda d: d.name):
            by_dep = DeploymentFilter(id=DeploymentFilterId(any_=[d.id]))
            last = client.read_flow_runs(
                deployment_filter=by_dep,
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED]))),
                sort=FlowRunSort.START_TIME_DESC, limit=1,
            )  # fmt: skip
            upcoming = client.read_flow_runs(
                deployment_filter=by_dep,
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1,
            )  # fmt: skip
            params = d.parameters or {}
            out.append(
                ScheduleInfo(
                    name=d.name,
                    run_id=str(params.get("run_id", "")),
                    schedule=", ".join(_describe(s.schedule) for s in d.schedules) or "-",
                    paused=bool(d.paused),
                    pool=d.work_pool_name,
                    fresh=bool(params.get("fresh", False)),
                    last_state=last[0].state_name if last else None,
                    last_start=str(last[0].start_time)[:19] if last and last[0].start_time else None,
                    next_run=str(upcoming[0].expected_start_time)[:19] if upcoming and not d.paused else None,
                )
            )
    return out


def _describe(schedule: Any) -> str:
    if getattr(schedule, "cron", None):
        return f"cron {schedule.cron}"
    if getattr(schedule, "interval", None) is not None:
        return f"every {schedule.interval.total_seconds():g} s"
    return type(schedule).__name__


def set_paused(name: str, paused: bool) -> None:
    require_server()
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        d = _deployment(client, name)
        (client.pause_deployment if paused else client.resume_deployment)(d.id)


def delete(name: str) -> None:
    """Delete the deployment (its scheduled, not yet started runs go with it)."""
    require_server()
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        d = _deployment(client, name)
        client.delete_deployment(d.id)


def worker_command(pool: str = DEFAULT_POOL, limit: int | None = None, run_once: bool = False) -> list[str]:
    """The ``prefect worker start`` command line that serves ``pool``."""
    import sys

    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
    if limit:
        cmd += ["--limit", str(limit)]
    if run_once:
        cmd.append("--run-once")
    return cmd


def exec_worker(pool: str = DEFAULT_POOL, limit: int | None = None, run_once: bool = False) -> None:
    """Replace this process with a Prefect process worker for ``pool`` (created if missing)."""
    require_server()
    ensure_pool(pool)
    cmd = worker_command(pool, limit, run_once)
    os.execv(cmd[0], cmd)
