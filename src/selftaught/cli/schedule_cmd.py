"""``selftaught schedule`` and ``selftaught worker``: rounds on a timetable (Prefect deployments).

    selftaught schedule RECIPE.yaml --interval 3600          # one more round every hour
    selftaught schedule RECIPE.yaml --cron "0 3 * * *" --run-id nightly
    selftaught schedule list | pause NAME | resume NAME | delete NAME
    selftaught worker                                         # runs what the schedules fire

``schedule RECIPE`` is short for ``schedule add RECIPE``. The logic lives in
``selftaught.flows.schedule``; this module only parses and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from selftaught.cli.options import HomeOpt, JsonOpt, StoreUrlOpt, ThreadsOpt
from typer.core import TyperGroup


class _DefaultAdd(TyperGroup):
    """``schedule RECIPE ...`` means ``schedule add RECIPE ...``."""

    def parse_args(self, ctx, args):  # noqa: ANN001 - click's signature
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["add", *args]
        return super().parse_args(ctx, args)


schedule_app = typer.Typer(
    cls=_DefaultAdd,
    no_args_is_help=True,
    help="Run rounds on a schedule (Prefect deployments; needs `prefect server start` and "
    "PREFECT_API_URL).\n\nExample:  selftaught schedule recipes/arithmetic-star.yaml --interval 3600\n"
    "          selftaught schedule list",
)


def _console():
    from selftaught.cli.options import console

    return console


@schedule_app.command("add")
def add(
    recipe_file: Annotated[Path, typer.Argument(metavar="RECIPE.yaml", help="The recipe to run on a schedule.")],
    cron: Annotated[Optional[str], typer.Option(help='Cron expression, e.g. "0 3 * * *" (03:00 daily).')] = None,
    interval: Annotated[Optional[float], typer.Option(min=1, help="Seconds between firings.")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run-id", show_default="name-date-time", help="The run to grow (created by the first firing).")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start a new run at every firing instead of growing one.")] = False,
    extra_rounds: Annotated[int, typer.Option("--extra-rounds", min=1, help="Rounds each firing adds to the run.")] = 1,
    pool: Annotated[str, typer.Option(help="Prefect process work pool (created if missing).")] = "selftaught",
    name: Annotated[Optional[str], typer.Option(show_default="the run id", help="Deployment name.")] = None,
    db: StoreUrlOpt = None,
    home: HomeOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Register a schedule for a recipe: each firing continues the same run with one more round
    (from its latest checkpoint), or starts a new run with --fresh.

    The first firing runs the recipe as written; a worker (`selftaught worker`) executes firings.

    Example:  selftaught schedule recipes/arithmetic-star.yaml --interval 3600 --run-id hourly
              selftaught schedule recipes/arithmetic-star.yaml --cron "0 3 * * *" --fresh
    """
    from selftaught.cli.options import resolve, usage

    if (cron is None) == (interval is None):
        usage("give exactly one of --cron or --interval")
    from selftaught.flows.rounds import new_run_id
    from selftaught.flows.schedule import register
    from selftaught.recipe import load_recipe

    from selftaught.flows.context import check_task

    recipe = load_recipe(recipe_file)
    check_task(recipe)  # the problems load, before anything is registered
    db, home, threads = resolve(db, home, threads)
    run_id = run_id or new_run_id(recipe)
    deployed = register(
        recipe.model_dump(mode="json"), run_id=run_id, db_url=db, home=str(home), cron=cron,
        interval=interval, fresh=fresh, extra_rounds=extra_rounds, threads=threads, pool=pool, name=name,
    )  # fmt: skip
    when = f"cron {cron}" if cron else f"every {interval:g} s"
    what = "a new run each time" if fresh else f"run {run_id}, +{extra_rounds} round(s) each time"
    _console().print(f"scheduled [bold]{deployed}[/] ({when}; {what}); pool {pool}. Start a worker: selftaught worker --pool {pool}")


@schedule_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """The scheduled runs: schedule, paused or not, last and next firing.

    Example:  selftaught schedule list
    """
    from rich.table import Table

    from selftaught.flows.schedule import list_schedules

    rows = [s.as_dict() for s in list_schedules()]
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    t = Table(title="scheduled runs")
    for col in ("name", "run", "schedule", "state", "pool", "last run", "next run"):
        t.add_column(col)
    for r in rows:
        state = "paused" if r["paused"] else "active"
        last = f"{r['last_state']} {r['last_start'] or ''}".strip() if r["last_state"] else "-"
        t.add_row(r["name"], r["run_id"] + (" (fresh)" if r["fresh"] else ""), r["schedule"], state,
                  r["pool"] or "-", last, r["next_run"] or "-")  # fmt: skip
    _console().print(t)


@schedule_app.command("pause")
def pause(name: Annotated[str, typer.Argument(help="Schedule (deployment) name.")]) -> None:
    """Stop firing a schedule (runs already going finish).

    Example:  selftaught schedule pause hourly
    """
    from selftaught.flows.schedule import set_paused

    set_paused(name, True)
    _console().print(f"paused {name}")


@schedule_app.command("resume")
def resume(name: Annotated[str, typer.Argument(help="Schedule (deployment) name.")]) -> None:
    """Fire a paused schedule again.

    Example:  selftaught schedule resume hourly
    """
    from selftaught.flows.schedule import set_paused

    set_paused(name, False)
    _console().print(f"resumed {name}")


@schedule_app.command("delete")
def delete(name: Annotated[str, typer.Argument(help="Schedule (deployment) name.")]) -> None:
    """Delete a schedule; the run and everything it stored stay in the store.

    Example:  selftaught schedule delete hourly
    """
    from selftaught.flows.schedule import delete as delete_deployment

    delete_deployment(name)
    _console().print(f"deleted {name}")


def worker(
    pool: Annotated[str, typer.Option(help="Prefect process work pool to serve.")] = "selftaught",
    limit: Annotated[Optional[int], typer.Option(min=1, help="At most this many runs at once.")] = None,
    run_once: Annotated[bool, typer.Option("--run-once", help="Run what is due, then exit.")] = False,
) -> None:
    """Run scheduled rounds: a Prefect process worker for the pool (`prefect worker start
    --pool POOL --type process`). Start one per machine that should train; they share the
    store through SELFTAUGHT_DB_URL (use PostgreSQL across machines).

    Example:  PREFECT_API_URL=http://127.0.0.1:4200/api selftaught worker
    """
    from selftaught.flows.schedule import exec_worker

    exec_worker(pool, limit, run_once)


def register(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")
    app.command("worker")(worker)
