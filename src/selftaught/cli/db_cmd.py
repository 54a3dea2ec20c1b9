"""``selftaught db upgrade|downgrade|current|history``: the store's schema, as Alembic's own
commands name them (``store/migrations.py`` does the work)."""

from __future__ import annotations

from typing import Annotated

import typer

from selftaught.cli.options import DbOpt, console, resolve, usage

db_app = typer.Typer(help="The store's schema (Alembic migrations): upgrade, downgrade, current, history.",
                     no_args_is_help=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``db`` sub-command group to the main app."""
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision (alembic's syntax: an id, head, +1).")] = "head",
               db: DbOpt = None) -> None:  # fmt: skip
    """Create or migrate the store's tables up to REVISION (`alembic upgrade`).

    Example:  SELFTAUGHT_DB_URL=postgresql+psycopg://me@db/selftaught selftaught db upgrade
    """
    from selftaught.store import migrations

    url = resolve(db)[0]
    before = migrations.current(url)
    migrations.upgrade(url, revision)
    console.print(f"{_safe(url)}: {before or '(empty)'} -> {migrations.current(url)}", highlight=False)


# a relative revision (-1) reads as an unknown option to click: let it through as REVISION
@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision (required): an id, -1 (one step back), or base (drop every table).")],
    db: DbOpt = None,
) -> None:
    """Migrate the store's tables down to REVISION (`alembic downgrade`). Columns and tables
    newer than REVISION are dropped, with their data: copy the store first.

    Example:  selftaught db downgrade 0012
              selftaught db downgrade -1
    """
    from selftaught.store import migrations

    if revision.startswith("-") and not revision[1:].isdigit():  # an option after all
        usage(f"No such option: {revision}")
    url = resolve(db)[0]
    before = migrations.current(url)
    migrations.downgrade(url, revision)
    console.print(f"{_safe(url)}: {before or '(empty)'} -> {migrations.current(url) or '(empty)'}", highlight=False)


@db_app.command("current")
def db_current(db: DbOpt = None) -> None:
    """Print the store's schema revision (and the newest this selftaught knows).

    Example:  selftaught db current --db sqlite:///selftaught.db
    """
    from selftaught.store import migrations

    url = resolve(db)[0]
    cur = migrations.current(url)
    head = migrations.head()
    state = "up to date" if cur == head else ("empty: run `selftaught db upgrade`" if cur is None else f"behind head {head}")
    console.print(f"{_safe(url)}: {cur or '(none)'} ({state})", highlight=False)


@db_app.command("history")
def db_history(db: DbOpt = None) -> None:
    """List the migrations, newest first, marking head and the store's current revision
    (`alembic history --indicate-current`).

    Example:  selftaught db history
    """
    from selftaught.store import migrations

    url = resolve(db)[0]
    cur = migrations.current(url)
    for rev in migrations.history():
        marks = [m for m, on in (("head", rev.is_head), ("current", rev.revision == cur)) if on]
        tag = f" ({', '.join(marks)})" if marks else ""
        console.print(f"{rev.down_revision or '<base>'} -> {rev.revision}{tag}, {rev.message}",
                      highlight=False, markup=False, soft_wrap=True)  # fmt: skip


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
