"""Pruning a run's old checkpoints (``keep_checkpoints: N``; ``selftaught prune``).

A 135M-parameter round writes a ~520 MB folder; a run may keep the weights of only its
newest N round checkpoints. ``prune_run`` joins the rule and the deed of
``loops.checkpoint`` (``checkpoints_to_prune``, ``prune_checkpoint``) to the store: each
pruned folder keeps its ``manifest.json`` and a ``PRUNED`` note, its row stays (lineage,
samples and evaluations still name it) and is stamped ``pruned_at``.

Resume never needs a pruned checkpoint: round r loads round r-1's checkpoint (generate,
rationalize, train) and its own (evaluate), and r-1's is the newest until r's exists;
beyond that, the parent and own checkpoint of every round not finished are protected (a
crash can leave round r's checkpoint registered before its train stage is marked done).
If a round does need one -- stages reset by hand, a checkpoint pruned by an older rule --
``require_unpruned`` says so in one line before any stage loads a model.

No Prefect here, so ``selftaught prune`` starts fast; ``flows/rounds.py`` calls this after
every finished round.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from selftaught.errors import CheckpointError
from selftaught.flows.context import RunLayout
from selftaught.progress import reporter
from selftaught.loops.checkpoint import checkpoints_to_prune, prune_checkpoint
from selftaught.records import Checkpoint, Stage


@dataclass(frozen=True)
class RunFolders(RunLayout):
    """A run's store and folders without its recipe (``selftaught prune``)."""

    run_id: str
    db_url: str
    home: Path


@dataclass(frozen=True)
class Pruned:
    """A checkpoint the rule picked: its weights deleted (in a dry run: would be), or, when
    ``refused`` says why, left alone (its folder is gone or is not a selftaught checkpoint)."""

    checkpoint: Checkpoint
    freed_bytes: int
    refused: str | None = None


def _needs(layout: RunLayout, index: int) -> list[int]:
    """Whose checkpoints round ``index``'s unfinished stages load: its parent's until it has
    trained (generate, rationalize and train start from it), its own until it is evaluated."""
    status = layout.store.stage_status(layout.run_id, index)
    needs = [index - 1] if index > 0 and status.get(Stage.TRAIN) != "done" else []
    return needs + ([index] if status.get(Stage.EVALUATE) != "done" else [])


def require_unpruned(layout: RunLayout, index: int) -> None:
    """One clear line, before any stage runs, if round ``index`` needs a pruned checkpoint."""
    for needed in _needs(layout, index):
        ckpt = layout.store.get_checkpoint(layout.checkpoint_id(needed))
        if ckpt is not None and ckpt.pruned:
            raise CheckpointError(
                f"run {layout.run_id}: round {index} needs checkpoint {ckpt.id}, whose weights were pruned "
                f"on {ckpt.pruned_at:%Y-%m-%d %H:%M} UTC (keep_checkpoints or `selftaught prune`); start a new run from a kept checkpoint"
            )


def prune_run(layout: RunLayout, keep: int, *, dry_run: bool = False) -> list[Pruned]:
    """Delete the weights of the run's round checkpoints older than the newest ``keep``.

    Which ones: ``checkpoints_to_prune`` over the run's round checkpoints (reward models and
    other checkpoints are never candidates), protecting the parent and own checkpoint of any
    round not finished yet and the ``adapter_base`` of every other checkpoint. Each is pruned
    on disk (``prune_checkpoint``), then marked in the store, then reported in one line;
    a crash in between is finished by the next call (idempotent). One whose folder
    ``prune_checkpoint`` refuses is reported and left unmarked -- a run never fails for
    disk it could not free. ``dry_run`` changes nothing and returns what would be pruned,
    with the bytes it would free.
    """
    store, run_dir = layout.store, layout.run_dir()
    everything = store.list_checkpoints(layout.run_id)
    rounds = [c for c in everything if c.round_index is not None and c.id == layout.checkpoint_id(c.round_index)]
    indexes, round_ids = {c.round_index for c in rounds}, {c.id for c in rounds}
    protected = {c.config["adapter_base"] for c in everything if c.id not in round_ids and c.config.get("adapter_base")}
    for index in sorted(indexes | {i + 1 for i in indexes}):  # the rounds that may have started
        protected |= {layout.checkpoint_id(i) for i in _needs(layout, index)}
    done = []
    for ckpt in checkpoints_to_prune(rounds, keep, run_dir=run_dir, protected=protected):
        clock = time.perf_counter()
        try:
            freed = prune_checkpoint(ckpt.path, run_dir=run_dir, dry_run=dry_run)
        except CheckpointError as exc:
            reporter().skip(f"prune {ckpt.id}", f"not pruned: {exc}")
            done.append(Pruned(ckpt, 0, refused=str(exc)))
            continue
        if not dry_run:
            store.mark_checkpoint_pruned(ckpt.id)
            reporter().finish(f"prune {ckpt.id}: {freed / 2**20:.1f} MB freed", time.perf_counter() - clock,
                              {"round": ckpt.round_index, "path": ckpt.path})
        done.append(Pruned(store.get_checkpoint(ckpt.id) or ckpt, freed))
    return done
