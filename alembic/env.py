"""Alembic environment for the selftaught store.

Run programmatically (``selftaught.store.migrations``), the open connection arrives in
``config.attributes["connection"]`` and is used as is. Run from the command line
(``alembic upgrade head`` at the repository root), the URL comes from ``-x url=...``,
then ``sqlalchemy.url`` in alembic.ini, then ``SELFTAUGHT_DB_URL`` (the settings default).
"""

from __future__ import annotations

from alembic import context

from selftaught.store.db import make_engine
from selftaught.store.models import UNMODELLED, Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        from selftaught.settings import get_settings

        url = get_settings().db_url
    return url


def _include_name(name, type_, parent_names) -> bool:
    """Leave out objects the models do not describe (search indexes of migration 0005)."""
    return not (name or "").startswith(UNMODELLED)


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        include_name=_include_name,
        # SQLite cannot ALTER most things; batch mode copies the table instead
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
