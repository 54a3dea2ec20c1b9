"""Atomic checkpoints with a manifest.

In: a model and tokenizer (anything with ``save_pretrained``) and a destination.
Out: the destination directory, complete or absent, holding ``manifest.json``::

    {"format": 1, "sha256": "<overall>", "files": {"model.safetensors": "<sha256>", ...},
     "meta": {...}}

The overall hash is the sha256 of the sorted ``name  sha256`` lines of every file
except the manifest, so it identifies the weights, config and tokenizer together.

transformers' own saving is not atomic (a kill leaves half a directory that
``from_pretrained`` may still half load). Here everything is written to a temp
directory beside the destination, each file is fsynced, then the temp directory is
renamed into place. If the destination already holds a valid checkpoint (a retried
task that finished before it was killed) it is kept and its hash returned; an invalid
one is moved aside and replaced. What a ``kill -9`` leaves of a temp directory is removed
by ``remove_temporary_folders`` when the run starts again.

Pruning (``keep_checkpoints``): a 135M-parameter round writes ~520 MB, so a run may keep
the weights of only its newest rounds. ``checkpoints_to_prune`` is the rule (pure: which
ones), ``prune_checkpoint`` the deed (which files). A pruned folder keeps ``manifest.json``
-- what the weights were, their hashes and lineage -- plus a small ``PRUNED`` note, and
loses every file its manifest lists; ``verify_checkpoint`` then fails with a "pruned"
``CheckpointError``, never a half-loaded model. Only the manifest's own files are deleted,
and only in a selftaught checkpoint (a manifest) inside the run's folder: a user's model
registered as round 0 (``policy.init``) lives elsewhere and is never touched.

Under DDP (``loops/launch.py``: every process runs the same train function) only rank 0
writes: ``save_checkpoint`` in any other rank writes nothing and returns ``""`` -- its
caller's result is discarded by the launcher, which returns rank 0's checkpoint.

No torch import here: the model object does the serialising.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Mapping

from selftaught.errors import CheckpointError
from selftaught.records import Checkpoint

MANIFEST = "manifest.json"
FORMAT = 1
#: the note a pruned checkpoint folder holds beside its manifest
PRUNED = "PRUNED"
#: the folders a run writes beside its checkpoints for a while, as glob patterns: a save in
#: progress (``.round-001.tmp-*``), an invalid checkpoint moved aside to be deleted
#: (``round-001.invalid-*``), the cold start's freshly built model (``.init-*``)
TEMPORARY_FOLDERS = (".*.tmp-*", "*.invalid-*", ".init-*")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _overall(files: Mapping[str, str]) -> str:
    lines = "".join(f"{name}  {digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def _hash_tree(root: Path) -> dict[str, str]:
    files = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            files[p.relative_to(root).as_posix()] = _file_sha256(p)
    return files


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def secondary_rank() -> bool:
    """Whether this is a DDP process other than rank 0 (``RANK``/``WORLD_SIZE`` as torchrun sets them)."""
    return os.environ.get("RANK", "0") != "0" and int(os.environ.get("WORLD_SIZE", "1")) > 1


def save_checkpoint(
    model: Any,
    tokenizer: Any,
    dest_dir: str | Path,
    *,
    meta: Mapping[str, Any],
    extra_files: Mapping[str, str] | None = None,
) -> str:
    """Save ``model`` and ``tokenizer`` atomically to ``dest_dir``; return the overall sha256.

    ``extra_files`` (name -> text) are written beside the weights and covered by the
    manifest (RL rounds keep their rollouts there).
    """
    if secondary_rank():
        return ""  # DDP: rank 0 writes the one checkpoint (see the module's docstring)
    dest = Path(dest_dir)
    if dest.exists():
        try:
            return verify_checkpoint(dest)["sha256"]
        except CheckpointError:
            aside = dest.with_name(f"{dest.name}.invalid-{int(time.time() * 1000)}")  # TEMPORARY_FOLDERS
            dest.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))  # TEMPORARY_FOLDERS
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        files = _hash_tree(tmp)
        digest = _overall(files)
        manifest = {"format": FORMAT, "sha256": digest, "files": files, "meta": dict(meta)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        _fsync_tree(tmp)
        os.rename(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return digest


def remove_temporary_folders(run_dir: str | Path) -> list[str]:
    """Delete the ``TEMPORARY_FOLDERS`` a killed run left in its folder; return their names.

    A save or a cold start removes its own temporary folder when it fails or is interrupted;
    a ``kill -9`` (or a power cut) leaves it, ~8 MB for the tiny model, more for a real one.
    Call it only while no other process works on the run: another live process may be
    writing one of these folders right now.
    """
    root = Path(run_dir)
    found = sorted({p for pattern in TEMPORARY_FOLDERS for p in root.glob(pattern)
                    if p.is_dir() and not p.is_symlink()})  # fmt: skip
    for folder in found:
        shutil.rmtree(folder, ignore_errors=True)
    return [p.name for p in found]


def _read_manifest(root: Path) -> dict[str, Any]:
    """The folder's manifest, checked for shape; ``CheckpointError`` if absent or unreadable."""
    mf = root / MANIFEST
    if not root.is_dir():
        raise CheckpointError(f"{root}: checkpoint directory does not exist")
    if not mf.is_file():
        raise CheckpointError(f"{root}: no {MANIFEST} (incomplete or not written by selftaught)")
    try:
        manifest = json.loads(mf.read_text())
        if not isinstance(manifest["files"], dict) or not isinstance(manifest["sha256"], str):
            raise TypeError("files must be an object and sha256 a string")
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{mf}: unreadable manifest ({exc})") from exc
    return manifest


