"""History query speed: verdicts by (round, score), completion substring search, cached round counts.

Three things made `selftaught samples` / `rounds` slow on a 1M-sample store
(``benchmarks/query_latency.py``):

* ``--round N --sort -score`` sorted every verdict of the round, ``--run R --sort -score``
  every verdict of the run: ``verdicts.round_id`` and ``verdicts.run_id`` (copied from the
  sample, filled here for existing rows) and ``ix_verdicts_round_id_score`` /
  ``ix_verdicts_run_id_score`` let a page be read in score order.
* ``--text T`` (a case-insensitive substring of completions) scanned every completion.
  SQLite: an FTS5 table ``samples_fts`` with the ``trigram`` tokenizer, external content
  = ``samples`` (no second copy of the text), ``columnsize=0`` (no per-row sizes: nothing
  ranks matches; inserts ran 1.5x faster without them), filled here with ``rebuild``. The store's bulk
  insert path adds new samples to it in one statement (a per-row trigger made ingest 6x
  slower: FTS5 flushes its buffer at every statement); triggers keep it right if a row is
  later updated or deleted by hand. Without FTS5/trigram (SQLite < 3.34) nothing is
  created and searches scan as before. PostgreSQL: a ``pg_trgm`` GIN index on
  ``completion`` (it serves the ``ILIKE`` that ``icontains`` becomes there) if the
  extension exists or can be created (it needs a privileged role); otherwise nothing, and
  searches scan. Neither object is in the models:
  ``env.py`` leaves them out of ``alembic check`` (``models.UNMODELLED``).
* ``round_table`` and the report's per-problem pass rates and score histograms counted a
  whole run: ``rounds.summary`` and ``rounds.report`` cache them per round (written when
  one of its stages finishes, cleared by every new sample, verdict or training example;
  ``store/summaries.py``). Existing rounds start NULL (counted live).

Note for later migrations: an Alembic batch rebuild of ``samples`` on SQLite drops the two
``samples_fts_*`` triggers (Alembic does not know them); recreate them with
``fts_triggers_sql()`` below.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import logging
from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

FTS_TABLE = "samples_fts"
TRGM_INDEX = "ix_samples_completion_trgm"


def fts_triggers_sql() -> list[str]:
    """Keep ``samples_fts`` right when a sample's completion is updated or the row deleted."""
    delete = (f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, completion) "
              "VALUES ('delete', old.id, old.completion);")  # fmt: skip
    insert = f"INSERT INTO {FTS_TABLE}(rowid, completion) VALUES (new.id, new.completion);"
    return [
        f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON samples BEGIN {delete} END",
        f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF completion ON samples "
        f"BEGIN {delete} {insert} END",
    ]


def upgrade() -> None:
    with op.batch_alter_table('rounds') as batch:
        batch.add_column(sa.Column('summary', sa.JSON(none_as_null=True), nullable=True))
        batch.add_column(sa.Column('report', sa.JSON(none_as_null=True), nullable=True))

    with op.batch_alter_table('verdicts') as batch:
        batch.add_column(sa.Column('round_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('run_id', sa.String(), nullable=True))
    for column in ('round_id', 'run_id'):
        op.execute(
            f"UPDATE verdicts SET {column} = "
            f"(SELECT samples.{column} FROM samples WHERE samples.id = verdicts.sample_id)"
        )
    with op.batch_alter_table('verdicts') as batch:
        batch.alter_column('round_id', existing_type=sa.Integer(), nullable=False)
        batch.alter_column('run_id', existing_type=sa.String(), nullable=False)
        batch.create_index('ix_verdicts_round_id_score', ['round_id', 'score', 'sample_id'])
        batch.create_index('ix_verdicts_run_id_score', ['run_id', 'score', 'sample_id'])

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_fts(bind)
    elif bind.dialect.name == "postgresql":
        _pg_trigram(bind)


def _sqlite_fts(bind: sa.Connection) -> None:
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(
                f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(completion, content='samples', "
                "content_rowid='id', tokenize='trigram', columnsize=0)"  # no ranking: no sizes
            )
    except sa.exc.OperationalError as exc:  # no fts5 module, or no trigram tokenizer
        log.warning("no FTS5 trigram index (%s): completion searches will scan", exc)
        return
    bind.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    for statement in fts_triggers_sql():
        bind.exec_driver_sql(statement)


def _pg_trigram(bind: sa.Connection) -> None:
    schema = _trgm_schema(bind)
    if schema is None:
        for where in (" WITH SCHEMA public", ""):  # public: shared by every schema of the database
            try:
                with bind.begin_nested():
                    bind.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS pg_trgm{where}")
                break
            except sa.exc.DBAPIError as exc:
                log.warning("cannot create extension pg_trgm%s: %s", where, exc.orig)
        schema = _trgm_schema(bind)
    if schema is None:
        log.warning("no pg_trgm: completion searches will scan")
        return
    ops = f'"{schema}".gin_trgm_ops'
    bind.exec_driver_sql(f"CREATE INDEX {TRGM_INDEX} ON samples USING gin (completion {ops})")


def _trgm_schema(bind: sa.Connection) -> str | None:
    return bind.execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'"
    )).scalar_one_or_none()  # fmt: skip


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in (f"{FTS_TABLE}_delete", f"{FTS_TABLE}_update"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"DROP INDEX IF EXISTS {TRGM_INDEX}")  # the extension stays
    with op.batch_alter_table('verdicts') as batch:
        batch.drop_index('ix_verdicts_run_id_score')
        batch.drop_index('ix_verdicts_round_id_score')
        batch.drop_column('run_id')
        batch.drop_column('round_id')
    # not a batch rebuild: on SQLite that drops and recreates `rounds`, which other tables'
    # foreign keys point at (SQLite >= 3.35 drops a column in place)
    op.execute("ALTER TABLE rounds DROP COLUMN report")
    op.execute("ALTER TABLE rounds DROP COLUMN summary")
