"""Test-time search as a command runs it: load the models, search, store the result.

In: a ``SearchConfig`` (checked: ``search.run.check_models``), the problems, the policy's
folder and the id to record for it, optional ORM/PRM checkpoint folders, the store URL and
home, an optional run id to file the search under. Out: a ``Searched`` record (the
``SearchRecord`` with every candidate, partial path, score and selection, and whether the
store already held it). torch loads here, when the models do.

This lives in ``service/`` and not in ``search/`` because it is the only place search meets
the store and the model loaders: ``search/`` stays the algorithms over a policy and
scorers it is handed (no store, no checkpoints), and it is not a Prefect flow, so not
``flows/`` either (``docs/architecture.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from selftaught.records import Problem, SearchRecord

if TYPE_CHECKING:
    from selftaught.search.run import SearchConfig


@dataclass(frozen=True)
class Searched:
    """A stored search: the record and whether it was new to the store."""

    record: SearchRecord
    new: bool


def search_and_store(cfg: SearchConfig, problems: list[Problem], policy_folder: Path, checkpoint: str, *,
                     orm: Path | None, prm: Path | None, run: str | None, db: str, home: Path,
                     threads: int) -> Searched:  # fmt: skip
    """Open the store (and migrate-check it) before minutes of search, load the policy and
    the reward models, run ``search.run_search``, and store the problems and the search
    (under ``run``, created if missing)."""
    from selftaught.loops.policy import load_policy
    from selftaught.prm.scorers import load_orm, load_prm
    from selftaught.progress import step
    from selftaught.search import run_search
    from selftaught.store import Store

    store = Store(db, home=home)
    with step(f"search {cfg.method.value} B={cfg.budget}: problems", total=len(problems)) as advance:
        policy = load_policy(policy_folder, threads=threads)
        orm_m = load_orm(orm, threads=threads) if orm else None
        prm_m = load_prm(prm, threads=threads) if prm else None
        record = run_search(policy, problems, cfg, orm=orm_m, prm=prm_m, checkpoint=checkpoint, progress=advance)
    models = {"orm": str(orm) if orm else None, "prm": str(prm) if prm else None}
    record = replace(record, config={**record.config, **models})
    if run is not None and store.get_run(run) is None:
        store.create_run(run, name="search", recipe={"kind": "search"})
    store.add_problems(problems)
    new = store.add_search(record, run_id=run)
    return Searched(record, new)
