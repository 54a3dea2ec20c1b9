"""runs.status: a ``RunStatus`` enum column instead of free text.

The values stay the ones runs already hold (created, running, done, failed, superseded);
the column becomes VARCHAR(32) like every enum column (``models.ENUM_LENGTH``) and the
models read it back as ``RunStatus``. A store holding any other value is refused here,
naming it, instead of failing later at the first read.

PostgreSQL alters the column type in place. SQLite ignores VARCHAR lengths, so its column
is left as it is (rebuilding ``runs`` would have to drop a table that rounds, checkpoints
and searches refer to); ``alembic check`` finds no difference on either backend.

Self-contained (no import of selftaught.store.models), like 0001.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

from selftaught.errors import StoreError

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ('created', 'running', 'done', 'failed', 'superseded')


def upgrade() -> None:
    bind = op.get_bind()
    found = set(bind.execute(sa.text('SELECT DISTINCT status FROM runs')).scalars())
    unknown = sorted(found - set(STATUSES))
    if unknown:
        raise StoreError(
            f"runs.status holds {unknown}, which is not a run status ({', '.join(STATUSES)}): "
            "set those runs' status to one of them, then upgrade again"
        )
    if bind.dialect.name == 'postgresql':
        op.alter_column('runs', 'status', existing_type=sa.String(), type_=sa.String(length=32),
                        existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('runs', 'status', existing_type=sa.String(length=32), type_=sa.String(),
                        existing_nullable=False)