def verify_checkpoint(path: str | Path) -> dict[str, Any]:
    """Check every file against the manifest; return the manifest or raise ``CheckpointError``."""
    root = Path(path)
    if is_pruned(root):
        raise CheckpointError(
            f"{root}: checkpoint was pruned (keep_checkpoints / `selftaught prune` deleted its "
            f"weights; only {MANIFEST} is left)"
        )
    manifest = _read_manifest(root)
    files: dict[str, str] = manifest["files"]
    recorded = manifest["sha256"]
    actual = _hash_tree(root)
    missing = sorted(set(files) - set(actual))
    if missing:
        raise CheckpointError(f"{root}: missing files {missing}")
    extra = sorted(set(actual) - set(files))
    if extra:
        raise CheckpointError(f"{root}: files not in the manifest {extra}")
    changed = sorted(n for n in files if files[n] != actual[n])
    if changed:
        raise CheckpointError(f"{root}: files do not match the manifest {changed}")
    if _overall(files) != recorded:
        raise CheckpointError(f"{root}: manifest sha256 does not match its file list")
    return manifest


def checkpoint_sha256(path: str | Path) -> str:
    """The overall sha256 of a verified checkpoint."""
    return verify_checkpoint(path)["sha256"]


# ----------------------------------------------------------------------------- pruning


def is_pruned(path: str | Path) -> bool:
    """Whether the folder holds a ``PRUNED`` note (its weights were deleted on purpose)."""
    return (Path(path) / PRUNED).is_file()


def _inside(path: str | Path, folder: str | Path) -> bool:
    """``path`` is strictly below ``folder``, compared as normalised absolute paths."""
    p, f = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    return p != f and p.is_relative_to(f)


