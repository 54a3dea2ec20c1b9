"""Drop ix_verdicts_outcome and ix_verdicts_judge.

Both index a column with a handful of values. With no statistics (the store never runs
ANALYZE) SQLite took an equality on either as highly selective and planned history
queries around it: ``--run R --outcome fail`` read half of all verdicts and sorted them,
``--run R --judge J`` searched the judge index once per sample (minutes on a 1M-sample
store, ``benchmarks/query_latency.py``). Verdicts are reached through their sample
(``uq_verdicts_sample_id_judge_judge_version`` leads with ``sample_id``), which is what
every query here wants.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_verdicts_outcome', table_name='verdicts')
    op.drop_index('ix_verdicts_judge', table_name='verdicts')


def downgrade() -> None:
    op.create_index('ix_verdicts_judge', 'verdicts', ['judge'])
    op.create_index('ix_verdicts_outcome', 'verdicts', ['outcome'])
