"""verdicts.judge_version: verdicts written before judges had versions say ``unknown``.

Until now a verdict's ``judge_version`` was a hand-written label ("1", "1+strict-boxed",
"math:1,format:1" for a weighted judge), not the hash of the judge's options and code
version that it is from now on (``judges/version.py``). Every label already stored is such
an old one, so it becomes ``unknown`` ("1") or ``unknown:LABEL`` (the others keep their
label after the colon): nothing is lost, and no old verdict can pass for a new version.
The unique key (sample_id, judge, judge_version) already lets ``selftaught rejudge`` add
verdicts of a new version beside these. Downgrade gives the old labels back.

Self-contained (no import of selftaught.store.models), like 0001.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE verdicts SET judge_version = CASE "
        "WHEN judge_version IS NULL OR judge_version IN ('', '1') THEN 'unknown' "
        "ELSE 'unknown:' || judge_version END"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE verdicts SET judge_version = CASE "
        "WHEN judge_version = 'unknown' THEN '1' "
        "WHEN judge_version LIKE 'unknown:%' THEN substr(judge_version, 9) "
        "ELSE judge_version END"
    )
