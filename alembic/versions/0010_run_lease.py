"""runs.lease_*: the lease of the one process working on a run.

Two processes resuming the same run at once repeated each other's stages (SQLite) or
tripped over each other's checkpoint folders and left the store contradicting itself
(PostgreSQL: a run ``done`` with a ``failed`` train stage). A process now takes the run's
lease before any work (``flows/lease.py``) with one compare-and-set UPDATE of these columns,
renews it from a heartbeat thread, and clears it when it ends the run:

    lease_token         new at each acquisition; a status write checks it is still the run's
    lease_host/pid      who holds it (shown when another process is refused)
    lease_pid_start     the owner process's start time, so a reused pid is not the owner
    lease_acquired_at, lease_heartbeat_at, lease_expires_at

Existing runs get all NULL: nobody holds them.

Self-contained (no import of selftaught.store.models), like 0001.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STRINGS = ('lease_token', 'lease_host')
_TIMES = ('lease_acquired_at', 'lease_heartbeat_at', 'lease_expires_at')


def upgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        for name in _STRINGS:
            batch.add_column(sa.Column(name, sa.String(), nullable=True))
        batch.add_column(sa.Column('lease_pid', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('lease_pid_start', sa.String(), nullable=True))
        for name in _TIMES:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # never a table copy: on SQLite, dropping and re-creating `runs` under foreign keys fails
    # once rounds refer to it; SQLite >= 3.35 drops a plain column in place
    with op.batch_alter_table('runs', recreate='never') as batch:
        for name in reversed(_STRINGS + ('lease_pid', 'lease_pid_start') + _TIMES):
            batch.drop_column(name)
