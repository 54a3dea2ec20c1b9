"""A run never builds on damaged weights: the check before a round runs, and rebuilding
from the last good checkpoint (``selftaught run RECIPE --resume RUN --retrain-from N``).

Before a round runs (``require_verified``; ``round_flow`` calls it after ``require_unpruned``):
every checkpoint the round's unfinished stages load -- its parent's until it has trained,
its own until it is evaluated (``prune._needs``) -- is checked as the store recorded it
(``checkpoint.inspect_recorded``: manifest, sizes, sha256 unless ``SELFTAUGHT_VERIFY=sizes``,
and the overall sha256 the store holds). A damaged one stops the round before any stage
loads it, in one line naming the file and the command that rebuilds from it. The check is
remembered for the process, so the stages' own loads (``checkpoint.verified``) do not hash
the same files again. ``selftaught run --resume`` runs the same checks for every round
(``check_before_resume``) before Prefect starts, so its refusal is the one line alone.

``--retrain-from N`` (``retrain_from``) rebuilds round N and every later round from round
N-1's checkpoint. Rounds >= N were built on weights that cannot be trusted, so their rows
must not mix with the rebuilt ones, and the store stays append-mostly: they are superseded,
not deleted.

1. Round N-1's checkpoint must verify as recorded (N = 0 rebuilds the cold start: nothing
   to verify). N must be a round the run has started.
2. The run's folders ``round-NNN`` for NNN >= N move to the folder of a new run
   ``RUN~superseded-K`` (K: the first id not yet in the store), each rename fsynced. A folder
   outside the run's folder (a user's model registered as round 0) is never moved.
3. One store transaction (``Store.supersede_rounds``) moves rounds >= N with everything that
   hangs off them to that run (status ``superseded``) and renames their checkpoints
   ``RUN~superseded-K/rI``: ``selftaught rounds RUN~superseded-K`` still shows them, and
   ``selftaught checkpoints`` their lineage.
4. The flow then resumes as usual: rounds < N are done, rounds >= N have never run, and
   are rebuilt with the same seeds from round N-1's checkpoint.

A kill at any point leaves a store that resumes: before the transaction commits the store
is unchanged and K is the same on the next try, which moves the folders still left and
commits (a plain ``--resume`` meanwhile refuses a moved folder and names this command);
after it commits, the run is one whose rounds >= N never started.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from selftaught.errors import CheckpointError, ConfigError
from selftaught.flows.context import RunLayout
from selftaught.flows.prune import RunFolders, _needs, require_unpruned
from selftaught.loops.checkpoint import inspect_recorded, move_checkpoint

#: how a superseded run is named: RUN~superseded-K
SUPERSEDED_SUFFIX = "~superseded-"
_ROUND_FOLDER = re.compile(r"round-(\d+)")


def _rebuild_hint(run_id: str, index: int) -> str:
    return (f"rebuild from the last good checkpoint with `selftaught run RECIPE --resume {run_id} --retrain-from "
            f"{index}` (`selftaught checkpoint verify {run_id}` lists every checkpoint)")  # fmt: skip


def require_verified(layout: RunLayout, index: int, *, can_retrain: bool = True) -> None:
    """One line, before any stage runs, if round ``index`` needs a damaged checkpoint.
    ``can_retrain``: whether the run's command has ``--retrain-from`` to suggest."""
    store = layout.store
    for needed in _needs(layout, index):
        ckpt = store.get_checkpoint(layout.checkpoint_id(needed))
        if ckpt is None or ckpt.pruned:  # not trained yet; or ``require_unpruned``'s case
            continue
        found = inspect_recorded(ckpt)
        if not found.ok:
            hint = _rebuild_hint(layout.run_id, needed) if can_retrain else "restore it, or start a new run"
            raise CheckpointError(f"{found.message()}; round {index} of run {layout.run_id} needs it: {hint}")


