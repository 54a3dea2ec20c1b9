"""Schema migrations (Alembic), usable from a checkout and from an installed wheel.

The migration scripts live in ``alembic/`` at the repository root. The wheel ships them
as ``selftaught/_migrations/alembic`` (hatch ``force-include`` in ``pyproject.toml``), so
an installed ``selftaught db upgrade`` works with no checkout; that location is looked for
first, then the checkout's (``src/selftaught/store/../../../alembic``).

Alembic is driven with an in-memory ``Config``: ``script_location`` is set here, and the
open connection travels in ``config.attributes["connection"]`` so that ``env.py`` never
builds a second engine. An upgrade runs in one transaction (``BEGIN IMMEDIATE`` on SQLite,
an advisory lock on PostgreSQL), so several processes opening a fresh store at once
serialize and all but the first find it already at head.

Alembic is imported inside the functions: opening an up-to-date store with
``Store(url, upgrade=False)`` never imports it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from selftaught.errors import StoreError
from selftaught.store.db import make_engine, read_only

if TYPE_CHECKING:
    from alembic.config import Config

#: the newest revision in alembic/versions; a test checks it against the scripts
HEAD = "0013"
VERSION_TABLE = "alembic_version"
_PG_LOCK_KEY = 0x5E1F7A06  # pg_advisory_xact_lock key serializing concurrent upgrades


def script_location() -> Path:
    """The directory holding ``env.py`` and ``versions/`` (installed copy first)."""
    installed = resources.files("selftaught").joinpath("_migrations", "alembic")
    if installed.is_dir():
        return Path(str(installed))
    checkout = Path(__file__).resolve().parents[3] / "alembic"
    if (checkout / "env.py").is_file():
        return checkout
    raise StoreError(
        f"migration scripts not found (looked in {installed} and {checkout}); "
        "reinstall selftaught"
    )


def make_config(connection: Connection | None = None) -> Config:
    """An in-memory Alembic config; ``connection`` is handed to env.py if given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    if connection is not None:
        # no sqlalchemy.url: env.py uses this connection (and a URL's %-escapes would
        # trip ConfigParser interpolation)
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The revision a fresh ``upgrade`` ends at."""
    from alembic.script import ScriptDirectory

    found = ScriptDirectory.from_config(make_config()).get_current_head()
    if found is None:
        raise StoreError("no migration scripts found")
    return found


@dataclass(frozen=True)
class Revision:
    """One migration script: its id, the one it follows (None: the first), its message."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool


def history() -> list[Revision]:
    """Every migration script, newest first (``alembic history``)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(make_config())
    heads = set(scripts.get_heads())
    return [
        Revision(s.revision, s.down_revision if isinstance(s.down_revision, str) else None,  # no merges here
                 " ".join((s.doc or "").split()), s.revision in heads)
        for s in scripts.walk_revisions()
    ]  # fmt: skip


def current(url: str | Engine) -> str | None:
    """The database's revision, or None for a database never upgraded."""
    with _connect(url, read=True) as conn:
        return current_revision(conn)


def current_revision(conn: Connection) -> str | None:
    """Read ``alembic_version`` directly (no Alembic import)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise StoreError(f"database has several migration heads: {sorted(rows)}")
    return rows[0] if rows else None


def upgrade(url: str | Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; safe with concurrent callers)."""
    from alembic import command

    with _connect(url) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        command.upgrade(make_config(conn), revision)


def downgrade(url: str | Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (``"base"`` drops every table)."""
    from alembic import command

    with _connect(url) as conn, conn.begin():
        command.downgrade(make_config(conn), revision)


def check(url: str | Engine) -> None:
    """Raise ``StoreError`` if the models and the migrated database differ (drift)."""
    from alembic import command
    from alembic.util.exc import AutogenerateDiffsDetected

    with _connect(url) as conn, conn.begin():
        try:
            command.check(make_config(conn))
        except AutogenerateDiffsDetected as exc:
            raise StoreError(f"schema drift between models and migrations: {exc}") from None


@contextmanager
def _connect(url: str | Engine, *, read: bool = False) -> Iterator[Connection]:
    """A connection; database and Alembic errors leave as ``StoreError``."""
    from alembic.util.exc import CommandError

    engine = make_engine(url) if isinstance(url, str) else url
    try:
        with (read_only(engine) if read else engine).connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        raise StoreError(f"migration failed: {type(orig).__name__}: {orig}") from exc
    except CommandError as exc:
        raise StoreError(f"migration failed: {exc}") from exc
    finally:
        if isinstance(url, str):
            engine.dispose()
