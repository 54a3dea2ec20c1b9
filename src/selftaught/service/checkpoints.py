"""Checking a run's checkpoints against their manifests and the store
(``selftaught checkpoint verify``).

In: a ``Store``, a run id, a verify mode (``sha256``: hash every file; ``sizes``: sizes
only). Out: one row per checkpoint of the run, in the store's order: round, id, status
(``ok``, ``damaged`` or ``pruned``: ``loops.checkpoint.inspect_recorded``), the file and
the reason when damaged, and the folder. Nothing is changed; an unknown run is a
``StoreError``.
"""

from __future__ import annotations

from typing import Any


def verify_run(store: Any, run_id: str, db: str, mode: str) -> list[dict]:
    """Every checkpoint of ``run_id`` inspected against its manifest and recorded hash."""
    from selftaught.errors import StoreError
    from selftaught.loops.checkpoint import inspect_recorded

    if store.get_run(run_id) is None:
        raise StoreError(f"no run {run_id!r} in {db}")
    rows = []
    for c in store.list_checkpoints(run_id):
        found = inspect_recorded(c, mode=mode)  # type: ignore[arg-type]
        rows.append({"round": c.round_index, "id": c.id, "status": found.status, "file": found.file,
                     "why": found.why or None, "path": c.path})  # fmt: skip
    return rows
