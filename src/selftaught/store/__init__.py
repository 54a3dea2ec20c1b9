"""The SQL store: every run, round, sample, verdict, checkpoint and evaluation.

    from selftaught.store import Store
    store = Store("sqlite:///selftaught.db")      # upgrades the schema to head

``Store`` is the whole public API (flows and CLI use nothing else); ``migrations`` drives
Alembic for ``selftaught db upgrade``. Importing this package imports SQLAlchemy, never
torch, Prefect or Alembic.
"""

from selftaught.store.models import StageStatus
from selftaught.store.store import QUERY_ORDERS, ROUND_TABLE_KEYS, Store

__all__ = ["QUERY_ORDERS", "ROUND_TABLE_KEYS", "StageStatus", "Store"]
