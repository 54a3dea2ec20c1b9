"""samples.run_id (copied from rounds.run_id) and its index.

A run-wide query ordered by sample id (``selftaught samples --run R``, the default view)
had to reach samples through ``rounds`` and sort the whole run; with the run id on the
sample row, SQLite and PostgreSQL read the first page straight off ``ix_samples_run_id``
(``benchmarks/query_latency.py``). Existing rows are filled from their round.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('samples') as batch:
        batch.add_column(sa.Column('run_id', sa.String(), nullable=True))
    op.execute(
        "UPDATE samples SET run_id = (SELECT rounds.run_id FROM rounds WHERE rounds.id = samples.round_id)"
    )
    with op.batch_alter_table('samples') as batch:
        batch.alter_column('run_id', existing_type=sa.String(), nullable=False)
        batch.create_foreign_key(op.f('fk_samples_run_id_runs'), 'runs', ['run_id'], ['id'])
        batch.create_index(op.f('ix_samples_run_id'), ['run_id'])


def downgrade() -> None:
    with op.batch_alter_table('samples') as batch:
        batch.drop_index(op.f('ix_samples_run_id'))
        batch.drop_constraint(op.f('fk_samples_run_id_runs'), type_='foreignkey')
        batch.drop_column('run_id')
