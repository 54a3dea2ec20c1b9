"""``selftaught checkpoints RUN``: a run's checkpoints and whether their weights are still on
disk; ``selftaught prune RUN --keep N``: delete the weights of all but the newest N;
``selftaught checkpoint verify RUN``: check every checkpoint of a run against its manifest
and the store (``service/checkpoints.py``): ok, damaged (which file, why) or
pruned; exit 1 if any is damaged; ``selftaught checkpoint show ID``: one checkpoint's parent,
method, training set (row count + hash, ``loops/trained.py``), recipe slice and evaluation.

Pruning is what ``keep_checkpoints: N`` in a recipe does after every round
(``flows.prune.prune_run``); this command applies it to a run by hand. A pruned folder
keeps its ``manifest.json`` and a ``PRUNED`` note, and the store keeps its row, marked
pruned, so lineage and samples still name it. Nothing heavy is imported for ``--help``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from selftaught.cli.options import HomeOpt, JsonOpt, RunArg, StoreUrlOpt


def _weights(ckpt) -> str:
    if ckpt.pruned_at is not None:
        return f"pruned {ckpt.pruned_at:%Y-%m-%d %H:%M}"
    return "on disk" if Path(ckpt.path).is_dir() else "missing"


def checkpoints(
    run_id: RunArg,
    as_json: JsonOpt = False,
    db: StoreUrlOpt = None,
    home: HomeOpt = None,
) -> None:
    """List a run's checkpoints: round, id, parent, whether the weights are on disk or were
    pruned (keep_checkpoints, `selftaught prune`), and the folder.

    Example:  selftaught checkpoints demo-star-20261125-101500-0042
    """
    from selftaught.cli.options import console, resolve, store_at
    from selftaught.cli.tables import checkpoints_table
    from selftaught.errors import StoreError

    db, home, _ = resolve(db, home)
    store = store_at(db, home)
    if store.get_run(run_id) is None:
        raise StoreError(f"no run {run_id!r} in {db}")
    rows = [
        {"round": c.round_index, "id": c.id, "parent_id": c.parent_id, "weights": _weights(c),
         "pruned_at": c.pruned_at, "path": c.path}
        for c in store.list_checkpoints(run_id)
    ]  # fmt: skip
    if as_json:
        print(json.dumps(rows, default=str, indent=1))
    else:
        console.print(checkpoints_table(rows, title=f"run {run_id}: checkpoints"))


def prune(
    run_id: RunArg,
    keep: Annotated[int, typer.Option(min=1, help="Keep the weights of the newest KEEP round checkpoints.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be deleted.")] = False,
    db: StoreUrlOpt = None,
    home: HomeOpt = None,
) -> None:
    """Delete the weights of a run's older round checkpoints, keeping the newest KEEP.

    Each pruned folder keeps manifest.json and a PRUNED note; its store row stays, marked
    pruned. Never touched: the newest checkpoint, one an unfinished round still needs, a
    model folder outside HOME/runs/RUN (a policy.init model). Safe to repeat.

    Example:  selftaught prune demo-star-20261125-101500-0042 --keep 1 --dry-run
              selftaught prune demo-star-20261125-101500-0042 --keep 1
    """
    from selftaught.cli.options import console, resolve, store_at
    from selftaught.errors import StoreError
    from selftaught.flows.prune import RunFolders, prune_run

    db, home, _ = resolve(db, home)
    if store_at(db, home).get_run(run_id) is None:
        raise StoreError(f"no run {run_id!r} in {db}")
    results = prune_run(RunFolders(run_id, db, Path(home)), keep, dry_run=dry_run)
    verb = "would prune" if dry_run else "pruned"
    freed = 0
    for r in results:
        if r.refused:
            console.print(f"left alone {r.checkpoint.id}: {r.refused}", highlight=False)
        else:
            freed += r.freed_bytes
            console.print(f"{verb} {r.checkpoint.id} ({r.freed_bytes / 2**20:.1f} MB) {r.checkpoint.path}", highlight=False)
    n = sum(r.refused is None for r in results)
    console.print(f"{verb} {n} checkpoint{'s' * (n != 1)}, {freed / 2**20:.1f} MB; newest {keep} kept", highlight=False)


checkpoint_app = typer.Typer(help="Check a run's checkpoints (verify) or show one (show).", no_args_is_help=True)


@checkpoint_app.command("show")
def show(
    checkpoint_id: Annotated[str, typer.Argument(metavar="ID", help="The checkpoint id, e.g. RUN/r2.")],
    as_json: JsonOpt = False,
    db: StoreUrlOpt = None,
) -> None:
    """One checkpoint: its parent, method, what it trained on (row count and the sha256 of
    the exact rows; GRPO/RLOO: its own rollouts), the recipe slice that trained it (method,
    seeds, the trainer's section) and its held-out evaluation.

    Example:  selftaught checkpoint show demo-star-20261125-101500-0042/r2
              selftaught export r2.jsonl --trained --run demo-star-20261125-101500-0042 --round 2
    """
    from selftaught.cli.options import console, resolve, store_at
    from selftaught.loops.trained import describe_checkpoint

    info = describe_checkpoint(store_at(resolve(db)[0]), checkpoint_id)
    if as_json:
        print(json.dumps(info, default=str, indent=1))
        return
    for line in _show_lines(info):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _show_lines(info: dict) -> list[str]:
    on = info["trained_on"]
    if on["kind"] == "rollouts":
        trained = f"its own {on['n_rows']} rollouts, online (no fixed set; `selftaught samples --source rollout`)"
    elif on["n_rows"] is None:
        trained = "nothing here (a given or untrained model)"
    else:
        trained = f"{on['n_rows']} {on['kind']}, sha256 {on['sha256'] or 'not recorded'}"
    lines = [
        f"checkpoint {info['id']} (run {info['run']}, round {info['round']})",
        f"parent:     {info['parent'] or '-'}",
        f"method:     {info['method']}",
        f"trained on: {trained}",
        f"weights:    sha256 {info['sha256']}{' (pruned)' if info['pruned'] else ''}  {info['path']}",
    ]
    if info["train_loss"] is not None:
        lines.append(f"train loss: {info['train_loss']:.4f}")
    if info["recipe"]:
        lines.append("recipe:     " + json.dumps(info["recipe"], sort_keys=True))
    for e in info["evaluation"] or [None]:
        lines.append("evaluation: none" if e is None else
                     f"evaluation: {e['split']} n={e['n_problems']} greedy {e['greedy_accuracy']:.3f} "
                     f"pass@1 {e['pass_at_1']:.3f} pass@{e['k']} {e['pass_at_k']:.3f} maj@{e['k']} {e['maj_at_k']:.3f}")  # fmt: skip
    return lines


@checkpoint_app.command("verify")
def verify(
    run_id: RunArg,
    mode: Annotated[Optional[str], typer.Option(show_default="SELFTAUGHT_VERIFY, else sha256", help="sha256 (hash every file) or sizes (sizes only).")] = None,
    as_json: JsonOpt = False,
    db: StoreUrlOpt = None,
    home: HomeOpt = None,
) -> None:
    """Check every checkpoint of a run against its manifest and the hash the store recorded:
    ok, damaged (which file and why: missing, truncated, sha256 mismatch, ...) or pruned.
    Exit code 1 if any is damaged (0 otherwise; pruned ones are not damage).

    A damaged round checkpoint is rebuilt with `selftaught run RECIPE --resume RUN
    --retrain-from N` (N: the damaged round; round N-1's checkpoint must be ok).

    Example:  selftaught checkpoint verify demo-star-20261125-101500-0042
              SELFTAUGHT_VERIFY=sizes selftaught checkpoint verify demo-star-20261125-101500-0042 --json
    """
    from selftaught.cli.options import console, resolve, store_at, usage
    from selftaught.cli.tables import verify_table
    from selftaught.loops.checkpoint import VERIFY_MODES, verify_mode
    from selftaught.service.checkpoints import verify_run

    if mode is not None and mode not in VERIFY_MODES:
        usage(f"--mode must be sha256 or sizes, not {mode!r}")
    mode = mode or verify_mode()
    db, home, _ = resolve(db, home)
    rows = verify_run(store_at(db, home), run_id, db, mode)
    damaged = sum(r["status"] == "damaged" for r in rows)
    if as_json:
        print(json.dumps(rows, default=str, indent=1))
    else:
        console.print(verify_table(rows, title=f"run {run_id}: checkpoints ({mode})"))
        console.print(f"{len(rows)} checkpoints: {damaged} damaged, {sum(r['status'] == 'pruned' for r in rows)} pruned",
                      highlight=False)  # fmt: skip
    if damaged:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("checkpoints")(checkpoints)
    app.command("prune")(prune)
    app.add_typer(checkpoint_app, name="checkpoint")
