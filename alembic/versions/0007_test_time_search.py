"""Test-time search: searches, their per-problem results and every node they made.

``searches``: one row per ``selftaught search`` (method, budget, config, the policy, and
totals: accuracy, samples, tokens). ``search_results``: per (search, problem) the selected
completion, whether it is right, and its cost. ``search_nodes``: per (search, problem,
index) every candidate, partial step path and rollout, with its scores, so that a search
can be inspected afterwards.

Self-contained (no import of selftaught.store.models), like 0001.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('searches',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('run_id', sa.String(), nullable=True),
    sa.Column('method', sa.Enum('greedy', 'majority', 'bon-orm', 'bon-prm', 'beam', 'mcts', 'revise', name='searchmethod', native_enum=False, length=32), nullable=False),
    sa.Column('budget', sa.Integer(), nullable=False),
    sa.Column('checkpoint', sa.Text(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('n_problems', sa.Integer(), nullable=False),
    sa.Column('accuracy', sa.Double(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('tokens', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_searches_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_searches'))
    )
    op.create_index(op.f('ix_searches_run_id'), 'searches', ['run_id'], unique=False)
    op.create_table('search_nodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('search_id', sa.String(), nullable=False),
    sa.Column('problem_pk', sa.Integer(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('parent_index', sa.Integer(), nullable=True),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('step', sa.Text(), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('n_tokens', sa.Integer(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('correct', sa.Boolean(), nullable=True),
    sa.Column('selected', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['problem_pk'], ['problems.id'], name=op.f('fk_search_nodes_problem_pk_problems')),
    sa.ForeignKeyConstraint(['search_id'], ['searches.id'], name=op.f('fk_search_nodes_search_id_searches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_nodes')),
    sa.UniqueConstraint('search_id', 'problem_pk', 'index', name=op.f('uq_search_nodes_search_id_problem_pk_index'))
    )
    op.create_table('search_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('search_id', sa.String(), nullable=False),
    sa.Column('problem_pk', sa.Integer(), nullable=False),
    sa.Column('node_index', sa.Integer(), nullable=True),
    sa.Column('completion', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('correct', sa.Boolean(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('tokens', sa.Integer(), nullable=False),
    sa.Column('expansions', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['problem_pk'], ['problems.id'], name=op.f('fk_search_results_problem_pk_problems')),
    sa.ForeignKeyConstraint(['search_id'], ['searches.id'], name=op.f('fk_search_results_search_id_searches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_results')),
    sa.UniqueConstraint('search_id', 'problem_pk', name=op.f('uq_search_results_search_id_problem_pk'))
    )


def downgrade() -> None:
    op.drop_table('search_results')
    op.drop_table('search_nodes')
    op.drop_index(op.f('ix_searches_run_id'), table_name='searches')
    op.drop_table('searches')
