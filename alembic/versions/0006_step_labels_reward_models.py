"""Process/outcome reward models: Math-Shepherd step labels and reward-model checkpoints.

``step_labels``: one row per (sample, step index) -- the step text, rollouts, successes and
how the rollouts were drawn. ``reward_models``: marks a ``checkpoints`` row as an ORM or a
PRM, with what it was trained on and its held-out metrics (a checkpoint without such a row
is a policy, as before).

Self-contained (no import of selftaught.store.models), like 0001.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('step_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=False),
    sa.Column('step', sa.Text(), nullable=False),
    sa.Column('rollouts', sa.Integer(), nullable=False),
    sa.Column('successes', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_step_labels_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_labels')),
    sa.UniqueConstraint('sample_id', 'step_index', name=op.f('uq_step_labels_sample_id_step_index'))
    )
    op.create_table('reward_models',
    sa.Column('checkpoint_id', sa.String(), nullable=False),
    sa.Column('kind', sa.Enum('orm', 'prm', name='rewardmodelkind', native_enum=False, length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_reward_models_checkpoint_id_checkpoints')),
    sa.PrimaryKeyConstraint('checkpoint_id', name=op.f('pk_reward_models'))
    )


def downgrade() -> None:
    op.drop_table('reward_models')
    op.drop_table('step_labels')
