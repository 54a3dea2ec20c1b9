"""checkpoints.pruned_at: when a checkpoint's weights were deleted to save disk.

A run with ``keep_checkpoints: N`` (or ``selftaught prune``) deletes the weight and
tokenizer files of its older round checkpoints but keeps their rows -- lineage, samples and
evaluations still refer to them -- and stamps ``pruned_at``. NULL means the folder is (as
far as selftaught knows) complete. Existing rows stay NULL.

Self-contained (no import of selftaught.store.models), like 0001.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('checkpoints') as batch:
        batch.add_column(sa.Column('pruned_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('checkpoints') as batch:
        batch.drop_column('pruned_at')
