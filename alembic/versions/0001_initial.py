"""Initial schema: runs, rounds, stages, problems, samples, verdicts, training examples,
checkpoints, evaluations.

Self-contained on purpose (no import of selftaught.store.models): a migration must keep
describing the schema as it was, whatever the models become.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.String(), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('split', sa.Enum('train', 'heldout', name='split', native_enum=False, length=32), nullable=False),
    sa.Column('solution', sa.Text(), nullable=True),
    sa.Column('tests', sa.Text(), nullable=True),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_problems')),
    sa.UniqueConstraint('problem_id', name=op.f('uq_problems_problem_id'))
    )
    op.create_index(op.f('ix_problems_split'), 'problems', ['split'])

    op.create_table('runs',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('recipe', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_table('checkpoints',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('round_index', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.String(), nullable=True),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['checkpoints.id'], name=op.f('fk_checkpoints_parent_id_checkpoints')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_checkpoints_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoints'))
    )
    op.create_index(op.f('ix_checkpoints_run_id'), 'checkpoints', ['run_id'])

    op.create_table('rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('constitution_hash', sa.String(), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_rounds_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rounds')),
    sa.UniqueConstraint('run_id', 'index', name=op.f('uq_rounds_run_id_index'))
    )
    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.String(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=True),
    sa.Column('split', sa.Enum('train', 'heldout', name='split', native_enum=False, length=32), nullable=False),
    sa.Column('n_problems', sa.Integer(), nullable=False),
    sa.Column('k', sa.Integer(), nullable=False),
    sa.Column('greedy_accuracy', sa.Double(), nullable=False),
    sa.Column('pass_at_1', sa.Double(), nullable=False),
    sa.Column('pass_at_k', sa.Double(), nullable=False),
    sa.Column('maj_at_k', sa.Double(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_evaluations_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_evaluations_round_id_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
    sa.UniqueConstraint('checkpoint_id', 'split', 'k', name=op.f('uq_evaluations_checkpoint_id_split_k'))
    )
    op.create_index(op.f('ix_evaluations_round_id'), 'evaluations', ['round_id'])

    op.create_table('samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('problem_pk', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('generate', 'rationalize', 'eval', 'rollout', name='samplesource', native_enum=False, length=32), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('completion', sa.Text(), nullable=False),
    sa.Column('checkpoint_id', sa.String(), nullable=True),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('n_tokens', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('rationalized', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['problem_pk'], ['problems.id'], name=op.f('fk_samples_problem_pk_problems')),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_samples_round_id_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_samples')),
    sa.UniqueConstraint('round_id', 'source', 'problem_pk', 'index', name=op.f('uq_samples_round_id_source_problem_pk_index'))
    )
    op.create_index(op.f('ix_samples_checkpoint_id'), 'samples', ['checkpoint_id'])
    op.create_index(op.f('ix_samples_problem_pk'), 'samples', ['problem_pk'])
    op.create_index(op.f('ix_samples_round_id'), 'samples', ['round_id'])

    op.create_table('stages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Enum('generate', 'judge', 'rationalize', 'curate', 'train', 'evaluate', name='stage', native_enum=False, length=32), nullable=False),
    sa.Column('status', sa.Enum('running', 'done', 'failed', name='stagestatus', native_enum=False, length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('seconds', sa.Double(), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_stages_round_id_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stages')),
    sa.UniqueConstraint('round_id', 'stage', name=op.f('uq_stages_round_id_stage'))
    )
    op.create_table('training_examples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('problem_pk', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('completion', sa.Text(), nullable=False),
    sa.Column('method', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['problem_pk'], ['problems.id'], name=op.f('fk_training_examples_problem_pk_problems')),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_training_examples_round_id_rounds')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_training_examples_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_examples')),
    sa.UniqueConstraint('round_id', 'position', name=op.f('uq_training_examples_round_id_position')),
    sa.UniqueConstraint('round_id', 'problem_pk', 'sample_id', name=op.f('uq_training_examples_round_id_problem_pk_sample_id'))
    )
    op.create_index(op.f('ix_training_examples_sample_id'), 'training_examples', ['sample_id'])

    op.create_table('verdicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('judge', sa.String(), nullable=False),
    sa.Column('judge_version', sa.String(), nullable=False),
    sa.Column('outcome', sa.Enum('pass', 'fail', 'error', 'timeout', name='outcome', native_enum=False, length=32), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_verdicts_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verdicts')),
    sa.UniqueConstraint('sample_id', 'judge', 'judge_version', name=op.f('uq_verdicts_sample_id_judge_judge_version'))
    )
    op.create_index(op.f('ix_verdicts_judge'), 'verdicts', ['judge'])
    op.create_index(op.f('ix_verdicts_outcome'), 'verdicts', ['outcome'])



def downgrade() -> None:
    op.drop_index(op.f('ix_verdicts_outcome'), table_name='verdicts')
    op.drop_index(op.f('ix_verdicts_judge'), table_name='verdicts')

    op.drop_table('verdicts')
    op.drop_index(op.f('ix_training_examples_sample_id'), table_name='training_examples')

    op.drop_table('training_examples')
    op.drop_table('stages')
    op.drop_index(op.f('ix_samples_round_id'), table_name='samples')
    op.drop_index(op.f('ix_samples_problem_pk'), table_name='samples')
    op.drop_index(op.f('ix_samples_checkpoint_id'), table_name='samples')

    op.drop_table('samples')
    op.drop_index(op.f('ix_evaluations_round_id'), table_name='evaluations')

    op.drop_table('evaluations')
    op.drop_table('rounds')
    op.drop_index(op.f('ix_checkpoints_run_id'), table_name='checkpoints')

    op.drop_table('checkpoints')
    op.drop_table('runs')
    op.drop_index(op.f('ix_problems_split'), table_name='problems')

    op.drop_table('problems')
