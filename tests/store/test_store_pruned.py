"""Pruned checkpoints in the store (migration 0008): the row stays, stamped ``pruned_at``."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from tests.store.factories import RUN

from selftaught.errors import StoreError
from selftaught.records import Checkpoint
from selftaught.store import Store


def _rounds(n: int) -> list[Checkpoint]:
    out: list[Checkpoint] = []
    for i in range(n):
        out.append(Checkpoint(id=f"{RUN}/r{i}", path=f"/h/runs/{RUN}/round-{i:03d}", sha256=f"{i:064d}",
                              parent_id=out[-1].id if out else None, round_index=i))  # fmt: skip
    return out


def test_marking_is_idempotent_and_read_back_everywhere(store_with_run: Store):
    store = store_with_run
    chain = _rounds(3)
    for c in chain:
        store.add_checkpoint(RUN, c)
    assert [c.pruned for c in store.list_checkpoints(RUN)] == [False, False, False]

    assert store.mark_checkpoint_pruned(f"{RUN}/r0") is True
    first = store.get_checkpoint(f"{RUN}/r0").pruned_at
    assert first is not None and first.tzinfo is not None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert store.mark_checkpoint_pruned(f"{RUN}/r0", at=later) is False  # the first time is kept
    assert store.get_checkpoint(f"{RUN}/r0").pruned_at == first

    # every read of a checkpoint carries the mark; the lineage is unbroken
    assert [c.id for c in store.list_checkpoints(RUN) if c.pruned] == [f"{RUN}/r0"]
    assert [c.pruned for c in store.checkpoint_chain(f"{RUN}/r2")] == [False, False, True]
    # re-adding the record (a retried stage) neither fails nor clears the mark
    store.add_checkpoint(RUN, chain[0])
    assert store.get_checkpoint(f"{RUN}/r0").pruned


def test_list_checkpoints_orders_rounds_then_the_rest(store_with_run: Store):
    store = store_with_run
    chain = _rounds(2)
    rm = Checkpoint(id=f"{RUN}-prm-abc", path="/h/prm", sha256="f" * 64, parent_id=chain[0].id,
                    config={"kind": "prm"})  # fmt: skip
    for c in (chain[0], rm, chain[1]):
        store.add_checkpoint(RUN, c)
    assert [c.id for c in store.list_checkpoints(RUN)] == [f"{RUN}/r0", f"{RUN}/r1", f"{RUN}-prm-abc"]


def test_unknown_ids_are_errors(store_with_run: Store):
    with pytest.raises(StoreError, match="unknown checkpoint 'nope'"):
        store_with_run.mark_checkpoint_pruned("nope")
    with pytest.raises(StoreError, match="unknown run"):
        store_with_run.list_checkpoints("no-such-run")


def test_0008_upgrades_a_store_with_checkpoints_and_back(store_url: str):
    """A store written at 0007 gains ``pruned_at`` (NULL for existing rows) with no drift,
    and goes back down without losing the rows."""
    from selftaught.store import migrations

    migrations.upgrade(store_url, "0007")
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO runs (id, name, recipe, created_at, status) "
                             "VALUES ('r', 'n', '{}', :t, 'done')"), {"t": dt.datetime(2026, 1, 1)})
        conn.execute(sa.text("INSERT INTO checkpoints (id, run_id, round_index, path, sha256, config, created_at) "
                             "VALUES ('r/r0', 'r', 0, '/x', 'h', '{}', :t)"), {"t": dt.datetime(2026, 1, 1)})
    engine.dispose()
    migrations.upgrade(store_url)
    migrations.check(store_url)
    with Store(store_url, upgrade=False) as store:
        (old,) = store.list_checkpoints("r")
        assert old.id == "r/r0" and old.pruned_at is None
        store.mark_checkpoint_pruned("r/r0")
    migrations.downgrade(store_url, "0007")
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM checkpoints")).scalars().all() == ["r/r0"]
    engine.dispose()