def checkpoints_to_prune(
    checkpoints: Sequence[Checkpoint], keep: int, *, run_dir: str | Path, protected: Collection[str] = ()
) -> list[Checkpoint]:
    """Which of a run's round checkpoints lose their weights so that the newest ``keep`` stay.

    ``checkpoints``: the run's round checkpoints, pruned ones included (they count among
    the newest ``keep``). ``protected``: ids something else still needs (the parent of a
    round not yet finished; the adapter base of a checkpoint not in the list). Returns the
    ones to prune now, oldest first, none already pruned. A checkpoint is kept when:

    - it is among the newest ``keep`` by round index (so the newest is always kept);
    - it is protected, or the ``config["adapter_base"]`` of a kept checkpoint (a LoRA
      adapters-only checkpoint loads on top of it), transitively;
    - it has no round index (nothing to order it by);
    - its folder is not inside ``run_dir``, or it is a model the user registered
      (``config["init"]`` other than ``"tiny"``): not ours to delete.

    Paths are compared lexically (``prune_checkpoint`` checks the real folder again).

    >>> ck = [Checkpoint(f"r/r{i}", f"/h/runs/r/round-{i:03d}", "", round_index=i) for i in range(4)]
    >>> [c.id for c in checkpoints_to_prune(ck, 2, run_dir="/h/runs/r")]
    ['r/r0', 'r/r1']
    >>> [c.id for c in checkpoints_to_prune(ck, 1, run_dir="/h/runs/r", protected={"r/r1"})]
    ['r/r0', 'r/r2']
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the newest checkpoint is never pruned), got {keep}")
    by_id = {c.id: c for c in checkpoints}
    ordered = sorted((c for c in checkpoints if c.round_index is not None), key=lambda c: (c.round_index, c.id))
    kept = {c.id for c in ordered[-keep:]} | set(protected)
    todo = list(kept)
    while todo:  # what the kept ones need to load, and what that needs
        needer = by_id.get(todo.pop())
        base = None if needer is None else needer.config.get("adapter_base")
        if isinstance(base, str) and base not in kept:
            kept.add(base)
            todo.append(base)
    return [
        c for c in ordered
        if c.id not in kept and not c.pruned and _inside(c.path, run_dir)
        and c.config.get("init", "tiny") == "tiny"
    ]  # fmt: skip


def prune_checkpoint(path: str | Path, *, run_dir: str | Path, dry_run: bool = False) -> int:
    """Delete the weights of one checkpoint folder, keeping ``manifest.json`` and a ``PRUNED``
    note; return the bytes freed (with ``dry_run``, that would be freed; nothing changes).

    Refuses with ``CheckpointError``, deleting nothing: a folder that is not strictly inside
    ``run_dir`` (symlinks resolved), a symlinked folder, one without a readable selftaught
    manifest, a manifest that names a file outside its folder. Deletes only the files the
    manifest lists (anything else someone put there stays), then empty subfolders. The note
    is written first, so a prune killed half-way leaves a folder that reads as pruned, and
    running it again finishes the job (idempotent: an already pruned folder frees 0 bytes).
    """
    root = Path(path)
    real_root, real_run = root.resolve(), Path(run_dir).resolve()
    if root.is_symlink() or real_root == real_run or not real_root.is_relative_to(real_run):
        raise CheckpointError(f"{root}: not a folder inside the run's folder {run_dir}; not pruning it")
    manifest = _read_manifest(root)
    targets = []
    for name in sorted(manifest["files"]):
        target = root / name
        if not _inside(target, root) or not target.parent.resolve().is_relative_to(real_root):
            raise CheckpointError(f"{root / MANIFEST}: lists {name!r}, outside the checkpoint folder; not pruning it")
        if target.is_symlink() or target.is_file():
            targets.append(target)
    freed = sum(t.lstat().st_size for t in targets)
    if dry_run:
        return freed
    if not is_pruned(root):
        note = {"pruned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sha256": manifest["sha256"],
                "why": f"weights deleted to save disk; {MANIFEST} kept for lineage"}  # fmt: skip
        tmp = root / f".{PRUNED}.tmp"
        tmp.write_text(json.dumps(note, indent=2) + "\n")
        os.replace(tmp, root / PRUNED)
    for target in targets:
        target.unlink(missing_ok=True)
    for sub in sorted((d for d in root.rglob("*") if d.is_dir() and not d.is_symlink()), key=lambda d: -len(d.parts)):
        try:
            sub.rmdir()  # only if empty
        except OSError:
            pass
    _fsync_dir(root)
    return freed
