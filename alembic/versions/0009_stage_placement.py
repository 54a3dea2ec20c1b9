"""stages.device, stages.dtype, stages.peak_gpu_mb: where a stage ran its model.

Every stage that loads a model runs it on the placement ``selftaught.hardware`` decides (a
recipe's ``device`` and ``dtype``): the CPU in float32, or a CUDA GPU in bf16/fp16. The
stage's row now says which, and on CUDA the most GPU memory torch held during the stage
(``torch.cuda.max_memory_allocated``, reset at the stage's start, in MiB). All three are
NULL for stages that load no model (judge, curate) and for rows written before this
revision.

Self-contained (no import of selftaught.store.models), like 0001.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('stages') as batch:
        batch.add_column(sa.Column('device', sa.Enum('cpu', 'cuda', name='stagedevice', native_enum=False, length=32), nullable=True))
        batch.add_column(sa.Column('dtype', sa.Enum('float32', 'bfloat16', 'float16', name='stagedtype', native_enum=False, length=32), nullable=True))
        batch.add_column(sa.Column('peak_gpu_mb', sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stages') as batch:
        batch.drop_column('peak_gpu_mb')
        batch.drop_column('dtype')
        batch.drop_column('device')
