"""Constitutional AI: constitutions (one row per version), critiques, revisions,
preference pairs.

Critiques and revisions are keyed by (sample, pass); preference pairs by (round, problem,
principle). Each names the constitution version (content hash) it was made under.

Self-contained (no import of selftaught.store.models), like 0001.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('constitutions',
    sa.Column('hash', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hash', name=op.f('pk_constitutions'))
    )
    op.create_table('critiques',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('pass_index', sa.Integer(), nullable=False),
    sa.Column('principle_id', sa.String(), nullable=False),
    sa.Column('constitution_hash', sa.String(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['constitution_hash'], ['constitutions.hash'], name=op.f('fk_critiques_constitution_hash_constitutions')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_critiques_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_critiques')),
    sa.UniqueConstraint('sample_id', 'pass_index', name=op.f('uq_critiques_sample_id_pass_index'))
    )
    op.create_table('preference_pairs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('problem_pk', sa.Integer(), nullable=False),
    sa.Column('chosen_sample_id', sa.Integer(), nullable=False),
    sa.Column('rejected_sample_id', sa.Integer(), nullable=False),
    sa.Column('principle_id', sa.String(), nullable=False),
    sa.Column('constitution_hash', sa.String(), nullable=False),
    sa.Column('p_chosen', sa.Double(), nullable=False),
    sa.Column('kept', sa.Boolean(), nullable=False),
    sa.Column('feedback_model', sa.String(), nullable=False),
    sa.Column('option_logprobs', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chosen_sample_id'], ['samples.id'], name=op.f('fk_preference_pairs_chosen_sample_id_samples')),
    sa.ForeignKeyConstraint(['constitution_hash'], ['constitutions.hash'], name=op.f('fk_preference_pairs_constitution_hash_constitutions')),
    sa.ForeignKeyConstraint(['problem_pk'], ['problems.id'], name=op.f('fk_preference_pairs_problem_pk_problems')),
    sa.ForeignKeyConstraint(['rejected_sample_id'], ['samples.id'], name=op.f('fk_preference_pairs_rejected_sample_id_samples')),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_preference_pairs_round_id_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preference_pairs')),
    sa.UniqueConstraint('round_id', 'problem_pk', 'principle_id', name=op.f('uq_preference_pairs_round_id_problem_pk_principle_id'))
    )
    op.create_table('revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('pass_index', sa.Integer(), nullable=False),
    sa.Column('principle_id', sa.String(), nullable=False),
    sa.Column('constitution_hash', sa.String(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['constitution_hash'], ['constitutions.hash'], name=op.f('fk_revisions_constitution_hash_constitutions')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_revisions_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revisions')),
    sa.UniqueConstraint('sample_id', 'pass_index', name=op.f('uq_revisions_sample_id_pass_index'))
    )


def downgrade() -> None:
    op.drop_table('revisions')
    op.drop_table('preference_pairs')
    op.drop_table('critiques')
    op.drop_table('constitutions')
