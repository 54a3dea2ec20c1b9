"""The SQL store: every run, round, sample, verdict, checkpoint and evaluation.

    from selftaught.store import Store
    store = Store("sqlite:///selftaught.db")      # upgrades the schema to head
    for row in store.round_table("run-1"):        # frozen RoundRow records
        print(row.index, row.pass_rate)

``Store`` is the whole public API (flows and CLI use nothing else); its reads return the
frozen records of ``rows.py`` (``RunInfo``, ``RoundRow``, ``SampleHit``, ...) or of
``selftaught.records``; ``migrations`` drives Alembic for ``selftaught db upgrade``.

Layers: this package imports ``selftaught.records``, ``errors``, ``homepaths`` (stdlib
only), SQLAlchemy, and Alembic when a schema needs upgrading -- never torch, Prefect, or
selftaught's loops, prm, judges, search or flows (``tests/test_layering.py``). How the
``Store`` is put together from parts, and why, is in ``store.py``'s docstring.
"""

from selftaught.store.rows import (
    ROUND_TABLE_KEYS,
    CaiRecords,
    ExportedSample,
    ProblemHistory,
    ProblemPassRate,
    ProblemRound,
    ProblemSolved,
    RewardModelInfo,
    RoundRef,
    RoundRow,
    RunInfo,
    RunStatus,
    SampleCount,
    SampleHit,
    ScoreHistogram,
    SearchInfo,
    StagePlacement,
    StageStatus,
    StaleCheckpoint,
    StoredConstitution,
    StoredPair,
    VerdictFlips,
)
from selftaught.store.store import QUERY_ORDERS, Store

__all__ = [
    "QUERY_ORDERS", "ROUND_TABLE_KEYS", "CaiRecords", "ExportedSample", "ProblemHistory", "ProblemPassRate",
    "ProblemRound", "ProblemSolved", "RewardModelInfo", "RoundRef", "RoundRow", "RunInfo", "RunStatus", "SampleCount", "SampleHit",
    "ScoreHistogram", "SearchInfo", "StagePlacement", "StageStatus", "StaleCheckpoint",
    "StoredConstitution", "StoredPair", "Store", "VerdictFlips",
]  # fmt: skip
