"""Checkpoints (a chain back to the base model) and their evaluations."""

from __future__ import annotations

import pytest
from tests.store.factories import RUN

from selftaught.errors import StoreError
from selftaught.records import Checkpoint, Evaluation, Split
from selftaught.store import Store


def _chain(n: int) -> list[Checkpoint]:
    out = [Checkpoint(id="base", path="/m/base", sha256="0" * 64, config={"kind": "base"})]
    for i in range(n):
        out.append(
            Checkpoint(id=f"r{i}", path=f"/m/r{i}", sha256=f"{i:064d}", parent_id=out[-1].id,
                       round_index=i, config={"lr": 1e-3, "steps": 60})
        )  # fmt: skip
    return out


def test_checkpoint_chain_runs_back_to_the_root(store_with_run: Store):
    chain = _chain(3)
    for c in chain:
        store_with_run.add_checkpoint(RUN, c)
        store_with_run.add_checkpoint(RUN, c)  # idempotent
    assert store_with_run.get_checkpoint("r1") == chain[2]
    assert store_with_run.checkpoint_chain("r2") == chain[::-1]
    assert store_with_run.checkpoint_chain("base") == [chain[0]]
    assert store_with_run.checkpoint_chain("nope") == []
    assert store_with_run.get_checkpoint("nope") is None


def test_checkpoint_parent_must_exist_and_ids_cannot_change(store_with_run: Store):
    with pytest.raises(StoreError, match="parent 'base' is not in the store"):
        store_with_run.add_checkpoint(RUN, _chain(1)[1])
    base = _chain(0)[0]
    store_with_run.add_checkpoint(RUN, base)
    with pytest.raises(StoreError, match="different path"):
        store_with_run.add_checkpoint(RUN, Checkpoint(id="base", path="/else", sha256="1"))
    with pytest.raises(StoreError, match="own parent"):
        store_with_run.add_checkpoint(RUN, Checkpoint(id="x", path="/x", sha256="", parent_id="x"))


def test_evaluations_are_idempotent_and_listed_by_round(store_with_run: Store):
    store = store_with_run
    for c in _chain(2):
        store.add_checkpoint(RUN, c)
    base_ev = Evaluation("base", Split.HELDOUT, 50, 8, 0.1, 0.12, 0.5, 0.2)
    r0_ev = Evaluation("r0", Split.HELDOUT, 50, 8, 0.3, 0.28, 0.7, 0.4, extra={"tok_s": 4000})
    store.add_evaluation(RUN, None, base_ev)
    store.add_evaluation(RUN, 0, r0_ev)
    store.add_evaluation(RUN, 0, r0_ev)
    assert store.get_evaluations(RUN) == [(None, base_ev), (0, r0_ev)]
    with pytest.raises(StoreError, match="unknown checkpoint"):
        store.add_evaluation(RUN, 1, Evaluation("zz", Split.HELDOUT, 1, 1, 0, 0, 0, 0))
