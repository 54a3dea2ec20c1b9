"""training_pairs: the DPO pairs a round trained on, in order, with their samples.

SFT rounds record their rows in ``training_examples`` (0001); a DPO round's pairs were only
rebuilt from the verdicts. The curate stage of a DPO round now stores them here, so
``selftaught export --trained`` reads what the trainer got (``loops/trained.py``). Existing
rounds get no rows: their pairs are rebuilt from the verdicts, checked against the
checkpoint's hash where it recorded one.

Self-contained (no import of selftaught.store.models), like 0001.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('training_pairs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('problem_pk', sa.Integer(), nullable=False),
    sa.Column('chosen_sample_id', sa.Integer(), nullable=True),
    sa.Column('rejected_sample_id', sa.Integer(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('chosen', sa.Text(), nullable=False),
    sa.Column('rejected', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['chosen_sample_id'], ['samples.id'], name=op.f('fk_training_pairs_chosen_sample_id_samples')),
    sa.ForeignKeyConstraint(['problem_pk'], ['problems.id'], name=op.f('fk_training_pairs_problem_pk_problems')),
    sa.ForeignKeyConstraint(['rejected_sample_id'], ['samples.id'], name=op.f('fk_training_pairs_rejected_sample_id_samples')),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_training_pairs_round_id_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_pairs')),
    sa.UniqueConstraint('round_id', 'position', name=op.f('uq_training_pairs_round_id_position'))
    )


def downgrade() -> None:
    op.drop_table('training_pairs')