def check_before_resume(layout: RunLayout, rounds: int) -> None:
    """What ``round_flow`` checks before each round, for every round of the run at once:
    ``selftaught run --resume`` calls it before Prefect starts, so a refusal is one line (inside
    a flow, Prefect also logs the exception with its traceback). Finished rounds need nothing."""
    for index in range(rounds + 1):
        require_unpruned(layout, index)
        require_verified(layout, index)


@dataclass(frozen=True)
class Superseded:
    """What ``retrain_from`` did: the run now holding the old rounds, which rounds, which folders."""

    archive_id: str
    rounds: list[int]
    folders: dict[str, str]  # old folder (real path) -> new folder


def superseded_id(layout: RunLayout) -> str:
    """``RUN~superseded-K`` with the first K not yet a run in the store."""
    taken = {r.id for r in layout.store.list_runs()}
    k = 1
    while f"{layout.run_id}{SUPERSEDED_SUFFIX}{k}" in taken:
        k += 1
    return f"{layout.run_id}{SUPERSEDED_SUFFIX}{k}"


def _check_start(layout: RunLayout, first: int) -> None:
    """Round ``first`` has started, and round ``first - 1``'s checkpoint verifies as recorded."""
    store, run_id = layout.store, layout.run_id
    last = store.last_round_index(run_id)
    if last is None or not 0 <= first <= last:
        span = "no rounds yet" if last is None else f"rounds 0..{last}"
        raise ConfigError(f"--retrain-from {first}: run {run_id} has {span}; `--resume {run_id}` alone continues it")
    if first == 0:
        return
    parent = store.get_checkpoint(layout.checkpoint_id(first - 1))
    if parent is None:
        raise CheckpointError(f"--retrain-from {first}: round {first - 1} of run {run_id} has no checkpoint to "
                              f"start from; try --retrain-from {first - 1}")  # fmt: skip
    if parent.pruned:
        raise CheckpointError(f"--retrain-from {first}: round {first - 1}'s checkpoint {parent.id} was pruned; "
                              "start a new run from a kept checkpoint")  # fmt: skip
    found = inspect_recorded(parent)
    if not found.ok:
        raise CheckpointError(f"{found.message()}; --retrain-from {first} starts from it: try --retrain-from "
                              f"{first - 1}")  # fmt: skip


def _round_folders(layout: RunLayout, first: int) -> dict[int, Path]:
    """The run's ``round-NNN`` folders with NNN >= ``first`` (registered or not)."""
    run_dir = layout.run_dir()
    found = {}
    for p in run_dir.iterdir() if run_dir.is_dir() else ():
        m = _ROUND_FOLDER.fullmatch(p.name)
        if m and int(m.group(1)) >= first and p.is_dir() and not p.is_symlink():
            found[int(m.group(1))] = p
    return found


def retrain_from(layout: RunLayout, first: int) -> Superseded:
    """Supersede rounds ``first``.. of the run so that the next flow rebuilds them (module
    docstring). Raises ``ConfigError``/``CheckpointError`` (nothing changed) if it cannot."""
    _check_start(layout, first)
    store = layout.store
    archive = RunFolders(superseded_id(layout), layout.db_url, layout.home)
    folders: dict[str, str] = {}  # real path of the old folder -> the new folder
    for index, src in sorted(_round_folders(layout, first).items()):
        dest = archive.checkpoint_dir(index)
        folders[os.path.realpath(src)] = str(dest)
        move_checkpoint(src, dest)
    for index in range(first, (store.last_round_index(layout.run_id) or 0) + 1):  # moved by a try that was killed
        dest = archive.checkpoint_dir(index)
        if dest.is_dir():
            folders.setdefault(os.path.realpath(layout.checkpoint_dir(index)), str(dest))
    paths = {c.id: folders[os.path.realpath(c.path)] for c in store.list_checkpoints(layout.run_id)
             if os.path.realpath(c.path) in folders}  # fmt: skip
    rounds = store.supersede_rounds(layout.run_id, first, archive.run_id, paths)
    return Superseded(archive.run_id, rounds, folders)


__all__ = ["SUPERSEDED_SUFFIX", "Superseded", "check_before_resume", "require_verified", "retrain_from", "superseded_id"]
